package enphase

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
	"github.com/telegraf-enphase/telegraf-enphase/internal/envoysim"
)

// Each test names the case ids (docs/field-cases.md) it covers.

const page401 = `<html><head><title>401 Authorization Required</title></head><body><h1>401 Authorization Required</h1>` +
	`<script>window.location.href="/login.html";</script></body></html>`

func errorStrings(acc *testutil.Accumulator) string {
	var b strings.Builder
	for _, e := range acc.Errors {
		b.WriteString(e.Error())
		b.WriteString("\n")
	}
	return b.String()
}

// TestBadBodiesCostOnlyTheirEndpoint covers T1-T5: an endpoint answering
// garbage is reported with a clear error (or dropped when the gateway lacks
// it) and costs its own metrics only.
func TestBadBodiesCostOnlyTheirEndpoint(t *testing.T) {
	cases := []struct {
		name    string
		file    string
		code    int
		body    string
		wantErr string // "" means no error: the endpoint is dropped as missing
		lost    string // the measurement that must be absent
		kept    string // a measurement that must still be there
	}{
		{"T1 production 401 html page", "production.json_details_1", 401, page401, "not allowed for this token", "enphase_production", "enphase_meter"},
		{
			"T2 production html with 200",
			"production.json_details_1",
			200,
			"<!DOCTYPE html><html><body>Please log in</body></html>",
			"HTML page instead of JSON",
			"enphase_production",
			"enphase_meter",
		},
		{"T3 production empty body", "production.json_details_1", 200, "", "empty body", "enphase_production", "enphase_meter"},
		{"T3 readings not json", "ivp_meters_readings", 200, "Error: 500", "not JSON", "enphase_meter", "enphase_production"},
		{
			"T4 production truncated",
			"production.json_details_1",
			200,
			`{"production":[{"type":"eim","activeCount":1,"measurementType":"production","wNow":12.5,"lines":[{"wNow":`,
			"bad JSON",
			"enphase_production",
			"enphase_meter",
		},
		{"T4 readings truncated", "ivp_meters_readings", 200, `[{"eid":704643328,"activePower":1`, "bad JSON", "enphase_meter", "enphase_consumption"},
		{"T5 readings 404 json error", "ivp_meters_readings", 404, `{ "error" : "404 - Not Found" }`, "", "enphase_meter", "enphase_production"},
		{"T5 readings 200 json error", "ivp_meters_readings", 200, `{"err":"404 - Not Found"}`, "", "enphase_meter", "enphase_production"},
		{"T1 optional endpoint 401", "ivp_meters_readings", 401, page401, "", "enphase_meter", "enphase_production"},
		{
			"T5 gateway error object",
			"ivp_meters_readings",
			200,
			`{"error":"internal failure"}`,
			`gateway error "internal failure"`,
			"enphase_meter",
			"enphase_production",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]*fstest.MapFile{}
			body(files, tc.file, tc.code, tc.body)
			sim, url := startSim(t, overlay(t, files))
			var log testutil.CaptureLogger
			e := New()
			e.Log = &log
			initPlugin(t, sim, url, newClock(), e)
			var acc testutil.Accumulator
			err := e.Gather(&acc)
			require.NoError(t, err, "one bad endpoint must not fail the gather")
			got := measurements(acc.GetTelegrafMetrics())
			require.Zero(t, got[tc.lost], "metrics from the bad endpoint")
			require.NotZero(t, got[tc.kept], "metrics from the good endpoints")
			if tc.wantErr == "" {
				require.Empty(t, acc.Errors)
				require.Contains(t, strings.Join(logLines(&log), "\n"), "not asking again")
			} else {
				require.Len(t, acc.Errors, 1)
				require.Contains(t, acc.Errors[0].Error(), tc.wantErr)
				require.Contains(t, acc.Errors[0].Error(), "envoy 122301234567")
				require.NotContains(t, acc.Errors[0].Error(), "<html", "HTML must never be parsed or echoed")
			}
			assertNoSecrets(t, sim, &log, &acc)
		})
	}
}

func logLines(l *testutil.CaptureLogger) []string {
	var out []string
	for _, m := range l.Messages() {
		out = append(out, m.String())
	}
	return out
}

// assertNoSecrets checks that no token or session cookie reached a log line or error.
func assertNoSecrets(t *testing.T, sim *envoysim.Server, log *testutil.CaptureLogger, acc *testutil.Accumulator) {
	t.Helper()
	all := strings.Join(logLines(log), "\n") + errorStrings(acc)
	tok := sim.Token()
	require.NotContains(t, all, tok)
	require.NotContains(t, all, tok[len(tok)-20:], "not even the signature's tail")
	require.NotContains(t, all, "sessionId=")
}

// TestDroppedEndpointIsProbedAgainLater covers T5 and P16's rule: a missing
// endpoint is not asked for on every gather, but is asked again after
// reprobe_interval.
func TestDroppedEndpointIsProbedAgainLater(t *testing.T) {
	files := map[string]*fstest.MapFile{}
	body(files, "ivp_meters", 404, `{ "error" : "404 - Not Found" }`)
	sim, url := startSim(t, overlay(t, files))
	clk := newClock()
	e := newPlugin(t, sim, url, clk)
	var acc testutil.Accumulator
	for range 4 {
		require.NoError(t, e.Gather(&acc))
		clk.Advance(15 * time.Second)
	}
	require.Equal(t, 1, sim.Stats().Requests[envoy.PathMeters])
	require.Zero(t, sim.Stats().Requests[envoy.PathMeterReadings], "readings cannot be joined without /ivp/meters")
	clk.Advance(time.Duration(e.ReprobeInterval))
	require.NoError(t, e.Gather(&acc))
	require.Equal(t, 2, sim.Stats().Requests[envoy.PathMeters])
	require.Empty(t, acc.Errors)
}

// TestSteadyStateRequests: after the first gather, a gather costs two
// requests (production and CT readings) and no authentication; the slow
// tiers come at their own cadence, and a gateway without batteries is not
// asked about them again until the next probe.
func TestSteadyStateRequests(t *testing.T) {
	sim, url := startSim(t, nil)
	clk := newClock()
	e := newPlugin(t, sim, url, clk)
	var acc testutil.Accumulator
	require.NoError(t, e.Gather(&acc))
	first := sim.Stats()
	for range 19 { // 4:45 at 15 s
		clk.Advance(15 * time.Second)
		require.NoError(t, e.Gather(&acc))
	}
	after := sim.Stats()
	require.Equal(t, 1, after.CheckJWT, "one check_jwt per session")
	// The summary is read with the inverters, here at the second gather:
	// on this metered 8.2 gateway only once the CT list says the production
	// CT is enabled (case P8).
	require.Equal(t, 1, after.Requests[envoy.PathSummary]-first.Requests[envoy.PathSummary], "the summary once per inverters_interval")
	require.Equal(t, 38+1, after.Total-first.Total, "two requests a gather")
	require.Equal(t, 19, after.Requests[envoy.PathProduction]-first.Requests[envoy.PathProduction])
	require.Equal(t, 19, after.Requests[envoy.PathMeterReadings]-first.Requests[envoy.PathMeterReadings])
	require.Equal(t, 1, after.Requests[envoy.PathEnsembleInventory], "no batteries: not asked again before the next probe")
	require.Equal(t, 1, after.Requests[envoy.PathDeviceData], "inverters every 5 minutes")
	require.Zero(t, after.Requests[envoy.PathInverters], "device_data covers every inverter")
	clk.Advance(15 * time.Second)
	require.NoError(t, e.Gather(&acc))
	require.Equal(t, 2, sim.Stats().Requests[envoy.PathDeviceData])
	require.Empty(t, acc.Errors)
}

// TestSessionExpiryRenewsOnce covers T1 and A8: when the gateway forgets the
// session (reboot, idle timeout), one check_jwt opens a new one and the
// request is retried once, losing nothing.
func TestSessionExpiryRenewsOnce(t *testing.T) {
	sim, url := startSim(t, nil)
	e := newPlugin(t, sim, url, newClock())
	var acc testutil.Accumulator
	require.NoError(t, e.Gather(&acc))
	sim.ExpireSessions()
	acc.ClearMetrics()
	require.NoError(t, e.Gather(&acc))
	require.Empty(t, acc.Errors)
	require.Equal(t, 2, sim.Stats().CheckJWT)
	require.NotZero(t, measurements(acc.GetTelegrafMetrics())["enphase_production"])
}

// TestTokenProblems covers A1, A6 and E4: a token the gateway rejects, one
// minted for another gateway and an expired one each give one clear error
// saying what to do, and a token renewed on disk is picked up.
func TestTokenProblems(t *testing.T) {
	sim, url := startSim(t, nil)
	now := time.Now()
	cases := []struct {
		name    string
		token   string
		wantErr string
	}{
		{
			"E4 token for another serial",
			sim.MintToken("999999999999", "owner", now, now.Add(time.Hour)),
			"token is for gateway 999999999999 but this gateway's serial is 122301234567",
		},
		{"A1 expired token", sim.MintToken(sim.Serial(), "owner", now.Add(-48*time.Hour), now.Add(-time.Hour)), "has expired"},
		{"A6 token the gateway rejects", foreignToken(t, sim.Serial(), now.Add(time.Hour)), "gateway rejected the owner token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newPlugin(t, sim, url, nil)
			require.NoError(t, os.WriteFile(e.TokenFile, []byte(tc.token), 0o600))
			var acc testutil.Accumulator
			err := e.Gather(&acc)
			require.ErrorIs(t, err, ErrUnreadable)
			require.Contains(t, err.Error(), tc.wantErr)
			require.NotContains(t, err.Error(), tc.token)
			require.Zero(t, measurements(acc.GetTelegrafMetrics())["enphase_production"])

			// A3: the renewed token, pasted with stray whitespace, is used at once.
			require.NoError(t, os.WriteFile(e.TokenFile, []byte("  "+sim.Token()+"\r\n\n"), 0o600))
			future := time.Now().Add(time.Second) // a different mtime, as a real rewrite has
			require.NoError(t, os.Chtimes(e.TokenFile, future, future))
			acc.ClearMetrics()
			require.NoError(t, e.Gather(&acc))
			require.NotZero(t, measurements(acc.GetTelegrafMetrics())["enphase_production"])
		})
	}
}

// foreignToken is a well-formed Enphase token signed by another key, which
// the gateway refuses on check_jwt.
func foreignToken(t *testing.T, serial string, exp time.Time) string {
	other, err := envoysim.New(envoysim.Options{})
	require.NoError(t, err)
	return other.MintToken(serial, "owner", time.Now(), exp)
}

// slowProductionSim is the demo gateway answering /production.json?details=1
// in 0.4 s, long enough to ask for another gather meanwhile.
func slowProductionSim(t *testing.T) (*envoysim.Server, string) {
	t.Helper()
	files := map[string]*fstest.MapFile{
		"production.json_details_1_log.json": {Data: []byte(`{"code":200,"duration_seconds":0.4}`)},
	}
	sim, err := envoysim.New(envoysim.Options{Captures: overlay(t, files), LatencyScale: 1})
	require.NoError(t, err)
	url, err := sim.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	return sim, url
}

// TestOverlappingGatherSkips: a gather still running when the next is due
// makes the next one skip with a warning instead of queueing (T8).
func TestOverlappingGatherSkips(t *testing.T) {
	sim, url := slowProductionSim(t)
	var log testutil.CaptureLogger
	e := New()
	e.Log = &log
	initPlugin(t, sim, url, nil, e)
	var acc testutil.Accumulator
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); require.NoError(t, e.Gather(&acc)) }()
	require.Eventually(t, func() bool { return sim.Stats().Requests[envoy.PathProduction] == 1 }, 5*time.Second, time.Millisecond)
	require.NoError(t, e.Gather(&acc))
	wg.Wait()
	require.Equal(t, 1, sim.Stats().Requests[envoy.PathProduction], "the second gather must not queue a request")
	require.Len(t, log.Warnings(), 1)
	require.Contains(t, log.Warnings()[0], "previous gather still running")
	require.Equal(t, 1, measurements(acc.GetTelegrafMetrics())["enphase_gateway"])
}

// TestGatherTimeoutBoundsAHang covers T8: a hung endpoint costs one request
// timeout (or what is left of the gather's), and the gather still returns
// what the other endpoints gave.
func TestGatherTimeoutBoundsAHang(t *testing.T) {
	cases := []struct {
		name            string
		production      string // seconds the production endpoint takes
		request, gather time.Duration
		want            string
	}{
		{"request timeout", "0", 300 * time.Millisecond, 2 * time.Second, "no answer within 300ms"},
		// 0.8 s on production leaves 0.4 s of the gather for the inverters.
		{"gather timeout", "0.8", time.Second, 1200 * time.Millisecond, "before the gather's 1.2s ran out"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]*fstest.MapFile{}
			for _, name := range []string{"info", "ivp_meters", "ivp_meters_readings"} {
				files[name+"_log.json"] = &fstest.MapFile{Data: []byte(`{"code":200}`)}
			}
			files["production.json_details_1_log.json"] = &fstest.MapFile{Data: []byte(`{"code":200,"duration_seconds":` + tc.production + `}`)}
			files["api_v1_production_inverters_log.json"] = &fstest.MapFile{Data: []byte(`{"code":200,"duration_seconds":30}`)}
			body(files, "ivp_pdm_device_data", 404, `{ "error" : "404 - Not Found" }`) // the summary list is the one read
			sim, err := envoysim.New(envoysim.Options{Captures: overlay(t, files), LatencyScale: 1})
			require.NoError(t, err)
			url, err := sim.Start("127.0.0.1:0")
			require.NoError(t, err)
			t.Cleanup(func() { _ = sim.Close() })
			e := newPlugin(t, sim, url, nil)
			e.Timeout = config.Duration(tc.request)
			e.GatherTimeout = config.Duration(tc.gather)
			require.NoError(t, e.Init())
			var acc testutil.Accumulator
			require.NoError(t, e.Gather(&acc))
			require.Len(t, acc.Errors, 1)
			require.Contains(t, acc.Errors[0].Error(), tc.want)
			got := measurements(acc.GetTelegrafMetrics())
			require.NotZero(t, got["enphase_production"])
			require.NotZero(t, got["enphase_meter"])
			require.Zero(t, got["enphase_inverter"])
			require.Equal(t, 1, got["enphase_gateway"])
		})
	}
}

// TestUnreachableGateway: a gateway that cannot be read at all returns an
// error naming the problem and the fix.
func TestUnreachableGateway(t *testing.T) {
	t.Run("T11 connection refused", func(t *testing.T) {
		sim, _ := startSim(t, nil)
		// An address where nothing listens.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := l.Addr().String()
		require.NoError(t, l.Close())
		e := newPlugin(t, sim, "https://"+addr, nil)
		var acc testutil.Accumulator
		err = e.Gather(&acc)
		require.ErrorIs(t, err, ErrUnreadable)
		require.Contains(t, err.Error(), "connection refused")
	})
	t.Run("T7 self-signed certificate not trusted", func(t *testing.T) {
		sim2, url2 := startSim(t, nil)
		e := newPlugin(t, sim2, url2, nil)
		e.TLSCA = ""
		require.NoError(t, e.Init())
		var acc testutil.Accumulator
		err := e.Gather(&acc)
		require.ErrorIs(t, err, ErrUnreadable)
		require.Contains(t, err.Error(), `set tls_pin = "tofu"`) // issue 14 item 8
		require.Contains(t, err.Error(), "insecure_skip_verify = true")
		e.InsecureSkipVerify = true
		require.NoError(t, e.Init())
		require.NoError(t, e.Gather(&acc))
	})
}

// TestRedirectNotFollowed covers T6: http:// (without a token: with one the
// configuration is refused) answered with a redirect to https is reported
// with the fix, and the redirect is not followed.
func TestRedirectNotFollowed(t *testing.T) {
	followed := false
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { followed = true }))
	defer target.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://"+strings.TrimPrefix(target.URL, "http://")+r.URL.Path, http.StatusMovedPermanently)
	}))
	defer redirector.Close()
	e := New()
	e.URL = redirector.URL
	e.Log = testutil.Logger{}
	require.NoError(t, e.Init())
	t.Cleanup(e.Stop)
	var acc testutil.Accumulator
	err := e.Gather(&acc)
	require.ErrorIs(t, err, ErrUnreadable)
	require.Contains(t, err.Error(), "set url to https://")
	require.False(t, followed)
}

// TestSeriesKeyedBySerial covers E3: the same gateway reached at two
// addresses writes the same series.
func TestSeriesKeyedBySerial(t *testing.T) {
	sim, url := startSim(t, nil)
	byIP := newPlugin(t, sim, url, newClock())
	byName := newPlugin(t, sim, strings.Replace(url, "127.0.0.1", "localhost", 1), newClock())
	// The certificate names envoy-<serial>, not the address (T7).
	byName.ServerName = "envoy-" + sim.Serial()
	require.NoError(t, byName.Init())
	var a, b testutil.Accumulator
	require.NoError(t, byIP.Gather(&a))
	require.NoError(t, byName.Gather(&b))
	testutil.RequireMetricsEqual(
		t,
		a.GetTelegrafMetrics(),
		b.GetTelegrafMetrics(),
		testutil.SortMetrics(),
		testutil.IgnoreFields("requests_total", "auth_checks_total"),
	)
	for _, m := range a.GetTelegrafMetrics() {
		serial, _ := m.GetTag("serial")
		require.Equal(t, "122301234567", serial)
		for _, tg := range m.TagList() {
			require.NotContains(t, tg.Value, "127.0.0.1")
		}
	}
}

// TestTimestamps covers C1 and C4: production, consumption and CT points
// carry the collector's clock (the gateway's may be wrong); inverter points
// carry their own lastReportDate, read as a UTC epoch.
func TestTimestamps(t *testing.T) {
	sim, url := startSim(t, nil)
	clk := newClock()
	e := newPlugin(t, sim, url, clk)
	var acc testutil.Accumulator
	require.NoError(t, e.Gather(&acc))
	inverters := 0
	for _, m := range acc.GetTelegrafMetrics() {
		if m.Name() == "enphase_inverter" {
			inverters++
			last, ok := m.GetField("last_report_unix_s")
			require.True(t, ok)
			require.Equal(t, time.Unix(last.(int64), 0).UTC(), m.Time().UTC())
			continue
		}
		require.Equal(t, clk.Now(), m.Time(), m.Name())
	}
	require.Equal(t, 12, inverters)
}

// TestFieldTypesNeverChange: every numeric field is a float64 except the
// documented counters, on every measurement.
func TestFieldTypesNeverChange(t *testing.T) {
	sim, url := startSim(t, nil)
	e := newPlugin(t, sim, url, newClock())
	var acc testutil.Accumulator
	require.NoError(t, e.Gather(&acc))
	ints := map[string]bool{"devices": true, "requests": true, "requests_total": true, "auth_checks_total": true,
		"endpoints_ok": true, "endpoints_failed": true, "last_report_unix_s": true, "up": true,
		"expires_at_unix_s": true, "issued_at_unix_s": true, "renewals": true, "renewal_failures": true,
		"eid": true, "phase_count": true, "admin_state_code": true, "installed_unix_s": true,
		"producing": true, "communicating": true, "provisioned": true, "operating": true}
	strs := map[string]bool{"firmware": true, "part_number": true, "metering_status": true, "status_flags": true, "role": true,
		"state": true, "phase_mode": true, "status": true}
	for _, m := range acc.GetTelegrafMetrics() {
		for _, f := range m.FieldList() {
			switch {
			case ints[f.Key]:
				require.IsType(t, int64(0), f.Value, f.Key)
			case strs[f.Key]:
				require.IsType(t, "", f.Value, f.Key)
			default:
				require.IsType(t, float64(0), f.Value, "%s.%s", m.Name(), f.Key)
			}
		}
	}
}

// TestInfoXMLFallback covers P17: a gateway whose /info is missing is read
// from /info.xml.
func TestInfoXMLFallback(t *testing.T) {
	files := map[string]*fstest.MapFile{}
	demoInfo := overlay(t, nil).(fstest.MapFS)["info"].Data
	files["info_log.json"] = &fstest.MapFile{Data: []byte(`{"code":404}`)}
	files["info.xml"] = &fstest.MapFile{Data: demoInfo}
	files["info.xml_log.json"] = &fstest.MapFile{Data: []byte(`{"code":200}`)}
	sim, url := startSim(t, overlay(t, files))
	e := newPlugin(t, sim, url, newClock())
	var acc testutil.Accumulator
	require.NoError(t, e.Gather(&acc))
	require.Equal(t, 1, sim.Stats().Requests["/info.xml"])
	require.NotZero(t, measurements(acc.GetTelegrafMetrics())["enphase_production"])
}
