package enphase

import (
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoysim"
)

// TestFaultMatrix plays one simulator fault at a time against the plugin:
// a healthy gather, a gather while the fault is in force, and one after it.
// Each row says what the fault may cost; every row must recover at once.
// docs/reliability.md points here for each fault.
func TestFaultMatrix(t *testing.T) {
	cases := []struct {
		id, fault string
		lost      string // measurement the fault costs ("" = none)
		kept      string // measurement still written during the fault ("" = none: the gather fails)
		wantErr   string // in the errors of the faulted gather ("" = no error)
		// check runs after the gather that follows the fault.
		check func(t *testing.T, before, during, after envoysim.Stats, acc *testutil.Accumulator, at time.Time)
	}{
		{id: "T8 device_data hangs past the timeout", fault: `{"kind":"hang","path":"/ivp/meters/readings","at":"1h","for":"1m"}`,
			lost: "enphase_meter", kept: "enphase_production", wantErr: "no answer"},
		{id: "T8 the nightly stall: everything hangs", fault: `{"kind":"hang","at":"1h","for":"1m"}`,
			lost: "enphase_production", wantErr: "no answer"},
		{id: "T9 504 from openresty", fault: `{"kind":"status","status":504,"path":"/production.json","at":"1h","for":"1m"}`,
			lost: "enphase_production", kept: "enphase_meter", wantErr: "504"},
		{id: "T10 503 while rebooting", fault: `{"kind":"status","at":"1h","for":"1m"}`,
			lost: "enphase_production", wantErr: "503",
			check: func(t *testing.T, before, during, after envoysim.Stats, _ *testutil.Accumulator, _ time.Time) {
				// /info is read again after a 5xx: the firmware may have changed.
				require.Greater(t, after.Requests["/info"], during.Requests["/info"])
			}},
		{id: "T1 401 HTML page on one endpoint", fault: `{"kind":"unauthorized","path":"/production.json","at":"1h","for":"1m"}`,
			lost: "enphase_production", kept: "enphase_meter", wantErr: "401",
			check: func(t *testing.T, before, during, after envoysim.Stats, _ *testutil.Accumulator, _ time.Time) {
				// One fresh check_jwt to tell a dead session from a refused
				// endpoint, no more; plus, an hour on, the one that renews the
				// expired session for the summary read first (every 5 min).
				require.LessOrEqual(t, during.CheckJWT-before.CheckJWT, 2)
			}},
		{id: "T2 HTML page with 200", fault: `{"kind":"html","path":"/production.json","at":"1h","for":"1m"}`,
			lost: "enphase_production", kept: "enphase_meter", wantErr: "HTML page instead of JSON"},
		{id: "T3 empty body", fault: `{"kind":"empty","path":"/production.json","at":"1h","for":"1m"}`,
			lost: "enphase_production", kept: "enphase_meter", wantErr: "empty body"},
		{id: "T4 truncated JSON", fault: `{"kind":"truncated","path":"/production.json","at":"1h","for":"1m"}`,
			lost: "enphase_production", kept: "enphase_meter", wantErr: "production.json"},
		{id: "T11 connection reset", fault: `{"kind":"reset","path":"/production.json","at":"1h","for":"1m"}`,
			lost: "enphase_production", kept: "enphase_meter", wantErr: "dropped the connection"},
		{id: "T10 reboot: refused, then sessions gone", fault: `{"kind":"reboot","at":"1h","for":"1m"}`,
			lost: "enphase_production", wantErr: "dropped the connection",
			check: func(t *testing.T, _, during, after envoysim.Stats, _ *testutil.Accumulator, _ time.Time) {
				// The reboot ended the session: one check_jwt, and /info read again.
				require.Equal(t, 1, after.CheckJWT-during.CheckJWT)
				require.Greater(t, after.Requests["/info"], during.Requests["/info"])
			}},
		{id: "A8 session expired", fault: `{"kind":"session_expiry","at":"1h"}`,
			kept: "enphase_production",
			check: func(t *testing.T, before, during, after envoysim.Stats, _ *testutil.Accumulator, _ time.Time) {
				require.Equal(t, 1, during.CheckJWT-before.CheckJWT, "one check_jwt renews the session")
			}},
		{id: "C1 the gateway's clock is 3 h off", fault: `{"kind":"clock","offset":"-3h","at":"1h","for":"1m"}`,
			kept: "enphase_production",
			check: func(t *testing.T, _, _, _ envoysim.Stats, acc *testutil.Accumulator, at time.Time) {
				for _, m := range acc.GetTelegrafMetrics() {
					if m.Name() == "enphase_production" {
						require.Equal(t, at, m.Time(), "points carry the collector's clock")
					}
				}
			}},
		{id: "latency within the timeout costs nothing", fault: `{"kind":"latency","delay":"20ms","at":"1h","for":"1m"}`,
			kept: "enphase_production"},
	}
	for _, tc := range cases {
		t.Run(tc.id, func(t *testing.T) {
			clk := newClock()
			sc, err := envoysim.ParseScenario([]byte(`{"faults":[` + tc.fault + `]}`))
			require.NoError(t, err)
			sc.Start = clk.Now()
			sim, err := envoysim.New(envoysim.Options{Now: clk.Now, Scenario: sc})
			require.NoError(t, err)
			url, err := sim.Start("127.0.0.1:0")
			require.NoError(t, err)
			t.Cleanup(func() { _ = sim.Close() })
			e := newPlugin(t, sim, url, clk)
			e.Timeout = config.Duration(300 * time.Millisecond)
			e.GatherTimeout = config.Duration(2 * time.Second)

			gatherOK(t, e)
			before := sim.Stats()
			at := clk.Advance(time.Hour)
			var acc testutil.Accumulator
			gerr := e.Gather(&acc)
			if gerr != nil {
				acc.AddError(gerr)
			}
			during := sim.Stats()
			got := measurements(acc.GetTelegrafMetrics())
			errs := errorStrings(&acc)
			if tc.lost != "" {
				// The summary is another endpoint, read with the inverters.
				if m := findMetric(acc.GetTelegrafMetrics(), mProduction, map[string]string{"source": "summary"}); m != nil && tc.lost == mProduction {
					got[tc.lost]--
				}
				require.Zero(t, got[tc.lost], "%s written during the fault", tc.lost)
			}
			if tc.kept != "" {
				require.NotZero(t, got[tc.kept], "%s lost to the fault; errors: %s", tc.kept, errs)
			} else {
				require.ErrorIs(t, gerr, ErrUnreadable)
			}
			if tc.wantErr == "" {
				require.Empty(t, errs)
			} else {
				require.Contains(t, errs, tc.wantErr)
				require.NotContains(t, errs, "eyJ", "a token in an error")
			}
			// The fault over, the next gather is whole again.
			clk.Advance(2 * time.Minute)
			after := gatherOK(t, e)
			require.NotZero(t, measurements(after.GetTelegrafMetrics())["enphase_meter"])
			if tc.check != nil {
				tc.check(t, before, during, sim.Stats(), &acc, at)
			}
			require.Equal(t, 1, sim.Stats().MaxInFlight, "one request at a time (E5)")
		})
	}
}
