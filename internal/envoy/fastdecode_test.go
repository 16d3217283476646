package envoy

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/fuzzseed"
)

// fastTargets are the types decodeFast decodes by hand.
var fastTargets = map[string]func() any{
	"Production":     func() any { return new(Production) },
	"[]MeterReading": func() any { return new([]MeterReading) },
	"[]Inverter":     func() any { return new([]Inverter) },
	"DeviceData":     func() any { return new(DeviceData) },
}

// sameAsReference decodes body into every type decoded by hand, by hand and
// through encoding/json (the reference), and fails unless both refuse it,
// alike, or both give the same value. %#v tells a nil list from an empty
// one and -0 from 0, which reflect.DeepEqual does not.
func sameAsReference(t testing.TB, label string, body []byte, maxValues int) {
	t.Helper()
	for name, mk := range fastTargets {
		fast, ref := mk(), mk()
		r := response(body)
		errFast := decodeLimit(r, fast, maxValues, true)
		errRef := decodeLimit(r, ref, maxValues, false)
		if (errFast == nil) != (errRef == nil) {
			t.Fatalf("%s into %s (maxValues %d): by hand %v, encoding/json %v", label, name, maxValues, errFast, errRef)
		}
		if errRef != nil {
			var bf, br *BodyError
			if errors.As(errFast, &bf) != errors.As(errRef, &br) || bf != nil && (bf.TooLarge != br.TooLarge || bf.HTML != br.HTML) {
				t.Fatalf("%s into %s (maxValues %d): by hand %v, encoding/json %v", label, name, maxValues, errFast, errRef)
			}
			if !reflect.ValueOf(fast).Elem().IsZero() {
				t.Fatalf("%s into %s: error %v, yet the target holds %+v", label, name, errFast, fast)
			}
			continue
		}
		if !reflect.DeepEqual(fast, ref) || fmt.Sprintf("%#v", fast) != fmt.Sprintf("%#v", ref) {
			t.Fatalf("%s into %s: by hand\n%#v\nencoding/json\n%#v", label, name, fast, ref)
		}
	}
}

// TestFastDecodeCaptures compares the hand-written decoder with encoding/json
// on every capture of the repository (and of $ENPHASE_FIXTURES when set),
// whatever endpoint it is from, and at bounds around its value count (R4).
func TestFastDecodeCaptures(t *testing.T) {
	root := fuzzseed.Root(t)
	var files []string
	for _, dir := range fuzzseed.CaptureDirs(t) {
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		for _, e := range entries {
			if e.Type().IsRegular() {
				files = append(files, filepath.Join(dir, e.Name()))
			}
		}
	}
	// Every other body the tests keep (device_data samples, fuzz regressions).
	require.NoError(t, filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && (e.Name() == ".git" || e.Name() == "bin") {
			return filepath.SkipDir
		}
		if e.Type().IsRegular() && strings.Contains(p, string(filepath.Separator)+"testdata"+string(filepath.Separator)) {
			files = append(files, p)
		}
		return nil
	}))
	decoded := 0
	for _, f := range files {
		body, err := os.ReadFile(f)
		require.NoError(t, err)
		if len(body) > 1<<20 {
			continue
		}
		if strings.HasPrefix(string(body), "go test fuzz v1\n") {
			body = fuzzCorpusBody(t, body)
		}
		n := countValues(body, math.MaxInt)
		for _, max := range []int{DefaultMaxValues, n, n - 1} {
			sameAsReference(t, f, body, max)
		}
		for _, mk := range fastTargets {
			if decodeLimit(response(body), mk(), DefaultMaxValues, true) == nil {
				decoded++
			}
		}
	}
	// The comparison means something only if real bodies decode.
	require.Greater(t, decoded, 20, "bodies decoded without error, of %d files", len(files))
}

// fuzzCorpusBody reads the []byte of a one-value fuzz corpus file.
func fuzzCorpusBody(t *testing.T, file []byte) []byte {
	line := strings.TrimSpace(strings.TrimPrefix(string(file), "go test fuzz v1\n"))
	var s string
	if _, err := fmt.Sscanf(line, "[]byte(%q)", &s); err != nil {
		return nil
	}
	return []byte(s)
}

// TestFastDecodeCases are the edges the two decoders must agree on; each
// body is decoded into all three types.
func TestFastDecodeCases(t *testing.T) {
	for _, body := range []string{
		// Keys: exact first, then case-insensitive as encoding/json folds them
		// (ſ is s, K is K), escaped keys, the last of a repeated key.
		`{"production":[{"WNOW":1,"wnow":2,"wNow":3,"rmſCurrent":4,"ActiveCount":5,"measurement\u0054ype":"net"}]}`,
		`[{"serialnumber":"a","SERIALNUMBER":"b","lastReportWatts":1,"LASTREPORTWATTS":2,"devType":1}]`,
		`[{"EID":7,"eid":8,"voltage":1,"Voltage":2}]`,
		// An embedded struct's own name is no key: its fields are.
		`{"production":[{"Values":{"wNow":1},"values":5,"ID":1}]}`, `[{"MeterValues":{"voltage":1},"-":1}]`, `{"1":{"ID":"x","-":1}}`,
		// A repeated list is decoded over the first: elements merge.
		`{"production":[{"type":"eim","lines":[{"wNow":1,"rmsCurrent":2},{"wNow":3}],"lines":[{"wNow":5}],"lines":[{},{}]}]}`,
		`[{"channels":[{"voltage":1},{"voltage":2},{"voltage":3}],"channels":null,"channels":[{}]}]`,
		`{"production":[],"production":null,"consumption":[{}],"consumption":[null,null]}`,
		// Num: numbers only; any other value absent; beyond float64 absent; -0.
		`{"production":[{"wNow":"1","whToday":true,"whLifetime":null,"rmsVoltage":{"a":[1]},"reactPwr":[],"apprntPwr":1e999,"pwrFactor":-0}]}`,
		`[{"lastReportDate":1e300,"devType":-1e-400,"lastReportWatts":123456789012345678,"maxReportWatts":1.5e3}]`,
		`[{"lastReportDate":253402300799},{"lastReportDate":253402300800},{"lastReportDate":-253402300800},{"lastReportDate":"x"}]`,
		// Types: a string or an int64 given another type is the body's error.
		`{"production":[{"type":5}]}`, `{"production":[{"type":true}]}`, `{"production":[{"type":null,"type":"a","type":null}]}`,
		`[{"eid":1.5}]`, `[{"eid":1e3}]`, `[{"eid":"1"}]`, `[{"eid":-0}]`, `[{"eid":9223372036854775808}]`, `[{"eid":null}]`,
		`{"production":{}}`, `{"production":[5]}`, `{"production":["a"]}`, `{"production":[[]]}`, `[[]]`, `[5]`, `{}`, `[]`,
		`{"storage":[{"state":{}}]}`, `[{"serialNumber":[]}]`, `{"production":[{"lines":{}}]}`, `{"production":[{"lines":[1]}]}`,
		// Strings: escapes, surrogates, invalid UTF-8.
		`[{"serialNumber":"\ud83d\ude00 \ud800 \udc00x \ud800\ud800 \u00e9\/\"\\\b\f\n\r\t"}]`,
		"[{\"serialNumber\":\"a\xffb\xed\xa0\x80c\xc3\"}]", "[{\"serialNumber\":\"\xef\xbf\xbd\"}]",
		`[{"serialNumber":"\'"}]`, `[{"serialNumber":"\u12"}]`, "[{\"serialNumber\":\"a\tb\"}]", `[{"serialNumber":"\x"}]`,
		// device_data: the last of a repeated key wins, entries not objects or
		// with a value of the wrong type are left out, ids sorted.
		`{"deviceCount":1,"deviceCount":{"a":1},"1":{"devName":"pcu"},"1":5,"2":{"devName":5},"3":{"active":1},"4":{"channels":{}},` +
			`"5":{"channels":[5]},"6":{"channels":[null,{"watts":{"now":1},"watts":null}]},"DEVICECOUNT":{"sn":"x"},"device\u0043ount":7}`,
		`{"b":{"sn":"1"},"a":{"sn":"2"},"b":{"sn":"3"}}`, `{"a":{"sn":"1"},"a":[1]}`, `{"a":{"sn":5},"a":{"sn":"ok"}}`, `{"a":{"sn":"ok"},"a":{"sn":5}}`,
		"{\"a\xff\":{\"sn\":\"1\"},\"a\xfe\":{\"sn\":\"2\"},\"a\\ufffd\":{\"SN\":\"3\",\"Active\":true,\"MODGONE\":false,\"active\":null}}",
		`{"a":{"channels":[{"lastReading":{"EID":1,"eid":2,"acCurrentINMA":3},"lifetime":5,"wattHours":{"TODAY":1},"wattHours":{"week":[]}}],` +
			`"channels":[{"created":1e400,"chanEid":"1"},{"lastReading":{}}]}}`,
		`{"a":{"channels":null},"b":{"channels":[]},"c":{},"d":{"active":"true"},"e":{"modGone":{}},"f":{"channels":[[]]}}`,
		`{"deviceDataLimit":50,"deviceCount":"50","x":null}`,
		// Syntax.
		`[1,]`, `[,1]`, `{"a":1,}`, `{,}`, `{"a" 1}`, `{"a":1 "b":2}`, `[01]`, `[1.]`, `[.5]`, `[-]`, `[1e]`, `[1e+]`, `[+1]`,
		`[tru]`, `[nul]`, `[falsey]`, `[NaN]`, `{"production":[]}}`, `{"production":[]} x`, "{\"production\":[]}\x00",
		"[\x00]", `[1] [2]`, `{"a":1`, `[`, `{`, `{"a`, `[{"eid":1},`, "[\"a\x01\"]", "[\v1]", "[1\f]",
		`{"unknown":{"deep":[[[{"x":[1,2,{"y":"\u0041"}]}]]]},"production":[{"type":"eim"}]}`,
		strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth),
		strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1),
		`{"production":[{"x":` + strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth) + `}]}`,
		`{"production":[{"x":` + strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1) + `}]}`,
	} {
		n := countValues([]byte(body), math.MaxInt)
		for _, max := range []int{DefaultMaxValues, n, n - 1, 1} {
			sameAsReference(t, body, []byte(body), max)
		}
	}
}

// TestFastDecodeEveryField sets each field of each type decoded by hand, by
// its exact and folded name, so no key of the types is missing from the
// field switches.
func TestFastDecodeEveryField(t *testing.T) {
	wrap := map[string]func(string) string{
		"Production": func(m string) string { return `{` + m + `}` },
		"Reading":    func(m string) string { return `{"production":[{` + m + `}],"consumption":[{"lines":[{` + m + `}]}]}` },
		"Storage":    func(m string) string { return `{"storage":[{` + m + `}]}` },
		"Meter":      func(m string) string { return `[{` + m + `,"channels":[{` + m + `}]}]` },
		"Inverter":   func(m string) string { return `[{` + m + `}]` },
		"Device":     func(m string) string { return `{"1":{` + m + `}}` },
		"Channel":    func(m string) string { return `{"1":{"channels":[{` + m + `}]}}` },
		"WattHours":  func(m string) string { return `{"1":{"channels":[{"wattHours":{` + m + `}}]}}` },
		"Watts":      func(m string) string { return `{"1":{"channels":[{"watts":{` + m + `}}]}}` },
		"Reading2":   func(m string) string { return `{"1":{"channels":[{"lastReading":{` + m + `}}]}}` },
		"Lifetime":   func(m string) string { return `{"1":{"channels":[{"lifetime":{` + m + `}}]}}` },
	}
	names := map[string]map[string]string{"Production": productionNames, "Reading": readingNames, "Storage": storageNames,
		"Meter": meterReadingNames, "Inverter": inverterNames, "Device": deviceNames, "Channel": channelNames,
		"WattHours": wattHoursNames, "Watts": wattsNames, "Reading2": lastReadingNames, "Lifetime": lifetimeNames}
	for typ, fields := range names {
		require.NotEmpty(t, fields)
		for folded, name := range fields {
			for _, v := range []string{`12`, `"s"`, `[]`, `null`, `true`, `{}`} {
				for _, key := range []string{name, folded, strings.ToLower(name)} {
					sameAsReference(t, typ+" "+key, []byte(wrap[typ](fmt.Sprintf("%q:%s", key, v))), DefaultMaxValues)
				}
			}
		}
	}
}

// TestFastDecodeErrorsSayWhere: a refused body's error names the problem and
// where it is, as encoding/json's does not.
func TestFastDecodeErrorsSayWhere(t *testing.T) {
	for _, tt := range []struct{ body, want string }{
		{"{\"production\":[\n{\"wNow\":01}]}", `invalid character '1' at byte 25 (line 2) where it should hold ',' or '}' after an object member`},
		{`[{"eid":1.5}]`, `the number \"1.5\" at byte 8 where \"eid\" should hold an integer`},
		{`{"production":[{"type":5}]}`, `a number at byte 23 where \"type\" should hold a string`},
		{`[{"eid":1,"activePower":1`, `the body ends (at byte 25) where it should hold ',' or '}' after an object member`},
		{`{"production":[{"type":"\q"}]}`, `invalid character 'q' at byte 25 (line 1) where it should hold an escape`},
		{"{\"production\":[]}\x00", `a NUL byte at byte 17 (no JSON holds one)`},
		{strings.Repeat("[", maxDepth+1), `more than 10000 nested objects and lists, at byte 10000`},
		{`{"production":[{"type":"a` + "\x01" + `"}]}`, `invalid byte 0x01 at byte 25 (line 1) where it should hold no control character inside a string`},
	} {
		var p Production
		var mr []MeterReading
		err := Decode(okResponse(tt.body), &p)
		if strings.HasPrefix(tt.body, "[") {
			err = Decode(okResponse(tt.body), &mr)
		}
		var be *BodyError
		require.ErrorAs(t, err, &be)
		require.Contains(t, be.Reason, "bad JSON")
		require.Contains(t, be.Reason, tt.want)
	}
}

// FuzzFastDecode: on any body, the hand-written decoder refuses what
// encoding/json refuses and gives what it gives, at the default bound and
// at bounds of the body's own value count (R4, T4).
func FuzzFastDecode(f *testing.F) {
	for _, b := range fuzzseed.Bodies(f, "production.json", "production.json_details_1", "ivp_meters_readings",
		"api_v1_production_inverters", "ivp_pdm_device_data") {
		f.Add(b)
	}
	for _, b := range fuzzseed.Files(f, "plugins/inputs/enphase/testdata/devicedata/*.json") {
		f.Add(b)
	}
	for _, s := range []string{
		`{"production":[{"type":"eim","WNOW":1,"lines":[{"wNow":1}],"lines":[{"rmsCurrent":2}]}],"storage":[{"state":"idle"}]}`,
		`[{"eid":1,"timestamp":"x","channels":[{"voltage":-0}]}]`, `[{"serialNumber":"\ud800\u00e9","lastReportDate":1e999}]`,
		`{"production":[{"type":5}]}`, `[{"eid":1.5},]`,
		`{"deviceCount":3,"b":{"sn":"1","channels":[{"lastReading":{"EID":1}}]},"a":{"active":1},"b":{"SN":"2"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		n := countValues(body, math.MaxInt)
		for _, max := range []int{DefaultMaxValues, n, n - 1} {
			sameAsReference(t, "body", body, max)
		}
	})
}

// TestParseNumIsParseFloat: the short path of parseNum gives ParseFloat's
// float64, bit for bit (-0 included), over numbers of every length and
// point position around its 15-digit limit.
func TestParseNumIsParseFloat(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200_000 {
		n := 1 + rng.IntN(18)
		digits := make([]byte, n)
		for i := range digits {
			digits[i] = byte('0' + rng.IntN(10))
		}
		if n > 1 && rng.IntN(4) > 0 {
			digits[0] = byte('1' + rng.IntN(9)) // no leading zero, mostly
		}
		s := string(digits)
		if digits[0] == '0' && n > 1 {
			s = "0." + s[1:]
		} else if p := rng.IntN(n + 1); p < n && p > 0 {
			s = s[:p] + "." + s[p:]
		}
		if rng.IntN(3) == 0 {
			s = "-" + s
		}
		if rng.IntN(10) == 0 {
			s += "e" + strconv.Itoa(rng.IntN(40)-20)
		}
		require.True(t, isNumber([]byte(s)), s)
		want, err := strconv.ParseFloat(s, 64)
		require.NoError(t, err)
		got := parseNum([]byte(s))
		require.True(t, got.Valid, s)
		require.Equal(t, math.Float64bits(want), math.Float64bits(got.V), "%s: %v, ParseFloat %v", s, got.V, want)
	}
}
