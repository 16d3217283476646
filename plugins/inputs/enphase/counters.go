package enphase

import (
	"math"

	"github.com/influxdata/telegraf"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
)

// Lifetime counters users can trust: this file repairs the gateway's known
// counter glitches before they reach the database, and leaves real resets
// visible.

// wrapWh is 2^32 J in Wh: each microinverter counts its energy in a 32-bit
// joule register, so the inverters' lifetime total in production.json drops
// by this much whenever one of them wraps (firmware 7, case V7).
const wrapWh = 4294967296.0 / 3600

// wrapSlack is how much the total may have grown between the last sample
// and the wrap (a 5-minute poll of a large site is far less).
const wrapSlack = 0.02 * wrapWh

// counter tracks one lifetime series.
type counter struct {
	lastRaw float64
	offset  float64 // added for the wraps seen so far
}

// counters are the tracked series of one gateway, by name.
type counters map[string]*counter

// monotonic returns the value to emit for a raw reading of a counter that
// wraps at 2^32 J: each detected wrap adds 1,193,046.47 Wh to what follows,
// so the series never falls by a wrap. A drop of any other size is a real
// reset (a replaced gateway, a reconfiguration): it is logged and passes
// through, visible as such, and ends the earlier wraps' correction.
func (c counters) monotonic(name string, raw float64, log telegraf.Logger, who string) float64 {
	s, ok := c[name]
	if !ok {
		c[name] = &counter{lastRaw: raw}
		return raw
	}
	if drop := s.lastRaw - raw; drop > 0 {
		k := math.Round(drop / wrapWh)
		if k >= 1 && drop <= k*wrapWh && k*wrapWh-drop <= wrapSlack {
			s.offset += k * wrapWh
			log.Infof("%s: %s wrapped (a microinverter's 32-bit joule counter): adding %.0f Wh so the series stays monotonic", who, name, k*wrapWh)
		} else {
			log.Warnf("%s: %s went down from %.3f to %.3f Wh: a counter reset on the gateway, passed through", who, name, s.lastRaw, raw)
			s.offset = 0 // a new counter: earlier wraps no longer apply
		}
	}
	s.lastRaw = raw
	return raw + s.offset
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
		return envoy.Num{V: a.V + b.V, Valid: true}
	}
	return envoy.Values{
		WNow:       add(net.WNow, prod.WNow),
		WhLifetime: add(net.WhLifetime, prod.WhLifetime),
		RmsVoltage: net.RmsVoltage,
	}
}
