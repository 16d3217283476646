package enphase

import (
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	serializers_influx "github.com/influxdata/telegraf/plugins/serializers/influx"
	"github.com/influxdata/telegraf/testutil"

	"github.com/telegraf-enphase/telegraf-enphase/internal/capture"
	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
	"github.com/telegraf-enphase/telegraf-enphase/internal/fuzzseed"
)

// fuzzEndpoints are the bodies FuzzMetrics mutates, by index: the fuzzer's
// first argument picks one, the others come from the captures. They are the
// endpoints table's, in its order.
var fuzzEndpoints = func() []string {
	out := make([]string, len(endpoints))
	for i, ep := range endpoints {
		out[i] = ep.path
	}
	return out
}()

// fuzzSite is the rest of a gateway, decoded from captures, that the fuzzed
// body is mapped together with.
type fuzzSite struct {
	prod     envoy.Production
	meters   []envoy.Meter
	readings []envoy.MeterReading
	invs     []envoy.Inverter
	inv      envoy.EnsembleInventory
	power    envoy.EnsemblePower
	sec      envoy.SecCtrl
	contacts envoy.DryContacts
	settings envoy.DryContactSettings
}

// loadFuzzSite decodes, for each endpoint, the first capture that has it
// (testcases/batteries-v11 has them all): a site with CTs and batteries.
func loadFuzzSite(tb testing.TB) fuzzSite {
	tb.Helper()
	var s fuzzSite
	for path, v := range map[string]any{
		envoy.PathProduction: &s.prod, envoy.PathMeters: &s.meters, envoy.PathMeterReadings: &s.readings,
		envoy.PathInverters: &s.invs, envoy.PathEnsembleInventory: &s.inv, envoy.PathEnsemblePower: &s.power,
		envoy.PathEnsembleSecCtrl: &s.sec, envoy.PathEnsembleDryContacts: &s.contacts, envoy.PathDryContactSettings: &s.settings,
	} {
		bodies := fuzzseed.Bodies(tb, capture.Name(path))
		if len(bodies) == 0 {
			tb.Fatalf("no capture of %s", path)
		}
		if err := envoy.Decode(envoy.Response{Path: path, Status: http.StatusOK, Body: bodies[0]}, v); err != nil {
			tb.Fatalf("capture of %s: %v", path, err)
		}
	}
	return s
}

// FuzzMetrics runs a fuzzed body of one endpoint (production.json, CT
// readings and configuration, inverters, device_data, the ensemble
// endpoints, the summary) through Decode and the plugin's mapping, with the
// rest of a captured site, and checks every point as Telegraf's writer
// will see it: a measurement named enphase_*, a serial tag, at least one
// field, no NaN or infinity (a metric of NaNs alone stops the shim's
// writer), and each field of the one Go type the README documents for it
// (every measured value a float64, whatever the JSON held: V9; counts,
// codes and times int64; states strings: P15). It must serialise as line
// protocol. Shapes of the field-failure cases seed it: P1-P4, P6, P7, P9-P15,
// V1-V4, V7-V9, C2, C4, C5 through the captures and scenario files.
func FuzzMetrics(f *testing.F) {
	types := fieldTypes(f)
	site := loadFuzzSite(f)
	for i, path := range fuzzEndpoints {
		var bodies [][]byte
		bodies = append(bodies, fuzzseed.Bodies(f, capture.Name(path))...)
		if path == envoy.PathProduction {
			bodies = append(bodies, fuzzseed.Bodies(f, "production.json")...)
		}
		bodies = append(bodies, fuzzseed.Endpoints(f, path)...)
		if path == envoy.PathDeviceData {
			bodies = append(bodies, fuzzseed.Files(f, "plugins/inputs/enphase/testdata/devicedata/*.json")...)
		}
		for _, b := range bodies {
			f.Add(uint8(i), b)
		}
		// Extremes the mutator rarely reaches: every number at the edge of
		// float64, where sums, unit conversions and scaling overflow (V9).
		for _, b := range bodies {
			for _, x := range []string{"1.7976931348623157e308", "-1.7976931348623157e308"} {
				f.Add(uint8(i), jsonNumberRE.ReplaceAll(b, []byte("${1}"+x)))
			}
		}
	}
	ser := &serializers_influx.Serializer{SortFields: true}
	if err := ser.Init(); err != nil {
		f.Fatal(err)
	}
	const serial = "122301234567"
	now := time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)

	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		path := fuzzEndpoints[int(which)%len(fuzzEndpoints)]
		decode := func(v any) bool {
			return envoy.Decode(envoy.Response{Path: path, Status: http.StatusOK, Body: body}, v) == nil
		}
		var acc testutil.Accumulator
		e := mappingPoller(testutil.Logger{Quiet: true})
		last := map[string]envoy.Epoch{}

		switch path {
		case envoy.PathProduction:
			var p envoy.Production
			if !decode(&p) {
				return
			}
			// After a captured gather, so the lifetime counters compare
			// the fuzzed values with real ones (V7, V8).
			e.addProduction(&acc, serial, site.prod, phaseCount(site.meters), now)
			for _, phases := range []int{phaseCount(site.meters), 0} {
				e.addProduction(&acc, serial, p, phases, now)
			}
			addACBatteries(&acc, serial, p.Storage, now)
		case envoy.PathMeterReadings:
			var r []envoy.MeterReading
			if !decode(&r) {
				return
			}
			// Every eid enabled, so that the fuzzer need not guess one.
			enabled := enabledMeters(site.meters)
			for _, x := range r {
				enabled[x.EID] = envoy.Meter{EID: x.EID, State: "enabled", MeasurementType: "net-consumption", PhaseCount: envoy.Num{V: 3, Valid: true}}
			}
			addMeterReadings(&acc, serial, enabled, r, now)
		case envoy.PathMeters:
			var m []envoy.Meter
			if !decode(&m) {
				return
			}
			e.addProduction(&acc, serial, site.prod, phaseCount(m), now)
			addMeterReadings(&acc, serial, enabledMeters(m), site.readings, now)
		case envoy.PathInverters:
			var invs []envoy.Inverter
			if !decode(&invs) {
				return
			}
			addInverters(&acc, serial, invs, nil, last, now)
			addInverters(&acc, serial, invs, nil, last, now) // the next poll
		case envoy.PathDeviceData:
			var d envoy.DeviceData
			if !decode(&d) {
				return
			}
			covered := addDeviceData(&acc, serial, d, last, now)
			addDeviceData(&acc, serial, d, last, now)
			if d.Capped() {
				addInverters(&acc, serial, site.invs, covered, last, now)
			}
		case envoy.PathEnsembleInventory:
			var inv envoy.EnsembleInventory
			if !decode(&inv) {
				return
			}
			addBatteries(&acc, serial, inv, site.power, now)
			addBatterySystem(&acc, serial, site.sec, &inv, now)
			addSystemControllers(&acc, serial, inv, now)
		case envoy.PathEnsemblePower:
			var p envoy.EnsemblePower
			if !decode(&p) {
				return
			}
			addBatteries(&acc, serial, site.inv, p, now)
			addBatteries(&acc, serial, nil, p, now)
		case envoy.PathEnsembleSecCtrl:
			var sec envoy.SecCtrl
			if !decode(&sec) {
				return
			}
			addBatterySystem(&acc, serial, sec, &site.inv, now)
			addBatterySystem(&acc, serial, sec, nil, now)
		case envoy.PathEnsembleDryContacts:
			var c envoy.DryContacts
			if !decode(&c) {
				return
			}
			addDryContacts(&acc, serial, c, site.settings, now)
		case envoy.PathDryContactSettings:
			var s envoy.DryContactSettings
			if !decode(&s) {
				return
			}
			addDryContacts(&acc, serial, site.contacts, s, now)
		case envoy.PathEnsembleGenerator:
			var g envoy.Generator
			if !decode(&g) {
				return
			}
			addGenerator(&acc, serial, g, now)
		case envoy.PathTariff:
			var tr envoy.Tariff
			if !decode(&tr) {
				return
			}
			addTariff(&acc, serial, tr, now)
		case envoy.PathSummary:
			var s envoy.Summary
			if !decode(&s) {
				return
			}
			addSummary(&acc, serial, s, now)
		case envoy.PathGeneratorConfig:
			var g envoy.GeneratorConfig
			if !decode(&g) {
				return
			}
			addGeneratorConfig(&acc, serial, g, nil, now)
		case envoy.PathGeneratorSchedule:
			var sc envoy.GeneratorSchedule
			if !decode(&sc) {
				return
			}
			addGeneratorConfig(&acc, serial, envoy.GeneratorConfig{}, &sc, now)
		case envoy.PathInventory:
			var inv envoy.Inventory
			if !decode(&inv) {
				return
			}
			addInventory(&acc, serial, inv, true, now)
			addEnsembleDevices(&acc, serial, site.inv, now)
			addMeterDevices(&acc, serial, site.meters, now)
		default:
			t.Fatalf("FuzzMetrics does not map %s: add it to the switch", path)
		}

		for _, m := range acc.GetTelegrafMetrics() {
			if err := checkPoint(m, serial, types); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if _, err := ser.Serialize(m); err != nil {
				t.Fatalf("%s: %s does not serialise: %v", path, m.Name(), err)
			}
		}
	})
}

// checkPoint checks one point against the invariants of FuzzMetrics.
func checkPoint(m telegraf.Metric, serial string, types map[string]string) error {
	if !strings.HasPrefix(m.Name(), "enphase_") {
		return fmt.Errorf("measurement %q", m.Name())
	}
	if s, _ := m.GetTag("serial"); s != serial {
		return fmt.Errorf("%s: serial tag %q", m.Name(), s)
	}
	if len(m.FieldList()) == 0 {
		return fmt.Errorf("%s: no field", m.Name())
	}
	for _, fl := range m.FieldList() {
		want, ok := types[fl.Key]
		if !ok {
			return fmt.Errorf("%s: field %s is not documented in README.md", m.Name(), fl.Key)
		}
		got := goType(fl.Value)
		if got != want {
			return fmt.Errorf("%s: field %s is %s (%v), README.md says %s", m.Name(), fl.Key, got, fl.Value, want)
		}
		if v, ok := fl.Value.(float64); ok && (math.IsNaN(v) || math.IsInf(v, 0)) {
			return fmt.Errorf("%s: field %s is %v", m.Name(), fl.Key, v)
		}
		// What a float beyond int64 converts to on amd64 (arm saturates).
		if v, ok := fl.Value.(int64); ok && v == math.MinInt64 {
			return fmt.Errorf("%s: field %s overflowed int64", m.Name(), fl.Key)
		}
	}
	return nil
}

// goType names a field value's Go type in the README's words.
func goType(v any) string {
	switch v.(type) {
	case float64:
		return "float"
	case int64:
		return "integer"
	case string:
		return "string"
	}
	return fmt.Sprintf("%T", v)
}

// jsonNumberRE finds a JSON number after its ':', '[' or ','.
var jsonNumberRE = regexp.MustCompile(`([:\[,]\s*)-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?`)

// readmeFieldRE finds "name (type" and "a, b (type" in the README's Metrics
// section, e.g. "- power_w (float, W)" or "communicating, dc_switch_off,
// sleep_enabled (integer, 0 or 1)".
var readmeFieldRE = regexp.MustCompile(`((?:[a-z][a-z0-9_]*, )*[a-z][a-z0-9_]*) \((float|integer|string)\b`)

// fieldTypes is the type of every field, as the README's Metrics section
// documents it; the golden files (testcases/*/expected.out) must agree with
// it. A field name has one type in every measurement.
func fieldTypes(tb testing.TB) map[string]string {
	tb.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		tb.Fatal(err)
	}
	doc := string(b)
	start, end := strings.Index(doc, "\n## Metrics"), strings.Index(doc, "\n## Counters")
	if start < 0 || end < start {
		tb.Fatal("README.md: no Metrics section before Counters")
	}
	sec := strings.Join(strings.Fields(doc[start:end]), " ")
	types := map[string]string{}
	for _, m := range readmeFieldRE.FindAllStringSubmatch(sec, -1) {
		for _, name := range strings.Split(m[1], ", ") {
			if old, ok := types[name]; ok && old != m[2] {
				tb.Fatalf("README.md documents %s as %s and as %s", name, old, m[2])
			}
			types[name] = m[2]
		}
	}
	if len(types) < 50 {
		tb.Fatalf("README.md: only %d fields found in the Metrics section: has its format changed?", len(types))
	}
	goldens, err := filepath.Glob(filepath.Join(testcasesDir, "*", "expected.out"))
	if err != nil || len(goldens) == 0 {
		tb.Fatalf("no golden file in %s (%v)", testcasesDir, err)
	}
	for _, g := range goldens {
		for _, m := range parseLines(tb, g) {
			for _, fl := range m.FieldList() {
				if got := goType(fl.Value); types[fl.Key] != got {
					tb.Fatalf("%s: %s %s is %s, README.md says %q", g, m.Name(), fl.Key, got, types[fl.Key])
				}
			}
		}
	}
	return types
}
