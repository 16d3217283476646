package cli

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoysim"
)

// TestMain lets the run-mode test start this test binary as the real
// telegraf-enphase process, the way Telegraf's execd starts it.
func TestMain(m *testing.M) {
	if os.Getenv("TELEGRAF_ENPHASE_AS_MAIN") == "1" {
		os.Exit(Run())
	}
	os.Exit(m.Run())
}

type gateway struct {
	sim *envoysim.Server
	url string
}

func startGateway(t *testing.T, captures string) gateway {
	t.Helper()
	opts := envoysim.Options{}
	if captures != "" {
		opts.Captures = os.DirFS(captures)
	}
	sim, err := envoysim.New(opts)
	require.NoError(t, err)
	url, err := sim.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	return gateway{sim, url}
}

// writeConfig writes a config file with one table per gateway.
func writeConfig(t *testing.T, gws ...gateway) string {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	for i, g := range gws {
		tok := filepath.Join(dir, fmt.Sprintf("gw%d.token", i))
		require.NoError(t, os.WriteFile(tok, []byte(g.sim.Token()+"\n"), 0o600))
		fmt.Fprintf(&b, "[[inputs.enphase]]\n  url = %q\n  token_file = %q\n  insecure_skip_verify = true\n\n", g.url, tok)
	}
	p := filepath.Join(dir, "enphase.conf")
	require.NoError(t, os.WriteFile(p, []byte(b.String()), 0o600))
	return p
}

func runMain(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = Main(args, Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb})
	return code, out.String(), errb.String()
}

// parseLP decodes line protocol strictly and returns the measurements seen
// with their tag sets, failing on any malformed line.
func parseLP(t *testing.T, s string) map[string][]map[string]string {
	t.Helper()
	out := map[string][]map[string]string{}
	dec := lineprotocol.NewDecoderWithBytes([]byte(s))
	for dec.Next() {
		m, err := dec.Measurement()
		require.NoError(t, err)
		tags := map[string]string{}
		for {
			k, v, err := dec.NextTag()
			require.NoError(t, err)
			if k == nil {
				break
			}
			tags[string(k)] = string(v)
		}
		for {
			k, _, err := dec.NextField()
			require.NoError(t, err)
			if k == nil {
				break
			}
		}
		_, err = dec.Time(lineprotocol.Nanosecond, time.Time{})
		require.NoError(t, err)
		out[string(m)] = append(out[string(m)], tags)
	}
	return out
}

func TestDumpTwoGateways(t *testing.T) {
	demo := startGateway(t, "")
	other := startGateway(t, filepath.Join("..", "..", "plugins", "inputs", "enphase", "testcases", "p1-p6-p9-non-metered", "capture"))
	code, out, stderr := runMain("dump", "--config", writeConfig(t, demo, other))
	require.Equal(t, 0, code, stderr)
	lp := parseLP(t, out)
	serials := map[string]bool{}
	for _, tags := range lp["enphase_gateway"] {
		serials[tags["serial"]] = true
	}
	require.Equal(t, map[string]bool{demo.sim.Serial(): true, other.sim.Serial(): true}, serials)
	for _, name := range []string{"enphase_production", "enphase_consumption", "enphase_meter", "enphase_inverter"} {
		require.NotEmpty(t, lp[name], name)
	}
	require.NotContains(t, stderr, "E! ")
}

func TestDumpUnreadableGatewayExits1(t *testing.T) {
	good := startGateway(t, "")
	gone := startGateway(t, "")
	cfg := writeConfig(t, good, gone)
	require.NoError(t, gone.sim.Close())
	code, out, stderr := runMain("dump", "--config", cfg)
	require.Equal(t, 1, code)
	require.NotEmpty(t, parseLP(t, out)["enphase_production"], "the readable gateway's data is still printed")
	var lines []string // the errors; information lines may come too
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if strings.HasPrefix(l, "E! ") {
			lines = append(lines, l)
		}
	}
	require.Len(t, lines, 1, stderr)
	require.Contains(t, lines[0], "E! gateway could not be read")
	// Refused, unless another test's server took the freed port meanwhile
	// and dropped the connection: either way a transport error, not data.
	require.Regexp(t, "connection refused|dropped the connection", lines[0])
}

// TestConfigErrors: a bad configuration fails at start naming the file,
// line and key, with exit status 2.
func TestConfigErrors(t *testing.T) {
	g := startGateway(t, "")
	tok := filepath.Join(t.TempDir(), "t")
	require.NoError(t, os.WriteFile(tok, []byte(g.sim.Token()), 0o600))
	cases := []struct {
		name, conf, want string
	}{
		{
			"unknown key",
			"[[inputs.enphase]]\n  url = \"https://envoy\"\n  token_file = \"" + tok + "\"\n  timout = \"5s\"\n",
			`:4: [[inputs.enphase]] #1: unknown key "timout" (did you mean "timeout"?)`,
		},
		{
			"wrong type",
			"[[inputs.enphase]]\n  url = \"https://envoy\"\n  token_file = \"" + tok + "\"\n  insecure_skip_verify = \"yes\"\n",
			`:4: [[inputs.enphase]] #1: key "insecure_skip_verify"`,
		},
		{"missing url", "[[inputs.enphase]]\n  token_file = \"" + tok + "\"\n", `:1: [[inputs.enphase]] #1: url: gateway url is empty`},
		{"missing token", "[[inputs.enphase]]\n  url = \"envoy.local\"\n", `token_file: required`},
		{
			"token file missing",
			"[[inputs.enphase]]\n  url = \"envoy.local\"\n  token_file = \"/nonexistent/t\"\n",
			`token_file: token file: stat /nonexistent/t: no such file or directory`,
		},
		{"A2 token file not a jwt", "[[inputs.enphase]]\n  url = \"envoy.local\"\n  token = \"not-a-token\"\n", `token: token (raw JWT) has 1 segment(s)`},
		{
			"inverters too often",
			"[[inputs.enphase]]\n  url = \"envoy.local\"\n  token_file = \"" + tok + "\"\n  inverters_interval = \"1m\"\n",
			`inverters_interval: 1m0s is too short`,
		},
		{
			"second table bad",
			"[[inputs.enphase]]\n  url = \"envoy.local\"\n  token_file = \"" + tok + "\"\n" +
				"[[inputs.enphase]]\n  url = \"http://[fd50::1\"\n  token_file = \"" + tok + "\"\n",
			`:4: [[inputs.enphase]] #2: url:`,
		},
		{"no table", "# nothing\n", `no [[inputs.enphase]] table`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "enphase.conf")
			require.NoError(t, os.WriteFile(p, []byte(tc.conf), 0o600))
			for _, args := range [][]string{{"dump", "--config", p}, {"--config", p}} {
				code, out, stderr := runMain(args...)
				require.Equal(t, 2, code, stderr)
				require.Empty(t, out)
				require.Contains(t, stderr, tc.want)
				require.True(t, strings.HasPrefix(stderr, "E! "), stderr)
				require.NotContains(t, stderr, g.sim.Token())
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"dump"}, {"get", "--config", "x"}, {"--bogus"}, {"dump", "--config", "a", "extra"}} {
		code, _, stderr := runMain(args...)
		require.Equal(t, 2, code, "%v", args)
		require.True(t, strings.HasPrefix(stderr, "E! "), stderr)
	}
}

// TestGet: the raw authenticated body, as the old curl scripts printed it.
func TestGet(t *testing.T) {
	g := startGateway(t, "")
	cfg := writeConfig(t, g)
	want, err := os.ReadFile(filepath.Join("..", "envoysim", "demo", "ivp_meters_readings"))
	require.NoError(t, err)
	code, out, stderr := runMain("get", "--config", cfg, "/ivp/meters/readings")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, string(want), out)

	code, _, stderr = runMain("get", "--config", cfg, "ivp/nothing/here")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "/ivp/nothing/here answered HTTP 404")
}

// TestGetAllRoundTrip: a capture saved with 'get --all' replays in the
// simulator as the same gateway: dump gives the same data.
func TestGetAllRoundTrip(t *testing.T) {
	g := startGateway(t, "")
	dir := filepath.Join(t.TempDir(), "capture")
	code, out, stderr := runMain("get", "--config", writeConfig(t, g), "--all", dir)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "production.json_details_1")
	for _, name := range []string{"info", "production.json_details_1", "ivp_meters", "ivp_meters_readings", "api_v1_production_inverters"} {
		log, err := os.ReadFile(filepath.Join(dir, name+"_log.json"))
		require.NoError(t, err)
		require.Contains(t, string(log), `"code": 200`)
		require.Contains(t, string(log), `"duration_seconds"`)
	}
	// Endpoints the demo gateway lacks are kept with their status: a bug report shows what is missing.
	log, err := os.ReadFile(filepath.Join(dir, "ivp_ensemble_power_log.json"))
	require.NoError(t, err)
	require.Contains(t, string(log), `"code": 404`)
	files, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f.Name()))
		require.NoError(t, err)
		require.NotContains(t, string(b), g.sim.Token(), f.Name())
		require.NotContains(t, strings.ToLower(string(b)), "sessionid", f.Name())
	}

	replay := startGateway(t, dir)
	_, orig, _ := runMain("dump", "--config", writeConfig(t, g))
	_, again, stderr := runMain("dump", "--config", writeConfig(t, replay))
	require.Equal(t, stripVolatile(t, orig), stripVolatile(t, again), stderr)
}

// stripVolatile drops timestamps of collector-clock points, the gateway
// health and the token's time left, which differ between two runs.
func stripVolatile(t *testing.T, lp string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(lp), "\n") {
		if strings.HasPrefix(l, "enphase_gateway") || strings.HasPrefix(l, "enphase_token") {
			continue
		}
		if !strings.HasPrefix(l, "enphase_inverter") {
			l = l[:strings.LastIndex(l, " ")]
		}
		out = append(out, l)
	}
	require.NotEmpty(t, out)
	return out
}

// TestExecdMode runs the binary as Telegraf's execd does: a line on stdin
// per gather, line protocol on stdout, only level-prefixed lines on stderr,
// and a prompt, clean exit when stdin closes.
func TestExecdMode(t *testing.T) {
	g := startGateway(t, "")
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe, "--config", writeConfig(t, g))
	cmd.Env = append(os.Environ(), "TELEGRAF_ENPHASE_AS_MAIN=1")
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr syncBuf // read by a failing wait while the process writes it
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())

	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// Nothing is gathered until Telegraf asks.
	select {
	case l := <-lines:
		t.Fatalf("output before any request: %s", l)
	case <-time.After(300 * time.Millisecond):
	}
	var got []string
	for gather := 1; gather <= 2; gather++ {
		_, err := io.WriteString(stdin, "\n")
		require.NoError(t, err)
		for {
			var l string
			select {
			case l = <-lines:
			case <-time.After(time.Minute):
				t.Fatalf("gather %d wrote no enphase_gateway line in a minute; stderr:\n%s", gather, stderr.String())
			}
			got = append(got, l)
			if strings.HasPrefix(l, "enphase_gateway") {
				break
			}
		}
	}
	start := time.Now()
	require.NoError(t, stdin.Close())
	for range lines {
	}
	require.NoError(t, cmd.Wait())
	require.Less(t, time.Since(start), 5*time.Second, "Telegraf sends SIGTERM after 5 s")
	lp := parseLP(t, strings.Join(got, "\n")+"\n")
	require.Len(t, lp["enphase_gateway"], 2)
	require.Len(t, lp["enphase_inverter"], 12, "inverters once per 5 minutes")
	for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		require.Regexp(t, `^[EWIDT]! `, l, "execd turns unprefixed stderr lines into errors")
		require.NotRegexp(t, `^E! `, l)
	}
	require.Equal(t, 1, g.sim.Stats().CheckJWT)
}

// TestExecdStopAbortsHungGather: closing stdin during a gather stuck on a
// hung gateway still ends the process promptly.
func TestExecdStopAbortsHungGather(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join("..", "envoysim", "demo")
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "production.json_details_1_log.json"), []byte(`{"code":200,"duration_seconds":60}`), 0o600))
	sim, err := envoysim.New(envoysim.Options{Captures: os.DirFS(dir), LatencyScale: 1})
	require.NoError(t, err)
	url, err := sim.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })

	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe, "--config", writeConfig(t, gateway{sim, url}))
	cmd.Env = append(os.Environ(), "TELEGRAF_ENPHASE_AS_MAIN=1")
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	_, err = io.WriteString(stdin, "\n")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return sim.Stats().Requests["/production.json?details=1"] == 1 }, 5*time.Second, 5*time.Millisecond)
	start := time.Now()
	require.NoError(t, stdin.Close())
	require.NoError(t, cmd.Wait())
	require.Less(t, time.Since(start), 3*time.Second)
	require.NotContains(t, stderr.String(), "E! ", "a stop is not an error")
}
