package enphase

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/capture"
	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
)

// ensembleNow is the collector's clock in the ensemble tests.
var ensembleNow = time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)

const ensembleSerial = "122300000001"

// ensemblePaths are the endpoints the ensemble mapping reads, production.json
// for its storage (AC Batteries).
var ensemblePaths = []string{
	envoy.PathProduction,
	envoy.PathEnsembleInventory,
	envoy.PathEnsemblePower,
	envoy.PathEnsembleSecCtrl,
	envoy.PathEnsembleDryContacts,
	envoy.PathDryContactSettings,
	envoy.PathEnsembleGenerator,
	envoy.PathTariff,
}

// mapEnsemble decodes the bodies present (path → body) the way the gather
// does, with envoy.Decode, and runs every ensemble mapping whose input is
// there. A decode error fails the test.
func mapEnsemble(t *testing.T, serial string, bodies map[string][]byte) []telegraf.Metric {
	t.Helper()
	decode := func(path string, v any) bool {
		b, ok := bodies[path]
		if !ok {
			return false
		}
		err := envoy.Decode(envoy.Response{Path: path, Status: http.StatusOK, Body: b}, v)
		require.NoError(t, err, path)
		return true
	}
	var acc testutil.Accumulator
	var (
		prod     envoy.Production
		inv      envoy.EnsembleInventory
		power    envoy.EnsemblePower
		sec      envoy.SecCtrl
		dry      envoy.DryContacts
		settings envoy.DryContactSettings
		gen      envoy.Generator
		tariff   envoy.Tariff
	)
	if decode(envoy.PathProduction, &prod) {
		addACBatteries(&acc, serial, prod.Storage, ensembleNow)
	}
	hasInv := decode(envoy.PathEnsembleInventory, &inv)
	hasPower := decode(envoy.PathEnsemblePower, &power)
	if hasInv || hasPower {
		addBatteries(&acc, serial, inv, power, ensembleNow)
	}
	if hasInv {
		addSystemControllers(&acc, serial, inv, ensembleNow)
	}
	if decode(envoy.PathEnsembleSecCtrl, &sec) {
		var known *envoy.EnsembleInventory
		if hasInv {
			known = &inv
		}
		addBatterySystem(&acc, serial, sec, known, ensembleNow)
	}
	hasDry := decode(envoy.PathEnsembleDryContacts, &dry)
	if decode(envoy.PathDryContactSettings, &settings) || hasDry {
		addDryContacts(&acc, serial, dry, settings, ensembleNow)
	}
	if decode(envoy.PathEnsembleGenerator, &gen) {
		addGenerator(&acc, serial, gen, ensembleNow)
	}
	if decode(envoy.PathTariff, &tariff) {
		addTariff(&acc, serial, tariff, ensembleNow)
	}
	require.Empty(t, acc.Errors)
	return acc.GetTelegrafMetrics()
}

// readEnsembleCase reads testdata/ensemble/<id>.json: an object of endpoint
// path → the body that endpoint answers.
func readEnsembleCase(t *testing.T, id string) map[string][]byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "ensemble", id+".json"))
	require.NoError(t, err)
	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(b, &raw))
	out := make(map[string][]byte, len(raw))
	for path, body := range raw {
		require.Contains(t, ensemblePaths, path, "unknown endpoint in case %s", id)
		out[path] = body
	}
	return out
}

type eTags = map[string]string
type eFields = map[string]any

func ePoint(name string, extra eTags, f eFields) telegraf.Metric {
	tg := eTags{"serial": ensembleSerial}
	for k, v := range extra {
		tg[k] = v
	}
	return testutil.MustMetric(name, tg, f, ensembleNow)
}

func eBattery(device string, f eFields) telegraf.Metric {
	return ePoint(mBattery, eTags{"type": batteryEncharge, "device_serial": device}, f)
}

func eController(kind, device string, f eFields) telegraf.Metric {
	return ePoint(mSystemController, eTags{"type": kind, "device_serial": device}, f)
}

func TestEnsembleCases(t *testing.T) {
	cases := []struct {
		id   string // testdata/ensemble/<id>.json
		what string
		want []telegraf.Metric
	}{
		{
			id:   "encharge3_enpower",
			what: "three Encharge with an Enpower (°F), secctrl, dry contacts, generator idle, tariff backup",
			want: []telegraf.Metric{
				eBattery("100000000001", eFields{
					"temperature_c": 24.0, "admin_state": "ENCHG_STATE_READY", "status": "envoy.global.ok,prop.done",
					"communicating": int64(1), "comm_level_sub_ghz": int64(5), "comm_level_2_4_ghz": int64(4),
					"last_report_unix_s": int64(1700003600), "soc_percent": 81.0, "max_cell_temperature_c": 25.0,
					"capacity_wh": 3360.0, "led_status": int64(13), "dc_switch_off": int64(0), "sleep_enabled": int64(0),
					"power_w": -1250.0, "apparent_power_va": -1250.0,
				}),
				eBattery("100000000002", eFields{
					"temperature_c": 26.0, "admin_state": "ENCHG_STATE_READY", "status": "envoy.global.ok",
					"communicating": int64(1), "comm_level_sub_ghz": int64(3), "comm_level_2_4_ghz": int64(3),
					"last_report_unix_s": int64(1700003590), "soc_percent": 79.5, "max_cell_temperature_c": 27.0,
					"capacity_wh": 3360.0, "led_status": int64(13), "dc_switch_off": int64(0),
					"power_w": 480.5, "apparent_power_va": 490.0,
				}),
				// last_rpt_date 0 is unknown, not 1970.
				eBattery("100000000003", eFields{
					"temperature_c": 23.0, "admin_state": "ENCHG_STATE_IDLE", "status": "envoy.global.ok",
					"communicating": int64(0), "soc_percent": 100.0, "capacity_wh": 3360.0,
					"led_status": int64(14), "dc_switch_off": int64(1), "power_w": 0.0, "apparent_power_va": 0.0,
				}),
				eController("enpower", "100000000010", eFields{
					"temperature_c": 31.11, "admin_state": "ENPWR_STATE_OPER_CLOSED", "status": "envoy.global.ok,prop.done",
					"communicating": int64(1), "comm_level_sub_ghz": int64(5), "comm_level_2_4_ghz": int64(5),
					"last_report_unix_s": int64(1700003500), "grid_state": "on-grid", "relay_state": "closed",
					"relay_admin_state": "closed", "grid_mode": "multimode-ongrid", "battery_grid_mode": "multimode-ongrid",
				}),
				ePoint(mBatterySystem, nil, eFields{
					"soc_combined_percent": 87.0, "max_energy_combined_wh": 10080.0, "backup_soc_percent": 30.0,
					"backup_soc_configured_percent": 30.0, "soc_percent": 87.0, "health_percent": 100.0,
					"available_energy_wh": 8770.0, "backup_energy_wh": 3024.0, "max_energy_wh": 10080.0,
					"battery_count": int64(3),
				}),
				ePoint(mDryContact, eTags{"contact": "NC1"}, eFields{
					"state": "closed", "type": "LOAD", "mode": "soc", "load_name": "Pool pump", "grid_action": "apply",
					"micro_grid_action": "shed", "generator_action": "shed", "soc_low_percent": 25.0, "soc_high_percent": 70.0,
					// The settings in full: override as the string "true", times in seconds after midnight.
					"override": int64(1), "manual_override": int64(1), "priority": 1.0, "black_start": 5.0,
					"essential_start_s": 32400.0, "essential_end_s": 57600.0,
				}),
				ePoint(mDryContact, eTags{"contact": "NO1"}, eFields{
					"state": "open", "type": "NONE", "mode": "manual", "grid_action": "shed", "override": int64(0),
					"micro_grid_action": "apply", "generator_action": "apply", "soc_low_percent": 30.0, "soc_high_percent": 70.0,
				}),
				// stop_soc -1 means not set.
				ePoint(mGenerator, nil, eFields{
					"admin_state": "unknown", "oper_state": "open", "admin_mode": "0", "start_soc_percent": 100.0,
				}),
				ePoint(mTariff, nil, eFields{
					"storage_mode": "backup", "reserve_soc_percent": 100.0, "very_low_soc_percent": 10.0,
					"charge_from_grid": int64(1), "storage_settings_date_unix_s": int64(1700000000),
				}),
			},
		},
		{
			id:   "iq_battery_3t_no_enpower",
			what: "P14: one IQ Battery 3T and no Enpower",
			want: []telegraf.Metric{
				eBattery("100000000021", eFields{
					"temperature_c": 29.0, "admin_state": "ENCHG_STATE_READY", "status": "envoy.global.ok,prop.done",
					"communicating": int64(1), "comm_level_sub_ghz": int64(4), "comm_level_2_4_ghz": int64(4),
					"last_report_unix_s": int64(1700007200), "soc_percent": 15.0, "max_cell_temperature_c": 30.0,
					"capacity_wh": 3500.0, "led_status": int64(17), "dc_switch_off": int64(0), "sleep_enabled": int64(0),
					"power_w": 0.0, "apparent_power_va": 0.0,
				}),
				ePoint(mBatterySystem, nil, eFields{
					"soc_combined_percent": 15.0, "max_energy_combined_wh": 3500.0, "backup_soc_percent": 15.0,
					"backup_soc_configured_percent": 15.0, "soc_percent": 15.0, "available_energy_wh": 525.0,
					"backup_energy_wh": 525.0, "max_energy_wh": 3500.0, "battery_count": int64(1),
				}),
				ePoint(mTariff, nil, eFields{
					"storage_mode": "self-consumption", "reserve_soc_percent": 15.0, "very_low_soc_percent": 5.0,
					"charge_from_grid": int64(0), "storage_settings_date_unix_s": int64(1700000000),
				}),
			},
		},
		{
			id:   "acb_percentfull",
			what: "P14: three AC Batteries with percentFull beside one IQ Battery; /power's soc differs (trap 29)",
			want: []telegraf.Metric{
				ePoint(mBattery, eTags{"type": batteryACB}, eFields{
					"soc_percent": 25.0, "power_w": 260.0, "energy_wh": 930.0, "state": "discharging", "devices": int64(3),
				}),
				eBattery("100000000031", eFields{
					"temperature_c": 11.0, "admin_state": "ENCHG_STATE_READY", "status": "envoy.global.ok",
					"communicating": int64(1), "soc_percent": 10.0, "capacity_wh": 3500.0, "led_status": int64(17),
					"power_w": 105.0, "apparent_power_va": 105.0,
				}),
				ePoint(mBatterySystem, nil, eFields{
					"soc_combined_percent": 39.0, "max_energy_combined_wh": 7220.0, "backup_soc_percent": 0.0,
					"backup_soc_configured_percent": 0.0, "soc_percent": 54.0, "health_percent": 100.0,
					"available_energy_wh": 1890.0, "backup_energy_wh": 0.0, "max_energy_wh": 3500.0,
					"acb_soc_percent": 25.0, "acb_energy_wh": 930.0, "battery_count": int64(1),
				}),
			},
		},
		{
			id:   "acb_no_percentfull",
			what: "P14: AC Batteries without percentFull write no SoC; no IQ Battery fields",
			want: []telegraf.Metric{
				ePoint(mBattery, eTags{"type": batteryACB}, eFields{
					"power_w": -2.0, "energy_wh": 25.0, "state": "idle", "devices": int64(2),
				}),
				ePoint(mBatterySystem, nil, eFields{
					"soc_combined_percent": 1.0, "max_energy_combined_wh": 2480.0, "backup_soc_percent": 0.0,
					"backup_soc_configured_percent": 0.0, "acb_soc_percent": 1.0, "acb_energy_wh": 24.0,
					"battery_count": int64(0),
				}),
			},
		},
		{
			id:   "power_devices_colon",
			what: `the "devices:" key; a battery only /power lists keeps its power`,
			want: []telegraf.Metric{
				eBattery("100000000041", eFields{
					"soc_percent": 60.0, "capacity_wh": 5000.0, "power_w": -532.0, "apparent_power_va": -540.0,
				}),
				eBattery("100000000042", eFields{"power_w": 16.0, "apparent_power_va": 16.5}),
			},
		},
		{
			id:   "temperature_unit_f",
			what: "trap 28: a named unit wins; an Enpower without one is °F",
			want: []telegraf.Metric{
				eBattery("100000000051", eFields{
					"soc_percent": 50.0, "temperature_c": 25.0, "max_cell_temperature_c": 26.0, "capacity_wh": 5000.0,
				}),
				eController("enpower", "100000000052", eFields{
					"temperature_c": 30.0, "grid_state": "on-grid", "relay_state": "closed", "relay_admin_state": "closed",
				}),
				eController("enpower", "100000000053", eFields{
					"temperature_c": 10.0, "grid_state": "on-grid", "relay_state": "closed",
				}),
			},
		},
		{
			id:   "unknown_type_3rd_pv",
			what: "P15: Collar, C6, unknown device types and dry contact types are kept; C6 RGM has nothing to write",
			want: []telegraf.Metric{
				eBattery("100000000061", eFields{
					"temperature_c": 32.0, "admin_state": "ENCMN_MDE_ENCHARGE_READY", "status": "envoy.global.ok,prop.done",
					"communicating": int64(1), "soc_percent": 92.0, "max_cell_temperature_c": 33.0, "capacity_wh": 5000.0,
					"led_status": int64(12), "power_w": -552.0, "apparent_power_va": -552.0,
				}),
				ePoint(mBattery, eTags{"type": "iq_battery_10c", "device_serial": "100000000066"}, eFields{
					"soc_percent": 47.0, "temperature_c": 21.0, "capacity_wh": 10000.0,
				}),
				eController("collar", "100000000062", eFields{
					"temperature_c": 42.0, "admin_state": "ENCMN_MDE_ON_GRID", "status": "envoy.global.ok",
					"communicating": int64(1), "grid_state": "on-grid", "relay_state": "close",
				}),
				eController("c6_combiner_controller", "100000000063", eFields{
					"admin_state": "ENCMN_C6_CC_READY", "communicating": int64(1),
				}),
				eController("iq_load_controller", "100000000065", eFields{
					"admin_state": "LC_STATE_READY", "communicating": int64(1), "temperature_c": 35.0,
					"grid_state": "off-grid",
				}),
				ePoint(mDryContact, eTags{"contact": "NC1"}, eFields{
					"state": "closed", "type": "3RD-PV", "mode": "manual", "load_name": "3rd party PV",
					"grid_action": "apply", "micro_grid_action": "apply", "generator_action": "apply",
					"soc_low_percent": 25.0, "soc_high_percent": 70.0, "override": int64(0), "manual_override": int64(0),
				}),
				ePoint(mDryContact, eTags{"contact": "NC2"}, eFields{
					"state": "open", "type": "EV-CHARGER", "mode": "soc", "grid_action": "apply",
					"micro_grid_action": "shed", "generator_action": "shed", "soc_low_percent": 40.0, "soc_high_percent": 80.0,
				}),
			},
		},
		{
			id:   "empty_inventory",
			what: `[] inventory, {"devices:": []}, secctrl all zeros and an idle ACB entry write nothing`,
			want: nil,
		},
		{
			id:   "generator_running",
			what: "outage with the generator running: Enpower relay open, generator closed",
			want: []telegraf.Metric{
				eBattery("100000000071", eFields{
					"temperature_c": 27.0, "admin_state": "ENCHG_STATE_READY", "status": "envoy.global.ok,prop.done",
					"communicating": int64(1), "soc_percent": 98.0, "capacity_wh": 3360.0, "led_status": int64(12),
					"power_w": -1250.0, "apparent_power_va": -1250.0,
				}),
				eController("enpower", "100000000072", eFields{
					"temperature_c": 32.78, "admin_state": "ENPWR_STATE_OPER_GEN_CLOSE", "status": "envoy.global.ok,prop.done",
					"communicating": int64(1), "grid_state": "off-grid", "relay_state": "open", "relay_admin_state": "closed",
					"grid_mode": "multimode-ongrid", "battery_grid_mode": "multimode-generator",
				}),
				ePoint(mGenerator, nil, eFields{
					"admin_state": "close", "oper_state": "close", "admin_mode": "2",
					"start_soc_percent": 30.0, "stop_soc_percent": 80.0,
				}),
			},
		},
		{
			id:   "tariff_mode_null",
			what: "P14: storage mode null is not written, the rest is",
			want: []telegraf.Metric{
				ePoint(mTariff, nil, eFields{
					"operation_mode": "prioritize-energy", "reserve_soc_percent": 20.5, "very_low_soc_percent": 10.0,
					"charge_from_grid": int64(0), "optimised_schedules": int64(1), "storage_settings_date_unix_s": int64(1700000000),
				}),
			},
		},
		{
			id:   "tariff_savings_mode",
			what: `"savings-mode" (legacy economy) kept raw; no charge_from_grid key`,
			want: []telegraf.Metric{
				ePoint(mTariff, nil, eFields{
					"storage_mode": "savings-mode", "reserve_soc_percent": 30.0, "very_low_soc_percent": 5.0,
					"storage_settings_date_unix_s": int64(1700000000),
				}),
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.id, func(t *testing.T) {
			t.Log(tc.what)
			got := mapEnsemble(t, ensembleSerial, readEnsembleCase(t, tc.id))
			for _, m := range got {
				require.NotEmpty(t, m.FieldList(), "%s has no fields", m.Name())
			}
			testutil.RequireMetricsEqual(t, tc.want, got, testutil.SortMetrics())
		})
	}
}

// TestEnsembleDecodeTolerant: shapes no capture has yet, which must not fail
// the endpoint (cases P14, P15).
func TestEnsembleDecodeTolerant(t *testing.T) {
	decode := func(t *testing.T, path, body string, v any) {
		t.Helper()
		require.NoError(t, envoy.Decode(envoy.Response{Path: path, Status: http.StatusOK, Body: []byte(body)}, v))
	}
	t.Run("power under devices without the colon", func(t *testing.T) {
		var p envoy.EnsemblePower
		decode(t, envoy.PathEnsemblePower, `{"devices":[{"serial_num":"1","real_power_mw":-1000,"soc":5}]}`, &p)
		require.Len(t, p.Devices, 1)
		require.Equal(t, envoy.Num{V: -1000, Valid: true}, p.Devices[0].RealPowerMW)
	})
	t.Run("P15 enums of another JSON type are kept as text", func(t *testing.T) {
		var g envoy.Generator
		decode(t, envoy.PathEnsembleGenerator, `{"admin_state":null,"oper_state":1,"admin_mode":"auto","present":"1"}`, &g)
		require.False(t, g.AdminState.Valid)
		require.Equal(t, envoy.Text{S: "1", Valid: true}, g.OperState)
		require.Equal(t, envoy.Text{S: "auto", Valid: true}, g.AdminMode)
		require.False(t, g.Present.Valid, "a number sent as a string is not a number")
	})
	t.Run("P14 inventory with odd keys and a null device list", func(t *testing.T) {
		var inv envoy.EnsembleInventory
		decode(t, envoy.PathEnsembleInventory, `[{"type":"ENCHARGE","devices":null},
			{"type":"ENPOWER","devices":[{"serial_num":123,"device_status":"envoy.global.ok","communicating":1,
			 "temperature":"hot","mains_oper_state":{"a":1}}]}]`, &inv)
		require.Len(t, inv, 2)
		require.Zero(t, inv.BatteryCount())
		require.True(t, inv.Has(envoy.DeviceEnpower))
		require.False(t, inv.Has(envoy.DeviceEncharge), "a group without devices is no device")
		d := inv[1].Devices[0]
		require.Equal(t, "123", d.SerialNum.S)
		require.Equal(t, envoy.TextList{"envoy.global.ok"}, d.DeviceStatus)
		require.Equal(t, envoy.Flag{V: true, Valid: true}, d.Communicating)
		require.False(t, d.Temperature.Valid)
		require.False(t, d.MainsOperState.Valid)
	})
	t.Run("tariff without storage_settings writes nothing", func(t *testing.T) {
		var tr envoy.Tariff
		decode(t, envoy.PathTariff, `{"tariff":{"currency":{"code":"USD"},"single_rate":{"rate":0.1,"sell":0}}}`, &tr)
		var acc testutil.Accumulator
		addTariff(&acc, ensembleSerial, tr, ensembleNow)
		require.Empty(t, acc.GetTelegrafMetrics())
	})
	t.Run("generator config", func(t *testing.T) {
		var none, some envoy.GeneratorConfig
		decode(t, envoy.PathGeneratorConfig, `{}`, &none)
		decode(t, envoy.PathGeneratorConfig, `{"gen_type":"Standby","max_cont_gen_amps":58.3}`, &some)
		require.False(t, none.Configured())
		require.True(t, some.Configured())
	})
}

// captureName is the pyenphase fixture file name of an endpoint path.
func captureName(path string) string {
	return strings.NewReplacer("/", "_", "?", "_", "=", "_", "&", "_", " ", "_").Replace(strings.TrimPrefix(path, "/"))
}

// captureBodies reads a capture folder's bodies of the ensemble endpoints
// whose logged status is 200, or that have no log (hand-built folders).
func captureBodies(t *testing.T, fsys fs.FS) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, path := range ensemblePaths {
		names := []string{captureName(path)}
		if path == envoy.PathProduction {
			names = append(names, "production.json") // older folders serve it for both
		}
		for _, name := range names {
			b, err := fs.ReadFile(fsys, name)
			if err != nil {
				continue
			}
			log, ok, err := capture.ReadLog(fsys, name)
			require.NoError(t, err)
			if ok && log.Code != http.StatusOK {
				break
			}
			out[path] = b
			break
		}
	}
	return out
}

// TestEnsembleFixtures decodes and maps the ensemble and tariff bodies of
// every firmware 7/8 capture in $ENPHASE_FIXTURES (the plugin reads no older
// firmware; 3.x answers the tariff with an HTML page and status 200). The
// expected values are read from the capture here, independently of the
// plugin's decoder.
func TestEnsembleFixtures(t *testing.T) {
	root := os.Getenv(fixturesEnv)
	if root == "" {
		t.Skipf("%s is not set: point it at a folder of captures", fixturesEnv)
	}
	dirs, err := os.ReadDir(root)
	require.NoError(t, err)
	types := map[string]map[string]bool{} // measurement.field → Go types seen
	served, batteries := 0, 0
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		fsys := os.DirFS(filepath.Join(root, d.Name()))
		infoBody, err := fs.ReadFile(fsys, "info")
		if err != nil {
			continue
		}
		info, err := envoy.ParseInfo(infoBody)
		require.NoError(t, err, d.Name())
		if !info.Version.AtLeast(7, 0, 0) {
			continue
		}
		served++
		t.Run(d.Name(), func(t *testing.T) {
			bodies := captureBodies(t, fsys)
			got := mapEnsemble(t, info.Serial, bodies)

			// Expected, from the raw JSON.
			socs := map[string]float64{} // ENCHARGE serial → percentFull
			encharge := 0
			if b, ok := bodies[envoy.PathEnsembleInventory]; ok {
				var inv []struct {
					Type    string           `json:"type"`
					Devices []map[string]any `json:"devices"`
				}
				require.NoError(t, json.Unmarshal(b, &inv))
				for _, g := range inv {
					if g.Type != "ENCHARGE" {
						continue
					}
					encharge += len(g.Devices)
					for _, dev := range g.Devices {
						sn, _ := dev["serial_num"].(string)
						if pf, ok := dev["percentFull"].(float64); ok {
							socs[sn] = pf
						}
					}
				}
			}
			acbSOC, hasACB := 0.0, false
			if b, ok := bodies[envoy.PathProduction]; ok {
				var prod struct {
					Storage []map[string]any `json:"storage"`
				}
				require.NoError(t, json.Unmarshal(b, &prod))
				for _, s := range prod.Storage {
					if n, _ := s["activeCount"].(float64); n > 0 {
						acbSOC, hasACB = s["percentFull"].(float64)
					}
				}
			}

			points := 0
			for _, m := range got {
				s, _ := m.GetTag("serial")
				require.Equal(t, info.Serial, s, "%s serial tag", m.Name())
				require.NotEmpty(t, m.FieldList())
				for _, f := range m.FieldList() {
					k := m.Name() + "." + f.Key
					if types[k] == nil {
						types[k] = map[string]bool{}
					}
					types[k][fmt.Sprintf("%T", f.Value)] = true
				}
				switch m.Name() {
				case mBattery:
					kind, _ := m.GetTag("type")
					v, hasSOC := m.GetField("soc_percent")
					if kind == batteryACB {
						require.Equal(t, hasACB, hasSOC, "ACB SoC present")
						if hasSOC {
							require.Equal(t, acbSOC, v)
						}
						continue
					}
					require.Equal(t, batteryEncharge, kind)
					points++
					sn, _ := m.GetTag("device_serial")
					want, ok := socs[sn]
					require.True(t, ok, "battery %s has no percentFull in the inventory", sn)
					require.Equal(t, want, v, "battery %s SoC", sn)
				case mBatterySystem:
					if n, ok := m.GetField("battery_count"); ok {
						require.Equal(t, int64(encharge), n)
					}
				}
			}
			require.Equal(t, encharge, points, "one enphase_battery point per ENCHARGE device")
			batteries += points
		})
	}
	require.NotZero(t, served, "no firmware 7/8 capture in %s", root)
	require.NotZero(t, batteries, "no capture with batteries in %s", root)
	var mixed []string
	for k, ts := range types {
		if len(ts) > 1 {
			mixed = append(mixed, fmt.Sprintf("%s %v", k, ts))
		}
	}
	sort.Strings(mixed)
	require.Empty(t, mixed, "a field must keep one type across all gateways")
}
