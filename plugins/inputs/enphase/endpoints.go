package enphase

import (
	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
)

// An endpoint is one gateway endpoint the plugin reads, described once: the
// schedule, the handling of a gateway that lacks it, the capture list of
// 'get --all' and the fuzz seeds all come from the endpoints table. A new
// endpoint is a path (and its type) in internal/envoy, a mapper in
// metrics.go or ensemble.go, and one row here.
type endpoint struct {
	path string
	tier tier
	// optional endpoints are dropped for reprobe_interval when the gateway
	// lacks them (404) or refuses them to this token (401 or 403 after a
	// fresh check_jwt); a required one's failure is an error every gather.
	optional bool
	firmware firmware
	// maxBody bounds the body read (0: envoy.MaxBody), maxValues its JSON
	// values (0: envoy.DefaultMaxValues): see "Limits" below (case R4).
	maxBody   int64
	maxValues int
	// target returns a fresh value to decode the body into.
	target func() any
	// wanted, when set, says whether the endpoint is worth a request this
	// gather, from what the earlier rows read (readings need the CT list).
	wanted func(g *gatherRun) bool
	// use maps what was decoded (ok) to metrics and state, and sets when the
	// tier is due again (g.reschedule); it runs after a failure too (ok
	// false, v undecoded), except a fatal one, which ends the gather.
	use func(g *gatherRun, v any, ok bool)
}

// tier is how often an endpoint is read; each has its own setting.
type tier int

const (
	tierGather         tier = iota // every gather
	tierMeters                     // CT configuration: with /info (info_interval)
	tierEnsemble                   // batteries, System Controller: ensemble_interval
	tierEnsembleConfig             // dry contact and generator settings: with /info
	tierTariff                     // tariff_interval, where there are batteries
	tierInverters                  // inverters_interval
	tierInventory                  // /inventory.json: inverters_interval with AC Batteries, else info_interval
	tierSummary                    // every gather before firmware 7, else inverters_interval
)

// firmware is the range of gateway firmware an endpoint is asked of.
type firmware int

const (
	anyFirmware firmware = iota // asked of every gateway: optional ones are dropped where missing
	before7                     // firmware before 7 only (legacy mode)
)

// endpoints, in the order a gather reads them: an endpoint comes after those
// its wanted and use read.
//
// Limits (case R4). Each row's maxBody and maxValues are its largest real
// answer (over the pyenphase fixtures and our captures, noted on the row)
// times 8 to 32, more where a bigger site lists more devices (600 inverters,
// 50 in device_data). A body or a value count beyond them is refused
// ("larger than N bytes, the limit for PATH", "more than N JSON values"):
// the value count bounds the memory decoding takes, which the body's size
// does not (a 4 MiB list of {} decoded into 1 GiB). /info and check_jwt are
// bounded in internal/envoy (envoy.MaxInfoBody). docs/reliability.md (R4)
// and BENCHMARKS.md give the memory this costs at worst.
var endpoints = []endpoint{
	{
		// Before firmware 7 the summary is where production lives, and is read
		// first, every gather: until one request has passed the digest check,
		// a 401 cannot tell a wrong password from an endpoint this firmware
		// refuses. From firmware 7 on it is the gateway's own 64-bit lifetime
		// (the reference of the inverters' 32-bit total, case V7) and its
		// today and 7-day counters, which change slowly: read with the
		// inverters, so the steady gather stays at 2 requests. Not where it
		// stalls (case P8).
		path: envoy.PathSummary, tier: tierSummary, optional: true,
		maxBody: 16 << 10, maxValues: 500, // largest real: 122 B, 4 values
		target: func() any { return new(envoy.Summary) },
		wanted: summaryTrusted,
		use: func(g *gatherRun, v any, ok bool) {
			if ok {
				g.addSummary(*v.(*envoy.Summary))
			}
			if !g.p.legacy && (ok || g.p.isDropped(envoy.PathSummary, g.now)) {
				g.reschedule(tierSummary, g.p.every.inverters)
			}
		},
	},
	{
		// CT configuration changes rarely: read it with /info, not every gather.
		path: envoy.PathMeters, tier: tierMeters, optional: true,
		maxBody: 32 << 10, maxValues: 1_000, // largest real: 1.6 KB, 63 values
		target: func() any { return new([]envoy.Meter) },
		use: func(g *gatherRun, v any, ok bool) {
			st := g.st
			switch {
			case ok:
				st.setMeters(*v.(*[]envoy.Meter))
				if g.metadataDue(envoy.PathMeters) {
					addMeterDevices(g.acc, g.serial, st.meters, g.now)
				}
				g.reschedule(tierMeters, g.p.every.info)
			case g.p.isDropped(envoy.PathMeters, g.now):
				st.setMeters(nil)
				g.reschedule(tierMeters, g.p.every.reprobe)
			}
		},
	},
	{
		path: envoy.PathProduction, tier: tierGather,
		maxBody: 128 << 10, maxValues: 4_000, // largest real: 6.7 KB, 223 values
		target: func() any { return new(envoy.Production) },
		use: func(g *gatherRun, v any, ok bool) {
			if !ok {
				return
			}
			prod := v.(*envoy.Production)
			g.p.addProduction(g.acc, g.serial, *prod, phaseCount(g.st.meters), g.now)
			addACBatteries(g.acc, g.serial, prod.Storage, g.now)
			for _, sto := range prod.Storage {
				if sto.ActiveCount.Valid && sto.ActiveCount.V > 0 {
					g.st.batteries = true
				}
			}
		},
	},
	{
		// Readings are joined to meters by eid, so without the CT list they are useless.
		path: envoy.PathMeterReadings, tier: tierGather, optional: true,
		maxBody: 256 << 10, maxValues: 8_000, // largest real: 18 KB, 520 values
		target: func() any { return new([]envoy.MeterReading) },
		wanted: func(g *gatherRun) bool {
			return len(g.st.enabledMeters) > 0
		},
		use: func(g *gatherRun, v any, ok bool) {
			if ok {
				addMeterReadings(g.acc, g.serial, g.st.enabledMeters, *v.(*[]envoy.MeterReading), g.now)
			}
		},
	},
	{
		// The ensemble tier asks only for what the inventory says exists.
		path: envoy.PathEnsembleInventory, tier: tierEnsemble, optional: true,
		maxBody: 128 << 10, maxValues: 4_000, // largest real: 6.9 KB, 169 values
		target: func() any { return new(envoy.EnsembleInventory) },
		use: func(g *gatherRun, v any, ok bool) {
			switch {
			case !ok:
				// A gateway without an ensemble (404) is done until the next
				// probe; after another failure, try again next gather.
				if g.p.isDropped(envoy.PathEnsembleInventory, g.now) {
					g.reschedule(tierEnsemble, g.p.every.ensemble)
				}
			case len(*v.(*envoy.EnsembleInventory)) == 0:
				// No ensemble devices: ask again at the next probe, not every minute.
				g.reschedule(tierEnsemble, g.p.every.reprobe)
			default:
				inv := v.(*envoy.EnsembleInventory)
				g.inventory = inv
				if inv.BatteryCount() > 0 {
					g.st.batteries = true
				}
				addSystemControllers(g.acc, g.serial, *inv, g.now)
				if g.metadataDue(envoy.PathEnsembleInventory) {
					addEnsembleDevices(g.acc, g.serial, *inv, g.now)
				}
				g.reschedule(tierEnsemble, g.p.every.ensemble)
			}
		},
	},
	{
		path: envoy.PathEnsemblePower, tier: tierEnsemble, optional: true,
		maxBody: 32 << 10, maxValues: 1_000, // largest real: 0.8 KB, 26 values
		target: func() any { return new(envoy.EnsemblePower) },
		wanted: func(g *gatherRun) bool { return g.inventory != nil && g.inventory.BatteryCount() > 0 },
		use: func(g *gatherRun, v any, ok bool) {
			// The inventory alone still says what each battery holds.
			var power envoy.EnsemblePower
			if ok {
				power = *v.(*envoy.EnsemblePower)
			}
			addBatteries(g.acc, g.serial, *g.inventory, power, g.now)
		},
	},
	{
		path: envoy.PathEnsembleSecCtrl, tier: tierEnsemble, optional: true,
		maxBody: 32 << 10, maxValues: 1_000, // largest real: 1.3 KB, 42 values
		target: func() any { return new(envoy.SecCtrl) },
		wanted: func(g *gatherRun) bool { return g.inventory != nil && g.inventory.BatteryCount() > 0 },
		use: func(g *gatherRun, v any, ok bool) {
			if ok {
				addBatterySystem(g.acc, g.serial, *v.(*envoy.SecCtrl), g.inventory, g.now)
			}
		},
	},
	{
		// Every gateway answers the settings, with or without a System
		// Controller: they are read only where one exists, and only with /info.
		path: envoy.PathDryContactSettings, tier: tierEnsembleConfig, optional: true,
		maxBody: 64 << 10, maxValues: 2_000, // largest real: 2.9 KB, 93 values
		target: func() any { return new(envoy.DryContactSettings) },
		wanted: hasEnpower,
		use: func(g *gatherRun, v any, ok bool) {
			if ok {
				g.st.contactSettings = *v.(*envoy.DryContactSettings)
			}
			g.reschedule(tierEnsembleConfig, g.p.every.info)
		},
	},
	{
		path: envoy.PathGeneratorConfig, tier: tierEnsembleConfig, optional: true,
		maxBody: 16 << 10, maxValues: 500, // largest real: 0.5 KB, 13 values
		target: func() any { return new(envoy.GeneratorConfig) },
		wanted: hasEnpower,
		use: func(g *gatherRun, v any, ok bool) {
			if ok {
				g.st.generatorCfg = *v.(*envoy.GeneratorConfig)
			}
			g.reschedule(tierEnsembleConfig, g.p.every.info)
		},
	},
	{
		// The schedule is read with the configuration, only where a
		// generator is configured; both are written here.
		path: envoy.PathGeneratorSchedule, tier: tierEnsembleConfig, optional: true,
		maxBody: 32 << 10, maxValues: 1_000, // largest real: 1.0 KB, 33 values
		target: func() any { return new(envoy.GeneratorSchedule) },
		wanted: func(g *gatherRun) bool { return hasEnpower(g) && g.st.generatorCfg.Configured() },
		use: func(g *gatherRun, v any, ok bool) {
			var sched *envoy.GeneratorSchedule
			if ok {
				sched = v.(*envoy.GeneratorSchedule)
			}
			addGeneratorConfig(g.acc, g.serial, g.st.generatorCfg, sched, g.now)
			g.reschedule(tierEnsembleConfig, g.p.every.info)
		},
	},
	{
		path: envoy.PathEnsembleDryContacts, tier: tierEnsemble, optional: true,
		maxBody: 16 << 10, maxValues: 500, // largest real: 0.5 KB, 13 values
		target: func() any { return new(envoy.DryContacts) },
		wanted: hasEnpower,
		use: func(g *gatherRun, v any, ok bool) {
			if ok {
				addDryContacts(g.acc, g.serial, *v.(*envoy.DryContacts), g.st.contactSettings, g.now)
			}
		},
	},
	{
		path: envoy.PathEnsembleGenerator, tier: tierEnsemble, optional: true,
		maxBody: 16 << 10, maxValues: 500, // largest real: 0.5 KB, 9 values
		target: func() any { return new(envoy.Generator) },
		wanted: func(g *gatherRun) bool { return hasEnpower(g) && g.st.generatorCfg.Configured() },
		use: func(g *gatherRun, v any, ok bool) {
			if ok {
				addGenerator(g.acc, g.serial, *v.(*envoy.Generator), g.now)
			}
		},
	},
	{
		path: envoy.PathTariff, tier: tierTariff, optional: true,
		maxBody: 256 << 10, maxValues: 6_000, // largest real: 13 KB, 282 values
		target: func() any { return new(envoy.Tariff) },
		wanted: func(g *gatherRun) bool { return g.st.batteries },
		use: func(g *gatherRun, v any, ok bool) {
			if ok {
				addTariff(g.acc, g.serial, *v.(*envoy.Tariff), g.now)
				g.reschedule(tierTariff, g.p.every.tariff)
			}
		},
	},
	{
		// Detailed data first (firmware 8.2.4345 and later); the summary list
		// where it is missing, and for the inverters beyond its 50-device cap.
		path: envoy.PathDeviceData, tier: tierInverters, optional: true,
		maxBody: 512 << 10, maxValues: 16_000, // largest real: 31 KB, 932 values (19 devices; the gateway lists 50 at most)
		target: func() any { return new(envoy.DeviceData) },
		use: func(g *gatherRun, v any, ok bool) {
			if !ok {
				return
			}
			detail := v.(*envoy.DeviceData)
			var ends []envoy.Epoch
			for _, d := range detail.Devices {
				if d.Microinverter() && len(d.Channels) > 0 {
					ends = append(ends, d.Channels[0].LastReading.EndDate)
				}
			}
			g.p.checkReportTimes(g.now, ends...)
			if detail.DeviceCount.Valid || len(detail.Devices) > 0 {
				g.covered = addDeviceData(g.acc, g.serial, *detail, g.st.lastReport, g.now)
			}
			if g.covered != nil && !detail.Capped() {
				g.invertersDone = true
				g.reschedule(tierInverters, g.p.every.inverters)
			}
		},
	},
	{
		path: envoy.PathInverters, tier: tierInverters, optional: true,
		maxBody: 256 << 10, maxValues: 8_000, // largest real: 7.7 KB, 264 values (51 inverters; a gateway takes 600)
		target: func() any { return new([]envoy.Inverter) },
		wanted: func(g *gatherRun) bool { return !g.invertersDone },
		use: func(g *gatherRun, v any, ok bool) {
			// On failure, try again next gather rather than a whole interval later.
			if ok {
				var ends []envoy.Epoch
				for _, inv := range *v.(*[]envoy.Inverter) {
					ends = append(ends, inv.LastReportDate)
				}
				g.p.checkReportTimes(g.now, ends...)
				addInverters(g.acc, g.serial, *v.(*[]envoy.Inverter), g.covered, g.st.lastReport, g.now)
				g.reschedule(tierInverters, g.p.every.inverters)
			}
		},
	},
	{
		// Device metadata and the AC Batteries. The body takes seconds to
		// build (3 s on capture 8.3.5169) and holds ~700 bytes per device.
		// AC Battery states of charge are
		// read as often as the batteries report, every inverters_interval;
		// a gateway without them is asked every info_interval.
		path: envoy.PathInventory, tier: tierInventory, optional: true,
		// largest real: 14 KB, 420 values (20 devices); 600 inverters are ~420 KB, ~15,000 values
		maxBody: 1 << 20, maxValues: 32_000,
		target: func() any { return new(envoy.Inventory) },
		use: func(g *gatherRun, v any, ok bool) {
			if !ok {
				// Not every 15 s a body this slow: after a failure, at the
				// inverters' pace; a gateway without it, at the next probe.
				every := g.p.every.inverters
				if g.p.isDropped(envoy.PathInventory, g.now) {
					every = g.p.every.reprobe
				}
				g.reschedule(tierInventory, every)
				return
			}
			every := g.p.every.info
			if addInventory(g.acc, g.serial, *v.(*envoy.Inventory), g.metadataDue(envoy.PathInventory), g.now) {
				every = g.p.every.inverters
			}
			g.reschedule(tierInventory, every)
		},
	},
}

// lastOfTier is the index of each tier's last row in endpoints.
var lastOfTier = func() map[tier]int {
	out := make(map[tier]int)
	for i, ep := range endpoints {
		out[ep.tier] = i
	}
	return out
}()

// captureOnly are endpoints 'get --all' saves beyond those the plugin
// reads: what later features read, so one capture lets us replay a user's
// gateway. Slow pages (/home, /production) are left out.
var captureOnly = []string{"/production.json", "/ivp/ensemble/status", "/ivp/livedata/status"}

// CaptureEndpoints lists what 'get --all' saves for a bug report: /info,
// every endpoint the plugin reads, and captureOnly.
func CaptureEndpoints() []string {
	out := make([]string, 0, 1+len(endpoints)+len(captureOnly))
	out = append(out, envoy.PathInfo)
	for _, ep := range endpoints {
		out = append(out, ep.path)
	}
	return append(out, captureOnly...)
}

// endpointByPath finds the description of path, or nil.
func endpointByPath(path string) *endpoint {
	for i := range endpoints {
		if endpoints[i].path == path {
			return &endpoints[i]
		}
	}
	return nil
}

func hasEnpower(g *gatherRun) bool {
	return g.inventory != nil && g.inventory.Has(envoy.DeviceEnpower)
}

// summaryTrusted says whether /api/v1/production is worth reading: always
// before firmware 7; from 8.2.4264 on a metered gateway (imeter) it stalls
// unless the production CT is enabled (case P8), which is known once the CT
// list has been read.
func summaryTrusted(g *gatherRun) bool {
	if g.p.legacy || !g.info.IMeter || !g.info.Version.AtLeast(8, 2, 4264) {
		return true
	}
	for _, m := range g.st.meters {
		if m.Enabled() && m.MeasurementType == "production" {
			return true
		}
	}
	return false
}
