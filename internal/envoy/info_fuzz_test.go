package envoy

import (
	"math"
	"regexp"
	"strings"
	"testing"

	"github.com/telegraf-enphase/telegraf-enphase/internal/fuzzseed"
)

// FuzzParseInfo covers P17 and P18: whatever /info holds (the gateway's XML,
// an HTML page, garbage), ParseInfo does not panic, and what it accepts has
// a serial and a firmware string that ParseVersion reads the same way.
func FuzzParseInfo(f *testing.F) {
	for _, b := range fuzzseed.Bodies(f, "info", "info.xml") {
		f.Add(b)
	}
	for _, s := range []string{
		"",
		"<envoy_info/>",
		"<envoy_info><device><sn>1</sn><software>R3.9.36</software></device></envoy_info>",
		"<html><body>401 Authorization Required</body></html>",
		`{"serial":"122301234567"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		info, err := ParseInfo(body)
		if err != nil {
			if info != (Info{}) {
				t.Fatalf("error %v with a non-zero Info %+v", err, info)
			}
			return
		}
		if info.Serial == "" || info.Serial != strings.TrimSpace(info.Serial) {
			t.Fatalf("accepted serial %q", info.Serial)
		}
		v, err := ParseVersion(info.Firmware)
		if err != nil || v != info.Version {
			t.Fatalf("firmware %q: Info.Version %v, ParseVersion %v, %v", info.Firmware, info.Version, v, err)
		}
	})
}

// softwareRE finds the firmware string of a captured /info, to seed
// FuzzParseVersion with every firmware the captures hold.
var softwareRE = regexp.MustCompile(`<software>([^<]*)</software>`)

// FuzzParseVersion covers P18 (D8.3.5433, R4.10.35, "D3.18.10 (f0855e)"):
// no panic, no negative part, and an accepted version reads back the same
// from its own String form, with or without a leading letter.
func FuzzParseVersion(f *testing.F) {
	for _, b := range fuzzseed.Bodies(f, "info", "info.xml") {
		if m := softwareRE.FindSubmatch(b); m != nil {
			f.Add(string(m[1]))
		}
	}
	for _, s := range []string{"D8.3.5433", "R4.10.35", "D3.18.10 (f0855e)", "M4.2.33", " d7.6.175\n", "8", "D.8.2", "", "99999999999999999999.1.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVersion(s)
		if err != nil {
			if v != (Version{}) {
				t.Fatalf("error %v with a non-zero version %v", err, v)
			}
			return
		}
		if v.Major < 0 || v.Minor < 0 || v.Patch < 0 {
			t.Fatalf("%q: negative part in %v", s, v)
		}
		for _, again := range []string{v.String(), "D" + v.String()} {
			w, err := ParseVersion(again)
			if err != nil || w != v {
				t.Fatalf("%q read as %v, but its form %q reads as %v, %v", s, v, again, w, err)
			}
		}
		if !v.AtLeast(v.Major, v.Minor, v.Patch) {
			t.Fatalf("%v is not AtLeast itself", v)
		}
		if v.Patch < math.MaxInt && v.AtLeast(v.Major, v.Minor, v.Patch+1) {
			t.Fatalf("%v is AtLeast a later patch", v)
		}
		if (Info{Version: v}).Legacy() != (v.Major < 7) {
			t.Fatalf("%v: Legacy() is %v", v, !(v.Major < 7))
		}
	})
}
