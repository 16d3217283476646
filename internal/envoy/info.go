package envoy

import (
	"encoding/xml"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Info is what /info tells without authentication.
type Info struct {
	Serial     string
	Firmware   string // as reported, e.g. "D8.2.4345"
	Version    Version
	PartNumber string
	IMeter     bool // metered hardware; says nothing about CTs being installed
	WebTokens  bool // the gateway wants a JWT (firmware 7+)
	Time       Epoch
}

type infoXML struct {
	Time   Epoch `xml:"time"`
	Device struct {
		SN       string `xml:"sn"`
		PN       string `xml:"pn"`
		Software string `xml:"software"`
		IMeter   string `xml:"imeter"`
	} `xml:"device"`
	WebTokens string `xml:"web-tokens"`
}

// ParseInfo reads the XML body of /info.
func ParseInfo(b []byte) (Info, error) {
	var x infoXML
	if err := xml.Unmarshal(b, &x); err != nil {
		return Info{}, fmt.Errorf("/info is not the gateway's XML (%v): is the url pointing at an Envoy?", err)
	}
	sn := strings.TrimSpace(x.Device.SN)
	if sn == "" {
		return Info{}, fmt.Errorf("/info has no serial number (<device><sn>): is the url pointing at an Envoy?")
	}
	fw := strings.TrimSpace(x.Device.Software)
	v, err := ParseVersion(fw)
	if err != nil {
		return Info{}, err
	}
	return Info{
		Serial:     sn,
		Firmware:   fw,
		Version:    v,
		PartNumber: strings.TrimSpace(x.Device.PN),
		IMeter:     strings.TrimSpace(x.Device.IMeter) == "true",
		WebTokens:  strings.TrimSpace(x.WebTokens) == "true",
		Time:       x.Time,
	}, nil
}

// Version is a parsed firmware version.
type Version struct{ Major, Minor, Patch int }

// Firmware strings look like "D8.3.5433", "R4.10.35", "M4.2.33" or
// "D3.18.10 (f0855e)" (case P18): a letter, numbers, an optional build hash.
var versionRE = regexp.MustCompile(`^[A-Za-z]*\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?`)

// ParseVersion parses a firmware string.
func ParseVersion(s string) (Version, error) {
	m := versionRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Version{}, fmt.Errorf("firmware version %q is not of the form D8.2.4345", s)
	}
	var v Version
	for i, dst := range []*int{&v.Major, &v.Minor, &v.Patch} {
		if m[i+1] == "" {
			continue
		}
		n, err := strconv.Atoi(m[i+1])
		if err != nil {
			return Version{}, fmt.Errorf("firmware version %q: %w", s, err)
		}
		*dst = n
	}
	return v, nil
}

// AtLeast reports whether v >= major.minor.patch.
func (v Version) AtLeast(major, minor, patch int) bool {
	if v.Major != major {
		return v.Major > major
	}
	if v.Minor != minor {
		return v.Minor > minor
	}
	return v.Patch >= patch
}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }
