package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoysim"
	"github.com/telegraf-enphase/telegraf-enphase/internal/token"
)

// Issue 6, crash safety: the real binary, killed with SIGKILL at random
// instants of a token renewal (cron's 'token fetch'/'token renew --force', or
// the execd plugin renewing in the background while it gathers), never
// leaves a missing, partial or unvalidated token file, never leaves a lock
// or leftovers that hinder the next run, and restarts into a working state.
// internal/token's TestWriteSurvivesKillAtEveryStep kills at each named step
// of Store.Write in isolation; this test kills the whole process anywhere.

const (
	crashAccount  = "crash@example.com"
	crashPassword = "crash-pa$$word-7f3a"

	// Environment knobs, so a failure can be replayed and a soak run longer.
	envIterations = "CRASH_ITERATIONS"
	envSeed       = "CRASH_SEED"

	defaultIterations = 200
	// Fewer iterations cannot be expected to land kills on both sides of
	// the rename, which the test requires to mean anything.
	minIterations = 30

	// maxLatency bounds the delay the tap adds to each cloud and check_jwt
	// answer, drawn anew for every run.
	maxLatency = 15 * time.Millisecond
)

// A process mode: the arguments, and whether it reads gathers from stdin.
type crashMode struct {
	name  string
	args  []string // after the binary, before --config FILE
	execd bool
}

var crashModes = []crashMode{
	{name: "token fetch", args: []string{"token", "fetch"}},
	{name: "token renew --force", args: []string{"token", "renew", "--force"}},
	{name: "execd", execd: true},
}

// Where a kill landed, judged from what the simulator answered and the disk.
const (
	landedBeforeMint   = "before the cloud minted a token"
	landedMinted       = "after the mint, before check_jwt accepted it"
	landedValidated    = "after check_jwt, before the write began"
	landedInWrite      = "inside Store.Write, before the rename (temp file left)"
	landedAfterRename  = "after the rename (new token on disk)"
	landedNoKillNeeded = "not killed: the command had finished"
)

func TestCrashSafety(t *testing.T) {
	iterations := envInt(t, envIterations, defaultIterations)
	require.GreaterOrEqual(t, iterations, minIterations, "%s below %d cannot show kills on both sides of the rename", envIterations, minIterations)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(envSeed); s != "" {
		var err error
		seed, err = strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "%s", envSeed)
	}
	// The seed fixes the modes, delays and latencies; where a delay lands
	// still depends on the machine's speed.
	t.Logf("seed %d (replay with %s=%d), %d iterations", seed, envSeed, seed, iterations)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))

	bin := buildBinary(t)
	r := startCrashRig(t)
	started := time.Now()

	// A normal run of each mode, unkilled and with the mean latency, sets
	// the span kills are drawn from.
	r.tap.setLatency(maxLatency / 2)
	typical := map[string]time.Duration{}
	for _, m := range crashModes {
		var runs []time.Duration
		for range 3 {
			old := r.current(t)
			d := r.cleanRun(t, bin, m)
			got := r.checkDisk(t, old)
			require.NotEqual(t, old.Raw, got.Raw, "%s renews every time: the token is always due", m.name)
			runs = append(runs, d)
		}
		slices.Sort(runs)
		typical[m.name] = runs[1]
		t.Logf("a normal %s takes about %s", m.name, runs[1].Round(time.Millisecond))
	}

	landed := map[string]int{}
	byMode := map[string]map[string]int{}
	var endedOld, endedNew, leftovers int
	for i := range iterations {
		m := crashModes[rng.IntN(len(crashModes))]
		// Up to 1.3 times a normal run: most runs are killed, some finish.
		delay := time.Duration(rng.Int64N(int64(typical[m.name]) * 13 / 10))
		// Slow the cloud and check_jwt by a random amount, so that the same
		// delay lands at a different step from one iteration to the next.
		r.tap.setLatency(time.Duration(rng.Int64N(int64(maxLatency))))
		old := r.current(t)
		res := r.runKilled(t, bin, m, delay)
		got := r.checkDisk(t, old)
		n := r.checkLeftovers(t, old, got)
		r.checkLockFree(t)

		if !res.killed {
			// It renewed: no lock a kill left behind stood in its way.
			require.NotEqual(t, old.Raw, got.Raw, "%s finished without renewing; stdout:\n%s", m.name, res.stdout)
		}
		where := r.classify(res, old, got, n)
		landed[where]++
		if byMode[m.name] == nil {
			byMode[m.name] = map[string]int{}
		}
		byMode[m.name][where]++
		leftovers += n
		if got.Raw == old.Raw {
			endedOld++
		} else {
			endedNew++
		}
		// Restarting works: the gateway accepts what is stored, as the
		// binary itself sees it. Every few runs, and after every kill that
		// left a temp file behind.
		if i%5 == 4 || n > 0 {
			r.tokenCheck(t, bin)
		}
	}
	r.tap.setLatency(0)

	// Last runs, not killed: cron's renew and the execd plugin each renew
	// (the lock is free) and leave a clean directory; the plugin gathers;
	// a dump reads the gateway with what they stored.
	for _, m := range crashModes[1:] {
		old := r.current(t)
		r.cleanRun(t, bin, m)
		got := r.checkDisk(t, old)
		require.NotEqual(t, old.Raw, got.Raw, m.name)
		require.Zero(t, r.checkLeftovers(t, old, got), m.name)
	}
	r.tokenCheck(t, bin)
	out := r.dump(t, bin)
	require.Regexp(t, `(?m)^enphase_production,.*serial=`+r.sim.Serial()+`[ ,]`, out)

	t.Logf("%d runs, %d killed, in %s (binary build excluded); token on disk afterwards: %d old, %d new; %d temp files left by kills inside Store.Write",
		iterations, iterations-landed[landedNoKillNeeded], time.Since(started).Round(time.Second), endedOld, endedNew, leftovers)
	for _, where := range []string{landedBeforeMint, landedMinted, landedValidated, landedInWrite, landedAfterRename, landedNoKillNeeded} {
		t.Logf("  %4d %s %v", landed[where], where, perMode(byMode, where))
	}
	st := r.sim.Stats()
	t.Logf("the simulator answered %d cloud logins, %d token mints, %d check_jwt", st.CloudLogin, st.CloudTokens, st.CheckJWT)

	// Kills on both sides of the rename, and between the mint and the
	// rename (the window atomicity is about), or the test proved nothing.
	require.NotZero(t, endedOld, "no kill left the old token: the kills all came too late")
	require.NotZero(t, endedNew, "no run stored a new token: the kills all came too early")
	require.NotZero(t, landed[landedMinted]+landed[landedValidated]+landed[landedInWrite],
		"no kill landed between the mint and the rename")
}

func perMode(byMode map[string]map[string]int, where string) string {
	var parts []string
	for _, m := range crashModes {
		parts = append(parts, fmt.Sprintf("%s %d", m.name, byMode[m.name][where]))
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	require.NoError(t, err, "%s", name)
	return n
}

// buildBinary builds the real command, without -race whatever the test uses:
// it is the process being killed, and should run at its normal speed.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "telegraf-enphase")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

type crashRig struct {
	sim     *envoysim.Server
	tap     *tap
	url     string
	dir     string // holds the token file and nothing else
	tokFile string
	conf    string
	probe   *http.Client // the test's own check_jwt, trusting the sim
}

// startCrashRig serves the simulated gateway and cloud behind a tap that
// records what they answered. Tokens are installer tokens that live 12 hours,
// minted by a cloud whose clock is 11 hours behind (so each is issued 11
// hours ago and has one hour left) and renewed 2 hours before expiry:
// always due, so every run renews.
func startCrashRig(t *testing.T) *crashRig {
	t.Helper()
	sim, err := envoysim.New(envoysim.Options{
		Accounts:      map[string]string{crashAccount: crashPassword},
		Role:          "installer",
		TokenLifetime: 12 * time.Hour,
		Now:           func() time.Time { return time.Now().Add(-11 * time.Hour) },
	})
	require.NoError(t, err)
	tp := &tap{next: sim.Handler()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	// Killed clients break TLS handshakes; that is the point, not news.
	srv := &http.Server{Handler: tp, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.Serve(tls.NewListener(ln, sim.TLSConfig())) }()
	t.Cleanup(func() { _ = srv.Close() })

	r := &crashRig{sim: sim, tap: tp, url: "https://" + ln.Addr().String()}
	etc := t.TempDir()
	ca := filepath.Join(etc, "sim.pem")
	require.NoError(t, os.WriteFile(ca, sim.CertificatePEM(), 0o600))
	pw := filepath.Join(etc, "password")
	require.NoError(t, os.WriteFile(pw, []byte(crashPassword+"\n"), 0o600))
	r.dir = filepath.Join(t.TempDir(), "tokens")
	require.NoError(t, os.Mkdir(r.dir, 0o700))
	r.tokFile = filepath.Join(r.dir, "envoy.token")
	require.NoError(t, os.WriteFile(r.tokFile, []byte(sim.Token()+"\n"), 0o600))
	r.conf = filepath.Join(etc, "enphase.conf")
	conf := fmt.Sprintf(`[[inputs.enphase]]
  url = %q
  token_file = %q
  tls_ca = %q
  username = %q
  password_file = %q
  enlighten_url = %q
  entrez_url = %q
  cloud_tls_ca = %q
  renew_installer_before = "2h"
`, r.url, r.tokFile, ca, crashAccount, pw, r.url, r.url, ca)
	require.NoError(t, os.WriteFile(r.conf, []byte(conf), 0o600))

	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(sim.CertificatePEM()))
	r.probe = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	t.Cleanup(r.probe.CloseIdleConnections)
	return r
}

func (r *crashRig) current(t *testing.T) token.Token {
	t.Helper()
	tok, err := token.ReadFile(r.tokFile)
	require.NoError(t, err)
	return tok
}

// runResult is one run of the binary.
type runResult struct {
	killed         bool
	stdout, stderr string
}

// start starts the binary in mode m; for execd it asks for a gather at once.
func (r *crashRig) start(t *testing.T, bin string, m crashMode) (*exec.Cmd, *lockedBuffer, *lockedBuffer, io.WriteCloser) {
	t.Helper()
	r.tap.reset() // what the tap records is per run
	// Each run is a renewal: the cap on cloud logins (R1), which counts
	// them beside the token, is not what this test is about.
	require.NoError(t, os.RemoveAll(r.tokFile+".logins"))
	cmd := exec.Command(bin, append(slices.Clone(m.args), "--config", r.conf)...)
	stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	var stdin io.WriteCloser
	if m.execd {
		var err error
		stdin, err = cmd.StdinPipe()
		require.NoError(t, err)
	}
	require.NoError(t, cmd.Start())
	if stdin != nil {
		_, err := io.WriteString(stdin, "\n")
		require.NoError(t, err)
	}
	return cmd, stdout, stderr, stdin
}

// cleanRun runs m to its end and returns how long it took: for execd, until
// a gather was printed and the renewed token stored.
func (r *crashRig) cleanRun(t *testing.T, bin string, m crashMode) time.Duration {
	t.Helper()
	old := r.current(t)
	t0 := time.Now()
	cmd, stdout, stderr, stdin := r.start(t, bin, m)
	var took time.Duration
	if m.execd {
		require.Eventually(t, func() bool {
			cur, err := token.ReadFile(r.tokFile)
			return err == nil && cur.Raw != old.Raw && strings.Contains(stdout.String(), "enphase_production,")
		}, time.Minute, time.Millisecond, "execd: a gather and a renewal; stderr:\n%s", stderr)
		took = time.Since(t0)
		require.NoError(t, stdin.Close()) // stdin's end is the shim's signal to stop
	}
	err := cmd.Wait()
	if !m.execd {
		took = time.Since(t0)
	}
	require.NoError(t, err, "%s: stderr:\n%s", m.name, stderr)
	r.noSecrets(t, stdout.String()+stderr.String())
	return took
}

// runKilled runs m and kills it delay after the start, unless it ended first.
func (r *crashRig) runKilled(t *testing.T, bin string, m crashMode, delay time.Duration) runResult {
	t.Helper()
	cmd, stdout, stderr, stdin := r.start(t, bin, m)
	kill := time.AfterFunc(delay, func() { _ = cmd.Process.Signal(syscall.SIGKILL) })
	err := cmd.Wait()
	kill.Stop()
	if stdin != nil {
		_ = stdin.Close()
	}
	res := runResult{stdout: stdout.String(), stderr: stderr.String()}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		ws, ok := exitErr.Sys().(syscall.WaitStatus)
		require.True(t, ok)
		require.True(t, ws.Signaled() && ws.Signal() == syscall.SIGKILL, "%s ended by itself with %v; stderr:\n%s", m.name, err, res.stderr)
		res.killed = true
	} else {
		require.NoError(t, err)
		// Only the token commands end by themselves, and then successfully.
		require.False(t, m.execd, "execd ended with stdin still open; stderr:\n%s", res.stderr)
	}
	r.noSecrets(t, res.stdout+res.stderr)
	return res
}

// checkDisk asserts the token file is whole, private, either the old token
// or one the cloud minted in this run and the gateway accepted before it was
// written, and that the gateway accepts it now.
func (r *crashRig) checkDisk(t *testing.T, old token.Token) token.Token {
	t.Helper()
	st, err := os.Lstat(r.tokFile)
	require.NoError(t, err, "the token file must survive a kill")
	require.True(t, st.Mode().IsRegular())
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	b, err := os.ReadFile(r.tokFile)
	require.NoError(t, err)
	got, err := token.Parse(string(b))
	require.NoError(t, err, "the token file must hold a whole JWT")
	require.Equal(t, got.Raw+"\n", string(b), "exactly one token and its newline")
	require.Equal(t, r.sim.Serial(), got.Serial)
	if got.Raw != old.Raw {
		require.True(t, r.tap.mintedNow(got.Raw), "a new token on disk must come from this run's mint")
		require.True(t, r.tap.validatedNow(got.Raw), "a new token must be validated on check_jwt before it is stored")
	}
	require.True(t, r.accepted(t, got), "the gateway must accept the stored token")
	return got
}

// checkLeftovers returns the number of temp files of Store.Write in the
// token directory: at most the one a kill interrupted, and none once a write
// has succeeded since, which removes what earlier kills left.
func (r *crashRig) checkLeftovers(t *testing.T, old, got token.Token) int {
	t.Helper()
	entries, err := os.ReadDir(r.dir)
	require.NoError(t, err)
	n := 0
	for _, e := range entries {
		switch name := e.Name(); {
		case name == "envoy.token", name == "envoy.token.lock", name == "envoy.token.logins":
		case strings.HasPrefix(name, "enphase-") && (strings.HasSuffix(name, ".state.json") || strings.HasSuffix(name, ".state.json.lock")):
			// The execd mode's lifetime counters and its hold on the gateway.
		case strings.HasPrefix(name, ".enphase-") && strings.Contains(name, ".state.json.tmp-"),
			strings.HasPrefix(name, ".envoy.token.logins.tmp-"):
			// A save of the counters or of the login log (R1) killed midway:
			// removed by the next one.
		case strings.HasPrefix(name, ".envoy.token.tmp-"):
			n++
			info, err := e.Info()
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "a temp file holds a token too")
		default:
			t.Fatalf("unexpected file %s beside the token", name)
		}
	}
	require.LessOrEqual(t, n, 1, "temp files must not pile up across kills")
	if got.Raw != old.Raw {
		require.Zero(t, n, "the write that stored the new token removed earlier leftovers")
	}
	return n
}

// checkLockFree asserts the kill released the renewal lock.
func (r *crashRig) checkLockFree(t *testing.T) {
	t.Helper()
	unlock, err := token.Store{Path: r.tokFile}.TryLock()
	require.NoError(t, err, "the kernel releases the flock of a killed process")
	unlock()
}

// classify says where a kill landed, from what the tap saw and the disk.
func (r *crashRig) classify(res runResult, old, got token.Token, leftovers int) string {
	switch {
	case !res.killed:
		return landedNoKillNeeded
	case got.Raw != old.Raw:
		return landedAfterRename
	case leftovers > 0:
		return landedInWrite
	case r.tap.anyValidated():
		return landedValidated
	case r.tap.anyMinted():
		return landedMinted
	}
	return landedBeforeMint
}

// accepted asks the gateway's check_jwt about tok, as the test (the tap
// leaves these requests out of what it records).
func (r *crashRig) accepted(t *testing.T, tok token.Token) bool {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, r.url+"/auth/check_jwt", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok.Raw)
	req.Header.Set(probeHeader, "1")
	resp, err := r.probe.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode == http.StatusOK && bytes.Contains(body, []byte("Valid token"))
}

// tokenCheck is a restart: the binary's own 'token check' exits 0.
func (r *crashRig) tokenCheck(t *testing.T, bin string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "token", "check", "--config", r.conf)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "token check after a kill; stderr:\n%s", stderr.String())
	require.Contains(t, stdout.String(), "valid (installer token for "+r.sim.Serial())
	r.noSecrets(t, stdout.String()+stderr.String())
}

func (r *crashRig) dump(t *testing.T, bin string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "dump", "--config", r.conf)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "dump; stderr:\n%s", stderr.String())
	r.noSecrets(t, stdout.String()+stderr.String())
	return stdout.String()
}

// noSecrets asserts the output of a run holds no JWT, password, cookie or
// cloud session: the ones the tap saw go by, and any JWT at all.
func (r *crashRig) noSecrets(t *testing.T, out string) {
	t.Helper()
	require.NotContains(t, out, "eyJ", "a JWT (token or manager_token) in the output")
	require.NotContains(t, out, crashPassword)
	require.NotContains(t, out, "sessionId=")
	require.NotContains(t, out, "session_id")
	for _, s := range r.tap.secretsSeen() {
		require.NotContains(t, out, s)
	}
}

// probeHeader marks the test's own requests, which the tap does not record.
const probeHeader = "X-Crash-Probe"

// tap sits in front of the simulator: it records, per run, the tokens the
// cloud minted and the ones check_jwt accepted, keeps every secret handed
// out (to look for it in the output), and slows the token endpoints.
type tap struct {
	next http.Handler

	mu        sync.Mutex
	gen       int // bumped by reset: a killed run's late requests are not the next run's
	latency   time.Duration
	minted    map[string]bool // this run: raw token → minted
	validated map[string]bool // this run: raw token → check_jwt answered 200
	secrets   map[string]bool // every run: session cookies, cloud session ids, manager tokens
}

func (p *tap) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gen++
	p.minted, p.validated = map[string]bool{}, map[string]bool{}
}

func (p *tap) setLatency(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latency = d
}

func (p *tap) mintedNow(raw string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.minted[raw]
}

func (p *tap) validatedNow(raw string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.minted[raw] && p.validated[raw]
}

func (p *tap) anyMinted() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.minted) > 0
}

// anyValidated: check_jwt accepted a token minted in this run.
func (p *tap) anyValidated() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for raw := range p.minted {
		if p.validated[raw] {
			return true
		}
	}
	return false
}

func (p *tap) secretsSeen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for s := range p.secrets {
		out = append(out, s)
	}
	return out
}

func (p *tap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get(probeHeader) != "" {
		p.next.ServeHTTP(w, r)
		return
	}
	path := r.URL.Path
	watched := path == "/login/login.json" || path == "/tokens" || path == "/auth/check_jwt"
	if !watched {
		p.next.ServeHTTP(w, r)
		return
	}
	p.mu.Lock()
	latency, gen := p.latency, p.gen
	p.mu.Unlock()
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return // the client was killed while it waited
		}
	}
	rec := &recorder{ResponseWriter: w}
	p.next.ServeHTTP(rec, r)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.secrets == nil {
		p.secrets = map[string]bool{}
	}
	for _, c := range (&http.Response{Header: w.Header()}).Cookies() {
		if c.Value != "" {
			p.secrets[c.Value] = true
		}
	}
	if rec.status != http.StatusOK || gen != p.gen {
		return
	}
	switch path {
	case "/tokens":
		if p.minted != nil {
			p.minted[strings.TrimSpace(rec.body.String())] = true
		}
	case "/auth/check_jwt":
		if p.validated != nil {
			p.validated[strings.TrimSpace(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))] = true
		}
	case "/login/login.json":
		var login struct {
			SessionID    string `json:"session_id"`
			ManagerToken string `json:"manager_token"`
		}
		if json.Unmarshal(rec.body.Bytes(), &login) == nil {
			for _, s := range []string{login.SessionID, login.ManagerToken} {
				if s != "" {
					p.secrets[s] = true
				}
			}
		}
	}
}

// recorder keeps the status and body of a response on their way out.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}

// lockedBuffer is an output a test reads while the process still writes it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
