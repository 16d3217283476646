package enphase

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/testutil"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
	"github.com/telegraf-enphase/telegraf-enphase/internal/lineproto"
)

// Benchmarks of the plugin's own work per gather: decoding the gateway's
// bodies, mapping them to metrics and encoding those as line protocol (what
// the execd loop writes to Telegraf). The network is left out: the gateway's
// latency dwarfs it and is not ours. Sizes 10, 100 and 600 inverters show the
// cost grows linearly with the site.

// site holds one gateway's bodies by path.
type site map[string][]byte

// demoSite is the embedded demo capture.
func demoSite(b *testing.B) site {
	b.Helper()
	dir := filepath.Join("..", "..", "..", "internal", "envoysim", "demo")
	s := site{}
	for path, name := range map[string]string{
		envoy.PathProduction: "production.json_details_1", envoy.PathMeters: "ivp_meters",
		envoy.PathMeterReadings: "ivp_meters_readings", envoy.PathInverters: "api_v1_production_inverters",
		envoy.PathDeviceData: "ivp_pdm_device_data", envoy.PathEnsembleInventory: "ivp_ensemble_inventory",
	} {
		body, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			b.Fatal(err)
		}
		s[path] = body
	}
	return s
}

// largeSite is a synthetic three-phase site with n microinverters (the
// detailed list capped at 50 devices, as gateways do), three CTs and four IQ
// Batteries with a system controller.
func largeSite(b *testing.B, n int) site {
	b.Helper()
	line := func(w float64) map[string]any {
		return map[string]any{"wNow": w, "whLifetime": w * 4000, "varhLeadLifetime": 12.5, "varhLagLifetime": 3000.25, "vahLifetime": w * 4100,
			"rmsCurrent": w / 230, "rmsVoltage": 230.5, "reactPwr": 12.1, "apprntPwr": w * 1.01, "pwrFactor": 0.99, "whToday": w * 5, "whLastSevenDays": w * 35}
	}
	eim := func(mt string, w float64) map[string]any {
		e := line(w * 3)
		e["type"], e["activeCount"], e["measurementType"], e["readingTime"] = "eim", 1, mt, 1785603647
		e["lines"] = []any{line(w), line(w), line(w)}
		return e
	}
	prod := map[string]any{
		"production": []any{
			map[string]any{"type": "inverters", "activeCount": n, "readingTime": 1785603600, "wNow": n * 300, "whLifetime": n * 1200000},
			eim("production", float64(n*100)),
		},
		"consumption": []any{eim("total-consumption", float64(n*40)), eim("net-consumption", -float64(n*60))},
		"storage":     []any{map[string]any{"type": "acb", "activeCount": 0, "readingTime": 0, "wNow": 0, "whNow": 0, "state": "idle"}},
	}
	var meters, readings, invs []any
	for i, mt := range []string{"production", "net-consumption", "storage"} {
		eid := 704643328 + 256*i
		meters = append(
			meters,
			map[string]any{
				"eid":             eid,
				"state":           "enabled",
				"measurementType": mt,
				"phaseMode":       "three",
				"phaseCount":      3,
				"meteringStatus":  "normal",
				"statusFlags":     []any{},
			},
		)
		ch := func() map[string]any {
			return map[string]any{
				"actEnergyDlvd":   5000000.5,
				"actEnergyRcvd":   120000.25,
				"apparentEnergy":  6000000.5,
				"reactEnergyLagg": 300000.5,
				"reactEnergyLead": 2000.5,
				"activePower":     1500.5,
				"apparentPower":   1510.5,
				"reactivePower":   10.5,
				"pwrFactor":       0.99,
				"voltage":         230.5,
				"current":         6.5,
				"freq":            50.0,
			}
		}
		r := ch()
		r["eid"], r["timestamp"], r["channels"] = eid, 1785603647, []any{ch(), ch(), ch()}
		readings = append(readings, r)
	}
	devices := map[string]any{}
	for i := range n {
		sn := fmt.Sprintf("4822%08d", i)
		invs = append(invs, map[string]any{"serialNumber": sn, "lastReportDate": 1785603000 + i, "devType": 1, "lastReportWatts": 290, "maxReportWatts": 300})
		if i < 48 {
			devices[fmt.Sprint(553648384+256*i)] = map[string]any{
				"devName": "pcu",
				"sn":      sn,
				"active":  true,
				"modGone": false,
				"channels": []any{map[string]any{
					"chanEid": 1627390225 + 256*i, "created": 1785603000 + i,
					"wattHours": map[string]any{"today": 1500, "yesterday": 1900, "week": 12000},
					"watts":     map[string]any{"now": 290, "nowUsed": 0, "max": 300},
					"lastReading": map[string]any{"eid": 1627390225 + 256*i, "endDate": 1785603000 + i, "duration": 903, "joulesProduced": 261870,
						"acVoltageINmV": 230500, "acFrequencyINmHz": 50000, "dcVoltageINmV": 38000, "dcCurrentINmA": 7900, "channelTemp": 41, "acCurrentInmA": 1260},
					"lifetime": map[string]any{"createdTime": 1700000000, "duration": 85000000, "joulesProduced": 4200000000}}},
			}
		}
	}
	devices["deviceCount"], devices["deviceDataLimit"] = min(n, 48)+2, 50
	var batteries []any
	var power []any
	for i := range 4 {
		sn := fmt.Sprintf("4922340013%02d", i)
		batteries = append(batteries, map[string]any{"serial_num": sn, "percentFull": 80 + i, "temperature": 25, "encharge_capacity": 3360, "led_status": 12,
			"admin_state_str": "ENCHG_STATE_READY", "comm_level_sub_ghz": 4, "comm_level_2_4_ghz": 4, "communicating": true, "device_status": []any{"envoy.global.ok"}})
		power = append(power, map[string]any{"serial_num": sn, "real_power_mw": -1250000, "apparent_power_mva": 1260000, "soc": 80 + i})
	}
	inventory := []any{
		map[string]any{"type": "ENCHARGE", "devices": batteries},
		map[string]any{
			"type":    "ENPOWER",
			"devices": []any{map[string]any{"serial_num": "122210043898", "mains_admin_state": "closed", "mains_oper_state": "closed", "temperature": 90}},
		},
	}
	s := site{}
	for path, v := range map[string]any{
		envoy.PathProduction: prod, envoy.PathMeters: meters, envoy.PathMeterReadings: readings, envoy.PathInverters: invs,
		envoy.PathDeviceData: devices, envoy.PathEnsembleInventory: inventory, envoy.PathEnsemblePower: map[string]any{"devices:": power},
		envoy.PathEnsembleSecCtrl: map[string]any{
			"ENC_agg_soc": 81, "ENC_agg_avail_energy": 10900, "ENC_agg_backup_energy": 3000,
			"Enc_max_available_capacity": 13440, "agg_soc": 81, "Max_energy": 13440,
		},
	} {
		body, err := json.Marshal(v)
		if err != nil {
			b.Fatal(err)
		}
		s[path] = body
	}
	return s
}

// sink turns metrics into line protocol the way the execd loop does (one
// lineproto.Batch per gather), and counts fields.
type sink struct {
	acc    *lineproto.Batch
	fields int
}

func newSink(*testing.B) *sink {
	return &sink{acc: lineproto.NewBatch(testutil.Logger{})}
}

// flush ends the gather: its lines are dropped, as if written.
func (s *sink) flush(*testing.B) {
	s.fields += s.acc.Fields()
	_, _ = io.Discard.Write(s.acc.Bytes())
	s.acc.Release()
	s.acc = lineproto.NewBatch(testutil.Logger{})
}

func decode(b *testing.B, s site, path string, v any) {
	if err := envoy.Decode(envoy.Response{Path: path, Status: 200, Body: s[path]}, v); err != nil {
		b.Fatal(err)
	}
}

// gatherCPU is one full gather's own work, every tier included: what
// gather does between its requests. last carries the inverters' reports
// already written: a fresh map is a first gather, a kept one a later poll
// where reports are unchanged.
func gatherCPU(b *testing.B, e *poller, s site, out *sink, last map[string]envoy.Epoch, now time.Time) {
	const serial = "122301234567"
	var meters []envoy.Meter
	decode(b, s, envoy.PathMeters, &meters)
	var prod envoy.Production
	decode(b, s, envoy.PathProduction, &prod)
	e.addProduction(out.acc, serial, prod, phaseCount(meters), now)
	addACBatteries(out.acc, serial, prod.Storage, now)
	var readings []envoy.MeterReading
	decode(b, s, envoy.PathMeterReadings, &readings)
	addMeterReadings(out.acc, serial, enabledMeters(meters), readings, now)
	var detail envoy.DeviceData
	decode(b, s, envoy.PathDeviceData, &detail)
	covered := addDeviceData(out.acc, serial, detail, last, now)
	if detail.Capped() {
		var invs []envoy.Inverter
		decode(b, s, envoy.PathInverters, &invs)
		addInverters(out.acc, serial, invs, covered, last, now)
	}
	var inv envoy.EnsembleInventory
	decode(b, s, envoy.PathEnsembleInventory, &inv)
	if inv.BatteryCount() > 0 {
		var power envoy.EnsemblePower
		decode(b, s, envoy.PathEnsemblePower, &power)
		addBatteries(out.acc, serial, inv, power, now)
		var sec envoy.SecCtrl
		decode(b, s, envoy.PathEnsembleSecCtrl, &sec)
		addBatterySystem(out.acc, serial, sec, &inv, now)
	}
	addSystemControllers(out.acc, serial, inv, now)
	out.flush(b)
}

// benchPlugin is a poller for the mapping alone; with no address, as the
// figures in BENCHMARKS.md were taken (a name string less per debug line).
func benchPlugin(*testing.B) *poller {
	return &poller{log: discardLog{}, now: time.Now, state: state{counters: counters{}}}
}

// BenchmarkGather is a whole gather with every tier due (the heaviest one,
// every 5 minutes), for the demo and for synthetic sites.
func BenchmarkGather(b *testing.B) {
	cases := []struct {
		name string
		site func(*testing.B) site
	}{
		{"demo", demoSite},
		{"inverters=10", func(b *testing.B) site { return largeSite(b, 10) }},
		{"inverters=100", func(b *testing.B) site { return largeSite(b, 100) }},
		{"inverters=600", func(b *testing.B) site { return largeSite(b, 600) }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			s := c.site(b)
			e := benchPlugin(b)
			out := newSink(b)
			now := time.Unix(1785607200, 0)
			b.ReportAllocs()
			cpu := startCPU(b)
			for range b.N {
				gatherCPU(b, e, s, out, map[string]envoy.Epoch{}, now)
			}
			cpu.report(b)
			b.ReportMetric(float64(out.fields)/float64(b.N), "fields/op")
		})
	}
}

// BenchmarkGatherUnchanged is the same gather when the inverters' reports
// have not changed since the last poll (their usual state: they report every
// 5 to 15 minutes): nothing is written for them.
func BenchmarkGatherUnchanged(b *testing.B) {
	for _, n := range []int{10, 100, 600} {
		b.Run(fmt.Sprintf("inverters=%d", n), func(b *testing.B) {
			s := largeSite(b, n)
			e := benchPlugin(b)
			out := newSink(b)
			now := time.Unix(1785607200, 0)
			last := map[string]envoy.Epoch{}
			gatherCPU(b, e, s, out, last, now)
			out.fields = 0
			b.ReportAllocs()
			cpu := startCPU(b)
			for range b.N {
				gatherCPU(b, e, s, out, last, now)
			}
			cpu.report(b)
			b.ReportMetric(float64(out.fields)/float64(b.N), "fields/op")
		})
	}
}

// BenchmarkSteadyGather is the 15-second gather: production and CT readings.
func BenchmarkSteadyGather(b *testing.B) {
	for _, n := range []int{10, 600} {
		b.Run(fmt.Sprintf("inverters=%d", n), func(b *testing.B) {
			s := largeSite(b, n)
			e := benchPlugin(b)
			out := newSink(b)
			now := time.Unix(1785607200, 0)
			b.ReportAllocs()
			cpu := startCPU(b)
			for range b.N {
				var meters []envoy.Meter
				decode(b, s, envoy.PathMeters, &meters)
				var prod envoy.Production
				decode(b, s, envoy.PathProduction, &prod)
				e.addProduction(out.acc, "122301234567", prod, phaseCount(meters), now)
				var readings []envoy.MeterReading
				decode(b, s, envoy.PathMeterReadings, &readings)
				addMeterReadings(out.acc, "122301234567", enabledMeters(meters), readings, now)
				out.flush(b)
			}
			cpu.report(b)
			b.ReportMetric(float64(out.fields)/float64(b.N), "fields/op")
		})
	}
}

// BenchmarkEndpoint decodes and maps one endpoint of the 600-inverter site.
func BenchmarkEndpoint(b *testing.B) {
	s := largeSite(b, 600)
	now := time.Unix(1785607200, 0)
	cases := map[string]func(e *poller, out *sink){
		"production": func(e *poller, out *sink) {
			var p envoy.Production
			decode(b, s, envoy.PathProduction, &p)
			e.addProduction(out.acc, "s", p, 3, now)
		},
		"meter_readings": func(_ *poller, out *sink) {
			var meters []envoy.Meter
			decode(b, s, envoy.PathMeters, &meters)
			var r []envoy.MeterReading
			decode(b, s, envoy.PathMeterReadings, &r)
			addMeterReadings(out.acc, "s", enabledMeters(meters), r, now)
		},
		"inverters": func(_ *poller, out *sink) {
			var invs []envoy.Inverter
			decode(b, s, envoy.PathInverters, &invs)
			addInverters(out.acc, "s", invs, nil, map[string]envoy.Epoch{}, now)
		},
		"device_data": func(_ *poller, out *sink) {
			var d envoy.DeviceData
			decode(b, s, envoy.PathDeviceData, &d)
			addDeviceData(out.acc, "s", d, map[string]envoy.Epoch{}, now)
		},
		"ensemble": func(_ *poller, out *sink) {
			var inv envoy.EnsembleInventory
			decode(b, s, envoy.PathEnsembleInventory, &inv)
			var p envoy.EnsemblePower
			decode(b, s, envoy.PathEnsemblePower, &p)
			addBatteries(out.acc, "s", inv, p, now)
		},
	}
	for name, run := range cases {
		b.Run(name, func(b *testing.B) {
			e := benchPlugin(b)
			out := newSink(b)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				run(e, out)
				out.flush(b)
			}
		})
	}
}

// discardLog is a telegraf.Logger that drops everything.
type discardLog struct{}

func (discardLog) Level() telegraf.LogLevel         { return telegraf.Error }
func (discardLog) AddAttribute(string, interface{}) {}
func (discardLog) Errorf(string, ...interface{})    {}
func (discardLog) Error(...interface{})             {}
func (discardLog) Warnf(string, ...interface{})     {}
func (discardLog) Warn(...interface{})              {}
func (discardLog) Infof(string, ...interface{})     {}
func (discardLog) Info(...interface{})              {}
func (discardLog) Debugf(string, ...interface{})    {}
func (discardLog) Debug(...interface{})             {}
func (discardLog) Tracef(string, ...interface{})    {}
func (discardLog) Trace(...interface{})             {}
