package enphase

import (
	"github.com/influxdata/telegraf"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/influxdata/telegraf/testutil"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
)

// TestNonFiniteNeverWrittenV9 covers V9 at its extreme: a reading near the
// float64 limit overflows the Enpower's °F to °C conversion, the sum of the
// phases (V3) and the rebuilt total consumption (V4) to an infinity, and a
// count or code to a CPU-dependent int64 (found by FuzzMetrics). Such a
// field is not written, and a point left with no field is not written at
// all: the shim's writer stops on one.
func TestNonFiniteNeverWrittenV9(t *testing.T) {
	now := time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		f    map[string]any
		want map[string]any // nil: no point
	}{
		{
			"V9 one infinite field among others",
			map[string]any{"power_w": math.Inf(1), "temperature_c": 21.5, "status": "ok"},
			map[string]any{"temperature_c": 21.5, "status": "ok"},
		},
		{"V9 only non-finite fields", map[string]any{"power_w": math.Inf(-1), "temperature_c": math.NaN()}, nil},
		{"V9 integers and strings kept", map[string]any{"devices": int64(3), "state": "idle"}, map[string]any{"devices": int64(3), "state": "idle"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var acc testutil.Accumulator
			var f fields
			for k, v := range tt.f {
				switch v := v.(type) {
				case float64:
					f.setFloat(k, v)
				case int64:
					f.setInt(k, v)
				case string:
					f.setString(k, v)
				}
			}
			add(&acc, mBattery, tagsOf("serial", "s"), f, now)
			if tt.want == nil {
				if len(acc.Metrics) != 0 {
					t.Fatalf("a point was written: %+v", acc.Metrics[0])
				}
				return
			}
			if len(acc.Metrics) != 1 || !reflect.DeepEqual(tt.want, acc.Metrics[0].Fields) {
				t.Fatalf("got %+v, want one point with %v", acc.Metrics, tt.want)
			}
		})
	}

	t.Run("V9 a count or code beyond int64", func(t *testing.T) {
		var acc testutil.Accumulator
		huge := envoy.Num{V: 1e300, Valid: true}
		e := mappingPoller(testutil.Logger{Quiet: true})
		e.addProduction(
			&acc,
			"s",
			envoy.Production{Production: []envoy.Reading{{Type: "inverters", ActiveCount: huge, Values: envoy.Values{WNow: envoy.Num{V: 5, Valid: true}}}}},
			0,
			now,
		)
		addACBatteries(&acc, "s", []envoy.Storage{{ActiveCount: huge, WNow: envoy.Num{V: 5, Valid: true}}}, now)
		if len(acc.Metrics) != 2 {
			t.Fatalf("got %d points, want 2", len(acc.Metrics))
		}
		for _, m := range acc.Metrics {
			if _, ok := m.Fields["devices"]; ok || m.Fields["power_w"] != 5.0 {
				t.Errorf("%s: %v, want power_w alone", m.Measurement, m.Fields)
			}
		}
	})

	t.Run("V9 Enpower temperature at the float64 limit", func(t *testing.T) {
		var acc testutil.Accumulator
		inv := envoy.EnsembleInventory{{Type: envoy.Text{S: envoy.DeviceEnpower, Valid: true}, Devices: []envoy.EnsembleDevice{{
			SerialNum: envoy.Text{S: "1", Valid: true}, Temperature: envoy.Num{V: -math.MaxFloat64, Valid: true}}}}}
		addSystemControllers(&acc, "s", inv, now)
		if len(acc.Metrics) != 0 {
			t.Fatalf("a point with only an infinite temperature was written: %+v", acc.Metrics[0])
		}
	})
}

// mappingPoller is a poller for tests of the mapping alone: no client, no
// gateway, the lifetime counters fresh.
func mappingPoller(log telegraf.Logger) *poller {
	return &poller{log: log, now: time.Now, host: "192.0.2.1", state: state{counters: counters{}}}
}

// The mappers of every steady line put their fields in key order, so that
// add's sort moves nothing (it would still sort them: this guards the cost).
func TestSteadyMappersPutFieldsInKeyOrder(t *testing.T) {
	n := envoy.Num{V: 1, Valid: true}
	v := envoy.Values{WNow: n, WhLifetime: n, WhToday: n, WhLastSevenDays: n, VarhLeadLifetime: n, VarhLagLifetime: n,
		VahLifetime: n, RmsCurrent: n, RmsVoltage: n, ReactPwr: n, ApprntPwr: n, PwrFactor: n}
	m := envoy.MeterValues{ActEnergyDlvd: n, ActEnergyRcvd: n, ApparentEnergy: n, ReactEnergyLagg: n, ReactEnergyLead: n,
		ActivePower: n, ApparentPower: n, ReactivePower: n, PwrFactor: n, Voltage: n, Current: n, Freq: n}
	for _, perPhase := range []bool{false, true} {
		for _, daily := range []bool{false, true} {
			var f fields
			productionFields(&f, v, perPhase, daily)
			requireKeyOrder(t, f)
		}
		var f fields
		meterFields(&f, m, perPhase)
		requireKeyOrder(t, f)
	}
}

func requireKeyOrder(t *testing.T, f fields) {
	t.Helper()
	for i := 1; i < len(f); i++ {
		if f[i-1].Key >= f[i].Key {
			t.Fatalf("%s before %s: not in key order", f[i-1].Key, f[i].Key)
		}
	}
}
