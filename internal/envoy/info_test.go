package envoy

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestParseVersionP18 covers P18: firmware strings are a leading letter (or
// none), numbers, and an optional build hash.
func TestParseVersionP18(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Version
		wantStr string
	}{
		{name: "P18 D8.3.5433", in: "D8.3.5433", want: Version{8, 3, 5433}, wantStr: "8.3.5433"},
		{name: "P18 R4.10.35 two-digit minor", in: "R4.10.35", want: Version{4, 10, 35}, wantStr: "4.10.35"},
		{name: "P18 M4.2.33", in: "M4.2.33", want: Version{4, 2, 33}, wantStr: "4.2.33"},
		{name: "P18 D3.18.10 with build hash", in: "D3.18.10 (f0855e)", want: Version{3, 18, 10}, wantStr: "3.18.10"},
		{name: "P18 D7.6.175", in: "D7.6.175", want: Version{7, 6, 175}, wantStr: "7.6.175"},
		{name: "P18 no leading letter", in: "8.2.4345", want: Version{8, 2, 4345}, wantStr: "8.2.4345"},
		{name: "P18 R3.9.36", in: "R3.9.36", want: Version{3, 9, 36}, wantStr: "3.9.36"},
		{name: "P18 surrounding whitespace", in: "  D8.2.4345\n", want: Version{8, 2, 4345}, wantStr: "8.2.4345"},
		{name: "P18 lowercase letter", in: "d5.0.62", want: Version{5, 0, 62}, wantStr: "5.0.62"},
		{name: "P18 major and minor only", in: "D8.2", want: Version{8, 2, 0}, wantStr: "8.2.0"},
		{name: "P18 major only", in: "D8", want: Version{8, 0, 0}, wantStr: "8.0.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := ParseVersion(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.want, v)
			require.Equal(t, tt.wantStr, v.String())
		})
	}
}

func TestParseVersionBadP18(t *testing.T) {
	for _, in := range []string{"", "   ", "firmware", "D.8.2", "(f0855e)", "-8.2.1", "unknown D8.2.4345"} {
		t.Run(fmt.Sprintf("P18 bad %q", in), func(t *testing.T) {
			v, err := ParseVersion(in)
			require.Error(t, err)
			require.Equal(t, Version{}, v)
			require.Contains(t, err.Error(), fmt.Sprintf("firmware version %q", in))
			require.Contains(t, err.Error(), "D8.2.4345", "the message shows the expected form")
		})
	}
}

func TestVersionAtLeastP18(t *testing.T) {
	v := Version{8, 2, 4345}
	tests := []struct {
		name                string
		major, minor, patch int
		want                bool
	}{
		{"P18 equal", 8, 2, 4345, true},
		{"P18 patch one above", 8, 2, 4346, false},
		{"P18 patch one below", 8, 2, 4344, true},
		{"P18 minor above", 8, 3, 0, false},
		{"P18 minor below with bigger patch", 8, 1, 9999, true},
		{"P18 major below with bigger minor and patch", 7, 99, 99999, true},
		{"P18 major above", 9, 0, 0, false},
		{"P18 zero", 0, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, v.AtLeast(tt.major, tt.minor, tt.patch))
		})
	}
	// Minor 10 sorts after minor 9 numerically, not as text.
	require.True(t, Version{4, 10, 35}.AtLeast(4, 9, 0), "P18 R4.10.35 >= 4.9.0")
	require.False(t, Version{4, 9, 99}.AtLeast(4, 10, 0), "P18 4.9.99 < 4.10.0")
	require.False(t, Version{}.AtLeast(0, 0, 1))
}

func infoBody(device, extra string) []byte {
	return []byte(`<?xml version='1.0' encoding='UTF-8'?>
<envoy_info>
  <time>1693745127</time>
  <device>` + device + `</device>` + extra + `
  <package name='app'><pn>500-00002-r01</pn><version>07.06.175</version><build>f79c8d</build></package>
</envoy_info>`)
}

func TestParseInfo(t *testing.T) {
	const dev = `<sn>122238082763</sn><pn>800-00654-r08</pn><software>D7.6.175</software><euaid>4c8675</euaid>`
	tests := []struct {
		name string
		body []byte
		want Info
	}{
		{
			name: "P18 metered firmware 7 with web tokens",
			body: infoBody(dev+`<imeter>true</imeter>`, `<web-tokens>true</web-tokens>`),
			want: Info{Serial: "122238082763", Firmware: "D7.6.175", Version: Version{7, 6, 175},
				PartNumber: "800-00654-r08", IMeter: true, WebTokens: true, Time: 1693745127},
		},
		{
			name: "P18 standard gateway imeter false",
			body: infoBody(`<sn>122238082763</sn><pn>800-00656-r06</pn><software>D8.3.5433</software><imeter>false</imeter>`, `<web-tokens>true</web-tokens>`),
			want: Info{Serial: "122238082763", Firmware: "D8.3.5433", Version: Version{8, 3, 5433},
				PartNumber: "800-00656-r06", IMeter: false, WebTokens: true, Time: 1693745127},
		},
		{
			name: "P18 legacy firmware without imeter nor web-tokens",
			body: infoBody(`<sn>121212121212</sn><pn>800-00069-r05</pn><software>R3.9.36</software>`, ""),
			want: Info{Serial: "121212121212", Firmware: "R3.9.36", Version: Version{3, 9, 36},
				PartNumber: "800-00069-r05", Time: 1693745127},
		},
		{
			name: "P18 whitespace around values and build hash",
			body: infoBody(
				"\n<sn> 122238082763 </sn>\n<pn>\n800-00654-r08\n</pn><software> D3.18.10 (f0855e) </software><imeter> true </imeter>",
				"<web-tokens> false </web-tokens>",
			),
			want: Info{Serial: "122238082763", Firmware: "D3.18.10 (f0855e)", Version: Version{3, 18, 10},
				PartNumber: "800-00654-r08", IMeter: true, WebTokens: false, Time: 1693745127},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseInfo(tt.body)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseInfoRejects(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantErr []string
	}{
		{
			name:    "T2 HTML page",
			body:    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Envoy</title></head><body>Login<br></body></html>",
			wantErr: []string{"not the gateway's XML", "pointing at an Envoy"},
		},
		{name: "T3 empty body", body: "", wantErr: []string{"not the gateway's XML"}},
		{name: "T2 JSON body", body: `{"error":"404 - Not Found"}`, wantErr: []string{"not the gateway's XML"}},
		{name: "T4 truncated XML", body: `<envoy_info><device><sn>122238082763</sn>`, wantErr: []string{"not the gateway's XML"}},
		{
			name:    "P18 XML without serial",
			body:    string(infoBody(`<pn>800-00654-r08</pn><software>D7.6.175</software>`, "")),
			wantErr: []string{"no serial number", "<sn>"},
		},
		{
			name:    "P18 XML with blank serial",
			body:    string(infoBody(`<sn>  </sn><software>D7.6.175</software>`, "")),
			wantErr: []string{"no serial number"},
		},
		{
			name:    "P18 XML with unparsable firmware",
			body:    string(infoBody(`<sn>122238082763</sn><software>unknown</software>`, "")),
			wantErr: []string{`firmware version "unknown"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseInfo([]byte(tt.body))
			require.Error(t, err)
			require.Equal(t, Info{}, got)
			for _, s := range tt.wantErr {
				require.Contains(t, err.Error(), s)
			}
		})
	}
}

// TestParseVersionOverflow covers P18: a number too large is an error, not a silent clamp.
func TestParseVersionOverflow(t *testing.T) {
	_, err := ParseVersion("D99999999999999999999.2.1")
	require.Error(t, err)
}

// TestParseInfoShapeR4R15: nested tags (R4: 15 MiB of them took 571 MB) and
// absurd serials (R15: a tag on every series) are refused before anything is
// built of them.
func TestParseInfoShapeR4R15(t *testing.T) {
	good := `<envoy_info><device><sn>122301234567</sn><software>D8.2.4345</software></device></envoy_info>`
	tests := []struct {
		name, body, want string
	}{
		{"R4 nested 1 MiB deep", strings.Repeat("<a>", 1<<20), "XML nested more than 16 deep"},
		{"R4 nested inside device",
			`<envoy_info><device><sn>1</sn>` + strings.Repeat("<x>", 20) + strings.Repeat("</x>", 20) + `</device></envoy_info>`,
			"nested more than 16 deep"},
		{"R4 a flood of elements", `<envoy_info>` + strings.Repeat("<x/>", 5000) + `</envoy_info>`, "more than 2000 elements"},
		{"R15 a serial of 100 KiB", strings.Replace(good, "122301234567", strings.Repeat("1", 100<<10), 1), "a serial number of 102400 bytes"},
		{"R15 a serial with a newline", strings.Replace(good, "122301234567", "1223\n01234567", 1), `control characters or spaces: "1223\n01234567"`},
		{"R15 a serial with a space", strings.Replace(good, "122301234567", "1223 01234567", 1), "control characters or spaces"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseInfo([]byte(tt.body))
			require.ErrorContains(t, err, tt.want)
			require.Less(t, len(err.Error()), 600)
		})
	}
	info, err := ParseInfo([]byte(good))
	require.NoError(t, err)
	require.Equal(t, "122301234567", info.Serial)
}

// TestDigestRefusalWordingIssue14: a 401 with a digest challenge (firmware
// before 7) names legacy_user / legacy_password, never "this token".
func TestDigestRefusalWordingIssue14(t *testing.T) {
	h := http.Header{}
	h.Set("WWW-Authenticate", `Digest realm="enphaseenergy.com", qop="auth", nonce="abc"`)
	err := Decode(Response{Path: "/ivp/meters", Status: 401, Header: h}, new([]Meter))
	require.EqualError(t, err, "/ivp/meters: 401, the gateway refused legacy_user / legacy_password for it "+
		"(firmware before 7 opens some endpoints to the installer user only)")
	err = Decode(Response{Path: "/ivp/meters", Status: 401, Header: http.Header{}}, new([]Meter))
	require.EqualError(t, err, "/ivp/meters: 401, not allowed for this token")
}
