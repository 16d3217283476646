package enphase

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"
)

// Issue 14 item 7, in one process: two plugins of one gateway sharing its
// state file (two tables of two configurations). The second is told once
// who holds the gateway, then skips without a word or a point, and reads
// again once the first has stopped.
func TestSecondReaderOfAGatewayWaitsItsTurn(t *testing.T) {
	sim, url := startSim(t, nil)
	state := filepath.Join(t.TempDir(), "envoy.state.json")
	first := New()
	first.StateFile = state
	initPlugin(t, sim, url, newClock(), first)
	gatherOK(t, first)

	log := &testutil.CaptureLogger{}
	second := New()
	second.StateFile = state
	second.Log = log
	initPlugin(t, sim, url, newClock(), second)

	var acc testutil.Accumulator
	err := second.Gather(&acc)
	require.ErrorIs(t, err, ErrBusy)
	require.ErrorContains(t, err, "pid ", "the holder is named")
	require.ErrorContains(t, err, state+".lock")
	require.Empty(t, acc.GetTelegrafMetrics(), "not even a health point: the other process writes this gateway's series")

	acc = testutil.Accumulator{}
	require.NoError(t, second.Gather(&acc), "said once an episode")
	require.Empty(t, acc.GetTelegrafMetrics())

	first.Stop()
	acc = testutil.Accumulator{}
	require.NoError(t, second.Gather(&acc))
	require.NotEmpty(t, acc.GetTelegrafMetrics())
	var said []string
	for _, m := range log.Messages() {
		said = append(said, m.Text)
	}
	require.Contains(t, strings.Join(said, "\n"), "reading the gateway again")
}
