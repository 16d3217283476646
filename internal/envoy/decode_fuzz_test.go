package envoy

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/telegraf-enphase/telegraf-enphase/internal/fuzzseed"
)

// decodeTargets returns a fresh pointer to every type the plugin decodes a
// gateway body into, and to maps and lists of the custom scalars, which
// reach Num, Epoch, Text, Flag and TextList with every value of any body.
// In the lists (strict) every byte of the body is a value the scalars read:
// the maps' keys are the decoder's own strings.
func decodeTargets() map[string]struct {
	v      any
	strict bool // every value of the body is read: no malformed JSON can pass
} {
	type target = struct {
		v      any
		strict bool
	}
	return map[string]target{
		"Production":         {new(Production), false},
		"[]Meter":            {new([]Meter), false},
		"[]MeterReading":     {new([]MeterReading), false},
		"[]Inverter":         {new([]Inverter), false},
		"Summary":            {new(Summary), false},
		"DeviceData":         {new(DeviceData), false},
		"EnsembleInventory":  {new(EnsembleInventory), false},
		"EnsemblePower":      {new(EnsemblePower), false},
		"SecCtrl":            {new(SecCtrl), false},
		"DryContacts":        {new(DryContacts), false},
		"DryContactSettings": {new(DryContactSettings), false},
		"Generator":          {new(Generator), false},
		"GeneratorConfig":    {new(GeneratorConfig), false},
		"Tariff":             {new(Tariff), false},
		"map[string]Num":     {new(map[string]Num), false},
		"map[string]Epoch":   {new(map[string]Epoch), false},
		"map[string]Text":    {new(map[string]Text), false},
		"map[string]Flag":    {new(map[string]Flag), false},
		"[]Num":              {new([]Num), true},
		"[]Epoch":            {new([]Epoch), true},
		"[]Text":             {new([]Text), true},
		"[]Flag":             {new([]Flag), true},
		"[]TextList":         {new([]TextList), true},
	}
}

// decodeSeedNames are the capture files of every endpoint the plugin decodes.
var decodeSeedNames = []string{
	"production.json", "production.json_details_1", "ivp_meters", "ivp_meters_readings",
	"api_v1_production", "api_v1_production_inverters", "ivp_pdm_device_data",
	"ivp_ensemble_inventory", "ivp_ensemble_power", "ivp_ensemble_secctrl", "ivp_ensemble_dry_contacts",
	"ivp_ss_dry_contact_settings", "ivp_ensemble_generator", "ivp_ss_gen_config", "admin_lib_tariff",
}

// FuzzDecode feeds any 200 body to Decode into every response type. Decode
// must not panic; on an error the target is left untouched (T4: never
// half-parsed values); a body cut short is an error (T3, T4); every number
// decoded is finite, with absent ones zero (V9, P14), because a NaN or an
// infinity would kill Telegraf's writer. Where every value is read (a list
// of scalars) a malformed body must fail whatever the decoder checks of
// values nothing reads (an unknown key's). The custom
// scalars (Num, Epoch, Text, Flag, TextList: C2, P15), given the raw body
// as a decoder may hand them any bytes, fail exactly on malformed JSON. A
// valid UTF-8 body decodes as encoding/json decodes it.
func FuzzDecode(f *testing.F) {
	for _, b := range fuzzseed.Bodies(f, decodeSeedNames...) {
		f.Add(b)
	}
	for _, path := range []string{PathProduction, PathEnsembleInventory, PathEnsemblePower, PathEnsembleSecCtrl,
		PathEnsembleDryContacts, PathDryContactSettings, PathEnsembleGenerator, PathTariff} {
		for _, b := range fuzzseed.Endpoints(f, path) {
			f.Add(b)
		}
	}
	for _, b := range fuzzseed.Files(f, "plugins/inputs/enphase/testdata/devicedata/*.json") {
		f.Add(b)
	}
	for _, s := range []string{
		"", "  \n", "<html>401 Authorization Required</html>", `{ "error" : "404 - Not Found" }`, `{"err":"x"}`,
		`{"production":[{"wNow":1e999,"whLifetime":-0.0}]}`, `[{"eid":1,"timestamp":"Wed Dec 31 18:00:00 1969\n"}]`,
		`{"production": [`, `{"a":NaN}`, `[1,-1e308,"1",true,null,{},[]]`, `{"x":"\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		trimmed := bytes.TrimSpace(body)
		valid := json.Valid(trimmed)
		// Cut short where the cut is not itself whole JSON.
		var cuts [][]byte
		if valid {
			for _, n := range []int{len(trimmed) / 2, len(trimmed) - 1} {
				if n > 0 && !json.Valid(trimmed[:n]) {
					cuts = append(cuts, trimmed[:n])
				}
			}
		}
		for name, tg := range decodeTargets() {
			err := Decode(response(body), tg.v)
			val := reflect.ValueOf(tg.v).Elem()
			if err != nil {
				var se *StatusError
				var be *BodyError
				if !errors.As(err, &se) && !errors.As(err, &be) {
					t.Fatalf("%s: error %T %v is neither a StatusError nor a BodyError", name, err, err)
				}
				if !val.IsZero() {
					t.Fatalf("%s: error %v, yet the target holds %+v", name, err, val.Interface())
				}
			} else {
				if tg.strict && !valid {
					t.Fatalf("%s: decoded a body that is not JSON: %+v", name, val.Interface())
				}
				if path, ok := badNumber(val, name); !ok {
					t.Fatalf("%s: %s", name, path)
				}
				// Not compared: invalid UTF-8, which a decoder may keep as
				// sent or replace.
				if valid && utf8.Valid(trimmed) {
					std := reflect.New(val.Type())
					if err := json.Unmarshal(trimmed, std.Interface()); err != nil || !reflect.DeepEqual(std.Elem().Interface(), val.Interface()) {
						t.Fatalf("%s: Decode gives %+v, encoding/json %+v, %v", name, val.Interface(), std.Elem().Interface(), err)
					}
				}
			}
			for _, cut := range cuts {
				v := reflect.New(val.Type())
				if err := Decode(response(cut), v.Interface()); err == nil {
					t.Fatalf("%s: a body cut to %d bytes decoded as %+v", name, len(cut), v.Elem().Interface())
				}
			}
		}

		for name, u := range map[string]json.Unmarshaler{
			"Num": new(Num), "Epoch": new(Epoch), "Text": new(Text), "Flag": new(Flag), "TextList": new(TextList),
		} {
			if err := u.UnmarshalJSON(body); (err != nil) == valid {
				t.Fatalf("%s.UnmarshalJSON: error %v, but json.Valid says %v", name, err, valid)
			}
			if path, ok := badNumber(reflect.ValueOf(u).Elem(), name); !ok {
				t.Fatalf("raw body: %s", path)
			}
		}
	})
}

func response(body []byte) Response {
	return Response{Path: PathProduction, Status: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}}, Body: body}
}

// badNumber walks v and reports the first number that is NaN or infinite,
// a Num that is absent yet not zero, or an Epoch past the year 9999.
func badNumber(v reflect.Value, path string) (string, bool) {
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		if f := v.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
			return path + " is not finite", false
		}
	case reflect.Int64:
		if e, ok := v.Interface().(Epoch); ok && v.CanInterface() && (e >= maxEpoch || e <= -maxEpoch) {
			return path + " is past the year 9999", false
		}
	case reflect.Struct:
		if !v.CanInterface() {
			return "", true
		}
		if n, ok := v.Interface().(Num); ok && !n.Valid && n.V != 0 {
			return path + " is absent but not zero", false
		}
		for i := range v.NumField() {
			if p, ok := badNumber(v.Field(i), path+"."+v.Type().Field(i).Name); !ok {
				return p, false
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return "", true // raw JSON
		}
		for i := range v.Len() {
			if p, ok := badNumber(v.Index(i), path+"[]"); !ok {
				return p, false
			}
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			if p, ok := badNumber(it.Value(), path+"["+it.Key().String()+"]"); !ok {
				return p, false
			}
		}
	case reflect.Pointer:
		if !v.IsNil() {
			return badNumber(v.Elem(), path)
		}
	}
	return "", true
}
