package enphase

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
)

// gatherOnce gathers fsys once and returns the metrics, failing on any error.
func gatherOnce(t *testing.T, fsys fs.FS) ([]telegraf.Metric, *testutil.Accumulator, func(string) int) {
	t.Helper()
	sim, url := startSim(t, fsys)
	e := newPlugin(t, sim, url, newClock())
	var acc testutil.Accumulator
	require.NoError(t, e.Gather(&acc))
	require.Empty(t, acc.Errors)
	return acc.GetTelegrafMetrics(), &acc, func(path string) int { return sim.Stats().Requests[path] }
}

// dirWith is a golden case's capture folder with files added or replaced.
func dirWith(t *testing.T, dir string, files map[string]string) fs.FS {
	t.Helper()
	out := fstest.MapFS{}
	root := filepath.Join(testcasesDir, dir, "capture")
	entries, err := os.ReadDir(root)
	require.NoError(t, err)
	for _, en := range entries {
		b, err := os.ReadFile(filepath.Join(root, en.Name()))
		require.NoError(t, err)
		out[en.Name()] = &fstest.MapFile{Data: b}
	}
	for name, b := range files {
		out[name] = &fstest.MapFile{Data: []byte(b)}
	}
	return out
}

// TestStalledSummaryNotRead covers P8: on metered gateways without CTs,
// firmware 8.2.4264's /api/v1/production is stalled. From firmware 7 on the
// plugin never reads it; production comes from the inverters' own total.
func TestStalledSummaryNotRead(t *testing.T) {
	fsys := dirWith(t, "p4-p11-ct-disabled", map[string]string{
		"api_v1_production":          `{"wattHoursToday":0,"wattHoursSevenDays":0,"wattHoursLifetime":1583,"wattsNow":0}`,
		"api_v1_production_log.json": `{"code":200}`,
	})
	ms, _, requests := gatherOnce(t, fsys)
	require.Zero(t, requests(envoy.PathSummary))
	require.Equal(t, 2011.0, value(t, ms, "enphase_production", map[string]string{"source": "inverters"}, "power_w"))
	require.Equal(t, 8717473.0, value(t, ms, "enphase_production", map[string]string{"source": "inverters"}, "energy_lifetime_wh"))
}

// TestDailyCountersPassedThrough covers V5 and V6: the gateway's daily
// counters are written exactly as read, however odd (a 7-day total below
// today's, a today that did not reset); energy accounting is left to the
// lifetime counters.
func TestDailyCountersPassedThrough(t *testing.T) {
	ms, _, _ := gatherOnce(t, dirWith(t, "p2-p3-p7-p10-p14-p15-v1-v2-v8-v9-quirks", nil))
	tags := map[string]string{"source": "ct", "phase": "total"}
	require.Equal(t, 100.859, value(t, ms, "enphase_production", tags, "energy_last_seven_days_wh"))
	require.Equal(t, 0.0, value(t, ms, "enphase_production", tags, "energy_today_wh"))
}

// TestInverterAndCTSeriesApart covers V10: the inverters' total lags the
// production CT by up to 15 minutes; both are written as they are, in
// series of their own, and nothing is derived from their difference.
func TestInverterAndCTSeriesApart(t *testing.T) {
	ms, _, _ := gatherOnce(t, nil)
	ct := value(t, ms, "enphase_production", map[string]string{"source": "ct", "phase": "total"}, "power_w").(float64)
	inv := value(t, ms, "enphase_production", map[string]string{"source": "inverters"}, "power_w").(float64)
	require.Equal(t, 2900.224, ct)
	require.Equal(t, 2869.0, inv)
	for _, m := range ms {
		for _, f := range m.FieldList() {
			require.NotContains(t, f.Key, "export", "no export derived from a difference")
		}
	}
}

// TestStorageCTAndPhaseEnergy covers V11 and V12: battery energy in and out
// comes from a storage CT's own counters (not from state-of-charge changes),
// and each CT writes delivered and received energy per phase as well as the
// total a phase-balancing utility meter would count.
func TestStorageCTAndPhaseEnergy(t *testing.T) {
	demo := overlay(t, nil).(fstest.MapFS)
	meters := `[{"eid":704643328,"state":"enabled","measurementType":"production","phaseMode":"split","phaseCount":2,"meteringStatus":"normal","statusFlags":[]},
	 {"eid":704643584,"state":"enabled","measurementType":"net-consumption","phaseMode":"split","phaseCount":2,"meteringStatus":"normal","statusFlags":[]},
	 {"eid":704643840,"state":"enabled","measurementType":"storage","phaseMode":"split","phaseCount":2,"meteringStatus":"normal","statusFlags":[]}]`
	readings := string(demo["ivp_meters_readings"].Data)
	storage := `{"eid":704643840,"timestamp":1785603647,"actEnergyDlvd":812345.5,"actEnergyRcvd":901234.25,` +
		`"activePower":-1250.5,"voltage":242.3,"current":10.3,"freq":60.0,
	 "channels":[{"actEnergyDlvd":406172.75,"actEnergyRcvd":450617.125,"activePower":-625.25,"voltage":121.4,"current":5.15,"freq":60.0},
	             {"actEnergyDlvd":406172.75,"actEnergyRcvd":450617.125,"activePower":-625.25,"voltage":120.9,"current":5.15,"freq":60.0},
	             {"actEnergyDlvd":0.0,"actEnergyRcvd":0.0,"activePower":0.0,"voltage":0.0,"current":0.0,"freq":60.0}]}`
	readings = readings[:len(readings)-2] + "," + storage + "]"
	demo["ivp_meters"] = &fstest.MapFile{Data: []byte(meters)}
	demo["ivp_meters_readings"] = &fstest.MapFile{Data: []byte(readings)}
	ms, _, _ := gatherOnce(t, demo)

	st := map[string]string{"measurement_type": "storage", "phase": "total"}
	require.Equal(t, 812345.5, value(t, ms, "enphase_meter", st, "energy_delivered_lifetime_wh"))
	require.Equal(t, 901234.25, value(t, ms, "enphase_meter", st, "energy_received_lifetime_wh"))
	require.Equal(t, -1250.5, value(t, ms, "enphase_meter", st, "power_w"))

	for _, f := range []string{"energy_delivered_lifetime_wh", "energy_received_lifetime_wh"} {
		net := map[string]string{"measurement_type": "net-consumption"}
		with := func(phase string) map[string]string {
			out := map[string]string{"phase": phase}
			for k, v := range net {
				out[k] = v
			}
			return out
		}
		l1 := value(t, ms, "enphase_meter", with("L1"), f).(float64)
		l2 := value(t, ms, "enphase_meter", with("L2"), f).(float64)
		total := value(t, ms, "enphase_meter", with("total"), f).(float64)
		require.InDelta(t, total, l1+l2, 1e-6, f)
	}
}
