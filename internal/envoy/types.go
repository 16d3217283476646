package envoy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"reflect"
	"strconv"
	"time"
)

// Num is a JSON number that may be absent, null or of an unexpected type.
// Firmware varies field by field (case P14), so a field we cannot read is
// treated as absent instead of failing the whole endpoint.
type Num struct {
	V     float64
	Valid bool
}

// UnmarshalJSON keeps numbers (int or float) and ignores any other JSON
// value. A malformed value is an error (see checkValue).
func (n *Num) UnmarshalJSON(b []byte) error {
	*n = Num{}
	b = bytes.TrimSpace(b)
	if err := checkValue(b); err != nil {
		return err
	}
	if c := b[0]; c != '-' && (c < '0' || c > '9') {
		return nil // valid JSON, not a number
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return nil // beyond float64's range: unreadable, so absent
	}
	*n = Num{V: v, Valid: true}
	return nil
}

// Epoch is a Unix time in seconds from the gateway's clock. Zero, pre-2000 or
// non-numeric values (case C2: "Wed Dec 31 18:00:00 1969\n") mean unknown.
type Epoch int64

// UnmarshalJSON accepts integers and floats; any other JSON value is
// unknown (0), a malformed one an error. So is a time past the year 9999,
// which is no time, and whose conversion to int64 would depend on the CPU.
func (e *Epoch) UnmarshalJSON(b []byte) error {
	var n Num
	err := n.UnmarshalJSON(b)
	*e = n.epoch()
	return err
}

// maxEpoch is the year 10000.
const maxEpoch = 253402300800

// errMalformed is a value that is not JSON at all.
var errMalformed = errors.New("malformed JSON value")

// checkValue fails unless b is one well-formed JSON value, so that "01", "1."
// or "[1 2]" never pass as data (T4). encoding/json checks a whole body
// before it hands a value to an unmarshaler; this keeps the scalars strict
// whoever calls them. Numbers and literals are checked by hand: json.Valid
// on each would cost as much again as the decoding.
func checkValue(b []byte) error {
	if len(b) == 0 {
		return errMalformed
	}
	ok := false
	switch b[0] {
	case 'n':
		ok = string(b) == "null"
	case 't':
		ok = string(b) == "true"
	case 'f':
		ok = string(b) == "false"
	case '"', '{', '[':
		ok = json.Valid(b)
	default:
		ok = isNumber(b)
	}
	if !ok {
		return errMalformed
	}
	return nil
}

// isNumber reports whether b is a JSON number:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func isNumber(b []byte) bool {
	i, n := 0, len(b)
	if i < n && b[i] == '-' {
		i++
	}
	switch {
	case i < n && b[i] == '0':
		i++
	case i < n && b[i] >= '1' && b[i] <= '9':
		for i < n && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < n && b[i] == '.' {
		i++
		start := i
		for i < n && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	if i < n && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < n && (b[i] == '+' || b[i] == '-') {
			i++
		}
		start := i
		for i < n && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	return i == n
}

// minEpoch is 2000-01-01: gateways were not made before it, so earlier stamps
// are a clock that has not been set.
const minEpoch = 946684800

// Time is the UTC instant (case C4: the gateway sends UTC epochs) and false
// when the stamp is unknown.
func (e Epoch) Time() (time.Time, bool) {
	if e < minEpoch {
		return time.Time{}, false
	}
	return time.Unix(int64(e), 0).UTC(), true
}

// Production is /production.json?details=1.
type Production struct {
	Production  []Reading `json:"production"`
	Consumption []Reading `json:"consumption"`
	Storage     []Storage `json:"storage"`
}

// Reading is one entry of production.json: the inverters' own totals
// (type "inverters") or a CT (type "eim") with optional per-phase lines.
type Reading struct {
	Type            string `json:"type"`
	ActiveCount     Num    `json:"activeCount"`
	MeasurementType string `json:"measurementType"`
	ReadingTime     Epoch  `json:"readingTime"`
	Values
	Lines []Values `json:"lines"`
}

// Values are the measured quantities of a production.json entry or line.
type Values struct {
	WNow             Num `json:"wNow"`
	WhLifetime       Num `json:"whLifetime"`
	WhToday          Num `json:"whToday"`
	WhLastSevenDays  Num `json:"whLastSevenDays"`
	VarhLeadLifetime Num `json:"varhLeadLifetime"`
	VarhLagLifetime  Num `json:"varhLagLifetime"`
	VahLifetime      Num `json:"vahLifetime"`
	RmsCurrent       Num `json:"rmsCurrent"`
	RmsVoltage       Num `json:"rmsVoltage"`
	ReactPwr         Num `json:"reactPwr"`
	ApprntPwr        Num `json:"apprntPwr"`
	PwrFactor        Num `json:"pwrFactor"`
}

// Active reports whether the entry describes something that is there: an eim
// entry with activeCount 0 is a CT that is absent or disabled and holds
// garbage (case P4).
func (r Reading) Active() bool { return r.ActiveCount.Valid && r.ActiveCount.V > 0 }

// Storage is a production.json storage entry (AC Batteries).
type Storage struct {
	Type        string `json:"type"`
	ActiveCount Num    `json:"activeCount"`
	ReadingTime Epoch  `json:"readingTime"`
	WNow        Num    `json:"wNow"`
	WhNow       Num    `json:"whNow"`
	State       string `json:"state"`
	PercentFull Num    `json:"percentFull"`
}

// Meter is one CT's configuration from /ivp/meters.
type Meter struct {
	EID             int64    `json:"eid"`
	State           string   `json:"state"`
	MeasurementType string   `json:"measurementType"`
	PhaseMode       string   `json:"phaseMode"`
	PhaseCount      Num      `json:"phaseCount"`
	MeteringStatus  string   `json:"meteringStatus"`
	StatusFlags     []string `json:"statusFlags"`
}

// Enabled reports whether the CT is configured; readings of disabled meters
// are noise (case P11).
func (m Meter) Enabled() bool { return m.State == "enabled" }

// MeterReading is one entry of /ivp/meters/readings.
type MeterReading struct {
	EID       int64 `json:"eid"`
	Timestamp Epoch `json:"timestamp"`
	MeterValues
	Channels []MeterValues `json:"channels"`
}

// MeterValues are a CT's readings, in aggregate or per phase channel.
type MeterValues struct {
	ActEnergyDlvd   Num `json:"actEnergyDlvd"`
	ActEnergyRcvd   Num `json:"actEnergyRcvd"`
	ApparentEnergy  Num `json:"apparentEnergy"`
	ReactEnergyLagg Num `json:"reactEnergyLagg"`
	ReactEnergyLead Num `json:"reactEnergyLead"`
	ActivePower     Num `json:"activePower"`
	ApparentPower   Num `json:"apparentPower"`
	ReactivePower   Num `json:"reactivePower"`
	PwrFactor       Num `json:"pwrFactor"`
	Voltage         Num `json:"voltage"`
	Current         Num `json:"current"`
	Freq            Num `json:"freq"`
}

// PathSummary is the production summary, read on firmware before 7.
const PathSummary = "/api/v1/production"

// Summary is /api/v1/production: the gateway's own production totals.
type Summary struct {
	WattHoursToday     Num `json:"wattHoursToday"`
	WattHoursSevenDays Num `json:"wattHoursSevenDays"`
	WattHoursLifetime  Num `json:"wattHoursLifetime"`
	WattsNow           Num `json:"wattsNow"`
}

// Inverter is one entry of /api/v1/production/inverters.
type Inverter struct {
	SerialNumber    string `json:"serialNumber"`
	LastReportDate  Epoch  `json:"lastReportDate"`
	DevType         Num    `json:"devType"`
	LastReportWatts Num    `json:"lastReportWatts"`
	MaxReportWatts  Num    `json:"maxReportWatts"`
}

// Microinverter reports whether the entry is a PV microinverter: devType 1, or
// no devType at all on older firmware. devType 11 is an AC Battery.
func (i Inverter) Microinverter() bool { return !i.DevType.Valid || i.DevType.V == 1 }

// decodeStrict unmarshals a whole body into v (a pointer); a body that fails
// to parse, even part way, leaves v untouched: never half-filled values (T4).
func decodeStrict(b []byte, v any) (err error) {
	// A decoder panic is that body's error: a gateway's body must never end
	// the process. (goccy/go-json, used before, panicked and read past the
	// body on a short one ending in a bad escape.)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed JSON (the decoder failed on it: %v)", r)
		}
	}()
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return json.Unmarshal(b, v) // reports the misuse
	}
	// No JSON holds a NUL byte: said plainly.
	if bytes.IndexByte(b, 0) >= 0 {
		return errors.New("a NUL byte")
	}
	fresh := reflect.New(rv.Elem().Type())
	if err := json.Unmarshal(b, fresh.Interface()); err != nil {
		return err
	}
	rv.Elem().Set(fresh.Elem())
	return nil
}
