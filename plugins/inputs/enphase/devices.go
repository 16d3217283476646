package enphase

import (
	"strconv"
	"strings"
	"time"

	"github.com/influxdata/telegraf"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
)

// Device metadata and the slow-changing settings: enphase_device (every
// inverter, battery, meter and controller: firmware, part number, flags),
// the AC Batteries of /inventory.json, and the generator's configuration and
// schedule.
const (
	mDevice            = "enphase_device"
	mGeneratorConfig   = "enphase_generator_config"
	mGeneratorSchedule = "enphase_generator_schedule"
)

// Bounds on what gateway text may become (case R15): InfluxDB refuses a
// string field over 64 KiB and a tag makes a series, so a firmware string of
// megabytes or a list of thousands of devices must not pass through whole.
const (
	maxTextField = 256  // bytes of one string field
	maxTagText   = 64   // bytes of a tag value taken from gateway text
	maxDevices   = 1000 // devices per body (a gateway manages at most a few hundred)
	maxPeriods   = 64   // generator schedule periods
)

// putCapped adds a present, non-empty string, cut to maxTextField bytes.
func (f *fields) putCapped(key string, t envoy.Text) {
	if t.Valid && t.S != "" {
		f.setString(key, cutText(t.S, maxTextField))
	}
}

// putStatus adds a device's status flags, comma-joined and cut to
// maxTextField bytes.
func (f *fields) putStatus(key string, l envoy.TextList) {
	if len(l) > 0 {
		f.setString(key, cutText(strings.Join(l, ","), maxTextField))
	}
}

// metadataDue reports whether the device metadata of source (an endpoint
// path) is due in this gather, once per info_interval, and if so marks it
// written: the endpoints that carry it may be read more often.
func (g *gatherRun) metadataDue(source string) bool {
	st := g.st
	if g.now.Before(st.metadataNext[source]) {
		return false
	}
	if st.metadataNext == nil {
		st.metadataNext = make(map[string]time.Time)
	}
	st.metadataNext[source] = g.now.Add(time.Duration(g.p.every.info))
	return true
}

// addInventory maps /inventory.json?deleted=1: with devices set, one
// enphase_device point per device (microinverters, AC Batteries, Q-relays,
// and types this release does not know, case P15), tagged with the type in
// lower case ("pcu", "acb", "nsrb"); and, every read, one enphase_battery
// point per AC Battery (type=acb, device_serial), its own state of charge,
// charge status and sleep settings, where production.json has only the
// sum. Retired devices (admin_state 3, listed because of deleted=1) lack the
// flags: they are written with what they have. It reports whether the body
// lists an AC Battery.
func addInventory(acc telegraf.Accumulator, serial string, inv envoy.Inventory, devices bool, now time.Time) (acb bool) {
	n := 0
	var f fields // reused for every point
	for _, g := range inv {
		kind := groupKind(g.Type)
		for _, d := range g.Devices {
			if n >= maxDevices {
				return acb
			}
			n++
			sn := cutText(d.SerialNum.S, maxTagText)
			if sn == "" {
				continue // nothing to key it by
			}
			if devices {
				f = f[:0]
				f.putCapped("firmware", d.ImgPnumRunning)
				f.putCapped("part_number", d.PartNum)
				f.putEpoch("installed_unix_s", d.Installed.Epoch())
				f.putEpoch("last_report_unix_s", d.LastReportDate.Epoch())
				f.putInt("admin_state_code", d.AdminState)
				f.putFlag("producing", d.Producing)
				f.putFlag("communicating", d.Communicating)
				f.putFlag("provisioned", d.Provisioned)
				f.putFlag("operating", d.Operating)
				f.putStatus("status", d.DeviceStatus)
				add(acc, mDevice, tagsOf("serial", serial, "type", kind, "device_serial", sn), f, now)
			}
			if kind != batteryACB {
				continue
			}
			acb = true
			f = f[:0]
			f.put("soc_percent", d.PercentFull)
			f.put("max_cell_temperature_c", d.MaxCellTemp)
			f.putCapped("charge_status", d.ChargeStatus)
			f.putFlag("sleep_enabled", d.SleepEnabled)
			f.put("sleep_min_soc_percent", d.SleepMinSOC)
			f.put("sleep_max_soc_percent", d.SleepMaxSOC)
			f.putFlag("communicating", d.Communicating)
			f.putEpoch("last_report_unix_s", d.LastReportDate.Epoch())
			f.putStatus("status", d.DeviceStatus)
			add(acc, mBattery, tagsOf("serial", serial, "type", batteryACB, "device_serial", sn), f, now)
		}
	}
	return acb
}

// groupKind is the type tag of a group of devices, from the gateway's text:
// cut to a tag's length, "unknown" when there is none.
func groupKind(t envoy.Text) string {
	if kind := typeTag(cutText(t.S, maxTagText)); kind != "" {
		return kind
	}
	return "unknown"
}

// addEnsembleDevices maps /ivp/ensemble/inventory to enphase_device: the IQ
// Batteries, System Controllers, Meter Collars and Combiner controllers,
// tagged with their type as addBatteries and addSystemControllers tag them.
func addEnsembleDevices(acc telegraf.Accumulator, serial string, inv envoy.EnsembleInventory, now time.Time) {
	n := 0
	var f fields // reused for every device
	for _, g := range inv {
		kind := groupKind(g.Type)
		for _, d := range g.Devices {
			if n >= maxDevices {
				return
			}
			n++
			sn := cutText(d.SerialNum.S, maxTagText)
			if sn == "" {
				continue
			}
			f = f[:0]
			fw := d.ImgPnumRunning
			for _, alt := range []envoy.Text{d.FWVersion, d.RGMFWVersion} {
				if fw.S == "" {
					fw = alt // the Collar's and the Combiner's key
				}
			}
			f.putCapped("firmware", fw)
			f.putCapped("bmu_firmware", d.BMUFirmware)
			f.putCapped("part_number", d.PartNum)
			f.putEpoch("installed_unix_s", d.Installed)
			f.putEpoch("last_report_unix_s", d.LastReportDate)
			f.putInt("admin_state_code", d.AdminState)
			f.putCapped("admin_state", d.AdminStateStr)
			f.putFlag("communicating", d.Communicating)
			f.putFlag("operating", d.Operating)
			f.putStatus("status", d.DeviceStatus)
			add(acc, mDevice, tagsOf("serial", serial, "type", kind, "device_serial", sn), f, now)
		}
	}
}

// addMeterDevices maps /ivp/meters to enphase_device, type=ct: a CT has no
// serial, so its eid (stable for the CT's life on the gateway) is its
// device_serial, and its measurement_type a tag as on enphase_meter.
func addMeterDevices(acc telegraf.Accumulator, serial string, meters []envoy.Meter, now time.Time) {
	for i, m := range meters {
		if i >= maxDevices {
			return
		}
		var f fields
		f.putCapped("state", envoy.Text{S: m.State, Valid: true})
		f.putCapped("phase_mode", envoy.Text{S: m.PhaseMode, Valid: true})
		f.putInt("phase_count", m.PhaseCount)
		f.putCapped("metering_status", envoy.Text{S: m.MeteringStatus, Valid: true})
		f.putStatus("status_flags", m.StatusFlags)
		tags := tagsOf("serial", serial, "type", "ct", "device_serial", strconv.FormatInt(m.EID, 10))
		if t := cutText(m.MeasurementType, maxTagText); t != "" {
			tags.set("measurement_type", t)
		}
		add(acc, mDevice, tags, f, now)
	}
}

// addGeneratorConfig maps /ivp/ss/gen_config and /ivp/ss/gen_schedule (nil
// when it could not be read) to enphase_generator_config, and the
// schedule's periods to enphase_generator_schedule, one point each. Both
// are read with /info, and only where a generator is configured.
func addGeneratorConfig(acc telegraf.Accumulator, serial string, cfg envoy.GeneratorConfig, sched *envoy.GeneratorSchedule, now time.Time) {
	s := cfg.Settings()
	var f fields
	f.put("max_current_a", s.MaxContGenAmps)
	f.put("min_loading_percent", s.MinGenLoadingPerc)
	f.put("max_efficiency_percent", s.MaxGenEfficiencyPerc)
	f.put("rated_power_kw", s.NamePlateRating)
	f.putCapped("start_method", s.StartMethod)
	f.put("warm_up_min", s.WarmUpMins)
	f.put("cool_down_min", s.CoolDownMins)
	f.putCapped("generator_type", s.GenType)
	f.putCapped("model", s.Model)
	f.putCapped("manufacturer", s.Manufacturer)
	f.putFlag("charge_from_generator", s.ChargeFromGenerator)
	f.putCapped("updated_by", s.LastUpdatedBy)
	if sched != nil {
		ex := sched.Exercise
		f.put("exercise_frequency_weeks", ex.FreqInWeeks)
		f.put("exercise_start", ex.Start)
		f.put("exercise_duration_min", ex.Duration)
		f.putCapped("exercise_day", ex.Day)
		f.put("default_start_soc_percent", sched.DefaultSOC.StartSOC)
		putSOC(&f, "default_stop_soc_percent", sched.DefaultSOC.StopSOC)
		f.putCapped("schedule_updated_by", sched.LastUpdatedBy)
	}
	add(acc, mGeneratorConfig, tagsOf("serial", serial), f, now)
	if sched == nil {
		return
	}
	n := 0
	for _, name := range sched.Names() {
		for i, season := range sched.Schedule[name] {
			for j, day := range season.Days {
				for k, p := range day.Periods {
					if n >= maxPeriods {
						return
					}
					n++
					var f fields
					f.putCapped("season_start", season.Start)
					f.putCapped("season_end", season.End)
					f.putCapped("week_days", day.WeekDays)
					f.put("start_min", p.Start)
					f.put("duration_min", p.Duration)
					f.put("start_soc_percent", p.StartSOC)
					putSOC(&f, "stop_soc_percent", p.StopSOC)
					f.putCapped("setting", p.Setting)
					tags := tagsOf(
						"serial", serial,
						"schedule", idTag(envoy.Text{S: name, Valid: true}, 0),
						"season", idTag(season.ID, i),
						"days", idTag(day.ID, j),
						"period", idTag(p.ID, k),
					)
					add(acc, mGeneratorSchedule, tags, f, now)
				}
			}
		}
	}
}

// putSOC adds a state of charge the gateway may set to -1 for "not set".
func putSOC(f *fields, key string, n envoy.Num) {
	if n.Valid && n.V >= 0 {
		f.put(key, n)
	}
}

// idTag is a schedule element's id as a tag, cut to maxTagText bytes; its
// position when it has none.
func idTag(id envoy.Text, i int) string {
	if s := cutText(strings.TrimSpace(id.S), maxTagText); s != "" {
		return s
	}
	return strconv.Itoa(i + 1)
}
