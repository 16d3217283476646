package enphase

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
	"github.com/telegraf-enphase/telegraf-enphase/internal/envoysim"
	"github.com/telegraf-enphase/telegraf-enphase/internal/hostile"
)

// demoCapture is the capture the hostile gateway serves where a test does
// not answer itself.
var demoCapture = filepath.Join("..", "..", "..", "internal", "envoysim", "demo")

// hostilePlugin is an initialised plugin reading g, trusting its
// certificate, on clk's time when clk is set.
func hostilePlugin(t *testing.T, g *hostile.Gateway, clk *clock, set ...func(*Enphase)) *Enphase {
	t.Helper()
	dir := t.TempDir()
	ca := filepath.Join(dir, "hostile.pem")
	require.NoError(t, os.WriteFile(ca, g.CertificatePEM(), 0o600))
	e := New()
	e.URL = g.URL
	e.TokenFile = writeToken(t, g.Token())
	e.TLSCA = ca
	e.Timeout = config.Duration(5 * time.Second)
	e.GatherTimeout = config.Duration(10 * time.Second)
	e.Log = testutil.Logger{}
	if clk != nil {
		e.now = clk.Now
	}
	for _, f := range set {
		f(e)
	}
	require.NoError(t, e.Init())
	t.Cleanup(e.Stop)
	return e
}

// emptyObjects is a JSON list of n empty objects: each costs 3 bytes of
// body and a whole struct when decoded.
func emptyObjects(n int) string {
	return "[" + strings.TrimSuffix(strings.Repeat("{},", n), ",") + "]"
}

// TestSmallBodiesDoNotExhaustMemoryR4: a 4 MiB inventory of empty devices
// (which got the process OOM-killed in a 1 GiB cgroup) is refused at its
// endpoint's size limit, a body within it but of absurdly many values at
// its value limit; the other endpoints are read as usual.
func TestSmallBodiesDoNotExhaustMemoryR4(t *testing.T) {
	inv := endpointByPath(envoy.PathEnsembleInventory)
	tests := []struct {
		name string
		body string
		want string
	}{
		{"4 MiB of empty devices", `[{"type":"ENCHARGE","devices":` + emptyObjects(4<<20/3) + `}]`,
			"larger than 131072 bytes, the limit for /ivp/ensemble/inventory"},
		{"100 KB of empty devices", `[{"type":"ENCHARGE","devices":` + emptyObjects(100_000/3) + `}]`,
			"more than 4000 JSON values, the limit for /ivp/ensemble/inventory"},
		{"deep nesting", strings.Repeat("[", 20_000) + strings.Repeat("]", 20_000), "more than 4000 JSON values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := hostile.New(t, demoCapture, map[string]http.Handler{
				envoy.PathEnsembleInventory: hostile.Body(http.StatusOK, "application/json", []byte(tt.body)),
			})
			e := hostilePlugin(t, g, nil)
			var acc testutil.Accumulator
			require.NoError(t, e.Gather(&acc))
			require.Len(t, acc.Errors, 1)
			require.ErrorContains(t, acc.Errors[0], tt.want)
			require.ErrorContains(t, acc.Errors[0], "not a real gateway answer")
			require.True(t, acc.HasMeasurement("enphase_production"), "the other endpoints are read")
		})
	}
	require.Equal(t, int64(128<<10), inv.maxBody)
}

// TestEndpointLimitsFitRealAnswersR4: every endpoint has a size and a value
// limit, and every real answer we hold is at most an eighth of them.
func TestEndpointLimitsFitRealAnswersR4(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testcases", "*", "capture"))
	require.NoError(t, err)
	dirs = append(dirs, demoCapture)
	if fx := os.Getenv("ENPHASE_FIXTURES"); fx != "" {
		more, err := filepath.Glob(filepath.Join(fx, "*"))
		require.NoError(t, err)
		dirs = append(dirs, more...)
	}
	for _, ep := range endpoints {
		require.Positive(t, ep.maxBody, "%s: no maxBody", ep.path)
		require.Positive(t, ep.maxValues, "%s: no maxValues", ep.path)
		require.LessOrEqual(t, ep.maxBody, int64(1<<20), "%s: maxBody over 1 MiB", ep.path)
		seen := 0
		for _, d := range dirs {
			b, err := os.ReadFile(filepath.Join(d, strings.NewReplacer("/", "_", "?", "_", "=", "_").Replace(strings.TrimPrefix(ep.path, "/"))))
			if err != nil {
				continue
			}
			seen++
			require.LessOrEqual(t, int64(len(b))*8, ep.maxBody, "%s in %s: the limit is not 8 times the real size", ep.path, d)
			r := envoy.Response{Path: ep.path, Status: http.StatusOK, Body: b}
			var be *envoy.BodyError
			if err := envoy.DecodeLimit(r, ep.target(), ep.maxValues/8); errors.As(err, &be) {
				require.False(t, be.TooLarge, "%s in %s: the value limit is not 8 times the real count", ep.path, d)
			}
		}
		t.Logf("%s: %d captures within limits", ep.path, seen)
	}
}

// TestOversizedCookieNotKeptR5: a check_jwt that sets a sessionId of 8 KiB
// (sent back, it gets 400 or 431 from nginx) is not kept: the plugin goes
// on with the Bearer token and reads the gateway.
func TestOversizedCookieNotKeptR5(t *testing.T) {
	valid := hostile.Body(http.StatusOK, "text/html", []byte("<!DOCTYPE html><h2>Valid token.</h2>\n"))
	g := hostile.New(t, demoCapture, map[string]http.Handler{
		envoy.PathCheckJWT: hostile.Cookie("sessionId", 8<<10, valid),
	})
	e := hostilePlugin(t, g, nil)
	for range 2 {
		var acc testutil.Accumulator
		require.NoError(t, e.Gather(&acc))
		require.Empty(t, acc.Errors)
		require.True(t, acc.HasMeasurement("enphase_production"))
	}
	require.Equal(t, 1, g.Requests(envoy.PathCheckJWT), "the token is checked once, then sent as Bearer")
}

// TestRefusedSessionIsRenewedR5: a gateway that starts refusing the session
// with 431 (not 401) fails one gather; the next starts a fresh session
// with check_jwt and reads the gateway again.
func TestRefusedSessionIsRenewedR5(t *testing.T) {
	var mu sync.Mutex
	seen, poisoned := map[string]bool{}, map[string]bool{}
	handlers := map[string]http.Handler{}
	for _, path := range CaptureEndpoints() {
		if path == envoy.PathInfo {
			continue
		}
		if _, err := os.Stat(filepath.Join(demoCapture, strings.NewReplacer("/", "_", "?", "_", "=", "_").Replace(strings.TrimPrefix(path, "/")))); err != nil {
			continue
		}
		body := hostile.CaptureBody(t, demoCapture, path)
		handlers[path] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := r.Cookie("sessionId")
			mu.Lock()
			refused := err == nil && poisoned[c.Value]
			if err == nil {
				seen[c.Value] = true
			}
			mu.Unlock()
			if refused {
				hostile.Status(http.StatusRequestHeaderFieldsTooLarge).ServeHTTP(w, r)
				return
			}
			hostile.Body(http.StatusOK, "application/json", body).ServeHTTP(w, r)
		})
	}
	g := hostile.New(t, demoCapture, handlers)
	e := hostilePlugin(t, g, nil)
	var acc testutil.Accumulator
	require.NoError(t, e.Gather(&acc))
	require.Equal(t, 1, g.Requests(envoy.PathCheckJWT))

	mu.Lock()
	require.NotEmpty(t, seen, "the plugin sends the session cookie")
	for c := range seen {
		poisoned[c] = true
	}
	mu.Unlock()
	acc = testutil.Accumulator{}
	err := e.Gather(&acc)
	require.ErrorContains(t, err, "every endpoint failed")

	acc = testutil.Accumulator{}
	require.NoError(t, e.Gather(&acc))
	require.Empty(t, acc.Errors)
	require.True(t, acc.HasMeasurement("enphase_production"))
	require.Equal(t, 2, g.Requests(envoy.PathCheckJWT), "a fresh session after the gather that failed whole")
}

// TestLastReportsArePrunedR9: a gateway that invents new inverter serials
// on every read (RSS 95 → 292 MB before) cannot grow the map of last
// reports beyond its bound, and serials not reported for a day are
// forgotten while the real ones stay.
func TestLastReportsArePrunedR9(t *testing.T) {
	var mu sync.Mutex
	next, inventing := 0, true
	clk := envoysim.NewClock(time.Now())
	real := []string{"482101000001", "482101000002", "482101000003"}
	g := hostile.New(t, demoCapture, map[string]http.Handler{
		envoy.PathDeviceData: hostile.Status(http.StatusNotFound),
		envoy.PathInverters: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			serials := append([]string(nil), real...)
			for i := 0; inventing && i < 1000; i++ {
				serials = append(serials, fmt.Sprintf("9%011d", next))
				next++
			}
			mu.Unlock()
			var b strings.Builder
			b.WriteByte('[')
			for i, sn := range serials {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, `{"serialNumber":%q,"lastReportDate":%d,"devType":1,"lastReportWatts":100,"maxReportWatts":300}`, sn, clk.Now().Unix())
			}
			b.WriteByte(']')
			hostile.Body(http.StatusOK, "application/json", []byte(b.String())).ServeHTTP(w, r)
		}),
	})
	e := hostilePlugin(t, g, clk, func(e *Enphase) { e.InvertersInterval = config.Duration(5 * time.Minute) })
	for range 12 {
		var acc testutil.Accumulator
		require.NoError(t, e.Gather(&acc))
		require.LessOrEqual(t, len(e.gw.state.lastReport), maxLastReports)
		clk.Advance(5 * time.Minute)
	}
	require.Equal(t, 12, g.Requests(envoy.PathInverters))
	require.Len(t, e.gw.state.lastReport, maxLastReports)
	for _, sn := range real {
		require.Contains(t, e.gw.state.lastReport, sn, "a real inverter reporting is kept")
	}

	mu.Lock()
	inventing = false
	mu.Unlock()
	clk.Advance(lastReportTTL)
	var acc testutil.Accumulator
	require.NoError(t, e.Gather(&acc))
	require.Len(t, e.gw.state.lastReport, len(real), "the invented serials are forgotten after a day")
	require.Len(t, e.gw.state.reportChanged, len(real))
}

// TestGatewayTextIsCappedR15: a firmware string of 60 KiB (a field on every
// gather) and an inverter serial of 10 KiB (a tag) reach the line protocol
// cut to 1 KiB and 256 bytes.
func TestGatewayTextIsCappedR15(t *testing.T) {
	info := hostile.CaptureBody(t, demoCapture, "/info")
	fw := regexp.MustCompile(`<software>[^<]*</software>`).Find(info)
	require.NotNil(t, fw)
	longSerial := strings.Repeat("4", 10<<10)
	g := hostile.New(t, demoCapture, map[string]http.Handler{
		"/info":              hostile.Replace("text/xml", info, string(fw), "<software>D8.2.4345"+strings.Repeat("x", 60<<10)+"</software>"),
		envoy.PathDeviceData: hostile.Status(http.StatusNotFound),
		envoy.PathInverters: hostile.Body(
			http.StatusOK,
			"application/json",
			[]byte(
				fmt.Sprintf(`[{"serialNumber":%q,"lastReportDate":%d,"devType":1,"lastReportWatts":100,"maxReportWatts":300}]`, longSerial, time.Now().Unix()),
			),
		),
	})
	e := hostilePlugin(t, g, nil)
	var acc testutil.Accumulator
	require.NoError(t, e.Gather(&acc))
	gw := acc.GetTelegrafMetrics()
	var sawFirmware, sawInverter bool
	for _, m := range gw {
		for _, tag := range m.TagList() {
			require.LessOrEqual(t, len(tag.Value), maxTagValue, "%s tag %s", m.Name(), tag.Key)
		}
		for _, f := range m.FieldList() {
			if s, ok := f.Value.(string); ok {
				require.LessOrEqual(t, len(s), maxFieldValue, "%s field %s", m.Name(), f.Key)
			}
		}
		if m.Name() == mGateway {
			fw, _ := m.GetField("firmware")
			require.Equal(t, "D8.2.4345"+strings.Repeat("x", maxFieldValue-len("D8.2.4345")), fw)
			sawFirmware = true
		}
		if m.Name() == mInverter {
			sn, _ := m.GetTag("device_serial")
			require.Equal(t, longSerial[:maxTagValue], sn)
			sawInverter = true
		}
	}
	require.True(t, sawFirmware)
	require.True(t, sawInverter)
}
