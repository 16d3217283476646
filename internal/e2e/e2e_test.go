package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoysim"
	"github.com/telegraf-enphase/telegraf-enphase/internal/token"
)

// root is the repository, from this package's directory.
const root = "../.."

const (
	account  = "owner@example.com"
	password = "e2e-pa$$word"
	gathers  = 12 // at Telegraf's 1 s interval
)

// need returns the path of a program the test needs, or skips: CI sets
// E2E_REQUIRED=1 so that a missing program fails instead.
func need(t *testing.T, what, path, how string) string {
	t.Helper()
	if p, err := exec.LookPath(path); err == nil {
		return p
	}
	if os.Getenv("E2E_REQUIRED") == "1" {
		t.Fatalf("%s not found at %q: %s", what, path, how)
	}
	t.Skipf("%s not found at %q (%s); set E2E_REQUIRED=1 to make this a failure", what, path, how)
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// influx is a real InfluxDB 1.x server on loopback, in a temporary directory.
type influx struct{ url string }

func startInfluxDB(t *testing.T, influxd string) *influx {
	t.Helper()
	dir := t.TempDir()
	httpPort, rpcPort := freePort(t), freePort(t)
	conf := fmt.Sprintf(`reporting-disabled = true
bind-address = "127.0.0.1:%d"
[meta]
  dir = %q
[data]
  dir = %q
  wal-dir = %q
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:%d"
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
`, rpcPort, filepath.Join(dir, "meta"), filepath.Join(dir, "data"), filepath.Join(dir, "wal"), httpPort)
	cfg := filepath.Join(dir, "influxdb.conf")
	require.NoError(t, os.WriteFile(cfg, []byte(conf), 0o600))
	var log syncBuffer
	cmd := exec.Command(influxd, "-config", cfg)
	cmd.Stdout, cmd.Stderr = &log, &log
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	db := &influx{url: fmt.Sprintf("http://127.0.0.1:%d", httpPort)}
	require.Eventually(t, func() bool {
		resp, err := http.Get(db.url + "/ping")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusNoContent
	}, 30*time.Second, 100*time.Millisecond, "influxd did not start: %s", &log)
	return db
}

// series is one series of a query result.
type series struct {
	Name    string            `json:"name"`
	Tags    map[string]string `json:"tags"`
	Columns []string          `json:"columns"`
	Values  [][]any           `json:"values"`
}

// query runs InfluxQL on database telegraf and returns its series.
func (db *influx) query(t *testing.T, q string) []series {
	t.Helper()
	resp, err := http.PostForm(db.url+"/query", url.Values{"db": {"telegraf"}, "q": {q}})
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", q, b)
	var out struct {
		Results []struct {
			Error  string   `json:"error"`
			Series []series `json:"series"`
		} `json:"results"`
	}
	require.NoError(t, json.Unmarshal(b, &out), string(b))
	require.Len(t, out.Results, 1)
	require.Empty(t, out.Results[0].Error, q)
	return out.Results[0].Series
}

// times is the time column of a query's rows, in order.
func (db *influx) times(t *testing.T, q string) []string {
	t.Helper()
	var out []string
	for _, s := range db.query(t, q) {
		for _, v := range s.Values {
			out = append(out, v[0].(string))
		}
	}
	return out
}

// scalar is the single value of a one-row query.
func (db *influx) scalar(t *testing.T, q string) any {
	t.Helper()
	s := db.query(t, q)
	require.Len(t, s, 1, q)
	require.Len(t, s[0].Values, 1, q)
	return s[0].Values[0][1]
}

// schema is what the plugin's documented output for the demo gateway holds:
// measurement → tag keys, and measurement → field → InfluxDB type.
type schema struct {
	tags   map[string]map[string]bool
	fields map[string]map[string]string
}

// goldenSchema reads the golden line protocol of the two gateways the test
// runs (itself checked against the plugin README's Metrics section).
func goldenSchema(t *testing.T) schema {
	t.Helper()
	var b []byte
	for _, c := range []string{"demo", "batteries-v11"} {
		golden, err := os.ReadFile(filepath.Join(root, "plugins", "inputs", "enphase", "testcases", c, "expected.out"))
		require.NoError(t, err)
		b = append(b, golden...)
	}
	s := schema{tags: map[string]map[string]bool{}, fields: map[string]map[string]string{}}
	dec := lineprotocol.NewDecoderWithBytes(b)
	for dec.Next() {
		m, err := dec.Measurement()
		require.NoError(t, err)
		name := string(m)
		if s.tags[name] == nil {
			s.tags[name], s.fields[name] = map[string]bool{}, map[string]string{}
		}
		for {
			k, _, err := dec.NextTag()
			require.NoError(t, err)
			if k == nil {
				break
			}
			s.tags[name][string(k)] = true
		}
		for {
			k, v, err := dec.NextField()
			require.NoError(t, err)
			if k == nil {
				break
			}
			s.fields[name][string(k)] = map[lineprotocol.ValueKind]string{
				lineprotocol.Float: "float", lineprotocol.Int: "integer", lineprotocol.String: "string",
			}[v.Kind()]
		}
	}
	return s
}

// sampleExecd is the repository's documented [[inputs.execd]] block with only
// paths, the interval and the restart delay changed.
func sampleExecd(t *testing.T, bin, conf string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "sample.conf"))
	require.NoError(t, err)
	s := string(b)
	for old, repl := range map[string]string{
		`"/usr/local/bin/telegraf-enphase"`:    fmt.Sprintf("%q", bin),
		`"/etc/telegraf/enphase/enphase.conf"`: fmt.Sprintf("%q", conf),
		`interval = "15s"`:                     `interval = "1s"`,
		`restart_delay = "30s"`:                `restart_delay = "1s"`,
	} {
		require.Equal(t, 1, strings.Count(s, old), "sample.conf must hold %s once", old)
		s = strings.Replace(s, old, repl, 1)
	}
	return s
}

// TestTelegrafIntoInfluxDB is the whole chain a user runs, with a token
// renewal in the middle of the run.
func TestTelegrafIntoInfluxDB(t *testing.T) {
	telegraf := need(t, "telegraf", envOr("TELEGRAF_BIN", filepath.Join(root, "bin", "telegraf")), "run 'make telegraf'")
	influxd := need(t, "influxd", "influxd", "install Debian's influxdb package")
	gobin := need(t, "go", "go", "install Go")
	db := startInfluxDB(t, influxd)
	dir := t.TempDir()

	plugin := filepath.Join(dir, "telegraf-enphase")
	build := exec.Command(gobin, "build", "-o", plugin, "./cmd/telegraf-enphase")
	build.Dir = root
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	// An installer token with 70 minutes left, renewed when under 70m - 5s
	// remain: the renewal falls in the middle of the run.
	// Live: the capture's inverter reports are stamped now, not months ago.
	sim, err := envoysim.New(envoysim.Options{Accounts: map[string]string{account: password}, Live: true})
	require.NoError(t, err)
	sim.SetCloud(envoysim.Cloud{Role: "installer", Lifetime: 12 * time.Hour})
	simURL, err := sim.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	now := time.Now()
	first := sim.MintToken(sim.Serial(), "installer", now.Add(-10*time.Hour-50*time.Minute), now.Add(70*time.Minute))

	// A second gateway in the same process: the battery capture.
	battDir := filepath.Join(root, "plugins", "inputs", "enphase", "testcases", "batteries-v11", "capture")
	batt, err := envoysim.New(envoysim.Options{Captures: os.DirFS(battDir), Live: true})
	require.NoError(t, err)
	battURL, err := batt.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = batt.Close() })
	battToken := filepath.Join(dir, "battery.token")
	require.NoError(t, os.WriteFile(battToken, []byte(batt.Token()+"\n"), 0o600))
	battCA := filepath.Join(dir, "battery.pem")
	require.NoError(t, os.WriteFile(battCA, batt.CertificatePEM(), 0o600))

	tokenFile := filepath.Join(dir, "envoy.token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(first+"\n"), 0o600))
	ca := filepath.Join(dir, "sim.pem")
	require.NoError(t, os.WriteFile(ca, sim.CertificatePEM(), 0o600))
	pwFile := filepath.Join(dir, "password")
	require.NoError(t, os.WriteFile(pwFile, []byte(password), 0o600))
	pluginConf := filepath.Join(dir, "enphase.conf")
	require.NoError(t, os.WriteFile(pluginConf, []byte(fmt.Sprintf(`[[inputs.enphase]]
  url = %q
  token_file = %q
  tls_ca = %q
  tls_server_name = "envoy-%s"
  username = %q
  password_file = %q
  enlighten_url = %q
  entrez_url = %q
  cloud_tls_ca = %q
  renew_installer_before = "69m55s"

[[inputs.enphase]]
  url = %q
  token_file = %q
  tls_ca = %q
  tls_server_name = "envoy-%s"
`, simURL, tokenFile, ca, sim.Serial(), account, pwFile, simURL, simURL, ca, battURL, battToken, battCA, batt.Serial())), 0o600))

	telegrafConf := filepath.Join(dir, "telegraf.conf")
	require.NoError(t, os.WriteFile(telegrafConf, []byte(fmt.Sprintf(`[agent]
  interval = "1s"
  flush_interval = "1s"
  omit_hostname = true

%s
[[outputs.influxdb]]
  urls = [%q]
  database = "telegraf"
`, sampleExecd(t, plugin, pluginConf), db.url)), 0o600))

	var tlog syncBuffer
	cmd := exec.Command(telegraf, "--config", telegrafConf)
	cmd.Stdout, cmd.Stderr = &tlog, &tlog
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	require.Eventually(
		t,
		func() bool { return sim.Stats().Requests["/production.json?details=1"] >= gathers },
		90*time.Second,
		50*time.Millisecond,
		"telegraf log:\n%s",
		&tlog,
	)

	// Telegraf's stop closes our stdin, and sends SIGTERM only after 5 s:
	// our process must be gone before that.
	beforeStop := tlog.Len()
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	stopped := time.Now()
	require.NoError(t, cmd.Wait(), "telegraf log:\n%s", &tlog)
	require.Less(t, time.Since(stopped), 5*time.Second, "execd escalates to SIGTERM after 5 s")
	pids, _ := exec.Command("pgrep", "-f", plugin).Output()
	require.Empty(t, strings.TrimSpace(string(pids)), "telegraf-enphase still running")

	logText := tlog.String()
	for _, l := range strings.Split(logText[:beforeStop], "\n") {
		require.NotContains(t, l, " E! ", "telegraf log has an error")
	}
	// While stopping, execd may still prompt a child whose stdin it closed:
	// Telegraf's own race, not ours.
	for _, l := range strings.Split(logText[beforeStop:], "\n") {
		if strings.Contains(l, " E! ") {
			require.Contains(t, l, "already closed", "telegraf log has an error")
		}
	}
	require.NotContains(t, logText, password)
	require.NotContains(t, logText, first[strings.LastIndex(first, ".")+1:])
	// A gather cut short by the stop may have asked the gateway and written nothing.
	demo := fmt.Sprintf(`"serial" = '%s'`, sim.Serial())
	n := db.scalar(t, `SELECT count("requests") FROM "enphase_gateway" WHERE `+demo).(float64)
	require.GreaterOrEqual(t, n, float64(gathers-1))
	require.InDelta(t, float64(sim.Stats().Requests["/production.json?details=1"]), n, 1)

	t.Run("schema", func(t *testing.T) {
		want := goldenSchema(t)
		var got []string
		for _, s := range db.query(t, `SHOW MEASUREMENTS`) {
			for _, v := range s.Values {
				got = append(got, v[0].(string))
			}
		}
		require.ElementsMatch(t, keys(want.tags), got)
		for m := range want.tags {
			var tags []string
			for _, s := range db.query(t, fmt.Sprintf(`SHOW TAG KEYS FROM %q`, m)) {
				for _, v := range s.Values {
					tags = append(tags, v[0].(string))
				}
			}
			require.ElementsMatch(t, keys(want.tags[m]), tags, m)
			fields := map[string]string{}
			for _, s := range db.query(t, fmt.Sprintf(`SHOW FIELD KEYS FROM %q`, m)) {
				for _, v := range s.Values {
					fields[v[0].(string)] = v[1].(string)
				}
			}
			for f, typ := range want.fields[m] {
				require.Equal(t, typ, fields[f], "%s.%s", m, f)
			}
		}
	})

	t.Run("every gather arrived", func(t *testing.T) {
		// Every point of a gather carries the gather's time, and the gateway
		// point is written last: each completed gather (one with a gateway
		// point) wrote every series. Only a gather cut short by the stop may
		// have written a first part and no gateway point; it is the last one.
		gathers := db.times(t, `SELECT "requests" FROM "enphase_gateway" WHERE `+demo)
		require.Len(t, gathers, int(n))
		for _, q := range []string{
			`SELECT "power_w" FROM "enphase_production" WHERE "source" = 'ct' AND "phase" = 'total' AND ` + demo,
			`SELECT "power_w" FROM "enphase_consumption" WHERE "measurement_type" = 'net' AND "phase" = 'L2' AND ` + demo,
			`SELECT "power_w" FROM "enphase_meter" WHERE "measurement_type" = 'production' AND "phase" = 'total' AND ` + demo,
			`SELECT "expires_in_s" FROM "enphase_token" WHERE ` + demo,
		} {
			got := db.times(t, q)
			if len(got) == len(gathers)+1 {
				last, err := time.Parse(time.RFC3339Nano, got[len(got)-1])
				require.NoError(t, err)
				lastGather, err := time.Parse(time.RFC3339Nano, gathers[len(gathers)-1])
				require.NoError(t, err)
				require.True(t, last.After(lastGather), "only the last gather may be cut short: %s", q)
				got = got[:len(gathers)]
			}
			require.Equal(t, gathers, got, q)
		}
		require.EqualValues(t, 0, db.scalar(t, `SELECT sum("endpoints_failed") FROM "enphase_gateway"`), "both gateways")
		require.Len(t, db.query(t, `SELECT last("power_w") FROM "enphase_inverter" WHERE `+demo+` GROUP BY "device_serial"`), 12)
		// The battery gateway, gathered by the same process at the same pace.
		other := fmt.Sprintf(`"serial" = '%s'`, batt.Serial())
		require.InDelta(t, n, db.scalar(t, `SELECT count("requests") FROM "enphase_gateway" WHERE `+other).(float64), 1)
		// Three IQ Batteries and one AC Battery, each its own series.
		require.Len(t, db.query(t, `SELECT last("soc_percent") FROM "enphase_battery" WHERE `+other+` AND "type" = 'encharge' GROUP BY "device_serial"`), 3)
		require.Len(t, db.query(t, `SELECT last("soc_percent") FROM "enphase_battery" WHERE `+other+` AND "type" = 'acb' GROUP BY "device_serial"`), 1)
	})

	t.Run("values match the capture", func(t *testing.T) {
		var prod struct {
			Production []map[string]any `json:"production"`
		}
		readDemo(t, "production.json_details_1", &prod)
		var readings []map[string]any
		readDemo(t, "ivp_meters_readings", &readings)
		var ctPower float64
		for _, e := range prod.Production {
			if e["measurementType"] == "production" {
				ctPower = e["wNow"].(float64)
			}
		}
		require.NotZero(t, ctPower)
		require.EqualValues(t, ctPower, db.scalar(t, `SELECT last("power_w") FROM "enphase_production" WHERE "source" = 'ct' AND "phase" = 'total' AND `+demo))
		for _, r := range readings {
			if r["eid"].(float64) == 704643584 { // the net-consumption CT
				require.EqualValues(
					t,
					r["actEnergyDlvd"],
					db.scalar(
						t,
						`SELECT last("energy_delivered_lifetime_wh") FROM "enphase_meter" WHERE "measurement_type" = 'net-consumption' AND "phase" = 'total' AND `+demo,
					),
				)
				require.EqualValues(
					t,
					r["actEnergyRcvd"],
					db.scalar(
						t,
						`SELECT last("energy_received_lifetime_wh") FROM "enphase_meter" WHERE "measurement_type" = 'net-consumption' AND "phase" = 'total' AND `+demo,
					),
				)
			}
		}
		var serials []any
		for _, v := range db.query(t, `SHOW TAG VALUES FROM "enphase_gateway" WITH KEY = "serial"`)[0].Values {
			serials = append(serials, v[1])
		}
		require.ElementsMatch(t, []any{sim.Serial(), batt.Serial()}, serials)
	})

	t.Run("the token was renewed mid-run", func(t *testing.T) {
		require.Equal(t, 1, sim.Stats().CloudTokens)
		stored, err := token.ReadFile(tokenFile)
		require.NoError(t, err)
		require.NotEqual(t, first, stored.Raw)
		require.Greater(t, stored.Remaining(time.Now()), 11*time.Hour)
		require.EqualValues(t, 1, db.scalar(t, `SELECT max("renewals") FROM "enphase_token" WHERE `+demo))
		require.Greater(t, db.scalar(t, `SELECT max("expires_in_s") FROM "enphase_token" WHERE `+demo).(float64), (11 * time.Hour).Seconds())
	})

	t.Run("C3 daily energy across daylight-saving days", func(t *testing.T) {
		// The README's recipe, run over a counter rising 100 Wh an hour,
		// read every 15 minutes through both 2026 changes in Paris.
		recipe := readmeRecipe(t)
		paris, err := time.LoadLocation("Europe/Paris")
		require.NoError(t, err)
		for _, days := range [][2]string{{"2026-03-27", "2026-03-31"}, {"2026-10-23", "2026-10-27"}} {
			from, err := time.ParseInLocation("2006-01-02", days[0], paris)
			require.NoError(t, err)
			to, err := time.ParseInLocation("2006-01-02", days[1], paris)
			require.NoError(t, err)
			var lp strings.Builder
			for ts := from; ts.Before(to); ts = ts.Add(15 * time.Minute) {
				wh := 1_000_000 + ts.Sub(from).Hours()*100
				fmt.Fprintf(&lp, "enphase_production,phase=total,serial=dst,source=ct energy_lifetime_wh=%v %d\n", wh, ts.Unix())
			}
			resp, err := http.Post(db.url+"/write?db=telegraf&precision=s", "text/plain", strings.NewReader(lp.String()))
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusNoContent, resp.StatusCode)

			q := strings.Replace(
				recipe,
				"$timeFilter",
				fmt.Sprintf("time >= '%s' AND time < '%s'", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339)),
				1,
			)
			got := map[string]float64{}
			for _, row := range db.query(t, q)[0].Values {
				if row[1] != nil {
					day, err := time.Parse(time.RFC3339, row[0].(string))
					require.NoError(t, err)
					got[day.In(paris).Format("2006-01-02")] = row[1].(float64)
				}
			}
			// Each local day holds its own hours: 23 on the spring change, 25 in autumn.
			want := map[string]float64{}
			for d := from.AddDate(0, 0, 1); d.Before(to); d = d.AddDate(0, 0, 1) {
				want[d.Format("2006-01-02")] = d.AddDate(0, 0, 1).Sub(d).Hours() * 100
			}
			require.Equal(t, want, got)
		}
	})

	t.Run("every dashboard query returns data", func(t *testing.T) {
		queries := dashboardQueries(t)
		require.NotEmpty(t, queries)
		for _, q := range queries {
			// The variable at "All": both gateways, so every panel has data.
			q = strings.NewReplacer("$timeFilter", "time > now() - 1h", "$__interval", "10s", "$serial", ".*", "${serial}", ".*").Replace(q)
			require.NotRegexp(t, `\$(\w|\{)`, q, "a macro the test does not know")
			s := db.query(t, q)
			require.NotEmpty(t, s, q)
			require.NotEmpty(t, s[0].Values, q)
		}
	})
}

// syncBuffer is a log buffer a child process writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func readDemo(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "internal", "envoysim", "demo", name))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, v))
}

// readmeRecipe is the plugin README's daily-production InfluxQL query.
func readmeRecipe(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "plugins", "inputs", "enphase", "README.md"))
	require.NoError(t, err)
	s := string(b)
	i := strings.Index(s, "Daily production from the lifetime counter")
	require.GreaterOrEqual(t, i, 0)
	start := strings.Index(s[i:], "```sql\n")
	require.GreaterOrEqual(t, start, 0)
	body := s[i+start+len("```sql\n"):]
	return strings.TrimSpace(body[:strings.Index(body, "```")])
}

// dashboardQueries returns the InfluxQL of every panel target of the
// dashboard, nested rows included.
func dashboardQueries(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "docs", "grafana", "enphase.json"))
	require.NoError(t, err)
	var dash struct {
		Panels []panel `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(b, &dash))
	var out []string
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				require.True(t, tg.RawQuery, "panel %q: targets must be raw InfluxQL", p.Title)
				require.NotEmpty(t, tg.Query, "panel %q", p.Title)
				out = append(out, tg.Query)
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	return out
}

type panel struct {
	Title   string `json:"title"`
	Targets []struct {
		Query    string `json:"query"`
		RawQuery bool   `json:"rawQuery"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

// TestDashboardGroupsBySerial checks what docs/grafana/README.md promises:
// every query of the dashboard is filtered by the Gateway variable and its
// outermost GROUP BY has "serial", so that two gateways are never summed,
// averaged or mixed in one series (the microinverter panels grouped by
// "device_serial" alone). It reads the dashboard only: no InfluxDB needed.
func TestDashboardGroupsBySerial(t *testing.T) {
	for _, q := range dashboardQueries(t) {
		if !strings.Contains(q, `"serial" =~ /^$serial$/`) {
			t.Errorf("not filtered by the Gateway variable: %s", q)
		}
		// The text outside parentheses: the outermost query.
		var outer strings.Builder
		depth := 0
		for _, r := range q {
			if r == '(' {
				depth++
			}
			if depth == 0 {
				outer.WriteRune(r)
			}
			if r == ')' {
				depth--
			}
		}
		_, group, ok := strings.Cut(outer.String(), "GROUP BY ")
		if !ok || !strings.Contains(group, `"serial"`) {
			t.Errorf("outermost GROUP BY lacks \"serial\": %s", q)
		}
	}
}
