package enphase

import (
	"testing"
	"time"

	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
)

// TestReportTimeWindowR8 covers R8, C1 and C2: a report time past 2262
// (beyond int64 nanoseconds), hours ahead, or before 2000 is unknown, and the
// inverter point carries the collector's clock; a plausible one is kept.
func TestReportTimeWindowR8(t *testing.T) {
	now := time.Date(2026, 8, 1, 18, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		e     envoy.Epoch
		known bool
	}{
		{envoy.Epoch(time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC).Unix()), false},
		{envoy.Epoch(now.Add(3 * time.Hour).Unix()), false},
		{envoy.Epoch(time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC).Unix()), false},
		{envoy.Epoch(now.Add(5 * time.Minute).Unix()), true},
		{envoy.Epoch(now.Add(-72 * time.Hour).Unix()), true},
	} {
		invs := []envoy.Inverter{{SerialNumber: "1", LastReportDate: c.e, DevType: envoy.Num{V: 1, Valid: true}, LastReportWatts: envoy.Num{V: 5, Valid: true}}}
		var acc testutil.Accumulator
		addInverters(&acc, "s", invs, nil, map[string]envoy.Epoch{}, now)
		require.Len(t, acc.Metrics, 1)
		m := acc.Metrics[0]
		if c.known {
			require.Equal(t, time.Unix(int64(c.e), 0).UTC(), m.Time)
			require.Contains(t, m.Fields, "last_report_unix_s")
		} else {
			require.Equal(t, now, m.Time, "%v: the collector's clock", c.e)
			require.NotContains(t, m.Fields, "last_report_unix_s")
		}
	}
	log := &testutil.CaptureLogger{}
	p := mappingPoller(log)
	p.checkReportTimes(now, envoy.Epoch(now.Add(3*time.Hour).Unix()))
	p.checkReportTimes(now, envoy.Epoch(now.Add(3*time.Hour).Unix()))
	require.Len(t, log.Warnings(), 1, "once per episode")
	require.Contains(t, log.Warnings()[0], "3h0m0s ahead of")
}
