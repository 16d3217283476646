package enphase

import (
	"encoding/json"
	"errors"
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

// ddNow is the collector's clock in these tests, well after every endDate.
var ddNow = time.Date(2026, 8, 1, 18, 0, 0, 0, time.UTC)

const ddGateway = "122301234567"

// ddDecode reads testdata/devicedata/<name>.json through envoy.Decode, as
// the gather would.
func ddDecode(t *testing.T, name string) envoy.DeviceData {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "devicedata", name+".json"))
	require.NoError(t, err)
	var d envoy.DeviceData
	require.NoError(t, envoy.Decode(envoy.Response{Path: envoy.PathDeviceData, Status: http.StatusOK, Body: b}, &d))
	return d
}

// ddMap runs addDeviceData on a fresh dedupe map.
func ddMap(t *testing.T, name string) (*testutil.Accumulator, map[string]bool) {
	t.Helper()
	var acc testutil.Accumulator
	emitted := addDeviceData(&acc, ddGateway, ddDecode(t, name), map[string]envoy.Epoch{}, ddNow)
	return &acc, emitted
}

// ddBySerial indexes the enphase_inverter points by device_serial, failing
// on a second point for the same inverter.
func ddBySerial(t *testing.T, acc *testutil.Accumulator) map[string]*testutil.Metric {
	t.Helper()
	out := map[string]*testutil.Metric{}
	for _, m := range acc.Metrics {
		require.Equal(t, mInverter, m.Measurement)
		require.Equal(t, ddGateway, m.Tags["serial"])
		require.Len(t, m.Tags, 2, "tags: serial and device_serial only")
		sn := m.Tags["device_serial"]
		require.NotEmpty(t, sn)
		require.NotContains(t, out, sn, "one point per inverter")
		out[sn] = m
	}
	return out
}

func TestDeviceDataNormal(t *testing.T) {
	acc, emitted := ddMap(t, "normal")
	require.Equal(t, map[string]bool{"482208000101": true, "482208000102": true}, emitted)
	got := ddBySerial(t, acc)
	require.Len(t, got, 2)

	m := got["482208000101"]
	require.Equal(t, time.Unix(1785600900, 0).UTC(), m.Time)
	require.Equal(t, map[string]any{
		"power_w":            241.0,
		"power_max_w":        297.0,
		"last_report_unix_s": int64(1785600900),
		"dc_voltage_v":       36.5,
		"dc_current_a":       6.75,
		"ac_voltage_v":       240.125,
		"ac_current_a":       1.004,
		"ac_frequency_hz":    59.975,
		"temperature_c":      41.0,
		"energy_today_wh":    1250.0,
		"energy_lifetime_wh": 625000.0, // 2 250 000 000 J
		"energy_interval_wh": 60.0,     // 216 000 J
		"interval_s":         900.0,
	}, m.Fields)

	// Two channels: the first describes the inverter, the second is ignored.
	m = got["482208000102"]
	require.Equal(t, time.Unix(1785600930, 0).UTC(), m.Time)
	require.Equal(t, map[string]any{
		"power_w":            180.0,
		"power_max_w":        290.0,
		"last_report_unix_s": int64(1785600930),
		"dc_voltage_v":       35.25,
		"dc_current_a":       5.125,
		"ac_voltage_v":       239.5,
		"ac_current_a":       0.75,
		"ac_frequency_hz":    60.0,
		"temperature_c":      39.0,
		"energy_today_wh":    1100.0,
		"energy_lifetime_wh": 500000.0,
		"energy_interval_wh": 45.0,
		"interval_s":         930.0,
	}, m.Fields)
}

// TestDeviceDataDecode covers the body's shape: counts apart from devices,
// the body's order kept, pcu keys decoded, non-objects refused.
func TestDeviceDataDecode(t *testing.T) {
	d := ddDecode(t, "normal")
	require.Equal(t, envoy.Num{V: 2, Valid: true}, d.DeviceCount)
	require.Equal(t, envoy.Num{V: 50, Valid: true}, d.DeviceDataLimit)
	require.False(t, d.Capped())
	require.Len(t, d.Devices, 2)
	require.Equal(t, "553648384", d.Devices[0].ID)
	require.Equal(t, "553648640", d.Devices[1].ID)
	dev := d.Devices[0]
	require.True(t, dev.Microinverter())
	require.Equal(t, "482208000101", dev.SN)
	require.True(t, dev.Active)
	require.False(t, dev.ModGone)
	r := dev.Channels[0].LastReading
	require.Equal(t, envoy.Num{V: 1004, Valid: true}, r.ACCurrentInmA, "acCurrentInmA, lower-case n")
	require.Equal(t, envoy.Num{V: 110, Valid: true}, r.RSSI)
	require.Equal(t, envoy.Epoch(1760000000), dev.Channels[0].Lifetime.CreatedTime)
	require.Equal(t, envoy.Num{V: 9120, Valid: true}, dev.Channels[0].WattHours.Week)
	require.Len(t, d.Devices[1].Channels, 2)

	for _, body := range []string{`[]`, `[{"devName":"pcu"}]`, `"x"`, `<html></html>`, `{"error":"404 - Not Found"}`} {
		var got envoy.DeviceData
		err := envoy.Decode(envoy.Response{Path: envoy.PathDeviceData, Status: http.StatusOK, Body: []byte(body)}, &got)
		require.Error(t, err, body)
		require.Empty(t, got.Devices, body)
	}
	var got envoy.DeviceData
	require.NoError(t, json.Unmarshal([]byte(`null`), &got))
	require.Equal(t, envoy.DeviceData{}, got)
	require.NoError(t, json.Unmarshal([]byte(`{}`), &got))
	require.False(t, got.Capped(), "unknown counts")
}

// TestDeviceDataRemoved covers P13: removed inverters (active false, with or
// without modGone) and inverters with lastReading {} are skipped; {} where
// numbers belong decodes.
func TestDeviceDataRemoved(t *testing.T) {
	d := ddDecode(t, "removed")
	require.Len(t, d.Devices, 5, "every device decodes, empty objects included")
	require.True(t, d.Devices[0].Channels[0].LastReading.Empty())
	require.False(t, d.Devices[0].Channels[0].Lifetime.JoulesProduced.Valid)

	acc, emitted := ddMap(t, "removed")
	require.Equal(t, map[string]bool{"482208000205": true}, emitted)
	got := ddBySerial(t, acc)
	require.Len(t, got, 1)
	m := got["482208000205"]
	require.Equal(t, time.Unix(1785600960, 0).UTC(), m.Time)
	require.NotContains(t, m.Fields, "energy_lifetime_wh", "lifetime {}")
	require.Equal(t, 200.0, m.Fields["power_w"])
	require.Equal(t, 40.0, m.Fields["temperature_c"])
}

// TestDeviceDataOtherDevices: eim (CT), acb (AC Battery) and nsrb (Q-relay)
// entries are not inverters, whatever they hold; the AC Battery is a
// battery (TestDeviceDataACBattery).
func TestDeviceDataOtherDevices(t *testing.T) {
	d := ddDecode(t, "others")
	require.Len(t, d.Devices, 4)
	acc, emitted := ddMap(t, "others")
	require.Equal(t, map[string]bool{"482208000501": true}, emitted)
	batteries := ddPoints(acc, mBattery)
	require.Len(t, batteries, 1)
	require.Equal(t, "482208000301", batteries[0].Tags["device_serial"])
	acc.Metrics = ddPoints(acc, mInverter)
	got := ddBySerial(t, acc)
	require.Len(t, got, 1)
	require.Contains(t, got, "482208000501")
}

// ddPoints are acc's points of one measurement.
func ddPoints(acc *testutil.Accumulator, measurement string) []*testutil.Metric {
	var out []*testutil.Metric
	for _, m := range acc.Metrics {
		if m.Measurement == measurement {
			out = append(out, m)
		}
	}
	return out
}

// TestDeviceDataACBattery: an AC Battery's entry is an enphase_battery point
// keyed as /inventory.json's (type=acb, device_serial), stamped with its
// endDate and written once per report, with what only this endpoint gives:
// state of health, coolest cell, DC voltage, lifetime energy in (joulesUsed)
// and out (joulesProduced). Not written: a reading with no report time, an
// empty reading, a removed battery, a silent one's 0 placeholders (C5). It is not an inverter: P12's list of
// inverters the body accounts for leaves it out.
func TestDeviceDataACBattery(t *testing.T) {
	d := ddDecode(t, "acb")
	require.Len(t, d.Devices, 6)
	var acc testutil.Accumulator
	last := map[string]envoy.Epoch{}
	emitted := addDeviceData(&acc, ddGateway, d, last, ddNow)
	require.Empty(t, emitted)
	require.Len(t, acc.Metrics, 3, "%v", acc.Metrics)
	for _, m := range acc.Metrics {
		require.Equal(t, mBattery, m.Measurement)
		require.Equal(t, map[string]string{"serial": ddGateway, "type": "acb", "device_serial": m.Tags["device_serial"]}, m.Tags)
	}
	m := acc.Metrics[0]
	require.Equal(t, "482208000301", m.Tags["device_serial"])
	require.Equal(t, time.Unix(1785600906, 0).UTC(), m.Time)
	require.Equal(t, map[string]any{
		"dc_voltage_v":                  22.54,
		"energy_charged_lifetime_wh":    71600.0, // 257 760 000 J
		"energy_discharged_lifetime_wh": 59000.0, // 212 400 000 J
		"health_percent":                86.0,
		"last_report_unix_s":            int64(1785600906),
		"min_cell_temperature_c":        31.0,
	}, m.Fields)
	// Asleep (modGone) with a real report: written, a frost cell included;
	// lifetime counters of 0 are not a reading (as for every counter).
	m = acc.Metrics[1]
	require.Equal(t, "482208000302", m.Tags["device_serial"])
	require.Equal(t, time.Unix(1785600000, 0).UTC(), m.Time)
	require.Equal(t, map[string]any{
		"dc_voltage_v":           21.8,
		"health_percent":         91.0,
		"last_report_unix_s":     int64(1785600000),
		"min_cell_temperature_c": -4.0,
	}, m.Fields)

	// Silent (modGone) and reading 0 % health and 0 °C: placeholders, not
	// written (C5); what it does report is.
	m = acc.Metrics[2]
	require.Equal(t, "482208000306", m.Tags["device_serial"])
	require.Equal(t, map[string]any{
		"dc_voltage_v":                  21.0,
		"energy_charged_lifetime_wh":    20.0,
		"energy_discharged_lifetime_wh": 10.0,
		"last_report_unix_s":            int64(1785600600),
	}, m.Fields)

	// The same reports again: nothing; a new report: its point.
	addDeviceData(&acc, ddGateway, d, last, ddNow.Add(5*time.Minute))
	require.Len(t, acc.Metrics, 3, "same endDate: nothing new")
	d.Devices[0].Channels[0].LastReading.EndDate = 1785601806
	addDeviceData(&acc, ddGateway, d, last, ddNow.Add(15*time.Minute))
	require.Len(t, acc.Metrics, 4)
	require.Equal(t, time.Unix(1785601806, 0).UTC(), acc.Metrics[3].Time)
}

// TestDeviceDataCapped covers P12: at deviceCount >= deviceDataLimit the
// gateway drops devices; the inverters it did list are reported, and the
// others come from /api/v1/production/inverters, with one dedupe map.
func TestDeviceDataCapped(t *testing.T) {
	d := ddDecode(t, "capped")
	require.True(t, d.Capped())
	for _, c := range []struct {
		count, limit envoy.Num
		capped       bool
	}{
		{envoy.Num{V: 51, Valid: true}, envoy.Num{V: 50, Valid: true}, true},
		{envoy.Num{V: 49, Valid: true}, envoy.Num{V: 50, Valid: true}, false},
		{envoy.Num{V: 50, Valid: true}, envoy.Num{}, false},
		{envoy.Num{}, envoy.Num{V: 50, Valid: true}, false},
		{envoy.Num{V: 3, Valid: true}, envoy.Num{V: 0, Valid: true}, false},
	} {
		require.Equal(t, c.capped, envoy.DeviceData{DeviceCount: c.count, DeviceDataLimit: c.limit}.Capped(), "%+v", c)
	}

	var acc testutil.Accumulator
	last := map[string]envoy.Epoch{}
	emitted := addDeviceData(&acc, ddGateway, d, last, ddNow)
	require.Equal(t, map[string]bool{"482208000601": true, "482208000602": true}, emitted)
	require.Len(t, acc.Metrics, 2)

	// The fallback for the inverters the body left out.
	v1 := []envoy.Inverter{
		{SerialNumber: "482208000601", LastReportDate: 1785600900, DevType: envoy.Num{V: 1, Valid: true}, LastReportWatts: envoy.Num{V: 241, Valid: true}},
		{SerialNumber: "482208000602", LastReportDate: 1785600930, DevType: envoy.Num{V: 1, Valid: true}, LastReportWatts: envoy.Num{V: 180, Valid: true}},
		{SerialNumber: "482208000699", LastReportDate: 1785600990, DevType: envoy.Num{V: 1, Valid: true}, LastReportWatts: envoy.Num{V: 222, Valid: true}},
	}
	addInverters(&acc, ddGateway, v1, emitted, last, ddNow)
	got := ddBySerial(t, &acc)
	require.Len(t, got, 3)
	require.Equal(t, 222.0, got["482208000699"].Fields["power_w"])
	require.Equal(t, time.Unix(1785600990, 0).UTC(), got["482208000699"].Time)

	// The same report seen through the other endpoint is not written twice.
	addInverters(&acc, ddGateway, v1, nil, last, ddNow)
	require.Len(t, acc.Metrics, 3)
}

// TestDeviceDataGoneTemperature covers C5: an inverter the gateway does not
// hear from (modGone) reads 0 °C; its report is written without it. A
// communicating inverter's real sub-zero temperature is kept.
func TestDeviceDataGoneTemperature(t *testing.T) {
	// Its report time is 3.5 h after ddNow: by a clock just after it.
	var acc0 testutil.Accumulator
	acc, emitted := &acc0, addDeviceData(&acc0, ddGateway, ddDecode(t, "gone"), map[string]envoy.Epoch{}, time.Unix(1785620100, 0))
	require.Len(t, emitted, 2)
	got := ddBySerial(t, acc)
	gone := got["482208000701"]
	require.NotContains(t, gone.Fields, "temperature_c")
	require.Equal(t, time.Unix(1785620000, 0).UTC(), gone.Time)
	require.Equal(t, 0.0, gone.Fields["power_w"])
	require.Equal(t, 238.944, gone.Fields["ac_voltage_v"])
	require.Equal(t, -3.0, got["482208000702"].Fields["temperature_c"])
}

// TestDeviceDataUnknownDates covers C2: endDate 0, a string or before 2000 is
// unknown: the point carries the collector's clock, no last_report_unix_s,
// and is written on every call (there is nothing to dedupe on).
func TestDeviceDataUnknownDates(t *testing.T) {
	d := ddDecode(t, "dates")
	var acc testutil.Accumulator
	last := map[string]envoy.Epoch{}
	for range 2 {
		emitted := addDeviceData(&acc, ddGateway, d, last, ddNow)
		require.Len(t, emitted, 3)
	}
	require.Len(t, acc.Metrics, 6)
	for _, m := range acc.Metrics {
		require.Equal(t, ddNow, m.Time, m.Tags["device_serial"])
		require.NotContains(t, m.Fields, "last_report_unix_s")
		require.Contains(t, m.Fields, "power_w")
		require.Contains(t, m.Fields, "temperature_c")
	}
}

// TestDeviceDataDedupe: a report is written once; a new endDate is written.
func TestDeviceDataDedupe(t *testing.T) {
	d := ddDecode(t, "normal")
	var acc testutil.Accumulator
	last := map[string]envoy.Epoch{}
	require.Len(t, addDeviceData(&acc, ddGateway, d, last, ddNow), 2)
	require.Len(t, acc.Metrics, 2)

	emitted := addDeviceData(&acc, ddGateway, d, last, ddNow.Add(5*time.Minute))
	require.Len(t, emitted, 2, "deduplicated inverters are still accounted for")
	require.Len(t, acc.Metrics, 2, "same endDate: nothing new")

	d.Devices[0].Channels[0].LastReading.EndDate = 1785601800
	d.Devices[0].Channels[0].Watts.Now = envoy.Num{V: 250, Valid: true}
	addDeviceData(&acc, ddGateway, d, last, ddNow.Add(10*time.Minute))
	require.Len(t, acc.Metrics, 3)
	m := acc.Metrics[2]
	require.Equal(t, "482208000101", m.Tags["device_serial"])
	require.Equal(t, time.Unix(1785601800, 0).UTC(), m.Time)
	require.Equal(t, 250.0, m.Fields["power_w"])
	require.Equal(t, envoy.Epoch(1785601800), last["482208000101"])
}

// TestDeviceDataOddBody: entries that are not objects and a device that does
// not decode are skipped; nested values of the wrong type read as absent.
func TestDeviceDataOddBody(t *testing.T) {
	d := ddDecode(t, "odd")
	require.False(t, d.DeviceCount.Valid)
	require.False(t, d.Capped())
	sns := []string{}
	for _, dev := range d.Devices {
		sns = append(sns, dev.SN)
	}
	require.Equal(t, []string{"482208000902", "482208000903", ""}, sns, `"active": "yes" does not decode`)

	acc, emitted := ddMap(t, "odd")
	require.Equal(t, map[string]bool{"482208000902": true}, emitted)
	got := ddBySerial(t, acc)
	require.Equal(t, map[string]any{
		"last_report_unix_s": int64(1785600930),
		"ac_voltage_v":       240.0,
	}, got["482208000902"].Fields)
}

// TestDeviceDataFieldTypes: every field is a float64 but last_report_unix_s,
// an int64, as in addInverters, so enphase_inverter keeps one schema.
func TestDeviceDataFieldTypes(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "devicedata", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	seen := map[string]bool{}
	for _, f := range files {
		acc, _ := ddMap(t, strings.TrimSuffix(filepath.Base(f), ".json"))
		for _, m := range acc.Metrics {
			for k, v := range m.Fields {
				seen[k] = true
				if k == "last_report_unix_s" {
					require.IsType(t, int64(0), v, "%s %s", f, k)
					continue
				}
				require.IsType(t, float64(0), v, "%s %s", f, k)
			}
		}
	}
	require.Len(t, seen, 17, "every field appears in some case: %v", seen)
}

// TestDeviceDataFixtures maps every /ivp/pdm/device_data capture of the
// pyenphase fixtures (ENPHASE_FIXTURES=/path/to/pyenphase-fixtures) and checks
// it against a count made independently from the raw JSON.
func TestDeviceDataFixtures(t *testing.T) {
	root := os.Getenv("ENPHASE_FIXTURES")
	if root == "" {
		t.Skip("ENPHASE_FIXTURES is not set")
	}
	files, err := filepath.Glob(filepath.Join(root, "*", "ivp_pdm_device_data*"))
	require.NoError(t, err)
	ran := 0
	for _, f := range files {
		base := filepath.Base(f)
		// ivp_pdm_device_data and repeats such as ivp_pdm_device_data_1.
		if strings.HasSuffix(base, "_log.json") ||
			(base != "ivp_pdm_device_data" && strings.Trim(strings.TrimPrefix(base, "ivp_pdm_device_data_"), "0123456789") != "") {
			continue
		}
		name := filepath.Join(filepath.Base(filepath.Dir(f)), base)
		t.Run(name, func(t *testing.T) {
			// Status from <file>_log.json; without one the capture was built
			// by hand and is served as 200 (the fixtures' INDEX.md).
			if lb, err := os.ReadFile(f + "_log.json"); err == nil {
				var log struct {
					Code int `json:"code"`
				}
				require.NoError(t, json.Unmarshal(lb, &log))
				if log.Code != http.StatusOK {
					t.Skipf("captured with status %d", log.Code)
				}
			} else if !errors.Is(err, os.ErrNotExist) {
				require.NoError(t, err)
			}
			body, err := os.ReadFile(f)
			require.NoError(t, err)
			ran++
			var d envoy.DeviceData
			require.NoError(t, envoy.Decode(envoy.Response{Path: envoy.PathDeviceData, Status: http.StatusOK, Body: body}, &d))

			var raw map[string]any
			require.NoError(t, json.Unmarshal(body, &raw))
			want := map[string]map[string]any{} // sn → first channel
			gone := map[string]bool{}
			wantACB := map[string]map[string]any{} // AC Batteries with a report: sn → first channel
			for _, v := range raw {
				dev, ok := v.(map[string]any)
				if ok && dev["devName"] == "acb" && dev["active"] == true {
					sn, _ := dev["sn"].(string)
					if chans, _ := dev["channels"].([]any); sn != "" && len(chans) > 0 {
						ch, _ := chans[0].(map[string]any)
						lr, _ := ch["lastReading"].(map[string]any)
						if end, _ := lr["endDate"].(float64); end >= 946684800 {
							wantACB[sn] = ch
						}
					}
				}
				if !ok || dev["devName"] != "pcu" || dev["active"] != true {
					continue
				}
				sn, _ := dev["sn"].(string)
				chans, _ := dev["channels"].([]any)
				if sn == "" || len(chans) == 0 {
					continue
				}
				ch, _ := chans[0].(map[string]any)
				lr, _ := ch["lastReading"].(map[string]any)
				end, _ := lr["endDate"].(float64)
				if len(lr) == 0 || (dev["modGone"] == true && end < 946684800) {
					continue
				}
				want[sn] = ch
				gone[sn] = dev["modGone"] == true
			}

			var acc testutil.Accumulator
			emitted := addDeviceData(&acc, "fixture", d, map[string]envoy.Epoch{}, ddNow)
			nGone := 0
			for _, g := range gone {
				if g {
					nGone++
				}
			}
			t.Logf("%d inverters, %d of them not communicating (modGone), %d AC Batteries, capped %v", len(want), nGone, len(wantACB), d.Capped())
			batteries := ddPoints(&acc, mBattery)
			require.Len(t, batteries, len(wantACB))
			for _, m := range batteries {
				sn := m.Tags["device_serial"]
				ch, ok := wantACB[sn]
				require.True(t, ok, "%s is not an active acb with a report", sn)
				lr := ch["lastReading"].(map[string]any)
				require.Equal(t, time.Unix(int64(lr["endDate"].(float64)), 0).UTC(), m.Time, sn)
				if soh, ok := lr["SOH"].(float64); ok {
					require.Equal(t, soh, m.Fields["health_percent"], sn)
				}
				life, _ := ch["lifetime"].(map[string]any)
				for key, field := range map[string]string{"joulesUsed": "energy_charged_lifetime_wh", "joulesProduced": "energy_discharged_lifetime_wh"} {
					if j, ok := life[key].(float64); ok && j > 0 {
						require.InDelta(t, j/3600, m.Fields[field], 0.001, "%s %s", sn, field)
					}
				}
			}
			acc.Metrics = ddPoints(&acc, mInverter)
			require.Len(t, acc.Metrics, len(want))
			require.Len(t, emitted, len(want))
			for _, m := range acc.Metrics {
				sn := m.Tags["device_serial"]
				ch, ok := want[sn]
				require.True(t, ok, "%s is not an active pcu", sn)
				watts, _ := ch["watts"].(map[string]any)
				if w, ok := watts["now"].(float64); ok {
					require.Equal(t, w, m.Fields["power_w"], sn)
				}
				end := ch["lastReading"].(map[string]any)["endDate"].(float64)
				require.Equal(t, time.Unix(int64(end), 0).UTC(), m.Time, sn)
				if temp, ok := ch["lastReading"].(map[string]any)["channelTemp"].(float64); gone[sn] && ok && temp == 0 {
					require.NotContains(t, m.Fields, "temperature_c", "%s is modGone and reads 0 °C (C5)", sn)
				} else if ok {
					require.Equal(t, temp, m.Fields["temperature_c"], "%s: a real reading keeps its temperature, modGone or not (C5)", sn)
				}
				for k, v := range m.Fields {
					if k != "last_report_unix_s" {
						require.IsType(t, float64(0), v, "%s %s", sn, k)
					}
				}
			}
		})
	}
	require.NotZero(t, ran, "no ivp_pdm_device_data capture under %s", root)
}
