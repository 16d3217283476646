package enphase

import (
	"math"
	"strings"
	"sync"
	"time"

	"github.com/influxdata/telegraf"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
	"github.com/telegraf-enphase/telegraf-enphase/internal/lineproto"
)

// This file is the one place that maps the gateway's JSON to metrics. Every
// measured value is a float64, whatever the JSON held (7.6.175 sends "wNow":
// 751 next to 488.154), so a field never changes type between gathers or
// gateways. Values pass through unclamped: negative production at night is
// real (case V1).

// Measurement names.
const (
	mProduction  = "enphase_production"
	mConsumption = "enphase_consumption"
	mMeter       = "enphase_meter"
	mInverter    = "enphase_inverter"
	mGateway     = "enphase_gateway"
)

// fields are one metric's fields, in the order its mapper puts them: add
// sorts them. A list, not a map: a gather of 600 inverters built 600 maps
// only to walk and sort each once. A mapper writing many points reuses one
// (f = f[:0]) and puts only typed values, so no float64 is boxed either.
type fields []lineproto.Field

// fieldLists lends mappers their field lists: add keeps none, so a list
// goes back once its lines are added. A new list a line was a quarter of
// what decoding and mapping a steady gather allocated, garbage the
// collector then had to find.
var fieldLists = sync.Pool{New: func() any { f := make(fields, 0, 24); return &f }}

// borrowFields is an empty field list; give it back with giveBack once its
// lines are added.
func borrowFields() *fields {
	f := fieldLists.Get().(*fields)
	*f = (*f)[:0]
	return f
}

// giveBack returns f to fieldLists, unless it grew beyond what any of the
// plugin's lines holds.
func (f *fields) giveBack() {
	if cap(*f) <= 64 {
		fieldLists.Put(f)
	}
}

func (f *fields) setFloat(key string, v float64) {
	*f = append(*f, lineproto.Field{Key: key, Kind: lineproto.Float, Float: v})
}

func (f *fields) setInt(key string, v int64) {
	*f = append(*f, lineproto.Field{Key: key, Kind: lineproto.Int, Int: v})
}

func (f *fields) setString(key, v string) {
	*f = append(*f, lineproto.Field{Key: key, Kind: lineproto.String, Str: v})
}

// put adds a present value.
func (f *fields) put(key string, n envoy.Num) {
	if n.Valid {
		f.setFloat(key, n.V)
	}
}

// putCounter adds a lifetime counter unless it reads 0: a zero is a gateway
// that has just booted or updated, never a real lifetime (cases V8, P7), and
// writing it would make every difference() spike.
func (f *fields) putCounter(key string, n envoy.Num) {
	if n.Valid && n.V != 0 {
		f.setFloat(key, n.V)
	}
}

// phaseNames are the phases' tag values, made once: a steady gather tags a
// dozen points with them.
var phaseNames = [...]string{"L1", "L2", "L3"}

func phaseName(i int) string {
	if i < len(phaseNames) {
		return phaseNames[i]
	}
	return "L" + string(rune('1'+i))
}

// phasesToEmit is how many of lines/channels describe real phases: the CT
// phase count when /ivp/meters gave one, else up to the last line holding any
// non-zero value (unused phases read all zeros, case P3).
func phasesToEmit[T any](lines []T, count int, nonZero func(T) bool) int {
	if count > 0 {
		return min(count, len(lines))
	}
	n := 0
	for i, l := range lines {
		if nonZero(l) {
			n = i + 1
		}
	}
	return n
}

// productionFields maps a production.json entry or line. The aggregate
// rmsVoltage and rmsCurrent are sums over the phases (case V2), so they are
// emitted only per phase. Fields are put in key order: add's sort then has
// nothing to move.
func productionFields(f *fields, v envoy.Values, perPhase, daily bool) {
	f.putCounter("apparent_energy_lifetime_vah", v.VahLifetime)
	f.put("apparent_power_va", v.ApprntPwr)
	if perPhase {
		f.put("current_a", v.RmsCurrent)
	}
	if daily {
		f.put("energy_last_seven_days_wh", v.WhLastSevenDays)
	}
	f.putCounter("energy_lifetime_wh", v.WhLifetime)
	if daily {
		f.put("energy_today_wh", v.WhToday)
	}
	f.put("power_factor", v.PwrFactor)
	f.put("power_w", v.WNow)
	f.putCounter("reactive_energy_lag_lifetime_varh", v.VarhLagLifetime)
	f.putCounter("reactive_energy_lead_lifetime_varh", v.VarhLeadLifetime)
	f.put("reactive_power_var", v.ReactPwr)
	if perPhase {
		f.put("voltage_v", v.RmsVoltage)
	}
}

func valuesNonZero(v envoy.Values) bool {
	for _, n := range []envoy.Num{v.WNow, v.WhLifetime, v.RmsCurrent, v.RmsVoltage, v.ApprntPwr, v.ReactPwr} {
		if n.Valid && n.V != 0 {
			return true
		}
	}
	return false
}

// addRows emits an eim entry's total and its phases, tagged with tags and
// their phase.
func addRows(acc telegraf.Accumulator, name string, tags tagList, r envoy.Reading, phases int, daily bool, now time.Time) {
	f := borrowFields()
	defer f.giveBack()
	productionFields(f, r.Values, false, daily)
	tags.set("phase", "total")
	add(acc, name, tags, *f, now)
	n := phasesToEmit(r.Lines, phases, valuesNonZero)
	for i := range n {
		*f = (*f)[:0]
		productionFields(f, r.Lines[i], true, daily)
		tags.set("phase", phaseName(i))
		add(acc, name, tags, *f, now)
	}
}

// undouble repairs a split-phase aggregate that firmware reports doubled
// against the sum of its lines (case V3): the lines are then the truth.
func undouble(r *envoy.Reading) bool {
	var w, wh float64
	for _, l := range r.Lines {
		w = sumOf(w, l.WNow.V)
		wh = sumOf(wh, l.WhLifetime.V)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) <= 0.005*math.Abs(b) }
	if len(r.Lines) < 2 || wh == 0 || !r.WhLifetime.Valid || !near(r.WhLifetime.V, 2*wh) {
		return false
	}
	r.WNow = envoy.Num{V: w, Valid: true}
	r.WhLifetime = envoy.Num{V: wh, Valid: true}
	return true
}

// addProduction maps /production.json?details=1. Entries are chosen by type
// and measurementType, never by position; an eim entry with activeCount 0 is
// a CT that is not there (case P4).
func (p *poller) addProduction(acc telegraf.Accumulator, serial string, prod envoy.Production, phases int, now time.Time) {
	if repairTotalConsumption(&prod) {
		p.log.Debugf("%s: total consumption equals net consumption (firmware 8.3.5433): rebuilt as net + production", p.name())
	}
	for i := range prod.Production {
		if undouble(&prod.Production[i]) {
			p.log.Debugf("%s: production aggregate is double its phases: using the sum of the phases", p.name())
		}
	}
	for i := range prod.Consumption {
		undouble(&prod.Consumption[i])
	}
	for _, r := range prod.Production {
		if !r.Active() {
			continue
		}
		switch {
		case r.Type == "eim" && (r.MeasurementType == "production" || r.MeasurementType == ""):
			addRows(acc, mProduction, tagsOf("serial", serial, "source", "ct"), r, phases, true, now)
		case r.Type == "inverters":
			// The microinverters' own report: no phases, no daily counters
			// (case P6: absent, not 0).
			// Its lifetime is the 32-bit sum (case V7): the gateway's own
			// 64-bit total, read this gather, says how many wraps it lacks.
			tags := tagsOf("serial", serial, "source", "inverters", "phase", "total")
			f := borrowFields()
			f.put("power_w", r.WNow)
			f.putCounter("energy_lifetime_wh", r.WhLifetime)
			if ref := p.state.summaryLifetime; r.WhLifetime.Valid && r.WhLifetime.V != 0 && ref.at.Equal(now) {
				lineproto.SortTags(tags) // as add sorts them for counterAcc
				p.anchor(seriesKey(mProduction, tags, "energy_lifetime_wh"), r.WhLifetime.V, ref.wh, now)
			}
			f.put("energy_today_wh", r.WhToday)
			f.put("energy_last_seven_days_wh", r.WhLastSevenDays)
			f.putInt("devices", r.ActiveCount)
			add(acc, mProduction, tags, *f, now)
			f.giveBack()
		}
	}
	for _, r := range prod.Consumption {
		if r.Type != "eim" || !r.Active() {
			continue
		}
		kind := r.MeasurementType
		switch kind {
		case "total-consumption":
			kind = "total"
		case "net-consumption":
			kind = "net"
		case "":
			// Old firmware has no measurementType; guessing by position is
			// exactly the bug other tools have, so skip it.
			continue
		}
		// A type we do not know yet is kept under its own name (case P15).
		// Net today and 7-day counters are always 0 on every firmware seen.
		addRows(acc, mConsumption, tagsOf("serial", serial, "measurement_type", kind), r, phases, kind == "total", now)
	}
}

// addSummary maps /api/v1/production. All four values at 0 is a gateway
// that has just started, or non-metered 8.3 firmware, not a reading (case
// P7). Its lifetime is kept as the reference of the inverters' total.
func (g *gatherRun) addSummary(s envoy.Summary) {
	if s.WattHoursLifetime.V == 0 && s.WattHoursToday.V == 0 && s.WattHoursSevenDays.V == 0 && s.WattsNow.V == 0 {
		return
	}
	if s.WattHoursLifetime.Valid && s.WattHoursLifetime.V > 0 {
		g.st.summaryLifetime.wh, g.st.summaryLifetime.at = s.WattHoursLifetime.V, g.now
	}
	addSummary(g.acc, g.serial, s, g.now)
}

// addSummary writes the summary as the source=summary production point.
func addSummary(acc telegraf.Accumulator, serial string, s envoy.Summary, now time.Time) {
	if s.WattHoursLifetime.V == 0 && s.WattHoursToday.V == 0 && s.WattHoursSevenDays.V == 0 && s.WattsNow.V == 0 {
		return
	}
	var f fields
	f.put("power_w", s.WattsNow)
	f.putCounter("energy_lifetime_wh", s.WattHoursLifetime)
	f.put("energy_today_wh", s.WattHoursToday)
	f.put("energy_last_seven_days_wh", s.WattHoursSevenDays)
	add(acc, mProduction, tagsOf("serial", serial, "source", "summary", "phase", "total"), f, now)
}

// meterFields maps a CT reading or one of its channels, in key order (see
// productionFields).
func meterFields(f *fields, v envoy.MeterValues, perPhase bool) {
	f.putCounter("apparent_energy_lifetime_vah", v.ApparentEnergy)
	f.put("apparent_power_va", v.ApparentPower)
	if perPhase {
		f.put("current_a", v.Current)
	}
	f.putCounter("energy_delivered_lifetime_wh", v.ActEnergyDlvd)
	f.putCounter("energy_received_lifetime_wh", v.ActEnergyRcvd)
	f.put("frequency_hz", v.Freq)
	f.put("power_factor", v.PwrFactor)
	f.put("power_w", v.ActivePower)
	f.putCounter("reactive_energy_lag_lifetime_varh", v.ReactEnergyLagg)
	f.putCounter("reactive_energy_lead_lifetime_varh", v.ReactEnergyLead)
	f.put("reactive_power_var", v.ReactivePower)
	if perPhase {
		f.put("voltage_v", v.Voltage)
	}
}

func meterNonZero(v envoy.MeterValues) bool {
	for _, n := range []envoy.Num{v.ActivePower, v.ActEnergyDlvd, v.ActEnergyRcvd, v.Current, v.ApparentPower} {
		if n.Valid && n.V != 0 {
			return true
		}
	}
	return false
}

// addMeterReadings maps /ivp/meters/readings, joined to the enabled meters by
// eid, never by index: the lists differ in length and order on some firmware,
// and readings of unknown or disabled meters are noise (cases P10, P11).
func addMeterReadings(acc telegraf.Accumulator, serial string, enabled map[int64]envoy.Meter, readings []envoy.MeterReading, now time.Time) {
	f := borrowFields() // reused for every point
	defer f.giveBack()
	for _, r := range readings {
		m, ok := enabled[r.EID]
		if !ok {
			continue
		}
		tags := tagsOf("serial", serial, "measurement_type", m.MeasurementType)
		*f = (*f)[:0]
		meterFields(f, r.MeterValues, false)
		f.setString("metering_status", m.MeteringStatus)
		f.setString("status_flags", strings.Join(m.StatusFlags, ","))
		f.setInt("eid", m.EID)
		tags.set("phase", "total")
		add(acc, mMeter, tags, *f, now)
		phases := 0
		if m.PhaseCount.Valid {
			phases = int(m.PhaseCount.V)
		}
		n := phasesToEmit(r.Channels, phases, meterNonZero)
		for i := range n {
			*f = (*f)[:0]
			meterFields(f, r.Channels[i], true)
			tags.set("phase", phaseName(i))
			add(acc, mMeter, tags, *f, now)
		}
	}
}

// addInverters maps /api/v1/production/inverters. Each point is stamped with
// the inverter's own lastReportDate (a UTC epoch, case C4) and emitted once
// per report, so a 5-minute poll of 15-minute reports writes no duplicates.
// Inverters in covered were already written from /ivp/pdm/device_data.
func addInverters(acc telegraf.Accumulator, serial string, invs []envoy.Inverter, covered map[string]bool, last map[string]envoy.Epoch, now time.Time) {
	var f fields // reused for every inverter, as are its tags
	tags := tagsOf("serial", serial, "device_serial", "")
	for _, inv := range invs {
		if !inv.Microinverter() || inv.SerialNumber == "" || covered[inv.SerialNumber] {
			continue
		}
		if !newReport(last, inv.SerialNumber, inv.LastReportDate) && inv.LastReportDate != 0 {
			continue // an unknown report time (0) is written every read
		}
		f = f[:0] // in key order: add's sort has nothing to move, for each of hundreds of points
		ts, known := reportTime(inv.LastReportDate, now)
		if known {
			f.setInt("last_report_unix_s", ts.Unix())
		} else {
			ts = now
		}
		f.put("power_max_w", inv.MaxReportWatts)
		f.put("power_w", inv.LastReportWatts)
		tags.set("device_serial", inv.SerialNumber)
		add(acc, mInverter, tags, f, ts)
	}
}

// unknownSerial tags the health point of a gateway never reached, which
// has no serial configured; its address tag tells such gateways apart.
const unknownSerial = "unknown"

// emitGateway writes the health of one gather, every gather, also when
// /info failed, so a dashboard can tell a gateway that is down from one
// that produces 0 W: up is 1 when the gather read anything.
func (p *poller) emitGateway(acc telegraf.Accumulator, info envoy.Info, now time.Time, requests int64, s gatherStats) {
	var up int64
	if s.ok > 0 {
		up = 1
	}
	f := borrowFields()
	defer f.giveBack()
	f.setInt("up", up)
	f.setFloat("gather_duration_s", p.now().Sub(now).Seconds())
	f.setInt("requests", requests)
	f.setInt("endpoints_ok", s.ok)
	f.setInt("endpoints_failed", s.failed)
	f.setInt("auth_checks_total", p.client().AuthChecks())
	f.setInt("requests_total", p.client().Requests())
	if info.Firmware != "" {
		f.setString("firmware", info.Firmware)
	}
	if info.PartNumber != "" {
		f.setString("part_number", info.PartNumber)
	}
	tags := tagsOf("serial", info.Serial)
	if info.Serial == "" {
		tags = tagsOf("serial", unknownSerial, "address", p.host)
	}
	add(acc, mGateway, tags, *f, now)
}

// tagList is a metric's tags, in any order: add sorts them. A mapper
// writing many points reuses one, set per point.
type tagList []lineproto.Tag

// tagsOf is a metric's tags from key, value pairs, as a map literal would
// list them: tagsOf("serial", serial, "phase", "total").
func tagsOf(kv ...string) tagList {
	if len(kv)%2 != 0 {
		panic("tagsOf: a key without a value")
	}
	tags := make(tagList, 0, len(kv)/2+1) // room for one set more
	for i := 0; i < len(kv); i += 2 {
		tags = append(tags, lineproto.Tag{Key: kv[i], Value: kv[i+1]})
	}
	return tags
}

// set gives the tag k the value v, replacing its value or adding it.
func (t *tagList) set(k, v string) {
	for i := range *t {
		if (*t)[i].Key == k {
			(*t)[i].Value = v
			return
		}
	}
	*t = append(*t, lineproto.Tag{Key: k, Value: v})
}

// lineAdder is an accumulator that takes a metric as the lists add builds
// (the execd loop's lineproto.Batch): no maps to build, walk and sort.
// Any other accumulator (Telegraf's, testutil's) gets maps.
type lineAdder interface {
	AddLine(name string, tags []lineproto.Tag, fields []lineproto.Field, t time.Time)
}

// add writes one metric: fields and tags in key order, a key put twice
// keeping its last value, as a map kept it. add never emits a metric without
// fields: the shim's writer dies on one. Nor a float that is not finite: an
// absurd reading can overflow a unit conversion or a sum (found by
// FuzzMetrics), the writer drops such a field, and a metric left with none
// stops it. f and tags are sorted in place and not kept.
func add(acc telegraf.Accumulator, name string, tags tagList, f fields, t time.Time) {
	f = f.normal()
	if len(f) == 0 {
		return
	}
	lineproto.SortTags(tags)
	tags = capText(tags, f) // R15
	emit(acc, name, tags, f, t)
}

// normal is f sorted by key (stable: of a key put twice, the last value is
// kept), without non-finite floats, in place.
func (f fields) normal() fields {
	for i := 1; i < len(f); i++ {
		for j := i; j > 0 && f[j].Key < f[j-1].Key; j-- {
			f[j], f[j-1] = f[j-1], f[j]
		}
	}
	out := f[:0]
	for i, x := range f {
		if i+1 < len(f) && f[i+1].Key == x.Key {
			continue // put again later
		}
		if x.Kind == lineproto.Float && (math.IsNaN(x.Float) || math.IsInf(x.Float, 0)) {
			continue
		}
		out = append(out, x)
	}
	return out
}

// emit passes a metric add has made ready to acc: as lists to a lineAdder,
// else as the maps of a telegraf.Accumulator, built only here.
func emit(acc telegraf.Accumulator, name string, tags []lineproto.Tag, f fields, t time.Time) {
	if l, ok := acc.(lineAdder); ok {
		l.AddLine(name, tags, f, t)
		return
	}
	fm := make(map[string]any, len(f))
	for _, x := range f {
		fm[x.Key] = x.Value()
	}
	tm := make(map[string]string, len(tags))
	for _, x := range tags {
		tm[x.Key] = x.Value
	}
	acc.AddFields(name, fm, tm, t)
}
