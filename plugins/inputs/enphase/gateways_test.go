package enphase

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
)

// gatherEach runs one GatherEach of g into acc and returns a channel closed
// when every gateway's gather has ended.
func gatherEach(g *Gateways, acc telegraf.Accumulator) <-chan struct{} {
	ended := make(chan struct{})
	n := len(g.List)
	left := make(chan struct{}, n)
	g.GatherEach(func() (telegraf.Accumulator, func()) {
		return acc, func() { left <- struct{}{} }
	})
	go func() {
		for range n {
			<-left
		}
		close(ended)
	}()
	return ended
}

// workers counts the goroutines waiting in Gateways.work.
func workers() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "enphase.(*Gateways).work(")
}

func waitEnded(t *testing.T, ended <-chan struct{}) {
	t.Helper()
	select {
	case <-ended:
	case <-time.After(20 * time.Second):
		t.Fatal("a gather did not end")
	}
}

// Each gateway's gathers run on one goroutine that outlives them (a new one
// per gather regrows its stack every time), and Stop ends it: nothing is
// left behind.
func TestGatewaysGatherOnALastingWorker(t *testing.T) {
	sim, url := startSim(t, nil)
	var log testutil.CaptureLogger
	g := &Gateways{Log: &log}
	for range 2 {
		e := New()
		e.Log = &log
		g.List = append(g.List, initPlugin(t, sim, url, nil, e))
	}
	before := workers()
	var acc testutil.Accumulator
	for range 4 {
		waitEnded(t, gatherEach(g, &acc))
	}
	require.Equal(t, 4, measurements(acc.GetTelegrafMetrics())["enphase_gateway"]/2, "every gather of both gateways wrote its health point")
	require.Eventually(t, func() bool { return workers() == before+2 }, 5*time.Second, 10*time.Millisecond,
		"one waiting worker per gateway between gathers")
	g.Stop()
	require.Eventually(t, func() bool { return workers() == before }, 5*time.Second, 10*time.Millisecond, "Stop ends the workers")

	// After Stop nothing starts: open is never called.
	g.GatherEach(func() (telegraf.Accumulator, func()) {
		t.Error("GatherEach after Stop opened a gather")
		return &acc, func() {}
	})
	g.Stop() // twice is harmless
}

// A gateway whose worker is still on the last gather skips this one with
// the warning (T8), exactly as Gather alone does, and its worker takes the
// next gather once it is free.
func TestGatewaysBusyWorkerSkipsT8(t *testing.T) {
	sim, url := slowProductionSim(t)
	var log testutil.CaptureLogger
	e := New()
	e.Log = &log
	g := &Gateways{List: []*Enphase{initPlugin(t, sim, url, nil, e)}, Log: &log}
	t.Cleanup(g.Stop)

	var acc testutil.Accumulator
	waitEnded(t, gatherEach(g, &acc)) // the worker is waiting after this one
	first := gatherEach(g, &acc)
	require.Eventually(t, func() bool { return sim.Stats().Requests[envoy.PathProduction] == 2 }, 5*time.Second, time.Millisecond)
	waitEnded(t, gatherEach(g, &acc)) // asked while the worker is busy
	waitEnded(t, first)
	require.Equal(t, 2, sim.Stats().Requests[envoy.PathProduction], "the skipped gather made no request")
	require.Len(t, log.Warnings(), 1)
	require.Contains(t, log.Warnings()[0], "previous gather still running")

	waitEnded(t, gatherEach(g, &acc))
	require.Equal(t, 3, sim.Stats().Requests[envoy.PathProduction], "the next gather ran")
	require.Equal(t, 3, measurements(acc.GetTelegrafMetrics())["enphase_gateway"])
}
