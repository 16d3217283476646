package enphase

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
)

// series gathers once per production.json body and returns, per gather, the
// value of field in the first metric matching name and tags.
func series(t *testing.T, bodies []string, name string, tags map[string]string, field string) ([]any, *testutil.CaptureLogger) {
	t.Helper()
	files := map[string]*fstest.MapFile{}
	body(files, "production.json_details_1", 200, bodies[0])
	capture := &swapFS{files: overlay(t, files).(fstest.MapFS)}
	sim, url := startSim(t, capture)
	clk := newClock()
	log := &testutil.CaptureLogger{}
	e := New()
	e.Log = log
	initPlugin(t, sim, url, clk, e)
	var out []any
	for _, b := range bodies {
		capture.set("production.json_details_1", b)
		var acc testutil.Accumulator
		require.NoError(t, e.Gather(&acc))
		require.Empty(t, acc.Errors)
		var v any
		if m := findMetric(acc.GetTelegrafMetrics(), name, tags); m != nil {
			v, _ = m.GetField(field)
		}
		out = append(out, v)
		clk.Advance(15 * time.Second)
	}
	return out, log
}

func invertersOnly(whLifetime float64) string {
	return fmt.Sprintf(`{"production":[{"type":"inverters","activeCount":13,"readingTime":1785603600,"wNow":1873,"whLifetime":%v}]}`, whLifetime)
}

// TestInverterLifetimeWrap covers V7: the inverters' lifetime falls by
// exactly 2^32 J (1,193,046.47 Wh) when a microinverter's joule counter
// wraps; the emitted series goes on rising. A drop of another size is a real
// reset: logged, and the series goes on from its last value, so a lifetime
// counter we write never decreases.
func TestInverterLifetimeWrap(t *testing.T) {
	raw := []float64{1_500_000, 1_550_000, 1_552_000 - wrapWh, 410_000, 1_000, 1_200}
	bodies := make([]string, len(raw))
	for i, v := range raw {
		bodies[i] = invertersOnly(v)
	}
	got, log := series(t, bodies, "enphase_production", map[string]string{"source": "inverters"}, "energy_lifetime_wh")
	wrapped := roundTo(410_000+wrapWh, 0)
	want := []any{1_500_000.0, 1_550_000.0, 1_552_000.0, wrapped, wrapped, wrapped + 200}
	require.Len(t, got, len(want))
	for i := range want {
		require.InDelta(t, want[i], got[i], 1, "gather %d", i)
	}
	msgs := strings.Join(logLines(log), "\n")
	require.Contains(t, msgs, "wrap(s) of a microinverter")
	require.Contains(t, msgs, "a counter reset on the gateway")
}

// TestTotalConsumptionRepair covers V4: firmware 8.3.5433 reports the net
// values as total consumption; total is rebuilt as net + production, so a
// gateway updated to it shows no step in its total-consumption series.
func TestTotalConsumptionRepair(t *testing.T) {
	eim := func(mt string, w, wh float64) string {
		return fmt.Sprintf(
			`{"type":"eim","activeCount":1,"measurementType":%q,"wNow":%v,"whLifetime":%v,"whToday":%v,`+
				`"lines":[{"wNow":%v,"whLifetime":%v},{"wNow":%v,"whLifetime":%v}]}`,
			mt,
			w,
			wh,
			wh,
			w/2,
			wh/2,
			w/2,
			wh/2,
		)
	}
	body := func(total string) string {
		return `{"production":[` + eim("production", 3000, 9_000_000) + `],"consumption":[` + total + `,` + eim("net-consumption", -1000, 4_000_000) + `]}`
	}
	before := body(eim("total-consumption", 2000, 13_000_000)) // firmware 8.2: right
	after := body(eim("total-consumption", -1000, 4_000_000))  // firmware 8.3.5433: total == net
	for _, field := range []string{"energy_lifetime_wh", "power_w"} {
		got, _ := series(t, []string{before, after}, "enphase_consumption", map[string]string{"measurement_type": "total", "phase": "total"}, field)
		require.Equal(t, got[0], got[1], "%s: no step across the firmware update", field)
	}
	got, _ := series(t, []string{before, after}, "enphase_consumption", map[string]string{"measurement_type": "total", "phase": "L1"}, "energy_lifetime_wh")
	require.Equal(t, got[0], got[1], "per phase too")
	// The broken daily counter (today == lifetime) is not passed on.
	got, _ = series(t, []string{after}, "enphase_consumption", map[string]string{"measurement_type": "total", "phase": "total"}, "energy_today_wh")
	require.Nil(t, got[0])
}

// TestDoubledSplitPhaseAggregate covers V3: an aggregate reported as twice
// the sum of its phases is replaced by that sum.
func TestDoubledSplitPhaseAggregate(t *testing.T) {
	doubled := `{"production":[{"type":"eim","activeCount":1,"measurementType":"production","wNow":4000,"whLifetime":20000000,` +
		`"lines":[{"wNow":1000,"whLifetime":5000000},{"wNow":1000,"whLifetime":5000000}]}]}`
	got, _ := series(t, []string{doubled}, "enphase_production", map[string]string{"source": "ct", "phase": "total"}, "power_w")
	require.Equal(t, 2000.0, got[0])
	got, _ = series(t, []string{doubled}, "enphase_production", map[string]string{"source": "ct", "phase": "total"}, "energy_lifetime_wh")
	require.Equal(t, 10000000.0, got[0])
}

// TestFlappingActiveCount covers P5: a production CT whose activeCount reads
// 0 for one sample leaves a gap in the CT series for that gather; it never
// switches the CT series to another source, and the inverters' series goes on.
func TestFlappingActiveCount(t *testing.T) {
	mk := func(active int) string {
		return fmt.Sprintf(
			`{"production":[{"type":"inverters","activeCount":12,"wNow":2869,"whLifetime":14086412},`+
				`{"type":"eim","activeCount":%d,"measurementType":"production","wNow":2900.2,"whLifetime":14213068.0}]}`,
			active,
		)
	}
	bodies := []string{mk(1), mk(0), mk(1)}
	ct, _ := series(t, bodies, "enphase_production", map[string]string{"source": "ct", "phase": "total"}, "power_w")
	require.Equal(t, []any{2900.2, nil, 2900.2}, ct)
	inv, _ := series(t, bodies, "enphase_production", map[string]string{"source": "inverters"}, "power_w")
	require.Equal(t, []any{2869.0, 2869.0, 2869.0}, inv)
}

// TestSeriesKeysOfAGather pins the state file's series keys, which persist
// across upgrades: measurement, tags sorted by key, field, for every kind
// of lifetime series a gather writes, whatever order a mapper listed its
// tags in.
func TestSeriesKeysOfAGather(t *testing.T) {
	e := mappingPoller(testutil.Logger{Quiet: true})
	now := time.Unix(1785607200, 0)
	acc := counterAcc{Accumulator: &testutil.Accumulator{}, p: e, now: now}
	one := envoy.Num{V: 1000, Valid: true}
	vals := envoy.Values{WhLifetime: one, WNow: one}
	e.addProduction(acc, "S1", envoy.Production{
		Production:  []envoy.Reading{{Type: "eim", MeasurementType: "production", ActiveCount: one, Values: vals, Lines: []envoy.Values{vals}}},
		Consumption: []envoy.Reading{{Type: "eim", MeasurementType: "net-consumption", ActiveCount: one, Values: vals}},
	}, 1, now)
	addMeterReadings(acc, "S1", map[int64]envoy.Meter{7: {EID: 7, MeasurementType: "production"}},
		[]envoy.MeterReading{{EID: 7, MeterValues: envoy.MeterValues{ActEnergyDlvd: one}}}, now)
	want := []string{
		"enphase_production,phase=total,serial=S1,source=ct energy_lifetime_wh",
		"enphase_production,phase=L1,serial=S1,source=ct energy_lifetime_wh",
		"enphase_consumption,measurement_type=net,phase=total,serial=S1 energy_lifetime_wh",
		"enphase_meter,measurement_type=production,phase=total,serial=S1 energy_delivered_lifetime_wh",
	}
	require.Equal(t, len(want), e.state.counters.set.Len())
	b, err := e.state.counters.set.Marshal()
	require.NoError(t, err)
	for _, k := range want {
		require.Contains(t, string(b), `"`+k+`"`)
	}
}
