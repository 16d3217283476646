package envoy

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func okResponse(body string) Response {
	return Response{
		Path:   PathProduction,
		Status: http.StatusOK,
		Header: http.Header{"Content-Type": {"application/json"}},
		Body:   []byte(body),
	}
}

func TestDecodeOK(t *testing.T) {
	t.Run("T3 JSON object", func(t *testing.T) {
		var p Production
		err := Decode(
			okResponse(
				`{"production":[{"type":"inverters","activeCount":10,"readingTime":1693745127,"wNow":1234.5,"whLifetime":38638509.312}],"consumption":[],"storage":[]}`,
			),
			&p,
		)
		require.NoError(t, err)
		require.Len(t, p.Production, 1)
		r := p.Production[0]
		require.Equal(t, "inverters", r.Type)
		require.Equal(t, Num{V: 10, Valid: true}, r.ActiveCount)
		require.Equal(t, Epoch(1693745127), r.ReadingTime)
		require.Equal(t, Num{V: 1234.5, Valid: true}, r.WNow)
		require.Equal(t, Num{V: 38638509.312, Valid: true}, r.WhLifetime)
		require.False(t, r.WhToday.Valid, "absent field stays invalid")
		require.Empty(t, p.Consumption)
	})
	t.Run("T3 JSON array with surrounding whitespace", func(t *testing.T) {
		var inv []Inverter
		err := Decode(
			okResponse(
				"\r\n  [{\"serialNumber\":\"122101234567\",\"lastReportDate\":1693745000,\"devType\":1,\"lastReportWatts\":250,\"maxReportWatts\":295}]\n",
			),
			&inv,
		)
		require.NoError(t, err)
		require.Equal(t, []Inverter{{
			SerialNumber:    "122101234567",
			LastReportDate:  1693745000,
			DevType:         Num{V: 1, Valid: true},
			LastReportWatts: Num{V: 250, Valid: true},
			MaxReportWatts:  Num{V: 295, Valid: true},
		}}, inv)
	})
	t.Run("T5 object with an error key among other keys decodes normally", func(t *testing.T) {
		var v struct {
			Error string `json:"error"`
			Count int    `json:"count"`
		}
		err := Decode(okResponse(`{"error":"none","count":3}`), &v)
		require.NoError(t, err)
		require.Equal(t, "none", v.Error)
		require.Equal(t, 3, v.Count)
	})
	t.Run("T5 error key that is not a string decodes normally", func(t *testing.T) {
		var v map[string]any
		err := Decode(okResponse(`{"error":0}`), &v)
		require.NoError(t, err)
		require.Equal(t, map[string]any{"error": float64(0)}, v)
	})
	t.Run("T5 error key null decodes normally", func(t *testing.T) {
		var v map[string]any
		err := Decode(okResponse(`{"error":null}`), &v)
		require.NoError(t, err)
		require.Equal(t, map[string]any{"error": nil}, v)
	})
}

func TestDecodeStatus(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		ctype   string
		wantMsg string
	}{
		{
			name:    "T5 404 from the status line",
			status:  http.StatusNotFound,
			body:    `{ "error" : "404 - Not Found" }`,
			ctype:   "application/json; charset=ISO-8859-4",
			wantMsg: "404, this firmware does not have it",
		},
		{name: "T2 401 with HTML body", status: http.StatusUnauthorized, body: "<html>login</html>", ctype: "text/html", wantMsg: "401, not allowed"},
		{name: "T3 503 with empty body", status: http.StatusServiceUnavailable, body: "", wantMsg: "503, the gateway is not ready"},
		{name: "T3 500 with valid JSON", status: http.StatusInternalServerError, body: `{"production":[]}`, wantMsg: "HTTP 500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := okResponse(tt.body)
			r.Status = tt.status
			r.Header = http.Header{}
			if tt.ctype != "" {
				r.Header.Set("Content-Type", tt.ctype)
			}
			var p Production
			err := Decode(r, &p)
			var se *StatusError
			require.ErrorAs(t, err, &se)
			require.Equal(t, tt.status, se.Status)
			require.Equal(t, PathProduction, se.Path)
			require.Equal(t, tt.ctype, se.ContentType)
			require.Contains(t, err.Error(), tt.wantMsg)
			require.Zero(t, p, "nothing is decoded from a non-200 answer")
		})
	}
}

func TestDecodeBodyErrors(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		wantReason string // prefix of BodyError.Reason
	}{
		{name: "T3 empty body", body: "", wantReason: "empty body"},
		{name: "T3 whitespace only", body: " \r\n\t\n", wantReason: "empty body"},
		{name: "T2 HTML page with 200", body: "<!DOCTYPE html><html><body>Please log in</body></html>", wantReason: "an HTML page instead of JSON"},
		{name: "T2 HTML page after whitespace", body: "\n\n  <html><body>Envoy</body></html>", wantReason: "an HTML page instead of JSON"},
		{name: "T3 plain text", body: "Error: 401", wantReason: "not JSON"},
		{name: "T3 bare JSON string", body: `"Valid token."`, wantReason: "not JSON"},
		{name: "T3 bare JSON number", body: `0`, wantReason: "not JSON"},
		{name: "T5 gateway error object", body: `{"error":"x"}`, wantReason: `gateway error "x"`},
		{name: "T5 gateway err object", body: `{"err":"session expired"}`, wantReason: `gateway error "session expired"`},
		{name: "T4 truncated object", body: `{"production":[{"type":"inverters","activeCount":10,"wNow":123`, wantReason: "bad JSON"},
		{name: "T4 truncated array", body: `[{"serialNumber":"122101234567","lastReportWatts":250},{"serialNum`, wantReason: "bad JSON"},
		{name: "T4 trailing garbage", body: `{"production":[]}}`, wantReason: "bad JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Production
			err := Decode(okResponse(tt.body), &p)
			var be *BodyError
			require.ErrorAs(t, err, &be)
			require.Equal(t, PathProduction, be.Path)
			require.Contains(t, be.Reason, tt.wantReason)
			require.Equal(t, PathProduction+": "+be.Reason, err.Error())
			var se *StatusError
			require.False(t, errors.As(err, &se), "a 200 body problem is not a status error")
			require.Zero(t, p, "T4: nothing half-parsed")
		})
	}
}

// TestDecodeTruncatedLeavesTargetZeroT4 decodes a production.json cut in the
// middle of its second entry: the first entry is complete, yet none of it may
// reach the target.
func TestDecodeTruncatedLeavesTargetZeroT4(t *testing.T) {
	full := `{"production":[{"type":"inverters","activeCount":10,"readingTime":1693745127,"wNow":1234,"whLifetime":5000}],` +
		`"consumption":[{"type":"eim","activeCount":1,"measurementType":"total-consumption","wNow":456.7,"whLifetime":9000}]}`
	var whole Production
	require.NoError(t, Decode(okResponse(full), &whole))
	require.Len(t, whole.Consumption, 1, "the full body decodes")

	for _, cut := range []int{len(full) - 1, len(full) - 20, len(full) / 2, 30} {
		var p Production
		err := Decode(okResponse(full[:cut]), &p)
		var be *BodyError
		require.ErrorAs(t, err, &be, "T4 cut at %d", cut)
		require.Contains(t, be.Reason, "bad JSON")
		require.Zero(t, p, "T4 cut at %d: target must stay zero", cut)
	}

	var inv []Inverter
	err := Decode(okResponse(`[{"serialNumber":"1","lastReportWatts":250},{"serialNumber":"2","lastReportW`), &inv)
	require.Error(t, err)
	require.Nil(t, inv, "T4: a truncated array leaves the slice nil")
}

func TestDecodeNotFoundBodyT5(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		ctype string
	}{
		{name: "T5 spaced error object with odd charset", body: `{ "error" : "404 - Not Found" }`, ctype: "application/json; charset=ISO-8859-4"},
		{name: "T5 err object", body: `{"err":"404 - Not Found"}`, ctype: "application/json"},
		{name: "T5 error object with trailing newline", body: "{\"error\":\"404 - Not Found\"}\n", ctype: "text/html"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := okResponse(tt.body)
			r.Header.Set("Content-Type", tt.ctype)
			var p Production
			err := Decode(r, &p)
			var se *StatusError
			require.ErrorAs(t, err, &se)
			require.Equal(t, http.StatusNotFound, se.Status)
			require.Equal(t, PathProduction, se.Path)
			require.Contains(t, err.Error(), "404, this firmware does not have it")
			var be *BodyError
			require.False(t, errors.As(err, &be))
			require.Zero(t, p)
		})
	}
}

func TestNum(t *testing.T) {
	tests := []struct {
		name string
		json string
		want Num
	}{
		{name: "V9 int", json: `42`, want: Num{V: 42, Valid: true}},
		{name: "V9 zero", json: `0`, want: Num{V: 0, Valid: true}},
		{name: "V9 float", json: `1234.567`, want: Num{V: 1234.567, Valid: true}},
		{name: "V9 negative", json: `-12.5`, want: Num{V: -12.5, Valid: true}},
		{name: "V9 huge whDlvdCum", json: `38638509.312`, want: Num{V: 38638509.312, Valid: true}},
		{name: "V9 huge vahLifetime", json: `47854893.144`, want: Num{V: 47854893.144, Valid: true}},
		{name: "V9 negative varhLagLifetime", json: `-1743640.476`, want: Num{V: -1743640.476, Valid: true}},
		{name: "V9 beyond int32", json: `4294967296123`, want: Num{V: 4294967296123, Valid: true}},
		{name: "V9 exponent", json: `1.5e3`, want: Num{V: 1500, Valid: true}},
		{name: "V9 null", json: `null`, want: Num{}},
		{name: "V9 string", json: `"12.5"`, want: Num{}},
		{name: "V9 empty string", json: `""`, want: Num{}},
		{name: "V9 true", json: `true`, want: Num{}},
		{name: "V9 false", json: `false`, want: Num{}},
		{name: "V9 object", json: `{"v":1}`, want: Num{}},
		{name: "V9 array", json: `[1,2]`, want: Num{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Start from a valid value: an unreadable one must reset it.
			n := Num{V: 99, Valid: true}
			require.NoError(t, json.Unmarshal([]byte(tt.json), &n))
			require.Equal(t, tt.want, n)
		})
	}
}

// TestNumFieldWithStringKeepsOtherFields: one unreadable field must not cost
// the whole endpoint (V9 values next to it still decode).
func TestNumFieldWithStringKeepsOtherFieldsV9(t *testing.T) {
	var m MeterReading
	body := `{"eid":704643328,"timestamp":1693745127,"actEnergyDlvd":38638509.312,"reactEnergyLagg":-1743640.476,` +
		`"activePower":"n/a","voltage":{"v":240},"current":null,"freq":true}`
	require.NoError(t, Decode(okResponse(body), &m))
	require.Equal(t, int64(704643328), m.EID)
	require.Equal(t, Epoch(1693745127), m.Timestamp)
	require.Equal(t, Num{V: 38638509.312, Valid: true}, m.ActEnergyDlvd)
	require.Equal(t, Num{V: -1743640.476, Valid: true}, m.ReactEnergyLagg)
	require.Equal(t, Num{}, m.ActivePower)
	require.Equal(t, Num{}, m.Voltage)
	require.Equal(t, Num{}, m.Current)
	require.Equal(t, Num{}, m.Freq)
	require.Equal(t, Num{}, m.ApparentPower, "absent")
}

func TestEpoch(t *testing.T) {
	tests := []struct {
		name      string
		json      string
		want      Epoch
		wantKnown bool
	}{
		{name: "C4 integer", json: `1693745127`, want: 1693745127, wantKnown: true},
		{name: "C4 float truncated", json: `1693745127.9`, want: 1693745127, wantKnown: true},
		{name: "C2 zero", json: `0`, want: 0},
		{name: "C2 pre-2000", json: `946684799`, want: 946684799},
		{name: "C2 first second of 2000", json: `946684800`, want: 946684800, wantKnown: true},
		{name: "C2 negative", json: `-21600`, want: -21600},
		{name: "C2 string date", json: `"Wed Dec 31 18:00:00 1969\n"`, want: 0},
		{name: "C2 numeric string", json: `"1693745127"`, want: 0},
		{name: "C2 null", json: `null`, want: 0},
		{name: "C2 object", json: `{}`, want: 0},
		{name: "C2 past the year 9999", json: `1e300`, want: 0},
		{name: "C2 year 9999", json: `253402300799`, want: 253402300799, wantKnown: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := Epoch(1700000000) // a previous value must not survive
			require.NoError(t, json.Unmarshal([]byte(tt.json), &e))
			require.Equal(t, tt.want, e)
			tm, ok := e.Time()
			require.Equal(t, tt.wantKnown, ok)
			if !tt.wantKnown {
				require.True(t, tm.IsZero())
				return
			}
			require.Equal(t, time.Unix(int64(tt.want), 0).UTC(), tm)
			require.Same(t, time.UTC, tm.Location(), "C4: the gateway's epochs are UTC")
		})
	}
}

// TestEpochTimeIsUTCC4 pins the instant and the wall clock: an epoch read as
// naive local time would shift by the zone offset.
func TestEpochTimeIsUTCC4(t *testing.T) {
	tm, ok := Epoch(1693745127).Time()
	require.True(t, ok)
	require.Equal(t, time.UTC, tm.Location())
	require.Equal(t, "2023-09-03T12:45:27Z", tm.Format(time.RFC3339))
	require.True(t, tm.Equal(time.Unix(1693745127, 0)))
	require.Equal(t, time.Unix(1693745127, 0).UTC(), tm)
}

// TestEpochInStructC2 decodes inverters whose lastReportDate is a string
// (C2): that inverter's date is unknown, its other fields are kept.
func TestEpochInStructC2(t *testing.T) {
	var inv []Inverter
	body := `[{"serialNumber":"A","lastReportDate":"Wed Dec 31 18:00:00 1969\n","lastReportWatts":12},` +
		`{"serialNumber":"B","lastReportDate":0,"lastReportWatts":13},` +
		`{"serialNumber":"C","lastReportDate":1693745000,"lastReportWatts":14}]`
	require.NoError(t, Decode(okResponse(body), &inv))
	require.Len(t, inv, 3)
	for i, want := range []struct {
		sn    string
		known bool
		watts float64
	}{{"A", false, 12}, {"B", false, 13}, {"C", true, 14}} {
		require.Equal(t, want.sn, inv[i].SerialNumber)
		_, ok := inv[i].LastReportDate.Time()
		require.Equal(t, want.known, ok, "C2 inverter %s", want.sn)
		require.Equal(t, Num{V: want.watts, Valid: true}, inv[i].LastReportWatts)
	}
}

// TestDecodeWrongTypeLeavesTargetUntouched covers T4: JSON that parses but
// has a wrong type part way leaves no half-filled value behind.
func TestDecodeWrongTypeLeavesTargetUntouched(t *testing.T) {
	var meters []Meter
	err := Decode(Response{Path: PathMeters, Status: 200, Body: []byte(`[{"eid":1,"state":"enabled"},{"eid":"2","state":"enabled"}]`)}, &meters)
	require.Error(t, err)
	require.Nil(t, meters)
}

// TestDecodeMalformedValueT4 covers T4 for bodies that are whole but not
// JSON where a value is read: the body must fail instead of reading "01" as
// 1 or "[1 2]" as absent (found by FuzzDecode when the decoder was
// goccy/go-json, which passed such a value to the custom unmarshalers
// unchecked; encoding/json refuses the body, and the scalars check too).
func TestDecodeMalformedValueT4(t *testing.T) {
	tests := []struct {
		name string
		body string
		v    any
	}{
		{"T4 number with a leading zero", `{"production":[{"type":"eim","wNow":01}]}`, new(Production)},
		{"T4 number without decimals", `{"production":[{"type":"eim","wNow":1.}]}`, new(Production)},
		{"T4 lone minus", `[{"eid":1,"activePower":-}]`, new([]MeterReading)},
		{"T4 array without commas in a Num", `{"wattsNow":[1 2]}`, new(Summary)},
		{"T4 bad escape in an Epoch", `[{"serialNumber":"A","lastReportDate":"\x"}]`, new([]Inverter)},
		{"T4 array without commas in a TextList", `[{"type":"ENCHARGE","devices":[{"device_status":["a" "b"]}]}]`, new(EnsembleInventory)},
		{"T4 misspelt literal in a Flag", `{"shutdown":tru}`, new(SecCtrl)},
		{"T4 object without a colon in a Text", `{"admin_state":{"a" 1}}`, new(Generator)},
		{"T4 the first fuzz crasher", `{"":[""""]}`, new(map[string]Epoch)},
		{"T4 garbage after a NUL byte", "{\"production\":[]}\x00{\"production\":[{\"wNow\":1}]}", new(Production)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Decode(okResponse(tt.body), tt.v)
			var be *BodyError
			require.ErrorAs(t, err, &be)
			require.Contains(t, be.Reason, "bad JSON")
			require.True(t, reflect.ValueOf(tt.v).Elem().IsZero(), "the target is left untouched")
		})
	}
}

// TestScalarsRejectNonJSONT4: a decoder may hand the custom scalars any
// bytes; NaN, infinities and Go-only number forms are not JSON and must not
// become values (a NaN would stop Telegraf's writer).
func TestScalarsRejectNonJSONT4(t *testing.T) {
	for _, in := range []string{"NaN", "Inf", "-Infinity", "0x10", "1_000", "+1", ".5", "1e", "01", "", "nul", `"\x"`, "[1 2]"} {
		t.Run("T4 "+in, func(t *testing.T) {
			for _, u := range []json.Unmarshaler{new(Num), new(Epoch), new(Text), new(Flag), new(TextList)} {
				require.Error(t, u.UnmarshalJSON([]byte(in)), "%T", u)
				require.True(t, reflect.ValueOf(u).Elem().IsZero(), "%T holds %+v", u, u)
			}
		})
	}
}

// TestDecoderPanicIsAnError: goccy/go-json panicked on a body whose last
// string holds a bad escape (`{"":1108, "\a`, found by FuzzMetrics in a long
// run, not on its own: the decoder's pooled state matters). A decoder panic
// costs that endpoint, never the process (T4); a type that panics while
// decoding stands in for it here, as the real one cannot be replayed alone.
func TestDecoderPanicIsAnError(t *testing.T) {
	body := []byte("{\"\":1108,\n  \"\\a")
	require.NotPanics(t, func() {
		require.Error(t, Decode(Response{Path: PathEnsembleDryContacts, Status: 200, Body: body}, new(DryContacts)))
	})
	var err error
	require.NotPanics(t, func() { err = decodeStrict([]byte(`{"a":1}`), new(panicky)) })
	require.ErrorContains(t, err, "malformed JSON (the decoder failed on it: boom)")
}

// panicky panics when decoded.
type panicky struct{}

func (*panicky) UnmarshalJSON([]byte) error { panic("boom") }
