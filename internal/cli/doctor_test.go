package cli

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoysim"
)

// doctorPassword shares no four characters with doctor's own words.
const doctorPassword = "Zq7#xK9!mW2@pL4^"

// doctorRig is a simulated gateway and cloud, with a configuration that
// passes every check of doctor, and Telegraf's configuration beside it.
type doctorRig struct {
	sim                               *envoysim.Server
	url, dir, conf, tok, pw, telegraf string
	user                              string
}

// doctorSettings are the lines of the rig's [[inputs.enphase]] table.
type doctorSettings struct {
	url, enlighten, pin, extra, signal string
	noExecd                            bool
}

func startDoctorRig(t *testing.T, opts envoysim.Options) *doctorRig {
	t.Helper()
	opts.Accounts = map[string]string{testAccount: doctorPassword}
	opts.Live = true // /info's <time> is now
	sim, err := envoysim.New(opts)
	require.NoError(t, err)
	url, err := sim.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	me, err := user.Current()
	require.NoError(t, err)
	r := &doctorRig{sim: sim, url: url, dir: t.TempDir(), user: me.Username}
	r.tok = filepath.Join(r.dir, "envoy.token")
	r.pw = filepath.Join(r.dir, "enlighten.password")
	r.conf = filepath.Join(r.dir, "enphase.conf")
	r.telegraf = filepath.Join(r.dir, "telegraf.d")
	require.NoError(t, os.WriteFile(r.tok, []byte(sim.Token()+"\n"), 0o600))
	require.NoError(t, os.WriteFile(r.pw, []byte(doctorPassword+"\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(r.dir, "sim.pem"), sim.CertificatePEM(), 0o600))
	require.NoError(t, os.Mkdir(r.telegraf, 0o700))
	return r
}

func (r *doctorRig) write(t *testing.T, s doctorSettings) {
	t.Helper()
	if s.url == "" {
		s.url = r.url
	}
	if s.enlighten == "" {
		s.enlighten = r.url
	}
	if s.pin == "" {
		s.pin = `tls_pin = "tofu"`
	}
	conf := fmt.Sprintf(
		"[[inputs.enphase]]\n  url = %q\n  token_file = %q\n  %s\n  username = %q\n  password_file = %q\n"+
			"  enlighten_url = %q\n  entrez_url = %q\n  cloud_tls_ca = %q\n  %s\n",
		s.url,
		r.tok,
		s.pin,
		testAccount,
		r.pw,
		s.enlighten,
		r.url,
		filepath.Join(r.dir, "sim.pem"),
		s.extra,
	)
	require.NoError(t, os.WriteFile(r.conf, []byte(conf), 0o600))
	if s.signal == "" {
		s.signal = "STDIN"
	}
	execd := fmt.Sprintf(
		"[agent]\n  interval = \"15s\"\n\n[[inputs.execd]]\n  command = [\"/usr/local/bin/telegraf-enphase\", \"--config\", %q]\n  signal = %q\n",
		r.conf,
		s.signal,
	)
	if s.noExecd {
		execd = "[[inputs.cpu]]\n"
	}
	require.NoError(t, os.WriteFile(filepath.Join(r.telegraf, "enphase.conf"), []byte(execd), 0o600))
}

// run runs doctor and returns the status, the output and the checks that
// failed; it asserts that no secret reached the output.
func (r *doctorRig) run(t *testing.T) (int, string, map[string]bool) {
	t.Helper()
	code, out, stderr := runMain("doctor", "--config", r.conf, "--user", r.user, "--telegraf-config", r.telegraf)
	all := out + stderr
	for i := 0; i+4 <= len(doctorPassword); i++ {
		require.NotContains(t, all, doctorPassword[i:i+4], "a piece of the password")
	}
	// Eight characters: shorter pieces of a random base64 signature match
	// ordinary text (dates, fingerprints) by chance.
	for _, tok := range []string{r.sim.Token(), readOrEmpty(r.tok)} {
		for i := 0; i+8 <= len(tok); i++ {
			require.NotContains(t, all, tok[i:i+8], "a piece of a token")
		}
	}
	require.NotContains(t, all, testAccount, "the account's e-mail")
	require.NotContains(t, strings.ToLower(all), "sessionid")
	failed := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^FAIL  (\S+)`).FindAllStringSubmatch(out, -1) {
		failed[m[1]] = true
	}
	return code, out + stderr, failed
}

func readOrEmpty(path string) string {
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}

// TestDoctorAllPass: on a healthy gateway, cloud and Telegraf
// configuration every check passes, with exit status 0.
func TestDoctorAllPass(t *testing.T) {
	r := startDoctorRig(t, envoysim.Options{})
	r.write(t, doctorSettings{})
	code, out, failed := r.run(t)
	require.Equal(t, 0, code, out)
	require.Empty(t, failed, out)
	require.NotContains(t, out, "WARN", out)
	for _, want := range []string{
		"ok    config    " + r.conf + " is valid: 1 gateway(s)",
		"ok    files     token_file " + r.tok + " usable by " + r.user + " (mode 0600)",
		"ok    files     password_file " + r.pw + " usable by",
		"ok    gateway   " + r.url + ": serial " + r.sim.Serial() + ", firmware D8.2.4345",
		"metered, 2 CT(s) enabled, 0 IQ Battery(ies)",
		"ok    clock     ",
		"ok    token     the gateway accepts the owner token for " + r.sim.Serial(),
		"ok    renewal   credentials set, Enlighten (127.0.0.1:",
		"ok    pin       tls_pin = \"tofu\", nothing pinned yet: Telegraf's first gather pins SHA256 ",
		"ok    execd     " + filepath.Join(r.telegraf, "enphase.conf") + " runs /usr/local/bin/telegraf-enphase --config " + r.conf + " with signal = \"STDIN\"",
	} {
		require.Contains(t, out, want)
	}
	require.Equal(t, 0, r.sim.Stats().CloudLogin, "doctor never logs in")
	require.NoFileExists(t, r.tok+".pin", "doctor pins nothing")
	t.Log("\n" + out)
}

// TestDoctorEachCheckFails: each check fails once, alone, with its fix,
// and doctor exits 1.
func TestDoctorEachCheckFails(t *testing.T) {
	otherSerial := "999999999999"
	tests := []struct {
		name    string
		opts    envoysim.Options
		set     doctorSettings
		prepare func(t *testing.T, r *doctorRig)
		check   string // the one check that fails
		want    string
	}{
		{name: "config: unknown key", set: doctorSettings{extra: `timout = "5s"`}, check: "config", want: `unknown key "timout" (did you mean "timeout"?)`},
		{name: "files: token readable by others",
			prepare: func(t *testing.T, r *doctorRig) { require.NoError(t, os.Chmod(r.tok, 0o644)) },
			check:   "files", want: "token_file " + "TOK has mode 0644: users in its group and other users on this host can read it; fix: chmod 600 TOK"},
		{name: "token: missing",
			prepare: func(t *testing.T, r *doctorRig) { require.NoError(t, os.Remove(r.tok)) },
			check:   "token", want: "fix: sudo -u telegraf telegraf-enphase token fetch --config TOKDIR/enphase.conf"},
		{name: "token: for another gateway",
			prepare: func(t *testing.T, r *doctorRig) {
				require.NoError(t, os.WriteFile(r.tok, []byte(r.sim.MintToken(otherSerial, "owner", time.Now(), time.Now().Add(24*time.Hour))), 0o600))
			},
			check: "token", want: "is for another gateway than serial"},
		{name: "token: expired",
			prepare: func(t *testing.T, r *doctorRig) {
				require.NoError(
					t,
					os.WriteFile(r.tok, []byte(r.sim.MintToken(r.sim.Serial(), "owner", time.Now().Add(-48*time.Hour), time.Now().Add(-2*time.Hour))), 0o600),
				)
			},
			check: "token", want: "has expired"},
		{name: "token: refused by the gateway", prepare: func(_ *testing.T, r *doctorRig) { r.sim.RevokeTokens() },
			check: "token", want: "the gateway rejected the owner token"},
		{name: "renewal: cloud unreachable", set: doctorSettings{enlighten: "https://127.0.0.1:1"},
			check: "renewal", want: "Enlighten (127.0.0.1:1) is not reachable"},
		{name: "gateway: unreachable", set: doctorSettings{url: "https://127.0.0.1:1"},
			check: "gateway", want: "fix: check url"},
		{name: "gateway: another serial", set: doctorSettings{extra: `serial = "` + otherSerial + `"`},
			check: "gateway", want: "not the configured serial " + otherSerial},
		{name: "pin: another certificate", set: doctorSettings{pin: `tls_pin = "sha256:` + strings.Repeat("ab", 32) + `"`},
			check: "pin", want: "not the pinned"},
		{name: "execd: no block", set: doctorSettings{noExecd: true},
			check: "execd", want: "no [[inputs.execd]] block runs this configuration"},
		{name: "execd: signal none", set: doctorSettings{signal: "none"},
			check: "execd", want: `has signal = "none": the plugin would never be asked to gather; fix: signal = "STDIN"`},
		{name: "clock: the gateway's is 3h ahead",
			opts:  envoysim.Options{Scenario: &envoysim.Scenario{Faults: []envoysim.Fault{{Kind: envoysim.FaultClock, Offset: 3 * time.Hour}}}},
			check: "clock", want: "ahead of ours"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := startDoctorRig(t, tt.opts)
			r.write(t, tt.set)
			if tt.prepare != nil {
				tt.prepare(t, r)
			}
			code, out, failed := r.run(t)
			require.Equal(t, 1, code, out)
			require.Equal(t, map[string]bool{tt.check: true}, failed, out)
			require.Regexp(
				t,
				"(?m)^FAIL  "+tt.check+" .*"+regexp.QuoteMeta(strings.ReplaceAll(strings.ReplaceAll(tt.want, "TOKDIR", r.dir), "TOK", r.tok)),
				out,
			)
		})
	}
}

// TestDoctorChecksAsAnotherUser: run as root (or anyone), doctor judges
// file access by the checked user's uid and groups and the mode bits of the
// file and every directory above it, and names the chown that fixes it.
func TestDoctorChecksAsAnotherUser(t *testing.T) {
	if _, _, ok := owner(mustStat(t, t.TempDir())); !ok {
		t.Fatal("files here have no Unix owner")
	}
	dir := t.TempDir()
	sub := filepath.Join(dir, "enphase")
	require.NoError(t, os.Mkdir(sub, 0o750))
	file := filepath.Join(sub, "envoy.token")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o640))
	uid, gid, _ := owner(mustStat(t, file))
	// t.TempDir's directories are 0700: open them to everyone.
	require.NoError(t, os.Chmod(dir, 0o755))
	require.NoError(t, os.Chmod(filepath.Dir(dir), 0o755))
	stranger := checkUser{name: "stranger", uid: uid + 4242, gids: map[uint32]bool{gid + 4242: true}}
	member := checkUser{name: "member", uid: uid + 4242, gids: map[uint32]bool{gid: true}}
	root := checkUser{name: "root", uid: 0, gids: map[uint32]bool{}}

	err := stranger.access(file, permRead)
	require.ErrorContains(t, err, "user stranger cannot enter the directory "+sub+" (mode 0750")
	require.ErrorContains(t, err, "fix: sudo chown stranger: "+sub)
	require.NoError(t, member.access(file, permRead), "the group may read")
	require.ErrorContains(t, member.access(file, permRead|permWrite), "user member cannot read and write "+file+" (mode 0640")
	require.ErrorContains(t, member.access(sub, permWrite|permExec), "cannot create files in "+sub)
	require.NoError(t, root.access(file, permRead|permWrite))
}

func mustStat(t *testing.T, path string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi
}
