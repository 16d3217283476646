package envoy

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
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

// Limits of /info's XML (case R4): the real one is 2.4 KB, 3 elements deep,
// with about 60 elements. Nested tags cost memory in the parser whatever the
// body's size, so depth and count are checked before decoding.
const (
	maxInfoDepth    = 16
	maxInfoElements = 2000
	// maxSerial: a gateway serial is 12 digits (case R15).
	maxSerial = 64
)

// notXMLError is an /info body that is no gateway's XML: an HTML page, some
// other device's XML.
type notXMLError struct{ what string }

func (e *notXMLError) Error() string {
	return fmt.Sprintf("/info is %s: is the url pointing at an Envoy?", e.what)
}

// ParseInfo reads the XML body of /info.
func ParseInfo(b []byte) (Info, error) {
	if err := checkInfoShape(b); err != nil {
		return Info{}, err
	}
	var x infoXML
	if err := xml.Unmarshal(b, &x); err != nil {
		return Info{}, &notXMLError{what: "not the gateway's XML (" + Quote(err.Error()) + ")"}
	}
	sn := strings.TrimSpace(x.Device.SN)
	if sn == "" {
		return Info{}, &notXMLError{what: "XML with no serial number (<device><sn>)"}
	}
	if err := checkSerial(sn); err != nil {
		return Info{}, err
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
		return Version{}, fmt.Errorf("firmware version %s is not of the form D8.2.4345", Quote(s))
	}
	var v Version
	for i, dst := range []*int{&v.Major, &v.Minor, &v.Patch} {
		if m[i+1] == "" {
			continue
		}
		n, err := strconv.Atoi(m[i+1])
		if err != nil {
			return Version{}, fmt.Errorf("firmware version %s: a number out of range", Quote(s))
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

// checkInfoShape refuses XML nested deeper or holding more elements than any
// /info, token by token, before anything is built of it (case R4).
func checkInfoShape(b []byte) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	depth, elements := 0, 0
	for {
		tok, err := d.RawToken()
		if err != nil {
			// EOF, or a syntax error that Unmarshal reports in its words.
			return nil
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
			elements++
			switch {
			case depth > maxInfoDepth:
				return &notXMLError{what: fmt.Sprintf("XML nested more than %d deep", maxInfoDepth)}
			case elements > maxInfoElements:
				return &notXMLError{what: fmt.Sprintf("XML of more than %d elements", maxInfoElements)}
			}
		case xml.EndElement:
			depth--
		}
	}
}

// checkSerial refuses a serial no gateway has: absurdly long, or holding
// control characters or spaces, which would end up in every series' tag and
// in file names (case R15).
func checkSerial(sn string) error {
	if len(sn) > maxSerial {
		return &notXMLError{what: fmt.Sprintf("XML with a serial number of %d bytes (a gateway's has 12 digits)", len(sn))}
	}
	for _, r := range sn {
		if r < 0x21 || r == 0x7f || !unicode.IsPrint(r) {
			return &notXMLError{what: "XML with a serial number holding control characters or spaces: " + Quote(sn)}
		}
	}
	return nil
}
