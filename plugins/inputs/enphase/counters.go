package enphase

import (
	"errors"
	"io/fs"
	"strings"
	"time"

	"github.com/influxdata/telegraf"

	"github.com/telegraf-enphase/telegraf-enphase/internal/atomicfile"
	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
	"github.com/telegraf-enphase/telegraf-enphase/internal/lifetime"
	"github.com/telegraf-enphase/telegraf-enphase/internal/lineproto"
	"github.com/telegraf-enphase/telegraf-enphase/internal/smallfile"
)

// Lifetime counters users can trust: this file repairs the gateway's known
// counter glitches before they reach the database, and keeps every
// lifetime series monotonic across restarts (the state file).

// wrapWh is 2^32 J in Wh: each microinverter counts its energy in a 32-bit
// joule register, so the inverters' lifetime total in production.json drops
// by this much whenever one of them wraps (firmware 7, case V7).
const wrapWh = lifetime.WrapWh

// Saving the counters' state: often enough that a crash loses little (a
// wrap or reset not yet saved is seen again after the restart, from the
// saved raw value), rarely enough not to wear an SD card; and at Stop.
const (
	saveEvery   = 5 * time.Minute
	forgetAfter = 30 * 24 * time.Hour // a series not seen for this long is gone
)

// counters are a gateway's lifetime counters (internal/lifetime) and where
// their state is kept. The zero value keeps them in memory only.
type counters struct {
	set *lifetime.Set
	// path is the state file; "" (no token_file, config file or state_file)
	// keeps the state in memory only.
	path    string
	loaded  bool      // path has been read (or found missing or unreadable)
	savedAt time.Time // the last save attempt
	failing bool      // the last save failed: warned once until one succeeds
	// rootNoted: the note that root wrote the file was logged.
	rootNoted bool

	keyBuf []byte // counterAcc's series key, reused
}

// isLifetime says whether a field is a lifetime counter: every such field
// is named *_lifetime_* (energy_lifetime_wh, reactive_energy_lag_lifetime_varh...).
func isLifetime(field string) bool { return strings.Contains(field, "_lifetime_") }

// seriesKey names one series in the state: measurement, tags (sorted by
// key, as add sorts them), field. The state file keeps these keys across
// upgrades: their format must not change.
func seriesKey(name string, tags []lineproto.Tag, field string) string {
	return string(appendSeriesKey(nil, name, tags, field))
}

func appendSeriesKey(b []byte, name string, tags []lineproto.Tag, field string) []byte {
	b = append(b, name...)
	for _, t := range tags {
		b = append(b, ',')
		b = append(b, t.Key...)
		b = append(b, '=')
		b = append(b, t.Value...)
	}
	b = append(b, ' ')
	return append(b, field...)
}

// counterAcc is the one place every lifetime counter passes on its way out:
// add() hands each point to it, and each *_lifetime_* field becomes the
// monotonic series of internal/lifetime (wraps added, repaired wraps taken
// away, resets continued from the last value, small steps back held).
type counterAcc struct {
	telegraf.Accumulator
	p   *poller
	now time.Time
}

func (a counterAcc) AddLine(name string, tags []lineproto.Tag, f []lineproto.Field, t time.Time) {
	for i := range f {
		if f[i].Kind == lineproto.Float && isLifetime(f[i].Key) {
			// The key is built in a reused buffer: a steady gather
			// passes some twenty lifetime series here every time.
			c := &a.p.state.counters
			c.keyBuf = appendSeriesKey(c.keyBuf[:0], name, tags, f[i].Key)
			f[i].Float = a.p.monotonic(c.keyBuf, f[i].Float, a.now)
		}
	}
	emit(a.Accumulator, name, tags, f, t)
}

// monotonic returns the value to write for a raw lifetime reading, and
// logs what was not plain growth.
func (p *poller) monotonic(key []byte, raw float64, now time.Time) float64 {
	c := &p.state.counters
	if c.set == nil {
		c.set = lifetime.New()
	}
	out, ev := c.set.NextKey(key, raw, now)
	switch ev.Kind {
	case lifetime.Wrapped, lifetime.Repaired:
		p.log.Infof("%s: %s %s", p.name(), key, ev)
	case lifetime.Reset:
		p.log.Warnf("%s: %s %s", p.name(), key, ev)
	case lifetime.Held:
		p.log.Debugf("%s: %s %s", p.name(), key, ev)
	}
	// The added wraps are 2^32 J: no finer than the joule the raw value counts.
	return roundAs(out, raw)
}

// anchor counts the wraps a 32-bit series had before it was first seen,
// against a 64-bit reference the gateway keeps (its own lifetime
// production, /api/v1/production): a fresh state would start short by whole
// wraps (1 and 7 of them on captures 7.6.114 and 7.6.175).
func (p *poller) anchor(key string, raw, reference float64, now time.Time) {
	c := &p.state.counters
	if c.set == nil {
		c.set = lifetime.New()
	}
	if c.set.Anchor(key, raw, reference, now) {
		p.log.Infof("%s: %s is %.0f Wh short of the gateway's own lifetime production, whole wraps of a microinverter's 32-bit joule counter: added",
			p.name(), key, reference-raw)
	}
}

// loadCounters reads the state file of the gateway once, when its serial
// is known. A state that cannot be read costs the correction, never a
// gather: a warning, and the counters start afresh.
func (p *poller) loadCounters(serial string) {
	c := &p.state.counters
	if c.loaded {
		return
	}
	c.loaded = true
	if p.stateFile != nil {
		c.path = p.stateFile(serial)
	}
	if c.path == "" {
		return
	}
	b, err := smallfile.Read(c.path, maxStateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err == nil {
		var set *lifetime.Set
		if set, err = lifetime.Unmarshal(b); err == nil {
			c.set = set
			p.log.Debugf("%s: %d lifetime counters restored from %s", p.name(), set.Len(), c.path)
			return
		}
	}
	p.log.Warnf(
		"%s: state_file %s cannot be used (%v): lifetime counters start afresh "+
			"(wraps are found again from the gateway's own total where it has one); the file is replaced at the next save",
		p.name(),
		c.path,
		err,
	)
}

// maxStateFile bounds what is read of a state file: a few hundred devices'
// counters are some tens of KiB.
const maxStateFile = 8 << 20

// saveCounters writes the state when it changed, at most every saveEvery
// unless force (at Stop), forgetting series not seen for forgetAfter. A
// failure is a warning once until a save succeeds: it costs the correction
// across a restart, never a gather.
func (p *poller) saveCounters(now time.Time, force bool) {
	c := &p.state.counters
	if c.path == "" || c.set == nil || (!force && now.Sub(c.savedAt) < saveEvery) {
		return
	}
	c.savedAt = now
	if n := c.set.Forget(now.Add(-forgetAfter)); n > 0 {
		p.log.Infof("%s: forgot %d lifetime counter(s) not seen for %s", p.name(), n, forgetAfter)
	}
	if !c.set.Changed() {
		return
	}
	b, err := c.set.Marshal()
	if err == nil {
		// Root's ownership note is information here, once: the plugin
		// itself reads the file back, and a non-root owner's directory
		// gets the file (atomicfile).
		err = atomicfile.Write(c.path, b, atomicfile.Options{Warn: func(w string) {
			if !c.rootNoted {
				c.rootNoted = true
				p.log.Infof("%s", w)
			}
		}})
	}
	if err != nil {
		if !c.failing {
			p.log.Warnf(
				"%s: cannot save the lifetime counters to %s (%v): a restart would lose their wrap and reset corrections; "+
					"make the directory writable by Telegraf's user or set state_file",
				p.name(),
				c.path,
				err,
			)
		}
		c.failing = true
		return
	}
	if c.failing {
		p.log.Infof("%s: lifetime counters saved to %s again", p.name(), c.path)
	}
	c.failing = false
}

// repairTotalConsumption fixes firmware 8.3.5433, which overwrites the
// total-consumption entry with the net-consumption values (case V4): when
// both carry the same lifetime, total is rebuilt as net + production, per
// phase too, which is what earlier firmware reported, so the series has no
// step. It reports whether it repaired anything.
func repairTotalConsumption(p *envoy.Production) bool {
	var prod, total, net *envoy.Reading
	for i := range p.Production {
		r := &p.Production[i]
		if r.Type == "eim" && r.MeasurementType == "production" && r.Active() {
			prod = r
		}
	}
	for i := range p.Consumption {
		r := &p.Consumption[i]
		if r.Type != "eim" || !r.Active() {
			continue
		}
		switch r.MeasurementType {
		case "total-consumption":
			total = r
		case "net-consumption":
			net = r
		}
	}
	if prod == nil || total == nil || net == nil {
		return false
	}
	// Equal lifetimes cannot be real: production's lifetime is not 0.
	if !total.WhLifetime.Valid || !net.WhLifetime.Valid || total.WhLifetime.V != net.WhLifetime.V || !prod.WhLifetime.Valid || prod.WhLifetime.V == 0 {
		return false
	}
	total.Values = sumValues(net.Values, prod.Values)
	for i := range total.Lines {
		if i < len(net.Lines) && i < len(prod.Lines) {
			total.Lines[i] = sumValues(net.Lines[i], prod.Lines[i])
		}
	}
	return true
}

// sumValues is net + production for power and lifetime energy; the other
// quantities of the broken entry are not repairable and are dropped.
func sumValues(net, prod envoy.Values) envoy.Values {
	add := func(a, b envoy.Num) envoy.Num {
		if !a.Valid || !b.Valid {
			return envoy.Num{}
		}
		return envoy.Num{V: sumOf(a.V, b.V), Valid: true}
	}
	return envoy.Values{
		WNow:       add(net.WNow, prod.WNow),
		WhLifetime: add(net.WhLifetime, prod.WhLifetime),
		RmsVoltage: net.RmsVoltage,
	}
}
