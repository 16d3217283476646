package envoysim

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A Scenario is a programme of faults, by path and by time, that the
// simulator plays against its client: what real gateways and Enphase's cloud
// do to their users (docs/field-cases.md). Times are on the simulator's
// clock (Options.Now), so with a fast or manual clock a week of faults
// passes in seconds.
//
// On the wire (a JSON file, or --fault flags) a scenario reads:
//
//	{"timezone": "Europe/Paris",
//	 "faults": [
//	   {"kind": "hang", "path": "/ivp/pdm/device_data", "daily": "23:00", "for": "3m"},
//	   {"kind": "reboot", "at": "30h", "for": "4m"},
//	   {"kind": "session_expiry", "every": "45m"},
//	   {"kind": "cloud_login", "mode": "locked", "at": "50h", "for": "40m"}]}
type Scenario struct {
	// Timezone is the gateway's local time, for daily windows (the nightly
	// stall is at 23:00 there). Default UTC.
	Timezone string
	// Start is the time "at" offsets count from; zero means when the
	// simulator is created.
	Start  time.Time
	Faults []Fault

	loc *time.Location
}

// Fault kinds. Window kinds act on requests while in force; instant kinds
// (session_expiry, revoke) act once per occurrence.
const (
	FaultLatency       = "latency"        // answer Delay later (real time), still within the timeout
	FaultHang          = "hang"           // answer only after Delay; default: when the client gives up
	FaultStatus        = "status"         // Status (default 503) with the gateway's HTML error page
	FaultUnauthorized  = "unauthorized"   // 401 with the gateway's HTML page, whatever the token
	FaultHTML          = "html"           // 200 with an HTML login page instead of JSON
	FaultEmpty         = "empty"          // 200 with an empty body
	FaultTruncated     = "truncated"      // the captured body cut in half (a complete HTTP answer)
	FaultReset         = "reset"          // the connection reset without an answer
	FaultReboot        = "reboot"         // every connection reset while in force; sessions gone after
	FaultFirmware      = "firmware"       // /info shows Firmware and the Remove paths answer 404
	FaultClock         = "clock"          // the gateway's clock is off by Offset in its bodies
	FaultSessionExpiry = "session_expiry" // instant: every sessionId ends
	FaultRevoke        = "revoke"         // instant: every token minted so far is refused
	FaultCloudLogin    = "cloud_login"    // Enlighten's login answers Mode
	FaultCloudTokens   = "cloud_tokens"   // Entrez's /tokens answers Mode
)

var faultKinds = []string{FaultLatency, FaultHang, FaultStatus, FaultUnauthorized, FaultHTML, FaultEmpty,
	FaultTruncated, FaultReset, FaultReboot, FaultFirmware, FaultClock, FaultSessionExpiry, FaultRevoke,
	FaultCloudLogin, FaultCloudTokens}

// Fault is one entry of a scenario. Its time is one of: At (once, or every
// Every from then on) or Daily (each day at that local time). For is how
// long each occurrence lasts; instant kinds have none, and a fault that
// happens once without one stays in force for good (a firmware update).
type Fault struct {
	Kind string
	// Path limits the fault to one gateway path ("/ivp/pdm/device_data"), or
	// to a prefix with a trailing "*" ("/ivp/ensemble/*"); "" or "*" is every
	// gateway path. Cloud kinds ignore it.
	Path  string
	At    time.Duration // from Scenario.Start
	Every time.Duration
	Daily string // "23:00", gateway local time
	For   time.Duration

	Delay    time.Duration // latency, hang: real time
	Status   int           // status: default 503
	Firmware string        // firmware: the <software> /info then shows, e.g. "D8.3.5433"
	Remove   []string      // firmware: paths the new firmware lacks (404)
	Offset   time.Duration // clock: added to every timestamp the gateway serves
	// Mode: cloud_login locked (200 HTML login page), throttled (429), down
	// (503), mfa, bad-credentials; cloud_tokens down (503), forbidden (403).
	Mode string

	dailyAt time.Duration // Daily as time since local midnight
}

// faultWire is a Fault on the wire, durations as Go duration strings.
type faultWire struct {
	Kind     string   `json:"kind"`
	Path     string   `json:"path,omitempty"`
	At       string   `json:"at,omitempty"`
	Every    string   `json:"every,omitempty"`
	Daily    string   `json:"daily,omitempty"`
	For      string   `json:"for,omitempty"`
	Delay    string   `json:"delay,omitempty"`
	Status   int      `json:"status,omitempty"`
	Firmware string   `json:"firmware,omitempty"`
	Remove   []string `json:"remove,omitempty"`
	Offset   string   `json:"offset,omitempty"`
	Mode     string   `json:"mode,omitempty"`
}

type scenarioWire struct {
	Timezone string      `json:"timezone,omitempty"`
	Start    string      `json:"start,omitempty"`
	Faults   []faultWire `json:"faults"`
}

// ParseScenario reads a scenario from JSON, refusing unknown keys so that a
// typo fails loudly instead of quietly injecting nothing.
func ParseScenario(data []byte) (*Scenario, error) {
	var w scenarioWire
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	if dec.More() {
		return nil, errors.New("scenario: more than one JSON value")
	}
	sc := &Scenario{Timezone: w.Timezone}
	if w.Start != "" {
		t, err := time.Parse(time.RFC3339, w.Start)
		if err != nil {
			return nil, fmt.Errorf("scenario: start: want an RFC 3339 time such as 2026-03-23T00:00:00Z: %w", err)
		}
		sc.Start = t
	}
	for i, fw := range w.Faults {
		f, err := fw.fault()
		if err != nil {
			return nil, fmt.Errorf("scenario: fault %d (%s): %w", i+1, fw.Kind, err)
		}
		sc.Faults = append(sc.Faults, f)
	}
	if err := sc.validate(); err != nil {
		return nil, err
	}
	return sc, nil
}

//go:embed scenarios/*.json
var builtinScenarios embed.FS

// LoadScenario reads a scenario file, or a built-in one by name (see
// BuiltinScenarios) when no such file exists.
func LoadScenario(name string) (*Scenario, error) {
	data, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) && !strings.ContainsAny(name, `/\`) {
		data, err = builtinScenarios.ReadFile("scenarios/" + name + ".json")
		if err != nil {
			return nil, fmt.Errorf(
				"scenario %q: no such file, and no built-in scenario of that name (built in: %s)",
				name,
				strings.Join(BuiltinScenarios(), ", "),
			)
		}
	} else if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	sc, err := ParseScenario(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return sc, nil
}

// BuiltinScenarios lists the scenarios compiled into the simulator.
func BuiltinScenarios() []string {
	entries, _ := fs.ReadDir(builtinScenarios, "scenarios")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".json"))
	}
	return names
}

// ParseFault reads the --fault flag form of a fault: comma-separated
// key=value pairs with the JSON keys, remove paths separated by "|", e.g.
// "kind=hang,path=/ivp/pdm/device_data,daily=23:00,for=3m".
func ParseFault(spec string) (Fault, error) {
	// Through the JSON form, so both forms share one parser.
	m := map[string]any{}
	for _, kv := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return Fault{}, fmt.Errorf("fault %q: %q is not key=value", spec, kv)
		}
		switch k {
		case "status":
			n, err := strconv.Atoi(v)
			if err != nil {
				return Fault{}, fmt.Errorf("fault %q: status %q is not a number", spec, v)
			}
			m[k] = n
		case "remove":
			m[k] = strings.Split(v, "|")
		default:
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return Fault{}, fmt.Errorf("fault %q: %w", spec, err)
	}
	var w faultWire
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return Fault{}, fmt.Errorf("fault %q: %w", spec, err)
	}
	f, err := w.fault()
	if err == nil {
		err = f.validate()
	}
	if err != nil {
		return Fault{}, fmt.Errorf("fault %q: %w", spec, err)
	}
	return f, nil
}

func (w faultWire) fault() (Fault, error) {
	f := Fault{Kind: w.Kind, Path: w.Path, Daily: w.Daily, Status: w.Status,
		Firmware: w.Firmware, Remove: w.Remove, Mode: w.Mode}
	for _, d := range []struct {
		name, v string
		to      *time.Duration
	}{{"at", w.At, &f.At}, {"every", w.Every, &f.Every}, {"for", w.For, &f.For},
		{"delay", w.Delay, &f.Delay}, {"offset", w.Offset, &f.Offset}} {
		if d.v == "" {
			continue
		}
		v, err := time.ParseDuration(d.v)
		if err != nil {
			return Fault{}, fmt.Errorf("%s: want a Go duration such as 90s or 26h: %w", d.name, err)
		}
		*d.to = v
	}
	return f, nil
}

func (f Fault) wire() faultWire {
	dur := func(d time.Duration) string {
		if d == 0 {
			return ""
		}
		return d.String()
	}
	return faultWire{Kind: f.Kind, Path: f.Path, At: dur(f.At), Every: dur(f.Every), Daily: f.Daily,
		For: dur(f.For), Delay: dur(f.Delay), Status: f.Status, Firmware: f.Firmware, Remove: f.Remove,
		Offset: dur(f.Offset), Mode: f.Mode}
}

// MarshalJSON writes the wire form.
func (f Fault) MarshalJSON() ([]byte, error) { return json.Marshal(f.wire()) }

// MarshalJSON writes the wire form.
func (sc *Scenario) MarshalJSON() ([]byte, error) {
	w := scenarioWire{Timezone: sc.Timezone, Faults: []faultWire{}}
	if !sc.Start.IsZero() {
		w.Start = sc.Start.Format(time.RFC3339)
	}
	for _, f := range sc.Faults {
		w.Faults = append(w.Faults, f.wire())
	}
	return json.Marshal(w)
}

// FaultKinds lists the kinds a Fault can have.
func FaultKinds() []string { return slices.Clone(faultKinds) }

// instant kinds act once per occurrence and have no duration.
func instant(kind string) bool { return kind == FaultSessionExpiry || kind == FaultRevoke }

// cloudKind faults act on the cloud endpoints, not the gateway's.
func cloudKind(kind string) bool { return kind == FaultCloudLogin || kind == FaultCloudTokens }

func (sc *Scenario) validate() error {
	loc := time.UTC
	if sc.Timezone != "" {
		var err error
		if loc, err = time.LoadLocation(sc.Timezone); err != nil {
			return fmt.Errorf("scenario: timezone: %w", err)
		}
	}
	sc.loc = loc
	for i := range sc.Faults {
		if err := sc.Faults[i].validate(); err != nil {
			return fmt.Errorf("scenario: fault %d (%s): %w", i+1, sc.Faults[i].Kind, err)
		}
	}
	return nil
}

func (f *Fault) validate() error {
	if !slices.Contains(faultKinds, f.Kind) {
		return fmt.Errorf("unknown kind %q (want one of %s)", f.Kind, strings.Join(faultKinds, ", "))
	}
	if f.At < 0 || f.Every < 0 || f.For < 0 || f.Delay < 0 {
		return errors.New("at, every, for and delay must not be negative")
	}
	if f.Path != "" && f.Path != "*" && !strings.HasPrefix(f.Path, "/") {
		return fmt.Errorf("path %q: want a gateway path such as /production.json, a prefix ending in *, or * for all", f.Path)
	}
	if f.Daily != "" {
		if f.At != 0 || f.Every != 0 {
			return errors.New("daily cannot be combined with at or every")
		}
		t, err := time.Parse("15:04", f.Daily)
		if err != nil {
			return fmt.Errorf("daily %q: want the local time as HH:MM", f.Daily)
		}
		f.dailyAt = time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute
	}
	period := f.Every
	if f.Daily != "" {
		period = 24 * time.Hour
	}
	switch {
	case instant(f.Kind) && f.For != 0:
		return errors.New("an instant fault has no for")
	case !instant(f.Kind) && f.For == 0 && period > 0:
		return errors.New("for is required with every or daily: how long each occurrence lasts")
	case period > 0 && f.For >= period:
		return fmt.Errorf("for (%s) must be shorter than the period (%s)", f.For, period)
	}
	switch f.Kind {
	case FaultLatency:
		if f.Delay <= 0 {
			return errors.New("delay is required: the added latency")
		}
	case FaultStatus:
		if f.Status == 0 {
			f.Status = 503
		}
		if f.Status < 400 || f.Status > 599 {
			return fmt.Errorf("status %d: want an error status (400 to 599)", f.Status)
		}
	case FaultFirmware:
		if f.Firmware == "" && len(f.Remove) == 0 {
			return errors.New("firmware or remove is required")
		}
	case FaultClock:
		if f.Offset == 0 {
			return errors.New("offset is required: how far the gateway's clock is off")
		}
	case FaultCloudLogin:
		if !slices.Contains([]string{"locked", "throttled", "down", "mfa", "bad-credentials"}, f.Mode) {
			return fmt.Errorf("mode %q: want locked, throttled, down, mfa or bad-credentials", f.Mode)
		}
	case FaultCloudTokens:
		if !slices.Contains([]string{"down", "forbidden"}, f.Mode) {
			return fmt.Errorf("mode %q: want down or forbidden", f.Mode)
		}
	}
	return nil
}

// lastStart is the start of f's latest occurrence at or before t.
func (sc *Scenario) lastStart(f *Fault, t time.Time) (time.Time, bool) {
	if f.Daily != "" {
		lt := t.In(sc.loc)
		y, m, d := lt.Date()
		// Wall-clock time, so the window keeps its local hour across DST.
		hh, mm := int(f.dailyAt/time.Hour), int(f.dailyAt%time.Hour/time.Minute)
		st := time.Date(y, m, d, hh, mm, 0, 0, sc.loc)
		if st.After(t) {
			st = time.Date(y, m, d-1, hh, mm, 0, 0, sc.loc)
		}
		return st, true
	}
	first := sc.Start.Add(f.At)
	if t.Before(first) {
		return time.Time{}, false
	}
	if f.Every == 0 {
		return first, true
	}
	return first.Add(t.Sub(first) / f.Every * f.Every), true
}

// Active reports whether a window fault is in force at t.
func (sc *Scenario) Active(f *Fault, t time.Time) bool {
	st, ok := sc.lastStart(f, t)
	if !ok || instant(f.Kind) {
		return false
	}
	return f.For == 0 || t.Before(st.Add(f.For))
}

// fired reports whether an occurrence of f started in (after, t]: instant
// faults act then, and a reboot ends the sessions.
func (sc *Scenario) fired(f *Fault, after, t time.Time) bool {
	st, ok := sc.lastStart(f, t)
	return ok && st.After(after)
}

// Matches reports whether f acts on a gateway request for path (without query).
func (f *Fault) Matches(path string) bool {
	if cloudKind(f.Kind) {
		return false
	}
	if f.Path == "" || f.Path == "*" {
		return true
	}
	if prefix, ok := strings.CutSuffix(f.Path, "*"); ok {
		return strings.HasPrefix(path, prefix)
	}
	return path == f.Path
}
