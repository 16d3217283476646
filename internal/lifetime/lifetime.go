// Package lifetime keeps a gateway's lifetime energy counters monotonic, for
// years and across restarts: energy reports are differences of these
// series, so one step back or one false jump ruins every total that spans it.
//
// The gateway's counters fail in three known ways. Each microinverter counts
// its energy in a 32-bit joule register, so the inverters' total falls by
// 2^32 J (1,193,046.47 Wh) when one of them wraps (case V7); some firmware
// later puts the lost wrap back (case V13); and a counter can restart from
// near zero when a gateway or a CT is replaced or reconfigured (case V14).
// A Set turns each of these into a series that never decreases: a wrap adds
// 2^32 J to what follows, a repaired wrap takes it away again, and a reset
// continues from the last value written. The state that takes is small and
// is saved by the caller (Marshal) so that a restart changes nothing.
package lifetime

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// WrapWh is 2^32 J in Wh, the step of a microinverter's joule register.
const WrapWh = 4294967296.0 / 3600

// wrapSlack is how far a step may be from a whole number of wraps and still
// be one: the counter grows between the two samples (a 5-minute poll of a
// large site is far less than 2 % of a wrap).
const wrapSlack = 0.02 * WrapWh

// jitter is the largest fall treated as noise rather than a reset: the
// gateway's totals can step back by a little when it recomputes them. The
// series holds its last value until the raw counter is back above it.
func jitter(last float64) float64 { return math.Max(100, 0.005*last) }

// Counter is the state of one series.
type Counter struct {
	LastRaw  float64   `json:"last_raw"`  // the gateway's last reading
	Wraps    int64     `json:"wraps"`     // 2^32 J wraps added to it
	Base     float64   `json:"base"`      // added after resets, so the series goes on
	LastOut  float64   `json:"last_out"`  // the last value written
	LastSeen time.Time `json:"last_seen"` // for forgetting series that are gone
}

func (c *Counter) value(raw float64) float64 {
	return raw + float64(c.Wraps)*WrapWh + c.Base
}

// Kind says what Next did with a reading.
type Kind int

// What a reading can be.
const (
	Steady   Kind = iota // growth, or a first reading
	Wrapped              // fell by whole wraps: they are added
	Repaired             // rose by wraps added before: they are taken away
	Reset                // fell by anything else: the series goes on from its last value
	Held                 // fell by a little: the last value is written again
)

// Event reports a reading that was not plain growth, for the log.
type Event struct {
	Kind     Kind
	Raw      float64
	LastRaw  float64
	Wraps    int64 // wraps added (negative when taken away)
	Emitted  float64
	Previous float64
}

func (e Event) String() string {
	switch e.Kind {
	case Wrapped:
		return fmt.Sprintf("fell from %.3f to %.3f Wh, %d wrap(s) of a microinverter's 32-bit joule counter: adding %.0f Wh so the series stays monotonic",
			e.LastRaw, e.Raw, e.Wraps, float64(e.Wraps)*WrapWh)
	case Repaired:
		return fmt.Sprintf("rose from %.3f to %.3f Wh: the gateway put back %d wrap(s) it had lost, so the %.0f Wh added for them is taken away again",
			e.LastRaw, e.Raw, -e.Wraps, float64(-e.Wraps)*WrapWh)
	case Reset:
		return fmt.Sprintf("fell from %.3f to %.3f Wh: a counter reset on the gateway (replaced or reconfigured?); the series goes on from %.3f Wh",
			e.LastRaw, e.Raw, e.Emitted)
	case Held:
		return fmt.Sprintf("stepped back from %.3f to %.3f Wh: %.3f Wh is written until it is passed again", e.LastRaw, e.Raw, e.Emitted)
	}
	return "steady"
}

// Set is the counters of one gateway, by series key. It is not safe for
// concurrent use: a gateway's gathers never overlap.
type Set struct {
	counters map[string]*Counter
	changed  bool
}

// New returns an empty Set.
func New() *Set { return &Set{counters: map[string]*Counter{}} }

// Next returns the value to write for a raw reading of the series key, and
// what it made of the reading.
func (s *Set) Next(key string, raw float64, now time.Time) (float64, Event) {
	return s.NextKey([]byte(key), raw, now)
}

// NextKey is Next for a key in the caller's buffer, which it copies only for
// a new series: a gather looks up its lifetime series every time.
func (s *Set) NextKey(key []byte, raw float64, now time.Time) (float64, Event) {
	if !finite(raw) {
		// Not a reading: passed back untouched (it is never written) and
		// kept out of the state, which must stay a number.
		return raw, Event{Kind: Steady, Raw: raw}
	}
	c, ok := s.counters[string(key)]
	if !ok {
		if len(s.counters) >= maxSeries {
			s.evictStalest()
		}
		c = &Counter{LastRaw: raw, LastOut: raw, LastSeen: now}
		s.counters[string(key)] = c
		s.changed = true
		return raw, Event{Kind: Steady, Raw: raw, LastRaw: raw, Emitted: raw}
	}
	ev := Event{Kind: Steady, Raw: raw, LastRaw: c.LastRaw, Previous: c.LastOut}
	switch step := raw - c.LastRaw; {
	case step < 0:
		if k := wholeWraps(-step); k > 0 {
			c.Wraps += k
			ev.Kind, ev.Wraps = Wrapped, k
		} else if c.value(raw) < c.LastOut-jitter(c.LastOut) {
			c.Wraps = 0 // a new counter: earlier wraps no longer apply
			c.Base = c.LastOut - raw
			ev.Kind = Reset
		}
	case step > 0:
		if k := wholeWraps(step); k > 0 && k <= c.Wraps {
			c.Wraps -= k
			ev.Kind, ev.Wraps = Repaired, -k
		}
	}
	out := c.value(raw)
	if out < c.LastOut {
		out = c.LastOut
		if ev.Kind == Steady {
			ev.Kind = Held
		}
	}
	if raw != c.LastRaw || out != c.LastOut || ev.Kind != Steady {
		s.changed = true
	}
	c.LastRaw, c.LastOut, c.LastSeen = raw, out, now
	ev.Emitted = out
	return out, ev
}

// wholeWraps returns k when step is k wraps less at most the slack of
// growth, and 0 otherwise.
func wholeWraps(step float64) int64 {
	k := math.Round(step / WrapWh)
	if k < 1 || k > 1e6 {
		return 0
	}
	if d := k*WrapWh - step; d < -wrapSlack || d > wrapSlack {
		return 0
	}
	return int64(k)
}

// Anchor uses a reference the gateway keeps in 64 bits (its own lifetime
// production) to count the wraps a 32-bit series has had before this
// process first saw it: with no saved state, the series would otherwise
// start short by a whole number of wraps. It only ever adds wraps, and only
// when the difference is whole wraps; it reports whether it changed the
// series, and must come before Next for the same reading.
func (s *Set) Anchor(key string, raw, reference float64, now time.Time) bool {
	if reference <= raw || math.IsNaN(reference) || math.IsInf(reference, 0) {
		return false
	}
	k := wholeWraps(reference - raw)
	c, ok := s.counters[key]
	if !ok {
		if k == 0 {
			return false
		}
		c = &Counter{LastRaw: raw, LastSeen: now}
		s.counters[key] = c
	}
	if k <= c.Wraps || c.Base != 0 {
		return false
	}
	c.Wraps = k
	if v := c.value(raw); v > c.LastOut {
		c.LastOut = v
	}
	s.changed = true
	return true
}

// Forget drops the series not seen since before, so that a gateway which
// invents new devices cannot grow the set without bound.
func (s *Set) Forget(before time.Time) int {
	n := 0
	for k, c := range s.counters {
		if c.LastSeen.Before(before) {
			delete(s.counters, k)
			n++
		}
	}
	if n > 0 {
		s.changed = true
	}
	return n
}

// evictStalest drops the series seen longest ago, so that a gateway which
// invents devices cannot grow the set (or the state file, which Unmarshal
// would then refuse) past maxSeries.
func (s *Set) evictStalest() {
	var stalest string
	var at time.Time
	for k, c := range s.counters {
		if stalest == "" || c.LastSeen.Before(at) {
			stalest, at = k, c.LastSeen
		}
	}
	delete(s.counters, stalest)
	s.changed = true
}

// Len is the number of series tracked.
func (s *Set) Len() int { return len(s.counters) }

// Changed reports whether the state moved since the last Marshal.
func (s *Set) Changed() bool { return s.changed }

// fileVersion is the format of Marshal's output.
const fileVersion = 1

type file struct {
	Version  int                 `json:"version"`
	Counters map[string]*Counter `json:"counters"`
}

// Marshal returns the state to save, and marks it saved.
func (s *Set) Marshal() ([]byte, error) {
	// encoding/json writes map keys sorted, so equal states are equal files.
	b, err := json.MarshalIndent(file{Version: fileVersion, Counters: s.counters}, "", " ")
	if err != nil {
		return nil, err
	}
	s.changed = false
	return append(b, '\n'), nil
}

// maxSeries bounds what a state file may hold: a gateway has at most a few
// hundred devices, each with a few counters.
const maxSeries = 20000

// Unmarshal restores a saved state. A state it cannot trust is an error,
// and the caller starts afresh: that costs the correction, never data.
func Unmarshal(b []byte) (*Set, error) {
	var f file
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("not a counter state: %w", err)
	}
	if f.Version != fileVersion {
		return nil, fmt.Errorf("counter state version %d, want %d", f.Version, fileVersion)
	}
	if len(f.Counters) > maxSeries {
		return nil, fmt.Errorf("counter state holds %d series, more than %d", len(f.Counters), maxSeries)
	}
	s := New()
	for k, c := range f.Counters {
		if c == nil || !finite(c.LastRaw, c.Base, c.LastOut) || c.Wraps < 0 || c.Wraps > 1e6 {
			return nil, fmt.Errorf("counter state: series %q is not valid", k)
		}
		s.counters[k] = c
	}
	return s, nil
}

func finite(vs ...float64) bool {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}
