package enphase

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
)

var devicesNow = time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)

// decodeFixture decodes one file of the real corpus (ENPHASE_FIXTURES), or
// skips when the corpus is not there.
func decodeFixture(t *testing.T, folder, name string, v any) {
	t.Helper()
	dir := os.Getenv("ENPHASE_FIXTURES")
	if dir == "" {
		t.Skip("ENPHASE_FIXTURES is not set: the real captures are not available")
	}
	b, err := os.ReadFile(filepath.Join(dir, folder, name))
	require.NoError(t, err)
	require.NoError(t, envoy.Decode(envoy.Response{Path: "/" + name, Status: http.StatusOK, Body: b}, v))
}

// TestInventoryOnRealCaptures: each AC Battery of 8.3.5169 gets its own
// point with its own state of charge and sleep settings, every device an
// enphase_device point with its firmware; the retired inverters of 8.3.5433
// (admin_state 3, no flags) are written with what they have.
func TestInventoryOnRealCaptures(t *testing.T) {
	var inv envoy.Inventory
	decodeFixture(t, "8.3.5169_ACB_inventory", "inventory.json_deleted_1", &inv)
	var acc testutil.Accumulator
	require.True(t, addInventory(&acc, "S", inv, true, devicesNow))
	socs := map[string]float64{}
	devices := 0
	for _, m := range acc.GetTelegrafMetrics() {
		sn, _ := m.GetTag("device_serial")
		switch m.Name() {
		case mBattery:
			require.Equal(t, "acb", m.Tags()["type"])
			socs[sn] = m.Fields()["soc_percent"].(float64)
			require.Equal(t, "idle", m.Fields()["charge_status"])
			require.Equal(t, 25.0, m.Fields()["sleep_min_soc_percent"])
			require.Equal(t, 32.0, m.Fields()["max_cell_temperature_c"])
		case mDevice:
			devices++
			require.NotEmpty(t, m.Fields()["firmware"], sn)
			require.NotEmpty(t, m.Fields()["part_number"], sn)
			require.IsType(t, int64(0), m.Fields()["installed_unix_s"], "installed is a string in the body")
		}
	}
	require.Equal(t, map[string]float64{"121917000000": 2, "122047000000": 0}, socs)
	require.Equal(t, 5, devices, "3 PCU + 2 ACB (two PCUs share an anonymised serial: one series)")

	var old envoy.Inventory
	decodeFixture(t, "8.3.5433_tot_is_net_cons", "inventory.json_deleted_1", &old)
	acc = testutil.Accumulator{}
	require.False(t, addInventory(&acc, "S", old, false, devicesNow), "an empty ACB group is no AC Battery")
	require.Empty(t, acc.GetTelegrafMetrics(), "no device metadata when not due, no battery without ACBs")
	require.False(t, addInventory(&acc, "S", old, true, devicesNow))
	retired, communicating := 0, 0
	for _, m := range acc.GetTelegrafMetrics() {
		if m.Fields()["admin_state_code"] == int64(3) {
			retired++
			_, has := m.GetField("communicating")
			require.False(t, has, "a retired device has no flags")
		}
		if m.Fields()["communicating"] == int64(1) {
			communicating++
		}
	}
	require.Equal(t, 8, retired)
	require.Equal(t, 12, communicating)
}

// TestEnsembleAndMeterDevicesOnRealCaptures: IQ Batteries, the System
// Controller and the CTs of 8.3.1598 as enphase_device points.
func TestEnsembleAndMeterDevicesOnRealCaptures(t *testing.T) {
	var inv envoy.EnsembleInventory
	decodeFixture(t, "8.3.1598_collar", "ivp_ensemble_inventory", &inv)
	var meters []envoy.Meter
	decodeFixture(t, "8.3.1598_collar", "ivp_meters", &meters)
	var acc testutil.Accumulator
	addEnsembleDevices(&acc, "S", inv, devicesNow)
	addMeterDevices(&acc, "S", meters, devicesNow)
	types := map[string]int{}
	for _, m := range acc.GetTelegrafMetrics() {
		require.Equal(t, mDevice, m.Name())
		types[m.Tags()["type"]]++
		if m.Tags()["type"] == "ct" {
			require.NotEmpty(t, m.Tags()["measurement_type"])
			require.Contains(t, []string{"enabled", "disabled"}, m.Fields()["state"])
		}
	}
	require.Equal(t, 7, types["ct"])
	require.Equal(t, 2, types["encharge"])
	require.Equal(t, 1, types["collar"])
}

// TestGeneratorOnRealCapture: the configuration and schedule of
// 8.2.127_with_generator_running.
func TestGeneratorOnRealCapture(t *testing.T) {
	var cfg envoy.GeneratorConfig
	decodeFixture(t, "8.2.127_with_generator_running", "ivp_ss_gen_config", &cfg)
	var sched envoy.GeneratorSchedule
	decodeFixture(t, "8.2.127_with_generator_running", "ivp_ss_gen_schedule", &sched)
	var acc testutil.Accumulator
	addGeneratorConfig(&acc, "S", cfg, &sched, devicesNow)
	ms := acc.GetTelegrafMetrics()
	require.Len(t, ms, 2)
	c, p := ms[0], ms[1]
	require.Equal(t, mGeneratorConfig, c.Name())
	require.Equal(t, 58.3, c.Fields()["max_current_a"])
	require.Equal(t, 14.0, c.Fields()["rated_power_kw"])
	require.Equal(t, "Generac", c.Fields()["manufacturer"])
	require.Equal(t, int64(1), c.Fields()["charge_from_generator"])
	require.Equal(t, 70.0, c.Fields()["default_stop_soc_percent"])
	require.Equal(t, "Sun", c.Fields()["exercise_day"])
	require.Equal(t, mGeneratorSchedule, p.Name())
	require.Equal(t, map[string]string{"serial": "S", "schedule": "default", "season": "always_on", "days": "all_days", "period": "normal_1"}, p.Tags())
	require.Equal(t, 1440.0, p.Fields()["duration_min"])
	_, has := p.GetField("stop_soc_percent")
	require.False(t, has, "stop_soc -1 is not set")
}

// TestDeviceTextCappedR15: gateway text that becomes a field or a tag is
// bounded: a 15 MiB firmware string is cut to 256 bytes (InfluxDB refuses a
// string field over 64 KiB), on a character boundary; a huge serial or
// type is cut for its tag; a body listing 5000 devices writes at most 1000
// points.
func TestDeviceTextCappedR15(t *testing.T) {
	huge := strings.Repeat("é", 15<<20/2)
	body, err := json.Marshal([]map[string]any{
		{"type": strings.Repeat("T", 1000), "devices": []map[string]any{
			{"serial_num": strings.Repeat("9", 1000), "img_pnum_running": huge, "part_num": huge, "device_status": []string{huge, huge}},
		}},
	})
	require.NoError(t, err)
	var inv envoy.Inventory
	require.NoError(t, envoy.Decode(envoy.Response{Path: envoy.PathInventory, Status: http.StatusOK, Body: body}, &inv))
	var acc testutil.Accumulator
	addInventory(&acc, "S", inv, true, devicesNow)
	ms := acc.GetTelegrafMetrics()
	require.Len(t, ms, 1)
	for k, v := range ms[0].Fields() {
		if s, ok := v.(string); ok {
			require.LessOrEqual(t, len(s), maxTextField, k)
			require.True(t, strings.HasPrefix(s, "é") && !strings.HasSuffix(s, "\xc3"), "%s cut inside a character", k)
		}
	}
	for k, v := range ms[0].Tags() {
		require.LessOrEqual(t, len(v), maxTagText, k)
	}

	many := envoy.Inventory{{Type: envoy.Text{S: "PCU", Valid: true}}}
	for i := range 5000 {
		many[0].Devices = append(
			many[0].Devices,
			envoy.InventoryDevice{SerialNum: envoy.Text{S: strings.Repeat("1", i%7+1) + string(rune('a'+i%26)), Valid: true}},
		)
	}
	acc = testutil.Accumulator{}
	addInventory(&acc, "S", many, true, devicesNow)
	require.LessOrEqual(t, len(acc.GetTelegrafMetrics()), maxDevices)
}
