package envoy

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	gojson "github.com/goccy/go-json"

	"github.com/telegraf-enphase/telegraf-enphase/internal/fuzzseed"
)

// benchTargets maps a capture file to the type the plugin decodes it into.
var benchTargets = map[string]func() any{
	"production.json":             func() any { return new(Production) },
	"production.json_details_1":   func() any { return new(Production) },
	"ivp_meters":                  func() any { return new([]Meter) },
	"ivp_meters_readings":         func() any { return new([]MeterReading) },
	"api_v1_production":           func() any { return new(Summary) },
	"api_v1_production_inverters": func() any { return new([]Inverter) },
	"ivp_pdm_device_data":         func() any { return new(DeviceData) },
	"ivp_ensemble_inventory":      func() any { return new(EnsembleInventory) },
	"ivp_ensemble_power":          func() any { return new(EnsemblePower) },
	"ivp_ensemble_secctrl":        func() any { return new(SecCtrl) },
	"ivp_ensemble_dry_contacts":   func() any { return new(DryContacts) },
	"admin_lib_tariff":            func() any { return new(Tariff) },
}

// decodeStd is decodeStrict on encoding/json: it validates the whole body
// before filling anything, so neither the NUL check nor (in the scalars)
// checkValue would be needed; a type error still half-fills, hence fresh.
func decodeGoccy(b []byte, v any) error {
	fresh := reflect.New(reflect.TypeOf(v).Elem())
	if err := gojson.Unmarshal(b, fresh.Interface()); err != nil {
		return err
	}
	reflect.ValueOf(v).Elem().Set(fresh.Elem())
	return nil
}

type benchBody struct {
	name string
	b    []byte
	new  func() any
}

// benchCaptures reads the demo gateway's captures and the battery case's,
// and builds a 600-inverter list.
func benchCaptures(b *testing.B) map[string][]benchBody {
	root := fuzzseed.Root(b)
	dirs := map[string]string{"demo": filepath.Join(root, "internal", "envoysim", "demo")}
	// The battery case, wherever the golden cases live.
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && d.Name() == "capture" && filepath.Base(filepath.Dir(p)) == "batteries-v11" {
			dirs["batteries"] = p
		}
		return nil
	})
	out := map[string][]benchBody{}
	for set, dir := range dirs {
		for name, mk := range benchTargets {
			body, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				continue
			}
			out[set] = append(out[set], benchBody{name, body, mk})
		}
		if len(out[set]) == 0 {
			b.Fatalf("no captures in %s", dir)
		}
	}
	if len(out) != 2 {
		b.Fatalf("found capture sets %v, want demo and batteries", dirs)
	}
	// A 600-inverter site's /api/v1/production/inverters: the demo's
	// entries repeated under new serials, the largest body a gather decodes.
	var demo []map[string]any
	for _, body := range out["demo"] {
		if body.name == "api_v1_production_inverters" {
			if err := json.Unmarshal(body.b, &demo); err != nil || len(demo) == 0 {
				b.Fatalf("demo inverters: %v", err)
			}
		}
	}
	list := make([]map[string]any, 600)
	for i := range list {
		e := maps.Clone(demo[i%len(demo)])
		e["serialNumber"] = fmt.Sprintf("4821%08d", i)
		list[i] = e
	}
	big, err := json.Marshal(list)
	if err != nil {
		b.Fatal(err)
	}
	out["inverters600"] = []benchBody{{"api_v1_production_inverters", big, benchTargets["api_v1_production_inverters"]}}
	return out
}

// decodeReflect is the client's decoding before the hand-written decoder:
// the value bound (countValues), then encoding/json.
func decodeReflect(b []byte, v any) error {
	if countValues(b, DefaultMaxValues) > DefaultMaxValues {
		return errTooManyValues
	}
	return decodeStrict(b, v)
}

// decodeClient is the client's decoding now: by hand for the hot types
// (decodeFast), as before for the others.
func decodeClient(b []byte, v any) error {
	if handled, err := decodeFast(b, v, DefaultMaxValues); handled {
		return err
	}
	return decodeReflect(b, v)
}

// BenchmarkDecoder decodes every capture of a set once per iteration: as the
// client does (fast: by hand for production.json, the meter readings and the
// inverter list, encoding/json for the rest), as it did before (reflect:
// countValues then encoding/json), with encoding/json alone (std), and with
// goccy/go-json, which the client used until fuzzing found it reading past a
// short body. Compare as ratios of one run: go test -run '^$' -bench Decoder ./internal/envoy
func BenchmarkDecoder(b *testing.B) {
	decoders := []struct {
		name   string
		decode func([]byte, any) error
	}{{"goccy", decodeGoccy}, {"std", decodeStrict}, {"reflect", decodeReflect}, {"fast", decodeClient}}
	for set, bodies := range benchCaptures(b) {
		var size int64
		for _, body := range bodies {
			size += int64(len(body.b))
		}
		for _, d := range decoders {
			b.Run(set+"/"+d.name, func(b *testing.B) {
				// The decoder must agree with encoding/json before it is timed.
				for _, body := range bodies {
					x, y := body.new(), body.new()
					if err := decodeStrict(body.b, x); err != nil {
						b.Fatalf("%s: %v", body.name, err)
					}
					if err := d.decode(body.b, y); err != nil {
						b.Fatalf("%s: %v", body.name, err)
					}
					if !reflect.DeepEqual(x, y) {
						b.Fatalf("%s: %s and encoding/json disagree", body.name, d.name)
					}
				}
				b.SetBytes(size)
				b.ReportAllocs()
				for b.Loop() {
					for _, body := range bodies {
						if err := d.decode(body.b, body.new()); err != nil {
							b.Fatal(err)
						}
					}
				}
			})
		}
	}
}
