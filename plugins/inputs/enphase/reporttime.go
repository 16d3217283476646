package enphase

import (
	"time"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
)

// The one rule for the gateway's report times (cases C1, C2, R8): an
// inverter point carries its own report time only when that time is
// plausible: not before 2000 (a clock never set reads 1970) and not more
// than maxReportAhead ahead of the collector's clock (a gateway clock hours
// fast would put points in the future, and a time past 2262 wraps around
// int64 nanoseconds, to 1680, in line protocol). Any other is unknown and
// the point carries the collector's clock. An old time is kept: a sleeping
// or silent inverter's last report is hours or days old, really, and is
// written once.
const maxReportAhead = 10 * time.Minute // the two clocks' ordinary drift

// reportTime is e as a point's time, and whether it is known.
func reportTime(e envoy.Epoch, now time.Time) (time.Time, bool) {
	t, ok := e.Time()
	if !ok || t.After(now.Add(maxReportAhead)) {
		return time.Time{}, false
	}
	return t, true
}

// reportSkew is how far the first implausible report time among es is
// from now, and whether there is one.
func reportSkew(now time.Time, es ...envoy.Epoch) (time.Duration, bool) {
	for _, e := range es {
		if e == 0 {
			continue // absent: not a clock
		}
		if _, ok := reportTime(e, now); !ok {
			return time.Unix(int64(e), 0).Sub(now), true
		}
	}
	return 0, false
}

// checkReportTimes warns once per episode when the gateway's report times
// are implausible, naming the skew; the episode ends at the first read whose
// report times are all plausible.
func (p *poller) checkReportTimes(now time.Time, es ...envoy.Epoch) {
	skew, bad := reportSkew(now, es...)
	switch {
	case bad && !p.state.skewWarned:
		p.state.skewWarned = true
		dir := "ahead of"
		if skew < 0 {
			dir, skew = "behind", -skew
		}
		p.log.Warnf(
			"%s: report times are %s %s this host's clock, outside the plausible window (before 2000, or over %s ahead): "+
				"those points carry this host's clock; check the gateway's time (it sets it by NTP) and this host's",
			p.name(),
			skew.Round(time.Second),
			dir,
			maxReportAhead,
		)
	case !bad && p.state.skewWarned:
		p.state.skewWarned = false
		p.log.Infof("%s: report times are plausible again", p.name())
	}
}
