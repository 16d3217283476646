package enphase

import (
	"time"

	"github.com/influxdata/telegraf"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
)

// scaled is n divided by div (milli-units to units, joules to Wh), rounded (round.go).
func scaled(n envoy.Num, div float64) envoy.Num { return divided(n, div) }

// addDeviceData maps /ivp/pdm/device_data to enphase_inverter, the same
// measurement, tags and field types as addInverters, with more fields. Each
// point is stamped with the inverter's lastReading.endDate (a UTC epoch; one
// outside reportTime's window is replaced by now, cases C2, R8) and written once per
// endDate, deduplicated through last like addInverters (the two may share
// one map: both endpoints give the same report time for an inverter).
//
// Only microinverters (devName "pcu") that are active and have a lastReading
// are mapped to enphase_inverter: a removed inverter stays in the body with
// active false, modGone true and empty objects (case P13); AC Batteries
// (acb) go to enphase_battery (addACBReading); eim and nsrb entries are
// other devices. modGone alone does not mean removed: live inverters asleep
// at night read active and modGone true (capture 8.3.5169), so such an
// inverter is still written, whole, for a report it really made (a known
// endDate), its temperature included unless it is the 0 °C placeholder
// (case C5).
//
// The result holds the serial of every inverter the body accounts for,
// whether written now or already written for the same endDate. When
// d.Capped(), inverters missing from it are to be read from
// /api/v1/production/inverters (case P12).
func addDeviceData(acc telegraf.Accumulator, serial string, d envoy.DeviceData, last map[string]envoy.Epoch, now time.Time) (emitted map[string]bool) {
	emitted = make(map[string]bool)
	var f fields // reused for every inverter, as are its tags
	tags := tagsOf("serial", serial, "device_serial", "")
	for _, dev := range d.Devices {
		if !dev.Active || dev.SN == "" || len(dev.Channels) == 0 {
			continue
		}
		if dev.ACBattery() {
			addACBReading(acc, serial, dev, last, now)
			continue
		}
		if !dev.Microinverter() {
			continue
		}
		// A microinverter reports one channel on every firmware captured; a
		// device with several is described by its first, so a pcu is always
		// one point with one set of values (eim entries have one per phase).
		ch := dev.Channels[0]
		r := ch.LastReading
		ts, known := reportTime(r.EndDate, now)
		if r.Empty() || (dev.ModGone && !known) {
			// No report to write: lastReading {} (removed, or not reported
			// yet), or not communicating and no report time.
			continue
		}
		emitted[dev.SN] = true
		if !newReport(last, dev.SN, r.EndDate) && known {
			continue
		}
		if !known {
			ts = now
		}
		f = f[:0]
		f.put("power_w", ch.Watts.Now)
		f.put("power_max_w", ch.Watts.Max)
		if known {
			f.setInt("last_report_unix_s", ts.Unix())
		}
		f.put("dc_voltage_v", scaled(r.DCVoltageINmV, 1000))
		f.put("dc_current_a", scaled(r.DCCurrentINmA, 1000))
		f.put("ac_voltage_v", scaled(r.ACVoltageINmV, 1000))
		f.put("ac_current_a", scaled(r.ACCurrentInmA, 1000))
		f.put("ac_frequency_hz", scaled(r.ACFrequencyINmHz, 1000))
		// Every value of a reading the inverter really made is written, a
		// modGone one's too (25 °C on capture 8.3.5169); only a silent
		// device's placeholder, exactly 0 °C when modGone, is not (case C5).
		if !dev.ModGone || r.ChannelTemp.V != 0 {
			f.put("temperature_c", r.ChannelTemp)
		}
		f.put("energy_today_wh", ch.WattHours.Today)
		f.putCounter("energy_lifetime_wh", scaled(ch.Lifetime.JoulesProduced, 3600))
		f.put("energy_interval_wh", scaled(r.JoulesProduced, 3600))
		f.put("interval_s", r.Duration)
		tags.set("device_serial", dev.SN)
		add(acc, mInverter, tags, f, ts)
	}
	return emitted
}

// addACBReading maps an AC Battery's entry of /ivp/pdm/device_data to an
// enphase_battery point (type=acb, device_serial), stamped and deduplicated
// by its lastReading.endDate as inverters are: what only this endpoint
// reports, the state of health that tracks the battery's ageing over years,
// its coolest cell, DC voltage, and lifetime energy in and out. Its charge,
// hottest cell and status come from /inventory.json every read
// (addInventory); its watts are not written (unsigned, see the README).
// A reading without a real report time is not written: these values are
// only worth their time.
func addACBReading(acc telegraf.Accumulator, serial string, dev envoy.Device, last map[string]envoy.Epoch, now time.Time) {
	ch := dev.Channels[0] // an AC Battery reports one channel
	r := ch.LastReading
	ts, known := reportTime(r.EndDate, now)
	if r.Empty() || !known {
		return
	}
	sn := cutText(dev.SN, maxTagText)
	if !newReport(last, sn, r.EndDate) {
		return
	}
	var f fields
	f.put("dc_voltage_v", scaled(r.DCVoltageINmV, 1000))
	f.putCounter("energy_charged_lifetime_wh", scaled(ch.Lifetime.JoulesUsed, 3600))
	f.putCounter("energy_discharged_lifetime_wh", scaled(ch.Lifetime.JoulesProduced, 3600))
	if r.SOH.V > 0 { // 0 is no reading: a battery at 0 % health does not report
		f.put("health_percent", r.SOH)
	}
	f.setInt("last_report_unix_s", ts.Unix())
	if !dev.ModGone || r.MinCellTemp.V != 0 { // a silent device's 0 °C placeholder, as for inverters (C5)
		f.put("min_cell_temperature_c", r.MinCellTemp)
	}
	add(acc, mBattery, tagsOf("serial", serial, "type", batteryACB, "device_serial", sn), f, ts)
}
