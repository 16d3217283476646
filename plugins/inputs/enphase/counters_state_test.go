package enphase

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
)

// restartRig gathers production.json bodies with a plugin that is stopped
// and built anew (same state_file) wherever restart says so.
type restartRig struct {
	t       *testing.T
	capture *swapFS
	clk     *clock
	state   string
	e       *Enphase
	log     *testutil.CaptureLogger
}

func newRestartRig(t *testing.T) *restartRig {
	files := map[string]*fstest.MapFile{}
	body(files, "production.json_details_1", 200, invertersOnly(1))
	r := &restartRig{t: t, capture: &swapFS{files: overlay(t, files).(fstest.MapFS)}, clk: newClock(),
		state: filepath.Join(t.TempDir(), "envoy.state.json")}
	r.start()
	return r
}

func (r *restartRig) start() {
	sim, url := startSim(r.t, r.capture)
	r.log = &testutil.CaptureLogger{}
	e := New()
	e.Log = r.log
	e.StateFile = r.state
	r.e = initPlugin(r.t, sim, url, r.clk, e)
}

// restart stops the plugin, as Telegraf does, and starts a new one.
func (r *restartRig) restart() {
	r.e.Stop()
	r.start()
}

func (r *restartRig) gather(raw float64) float64 {
	r.capture.set("production.json_details_1", invertersOnly(raw))
	var acc testutil.Accumulator
	require.NoError(r.t, r.e.Gather(&acc))
	r.clk.Advance(15 * time.Second)
	v, ok := field(acc.GetTelegrafMetrics(), mProduction, map[string]string{"source": "inverters"}, "energy_lifetime_wh")
	require.True(r.t, ok)
	return v
}

// TestLifetimeAcrossRestarts covers V7 across restarts: a wrap before a
// stop, the gateway's repair of it after, and a reset after that; the series
// written never steps back, and the state file carries the corrections.
func TestLifetimeAcrossRestarts(t *testing.T) {
	r := newRestartRig(t)
	var out []float64
	out = append(out, r.gather(1_500_000), r.gather(1_510_000-wrapWh)) // a wrap
	r.restart()
	out = append(out, r.gather(1_520_000-wrapWh)) // the correction survived
	r.restart()
	out = append(out, r.gather(1_530_000)) // the gateway repaired the wrap
	r.restart()
	out = append(out, r.gather(2_000), r.gather(2_500)) // a reset: goes on
	r.restart()
	out = append(out, r.gather(3_000))
	want := []float64{1_500_000, 1_510_000, 1_520_000, 1_530_000, 1_530_000, 1_530_500, 1_531_000}
	require.Len(t, out, len(want))
	for i := range want {
		require.InDelta(t, want[i], out[i], 1, "gather %d", i)
		if i > 0 {
			require.GreaterOrEqual(t, out[i], out[i-1], "gather %d steps back", i)
		}
	}
	b, err := os.ReadFile(r.state)
	require.NoError(t, err)
	require.Contains(t, string(b), `"enphase_production,phase=total,serial=122301234567,source=inverters energy_lifetime_wh"`)
}

// TestCorruptStateFileStartsAfresh: a state file that is not ours costs a
// warning and the correction, never a gather; the next save replaces it.
func TestCorruptStateFileStartsAfresh(t *testing.T) {
	state := filepath.Join(t.TempDir(), "envoy.state.json")
	require.NoError(t, os.WriteFile(state, []byte("{not json"), 0o600))
	sim, url := startSim(t, nil)
	log := &testutil.CaptureLogger{}
	e := New()
	e.Log = log
	e.StateFile = state
	initPlugin(t, sim, url, newClock(), e)
	gatherOK(t, e)
	require.Contains(t, strings.Join(log.Warnings(), "\n"), "cannot be used")
	e.Stop()
	b, err := os.ReadFile(state)
	require.NoError(t, err)
	require.Contains(t, string(b), `"version": 1`)
}

// TestStateFileConfig: state_file is validated in Init, naming the key; by
// default the file sits beside token_file, else beside the config file.
func TestStateFileConfig(t *testing.T) {
	e := New()
	e.URL = "https://192.0.2.1"
	e.Log = testutil.Logger{}
	e.Token.Destroy()
	e.StateFile = t.TempDir() // a directory
	require.ErrorContains(t, e.Init(), "state_file")
	e.StateFile = filepath.Join(t.TempDir(), "missing", "s.json")
	require.ErrorContains(t, e.Init(), "state_file")

	d := &Enphase{TokenFile: "/etc/telegraf/enphase/envoy.token", configFile: "/etc/telegraf/telegraf.d/enphase.conf"}
	f, err := d.stateFileFor()
	require.NoError(t, err)
	require.Equal(t, "/etc/telegraf/enphase/enphase-122301234567.state.json", f("122301234567"))
	require.Empty(t, f("../../etc/passwd"), "a gateway's serial never names another path")
	d.TokenFile = ""
	f, _ = d.stateFileFor()
	require.Equal(t, "/etc/telegraf/telegraf.d/enphase-1.state.json", f("1"))
}

// fixtureSim serves one capture of $ENPHASE_FIXTURES, or skips.
func fixtureGather(t *testing.T, name string) *testutil.Accumulator {
	t.Helper()
	root := os.Getenv(fixturesEnv)
	if root == "" {
		t.Skipf("%s is not set", fixturesEnv)
	}
	sim, url := startSim(t, os.DirFS(filepath.Join(root, name)))
	e := newPlugin(t, sim, url, newClock())
	var acc testutil.Accumulator
	require.NoError(t, e.Gather(&acc))
	require.Empty(t, acc.Errors)
	return &acc
}

// TestInverterLifetimeAnchoredOnCaptures covers V7 and P7 on real captures of
// non-metered firmware 7 gateways: the inverters' 32-bit total is short of
// the gateway's own lifetime production by whole wraps (1 and 7), which are
// added from the first gather on; the summary is written as source=summary.
func TestInverterLifetimeAnchoredOnCaptures(t *testing.T) {
	for name, wraps := range map[string]float64{"7.6.114_without_cts": 1, "7.6.175": 7} {
		t.Run(name, func(t *testing.T) {
			ms := fixtureGather(t, name).GetTelegrafMetrics()
			sum, ok := field(ms, mProduction, map[string]string{"source": "summary"}, "energy_lifetime_wh")
			require.True(t, ok, "the summary is read on firmware 7+")
			inv, ok := field(ms, mProduction, map[string]string{"source": "inverters"}, "energy_lifetime_wh")
			require.True(t, ok)
			require.InDelta(t, sum, inv, 1, "anchored to the gateway's own total")
			require.Equal(t, roundTo(inv, 0), inv, "the wraps added are rounded to the raw value's precision")
			raw := sum - wraps*wrapWh
			require.InDelta(t, wraps*wrapWh, inv-raw, 1)
		})
	}
}

// TestSummaryNotTrustedOnMeteredWithoutCT covers P8 on capture
// 8.2.4264_metered_noct: the production CT is disabled, the summary's
// lifetime (1,583 Wh against the inverters' 32 MWh) is not written.
func TestSummaryNotTrustedOnMeteredWithoutCT(t *testing.T) {
	ms := fixtureGather(t, "8.2.4264_metered_noct").GetTelegrafMetrics()
	require.Nil(t, findMetric(ms, mProduction, map[string]string{"source": "summary"}))
	_, ok := field(ms, mProduction, map[string]string{"source": "inverters"}, "energy_lifetime_wh")
	require.True(t, ok)
}

// TestModGoneTemperatureOnCapture covers C5 on capture 8.3.5169_ACB_inventory:
// a modGone inverter's real reading (25 °C) keeps its temperature.
func TestModGoneTemperatureOnCapture(t *testing.T) {
	root := os.Getenv(fixturesEnv)
	if root == "" {
		t.Skipf("%s is not set", fixturesEnv)
	}
	b, err := os.ReadFile(filepath.Join(root, "8.3.5169_ACB_inventory", "ivp_pdm_device_data"))
	require.NoError(t, err)
	var d envoy.DeviceData
	require.NoError(t, envoy.Decode(envoy.Response{Path: envoy.PathDeviceData, Status: 200, Body: b}, &d))
	gone := 0
	for _, dev := range d.Devices {
		if dev.Microinverter() && dev.Active && dev.ModGone && len(dev.Channels) > 0 && dev.Channels[0].LastReading.ChannelTemp.V != 0 {
			gone++
		}
	}
	require.NotZero(t, gone, "the capture has modGone inverters with a temperature")
	var acc testutil.Accumulator
	addDeviceData(&acc, "s", d, map[string]envoy.Epoch{}, time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC))
	with := 0
	for _, m := range acc.Metrics {
		if _, ok := m.Fields["temperature_c"]; ok {
			with++
		}
	}
	require.GreaterOrEqual(t, with, gone)
}
