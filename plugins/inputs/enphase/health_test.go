package enphase

import (
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"
)

// TestHealthPointWhenInfoFails: a gateway that cannot be reached still gets
// its enphase_gateway point every gather, up=0, under serial=unknown and its
// address when never reached, else under the configured serial.
func TestHealthPointWhenInfoFails(t *testing.T) {
	for _, serial := range []string{"", "122301234567"} {
		e := New()
		e.URL = "http://127.0.0.1:1" // nothing listens
		e.Serial = serial
		e.Log = testutil.Logger{Quiet: true}
		e.Timeout = config.Duration(time.Second)
		e.GatherTimeout = config.Duration(2 * time.Second)
		require.NoError(t, e.Init())
		t.Cleanup(e.Stop)
		var acc testutil.Accumulator
		require.ErrorIs(t, e.Gather(&acc), ErrUnreadable)
		m := findMetric(acc.GetTelegrafMetrics(), mGateway, nil)
		require.NotNil(t, m, "the health point is written when /info fails")
		up, _ := m.GetField("up")
		require.Equal(t, int64(0), up)
		want := map[string]string{"serial": "unknown", "address": "127.0.0.1:1"}
		if serial != "" {
			want = map[string]string{"serial": serial}
		}
		require.Equal(t, want, m.Tags())
	}
}
