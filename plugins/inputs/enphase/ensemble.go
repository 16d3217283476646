package enphase

import (
	"math"
	"strings"
	"time"

	"github.com/influxdata/telegraf"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
)

// Battery, IQ System Controller, generator and tariff measurements. Like the
// rest of metrics.go's mapping, every measured value is a float64; codes and
// counts that are integral by nature are int64; states are strings as the
// gateway spells them, so a value this release does not know is kept (case
// P15). A key the firmware does not send is simply not written (case P14).
const (
	mBattery          = "enphase_battery"
	mBatterySystem    = "enphase_battery_system"
	mSystemController = "enphase_system_controller"
	mDryContact       = "enphase_dry_contact"
	mGenerator        = "enphase_generator"
	mTariff           = "enphase_tariff"
)

// Battery type tags.
const (
	batteryEncharge = "encharge"
	batteryACB      = "acb"
)

// fromMilli is n/1000 (mW to W, mVA to VA).
func fromMilli(n envoy.Num) envoy.Num { return divided(n, 1000) }

// putText adds a present, non-empty string.
func (f *fields) putText(key string, t envoy.Text) {
	if t.Valid && t.S != "" {
		f.setString(key, t.S)
	}
}

// putInt adds a present value that is an integer by nature (a code, a level,
// a count). One beyond int64 is not written: Go's conversion of it depends
// on the CPU (MinInt64 on amd64).
func (f *fields) putInt(key string, n envoy.Num) {
	if n.Valid && math.Abs(n.V) < 1<<63 {
		f.setInt(key, int64(math.Round(n.V)))
	}
}

// putFlag adds a boolean as the integer 0 or 1: it charts as a step and
// aggregates (mean = share of time), where a boolean field does neither.
func (f *fields) putFlag(key string, b envoy.Flag) {
	if b.Valid {
		var v int64
		if b.V {
			v = 1
		}
		f.setInt(key, v)
	}
}

// putEpoch adds a known Unix time in seconds.
func (f *fields) putEpoch(key string, e envoy.Epoch) {
	if t, ok := e.Time(); ok {
		f.setInt(key, t.Unix())
	}
}

// typeTag is a device type as a tag value: lower case, spaces as
// underscores ("C6 COMBINER CONTROLLER" → "c6_combiner_controller").
func typeTag(t string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(t)), " ", "_")
}

// celsius is one of the device's temperatures (t) in °C. The Enpower reports
// °F and the others °C (case 28), unless the device names its unit.
func celsius(t envoy.Num, d envoy.EnsembleDevice, deviceType string) envoy.Num {
	if !t.Valid {
		return t
	}
	fahrenheit := strings.EqualFold(deviceType, envoy.DeviceEnpower)
	if d.TemperatureUnit.Valid {
		u := strings.ToUpper(strings.TrimSpace(strings.TrimPrefix(d.TemperatureUnit.S, "°")))
		switch {
		case u == "F" || strings.HasPrefix(u, "FAHRENHEIT"):
			fahrenheit = true
		case u == "C" || strings.HasPrefix(u, "CELSIUS"):
			fahrenheit = false
		}
	}
	if fahrenheit {
		t.V = math.Round((t.V-32)*5/9*100) / 100
	}
	return t
}

// deviceFields puts the fields every ensemble device may have.
func deviceFields(f *fields, d envoy.EnsembleDevice, deviceType string) {
	f.put("temperature_c", celsius(d.Temperature, d, deviceType))
	f.putText("admin_state", d.AdminStateStr)
	if len(d.DeviceStatus) > 0 {
		f.setString("status", strings.Join(d.DeviceStatus, ","))
	}
	f.putFlag("communicating", d.Communicating)
	f.putInt("comm_level_sub_ghz", d.CommLevelSub)
	f.putInt("comm_level_2_4_ghz", d.CommLevel24)
	f.putEpoch("last_report_unix_s", d.LastReportDate)
}

// addBatteries maps the IQ Batteries (Encharge) of /ivp/ensemble/inventory
// joined by serial number with /ivp/ensemble/power: one enphase_battery point
// per battery, type=encharge. The state of charge is the inventory's
// percentFull (trap 29: /ivp/ensemble/power's soc can differ, e.g. 54 against
// 10 in capture 8.2.4382_ACB, and is not written). A battery only /power
// lists is written with its power alone. power_w passes the gateway's sign
// through: negative while charging on every capture. Either body may be the
// zero value when its endpoint failed; [] and {"devices:": []} write nothing.
func addBatteries(acc telegraf.Accumulator, serial string, inv envoy.EnsembleInventory, power envoy.EnsemblePower, now time.Time) {
	powers := make(map[string]envoy.BatteryPower, len(power.Devices))
	for _, p := range power.Devices {
		if p.SerialNum.S != "" {
			powers[p.SerialNum.S] = p
		}
	}
	seen := map[string]bool{}
	var f fields // reused for every battery
	for _, g := range inv {
		if !g.IsBattery() {
			continue
		}
		kind := batteryEncharge
		if !strings.EqualFold(g.Type.S, envoy.DeviceEncharge) {
			kind = typeTag(g.Type.S) // a battery type this release does not know (case P15)
		}
		for _, d := range g.Devices {
			f = f[:0]
			deviceFields(&f, d, g.Type.S)
			f.put("soc_percent", d.PercentFull)
			f.put("max_cell_temperature_c", celsius(d.MaxCellTemp, d, g.Type.S))
			f.put("capacity_wh", d.EnchargeCapacity)
			f.putInt("led_status", d.LEDStatus)
			f.putFlag("dc_switch_off", d.DCSwitchOff)
			f.putFlag("sleep_enabled", d.SleepEnabled)
			tags := tagsOf("serial", serial, "type", kind)
			if sn := d.SerialNum.S; sn != "" {
				tags.set("device_serial", sn)
				if p, ok := powers[sn]; ok {
					f.put("power_w", fromMilli(p.RealPowerMW))
					f.put("apparent_power_va", fromMilli(p.ApparentPowerMVA))
					seen[sn] = true
				} else if d.RealPowerW.Valid {
					f.put("power_w", d.RealPowerW) // old firmware's inventory
				}
			}
			add(acc, mBattery, tags, f, now)
		}
	}
	for _, p := range power.Devices {
		sn := p.SerialNum.S
		if sn == "" || seen[sn] {
			continue
		}
		seen[sn] = true
		f = f[:0]
		f.put("power_w", fromMilli(p.RealPowerMW))
		f.put("apparent_power_va", fromMilli(p.ApparentPowerMVA))
		add(acc, mBattery, tagsOf("serial", serial, "device_serial", sn, "type", batteryEncharge), f, now)
	}
}

// addACBatteries maps the AC Batteries of /production.json's storage: one
// enphase_battery point, type=acb, for all of them (the gateway sums them),
// written when activeCount > 0. percentFull is written only when present
// (case P14: some gateways list ACBs without it). wNow is positive while
// discharging.
func addACBatteries(acc telegraf.Accumulator, serial string, storage []envoy.Storage, now time.Time) {
	for _, s := range storage {
		if !s.ActiveCount.Valid || s.ActiveCount.V <= 0 {
			continue // no ACB: the entry is there anyway, all zeros
		}
		kind := batteryACB
		if s.Type != "" && !strings.EqualFold(s.Type, batteryACB) {
			kind = typeTag(s.Type)
		}
		var f fields
		f.put("soc_percent", s.PercentFull)
		f.put("power_w", s.WNow)
		f.put("energy_wh", s.WhNow)
		if s.State != "" {
			f.setString("state", s.State)
		}
		f.putInt("devices", s.ActiveCount)
		add(acc, mBattery, tagsOf("serial", serial, "type", kind), f, now)
	}
}

// addBatterySystem maps /ivp/ensemble/secctrl, the batteries' aggregate, to
// enphase_battery_system. inv, when known (nil otherwise), gives
// battery_count. Gateways without batteries answer secctrl with zeros: the
// point is written only when some battery exists (an IQ Battery capacity or
// one in the inventory, or an AC Battery capacity). IQ Battery fields need an
// IQ Battery; acb_* fields need AC Battery capacity (Max_energy above the IQ
// Batteries' capacity); the combined fields are written with either.
func addBatterySystem(acc telegraf.Accumulator, serial string, sec envoy.SecCtrl, inv *envoy.EnsembleInventory, now time.Time) {
	count := -1
	if inv != nil {
		count = inv.BatteryCount()
	}
	encCap := 0.0
	if sec.EncMaxAvailableCapacity.Valid {
		encCap = sec.EncMaxAvailableCapacity.V
	}
	hasEnc := encCap > 0 || count > 0
	hasACB := (sec.MaxEnergy.Valid && sec.MaxEnergy.V > encCap) ||
		(sec.ACBAggEnergy.Valid && sec.ACBAggEnergy.V > 0) || (sec.ACBAggSOC.Valid && sec.ACBAggSOC.V > 0)
	if !hasEnc && !hasACB {
		return
	}
	var f fields
	f.put("soc_combined_percent", sec.AggSOC)
	f.put("max_energy_combined_wh", sec.MaxEnergy)
	f.put("backup_soc_percent", sec.AdjustedBackupSOC)
	f.put("backup_soc_configured_percent", sec.ConfiguredBackupSOC)
	if hasEnc {
		f.put("soc_percent", sec.ENCAggSOC)
		f.put("health_percent", sec.ENCAggSOH)
		f.put("available_energy_wh", sec.ENCAggAvailEnergy)
		f.put("backup_energy_wh", sec.ENCAggBackupEnergy)
		f.put("max_energy_wh", sec.EncMaxAvailableCapacity)
	}
	if hasACB {
		f.put("acb_soc_percent", sec.ACBAggSOC)
		f.put("acb_energy_wh", sec.ACBAggEnergy)
	}
	if count >= 0 {
		f.setInt("battery_count", int64(count))
	}
	add(acc, mBatterySystem, tagsOf("serial", serial), f, now)
}

// gridState names the grid connection "on-grid" or "off-grid" from the main
// relay (Enpower mains_oper_state closed/open) or the Collar's grid_state
// (on_grid/off_grid); any other value is kept as sent.
func gridState(d envoy.EnsembleDevice) string {
	if d.MainsOperState.Valid {
		switch strings.ToLower(d.MainsOperState.S) {
		case "closed", "close":
			return "on-grid"
		case "open":
			return "off-grid"
		}
		return d.MainsOperState.S
	}
	if d.GridState.Valid {
		switch strings.ReplaceAll(strings.ToLower(d.GridState.S), "_", "-") {
		case "on-grid":
			return "on-grid"
		case "off-grid":
			return "off-grid"
		}
		return d.GridState.S
	}
	return ""
}

// addSystemControllers maps every non-battery device of
// /ivp/ensemble/inventory (IQ System Controller / Enpower, IQ Meter Collar,
// IQ Combiner 6C, and types this release does not know, case P15) to
// enphase_system_controller, tagged with the device type. Systems without an
// Enpower (many EU IQ Battery installs, case P14) simply have no such
// point; a device with nothing to report (C6 RGM) writes none.
func addSystemControllers(acc telegraf.Accumulator, serial string, inv envoy.EnsembleInventory, now time.Time) {
	for _, g := range inv {
		if g.IsBattery() {
			continue
		}
		kind := typeTag(g.Type.S)
		if kind == "" {
			kind = "unknown"
		}
		for _, d := range g.Devices {
			var f fields
			deviceFields(&f, d, g.Type.S)
			if s := gridState(d); s != "" {
				f.setString("grid_state", s)
			}
			relay := d.MainsOperState
			if !relay.Valid {
				relay = d.MIDState // the Collar's microgrid interconnect device
			}
			f.putText("relay_state", relay)
			f.putText("relay_admin_state", d.MainsAdminState)
			f.putText("grid_mode", d.EnpwrGridMode)
			f.putText("battery_grid_mode", d.EnchgGridMode)
			tags := tagsOf("serial", serial, "type", kind)
			if d.SerialNum.S != "" {
				tags.set("device_serial", d.SerialNum.S)
			}
			add(acc, mSystemController, tags, f, now)
		}
	}
}

// addDryContacts maps /ivp/ensemble/dry_contacts joined by id with
// /ivp/ss/dry_contact_settings (either may be the zero value): one
// enphase_dry_contact point per contact. Every firmware 7+ gateway answers
// both with four contacts, Enpower or not: read them only when the inventory
// lists an ENPOWER. type is kept raw ("3RD-PV", case P15).
func addDryContacts(acc telegraf.Accumulator, serial string, status envoy.DryContacts, settings envoy.DryContactSettings, now time.Time) {
	byID := map[string]*fields{}
	var order []string
	get := func(id string) *fields {
		f, ok := byID[id]
		if !ok {
			f = &fields{}
			byID[id] = f
			order = append(order, id)
		}
		return f
	}
	for _, c := range status.DryContacts {
		if c.ID.S == "" {
			continue
		}
		get(c.ID.S).putText("state", c.Status)
	}
	for _, c := range settings.DryContacts {
		if c.ID.S == "" {
			continue
		}
		f := get(c.ID.S)
		f.putText("type", c.Type)
		f.putText("mode", c.Mode)
		f.putText("load_name", c.LoadName)
		f.putText("grid_action", c.GridAction)
		f.putText("micro_grid_action", c.MicroGridAction)
		f.putText("generator_action", c.GenAction)
		f.put("soc_low_percent", c.SOCLow)
		f.put("soc_high_percent", c.SOCHigh)
		f.putFlag("override", c.Override)
		f.putFlag("manual_override", c.ManualOverride)
		f.put("priority", c.Priority)
		f.put("black_start", c.BlackSStart)
		f.put("essential_start_s", c.EssentialStartTime)
		f.put("essential_end_s", c.EssentialEndTime)
	}
	for _, id := range order {
		add(acc, mDryContact, tagsOf("serial", serial, "contact", id), *byID[id], now)
	}
}

// addGenerator maps /ivp/ensemble/generator to enphase_generator. The
// gateway answers it where no generator exists: read it only when the
// inventory lists an ENPOWER and /ivp/ss/gen_config is not {}.
func addGenerator(acc telegraf.Accumulator, serial string, g envoy.Generator, now time.Time) {
	var f fields
	f.putText("admin_state", g.AdminState)
	f.putText("oper_state", g.OperState)
	f.putText("admin_mode", g.AdminMode)
	f.put("start_soc_percent", g.StartSOC)
	if g.StopSOC.Valid && g.StopSOC.V >= 0 { // -1: not set
		f.put("stop_soc_percent", g.StopSOC)
	}
	add(acc, mGenerator, tagsOf("serial", serial), f, now)
}

// addTariff maps the battery settings of /admin/lib/tariff to
// enphase_tariff; a tariff without storage_settings (firmware 4.x/5.x)
// writes nothing. storage_mode is kept raw: "savings-mode" is the legacy name
// of "economy", and a null mode is not written (case P14).
func addTariff(acc telegraf.Accumulator, serial string, t envoy.Tariff, now time.Time) {
	s := t.Tariff.StorageSettings
	if s == nil {
		return
	}
	var f fields
	f.putText("storage_mode", s.Mode)
	f.putText("operation_mode", s.OperationModeSubType)
	f.put("reserve_soc_percent", s.ReservedSOC)
	f.put("very_low_soc_percent", s.VeryLowSOC)
	f.putFlag("charge_from_grid", s.ChargeFromGrid)
	f.putFlag("optimised_schedules", s.OptSchedules)
	f.putEpoch("storage_settings_date_unix_s", s.Date.Epoch())
	add(acc, mTariff, tagsOf("serial", serial), f, now)
}
