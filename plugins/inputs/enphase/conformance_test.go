package enphase

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/capture"
	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
)

// fixturesEnv names the directory of real captures (pyenphase's, one folder
// per gateway) that the conformance test replays; CI sets it.
const fixturesEnv = "ENPHASE_FIXTURES"

// TestConformance serves every capture in $ENPHASE_FIXTURES, firmware 3.7 to
// 8.3, through the simulator and gathers it with the real plugin. The expected
// values are read from the capture here, independently of the plugin's decoder.
func TestConformance(t *testing.T) {
	root := os.Getenv(fixturesEnv)
	if root == "" {
		t.Skipf("%s is not set: point it at a folder of captures", fixturesEnv)
	}
	dirs, err := os.ReadDir(root)
	require.NoError(t, err)
	types := map[string]map[string]bool{} // measurement.field → Go types seen
	served := 0
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		dir := filepath.Join(root, d.Name())
		fsys := os.DirFS(dir)
		infoBody, err := fs.ReadFile(fsys, "info")
		if err != nil {
			continue
		}
		info, err := envoy.ParseInfo(infoBody)
		require.NoError(t, err, d.Name())
		served++
		t.Run(d.Name(), func(t *testing.T) {
			sim, url := startSim(t, fsys)
			var e *Enphase
			if info.Legacy() {
				// Firmware before 7: plain http, digest authentication, no token.
				require.True(t, sim.Legacy())
				e = New()
				e.URL = url
				e.Log = testutil.Logger{}
				e.now = newClock().Now
				require.NoError(t, e.Init())
				t.Cleanup(e.Stop)
			} else {
				e = newPlugin(t, sim, url, newClock())
			}
			var acc testutil.Accumulator
			require.NoError(t, e.Gather(&acc))
			require.Empty(t, acc.Errors, "no endpoint of a real capture may fail")
			got := acc.GetTelegrafMetrics()

			for _, want := range expectedPower(t, fsys) {
				v, ok := field(got, want.measurement, want.tags, "power_w")
				require.True(t, ok, "missing %s %v power_w", want.measurement, want.tags)
				require.InDelta(t, want.power, v, 1e-9, "%s %v", want.measurement, want.tags)
			}
			for _, mt := range expectedMeters(t, fsys) {
				_, ok := field(got, "enphase_meter", map[string]string{"measurement_type": mt, "phase": "total"}, "power_w")
				require.True(t, ok, "missing CT %s", mt)
			}
			if n, ok := expectedInverters(t, fsys); ok {
				serials := map[string]bool{}
				for _, m := range got {
					if m.Name() == "enphase_inverter" {
						s, _ := m.GetTag("device_serial")
						serials[s] = true
					}
				}
				require.Len(t, serials, n, "inverter count")
			}
			wantSoC := expectedBatteries(t, fsys)
			gotSoC := map[string]float64{}
			for _, m := range got {
				if m.Name() == "enphase_battery" {
					typ, _ := m.GetTag("type")
					sn, _ := m.GetTag("device_serial")
					if v, ok := m.GetField("soc_percent"); ok {
						gotSoC[typ+"/"+sn] = v.(float64)
					}
				}
			}
			require.Equal(t, wantSoC, gotSoC, "battery count and state of charge")
			for _, m := range got {
				s, _ := m.GetTag("serial")
				require.Equal(t, info.Serial, s)
				for _, f := range m.FieldList() {
					k := m.Name() + "." + f.Key
					if types[k] == nil {
						types[k] = map[string]bool{}
					}
					types[k][fmt.Sprintf("%T", f.Value)] = true
				}
			}
		})
	}
	require.NotZero(t, served, "no capture in %s", root)
	var mixed []string
	for k, ts := range types {
		if len(ts) > 1 {
			mixed = append(mixed, fmt.Sprintf("%s %v", k, ts))
		}
	}
	sort.Strings(mixed)
	require.Empty(t, mixed, "a field must keep one type across all gateways")
}

type powerWant struct {
	measurement string
	tags        map[string]string
	power       float64
}

// readCapture decodes a capture file whose logged status is 200, or returns false.
func readCapture(t *testing.T, fsys fs.FS, name string, v any) bool {
	t.Helper()
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return false
	}
	if log, ok, err := capture.ReadLog(fsys, name); err != nil || (ok && log.Code != 200) {
		return false
	}
	return json.Unmarshal(b, v) == nil
}

// expectedPower lists the production and consumption powers a capture holds:
// each active CT entry by measurementType, and the inverters' own total.
func expectedPower(t *testing.T, fsys fs.FS) []powerWant {
	var prod struct {
		Production  []map[string]any `json:"production"`
		Consumption []map[string]any `json:"consumption"`
	}
	var out []powerWant
	if !readCapture(t, fsys, "production.json_details_1", &prod) && !readCapture(t, fsys, "production.json", &prod) {
		prod.Production, prod.Consumption = nil, nil
	}
	active := func(e map[string]any) bool { n, _ := e["activeCount"].(float64); return n > 0 }
	for _, e := range prod.Production {
		w, ok := e["wNow"].(float64)
		if !ok || !active(e) {
			continue
		}
		switch {
		case e["type"] == "eim" && (e["measurementType"] == "production" || e["measurementType"] == nil):
			out = append(out, powerWant{"enphase_production", map[string]string{"source": "ct", "phase": "total"}, w})
		case e["type"] == "inverters":
			out = append(out, powerWant{"enphase_production", map[string]string{"source": "inverters", "phase": "total"}, w})
		}
	}
	// Firmware before 7 (no web tokens in /info): the summary, unless all zero (P7).
	var sum map[string]float64
	if legacy(fsys) && readCapture(t, fsys, "api_v1_production", &sum) &&
		(sum["wattHoursLifetime"] != 0 || sum["wattHoursToday"] != 0 || sum["wattHoursSevenDays"] != 0 || sum["wattsNow"] != 0) {
		out = append(out, powerWant{"enphase_production", map[string]string{"source": "summary", "phase": "total"}, sum["wattsNow"]})
	}
	kinds := map[string]string{"total-consumption": "total", "net-consumption": "net"}
	byKind := map[string]map[string]any{}
	for _, e := range prod.Consumption {
		mt, _ := e["measurementType"].(string)
		if _, ok := e["wNow"].(float64); ok && active(e) && e["type"] == "eim" && kinds[mt] != "" {
			byKind[kinds[mt]] = e
		}
	}
	// V4, firmware 8.3.5433: total-consumption carries the net values; the
	// plugin rebuilds it as net + production.
	var prodCT map[string]any
	for _, e := range prod.Production {
		if e["type"] == "eim" && e["measurementType"] == "production" && active(e) {
			prodCT = e
		}
	}
	if tot, net := byKind["total"], byKind["net"]; tot != nil && net != nil && prodCT != nil && tot["whLifetime"] == net["whLifetime"] {
		byKind["total"] = map[string]any{"wNow": net["wNow"].(float64) + prodCT["wNow"].(float64)}
	}
	for kind, e := range byKind {
		out = append(out, powerWant{"enphase_consumption", map[string]string{"measurement_type": kind, "phase": "total"}, e["wNow"].(float64)})
	}
	return out
}

// legacy reports whether the capture is of firmware before 7, read from its
// /info independently of the plugin.
func legacy(fsys fs.FS) bool {
	b, err := fs.ReadFile(fsys, "info")
	if err != nil {
		return false
	}
	i := strings.Index(string(b), "<software>")
	return i >= 0 && len(b) > i+11 && b[i+11] < '7' && b[i+12] == '.'
}

// expectedMeters lists the measurement types of enabled CTs that have a reading.
func expectedMeters(t *testing.T, fsys fs.FS) []string {
	var meters, readings []map[string]any
	if !readCapture(t, fsys, "ivp_meters", &meters) || !readCapture(t, fsys, "ivp_meters_readings", &readings) {
		return nil
	}
	withReading := map[float64]bool{}
	for _, r := range readings {
		if eid, ok := r["eid"].(float64); ok {
			withReading[eid] = true
		}
	}
	var out []string
	for _, m := range meters {
		eid, _ := m["eid"].(float64)
		if m["state"] == "enabled" && withReading[eid] {
			out = append(out, m["measurementType"].(string))
		}
	}
	return out
}

// expectedBatteries is each battery's state of charge the capture holds:
// IQ Batteries (ENCHARGE in the inventory) by serial, and the AC Batteries'
// combined percentFull from production.json storage.
func expectedBatteries(t *testing.T, fsys fs.FS) map[string]float64 {
	out := map[string]float64{}
	var inv []struct {
		Type    string           `json:"type"`
		Devices []map[string]any `json:"devices"`
	}
	if readCapture(t, fsys, "ivp_ensemble_inventory", &inv) {
		for _, g := range inv {
			if g.Type != "ENCHARGE" {
				continue
			}
			for _, d := range g.Devices {
				if soc, ok := d["percentFull"].(float64); ok {
					out["encharge/"+d["serial_num"].(string)] = soc
				}
			}
		}
	}
	// Each AC Battery's own percentFull, from the inventory (a real
	// gateway answers /inventory.json with and without ?deleted=1).
	var acbs []struct {
		Type    string           `json:"type"`
		Devices []map[string]any `json:"devices"`
	}
	if readCapture(t, fsys, "inventory.json_deleted_1", &acbs) || readCapture(t, fsys, "inventory", &acbs) {
		for _, g := range acbs {
			for _, d := range g.Devices {
				if soc, ok := d["percentFull"].(float64); ok && g.Type == "ACB" {
					out["acb/"+d["serial_num"].(string)] = soc
				}
			}
		}
	}
	var prod struct {
		Storage []map[string]any `json:"storage"`
	}
	if readCapture(t, fsys, "production.json_details_1", &prod) || readCapture(t, fsys, "production.json", &prod) {
		for _, st := range prod.Storage {
			n, _ := st["activeCount"].(float64)
			if soc, ok := st["percentFull"].(float64); ok && n > 0 {
				out["acb/"] = soc
			}
		}
	}
	return out
}

// expectedInverters counts the microinverters (devType 1, or none) listed.
func expectedInverters(t *testing.T, fsys fs.FS) (int, bool) {
	var invs []map[string]any
	if !readCapture(t, fsys, "api_v1_production_inverters", &invs) {
		return 0, false
	}
	n := 0
	for _, inv := range invs {
		dt, has := inv["devType"].(float64)
		if s, _ := inv["serialNumber"].(string); s != "" && (!has || dt == 1) {
			n++
		}
	}
	return n, true
}
