package enphase

import (
	"sort"
	"time"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
)

// Bounds of state.lastReport (case R9): a gateway that invents serials (or
// lists devices that come and go) must not grow it for ever.
const (
	// lastReportTTL: an inverter whose report has not changed for this long
	// is forgotten. A working one reports every 5 to 15 minutes in daylight;
	// one still listed with a stale report is written once more (the same
	// point, which InfluxDB overwrites) after being forgotten.
	lastReportTTL = 24 * time.Hour
	// maxLastReports: a gateway takes 600 microinverters.
	maxLastReports = 5000
)

// newReport says whether a device's report time end has not been written
// yet, and records it (in last, when there is one): the one dedupe of the
// inverter and AC Battery mappers, each report written once.
func newReport(last map[string]envoy.Epoch, sn string, end envoy.Epoch) bool {
	if prev, ok := last[sn]; ok && prev == end {
		return false
	}
	if last != nil {
		last[sn] = end
	}
	return true
}

// reportChange is when an inverter's last report was last seen to change.
type reportChange struct {
	date envoy.Epoch
	at   time.Time
}

// pruneLastReports forgets the inverters whose report has not changed for
// lastReportTTL, then the stalest beyond maxLastReports.
func (st *state) pruneLastReports(now time.Time) {
	if st.reportChanged == nil {
		st.reportChanged = make(map[string]reportChange, len(st.lastReport))
	}
	for sn, date := range st.lastReport {
		if c, ok := st.reportChanged[sn]; !ok || c.date != date {
			st.reportChanged[sn] = reportChange{date: date, at: now}
		}
	}
	for sn, c := range st.reportChanged {
		if _, ok := st.lastReport[sn]; !ok || now.Sub(c.at) > lastReportTTL {
			delete(st.lastReport, sn)
			delete(st.reportChanged, sn)
		}
	}
	if len(st.lastReport) <= maxLastReports {
		return
	}
	stalest := make([]string, 0, len(st.lastReport))
	for sn := range st.lastReport {
		stalest = append(stalest, sn)
	}
	sort.Slice(stalest, func(i, j int) bool {
		a, b := st.reportChanged[stalest[i]], st.reportChanged[stalest[j]]
		if !a.at.Equal(b.at) {
			return a.at.Before(b.at)
		}
		return stalest[i] < stalest[j]
	})
	for _, sn := range stalest[:len(stalest)-maxLastReports] {
		delete(st.lastReport, sn)
		delete(st.reportChanged, sn)
	}
}
