package enphase

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/influxdata/telegraf"

	"github.com/telegraf-enphase/telegraf-enphase/internal/lineproto"
)

// Gateways runs several gateways in one execd process (Telegraf's shim runs
// a single input). Each gateway gathers in its own goroutine, so a slow one
// never delays the others, and Gather returns at once: the shim's loop stays
// free to see stdin close, and Stop aborts requests in flight.
type Gateways struct {
	List []*Enphase
	Log  telegraf.Logger

	wg      sync.WaitGroup
	mu      sync.Mutex       // guards workers and stopped
	workers []chan gatherJob // one per gateway, started by the first GatherEach
	stopped bool             // Stop was called: GatherEach starts nothing
}

// gatherJob is one gateway gather for its worker: the accumulator and the
// function to call when the gather has ended.
type gatherJob struct {
	acc  logErrors
	done func()
}

// SampleConfig returns the configuration of one gateway.
func (*Gateways) SampleConfig() string { return sampleConfig }

// Start satisfies telegraf.ServiceInput.
func (*Gateways) Start(telegraf.Accumulator) error { return nil }

// Gather starts a gather of every gateway that is not still busy.
func (g *Gateways) Gather(acc telegraf.Accumulator) error {
	g.GatherEach(func() (telegraf.Accumulator, func()) { return acc, func() {} })
	return nil
}

// GatherEach is Gather with an accumulator per gateway gather: open is
// called once per gateway, and the function it returns once that gateway's
// gather has ended, so that a caller can write each gather in one piece.
//
// Each gateway gathers on a goroutine of its own that lives as long as the
// process: a goroutine started for each gather would grow its stack from
// 2 KiB again every time (TLS, HTTP and decoding go deep), a measurable
// share of a steady gather's CPU (BENCHMARKS.md). A gateway whose worker is
// still busy gets a goroutine for this gather, whose Gather then says that
// the last gather is still running and skips, as before.
func (g *Gateways) GatherEach(open func() (telegraf.Accumulator, func())) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return
	}
	if g.workers == nil {
		g.workers = make([]chan gatherJob, len(g.List))
		for i, e := range g.List {
			g.workers[i] = make(chan gatherJob)
			go g.work(e, g.workers[i])
		}
	}
	for i, e := range g.List {
		acc, done := open()
		j := gatherJob{acc: logErrors{Accumulator: acc, log: g.Log}, done: done}
		g.wg.Add(1)
		select {
		case g.workers[i] <- j:
		default: // the worker is busy (or not yet waiting, on the first gather)
			go g.run(e, j)
		}
	}
}

// work runs the gathers of one gateway until Stop closes jobs.
func (g *Gateways) work(e *Enphase, jobs <-chan gatherJob) {
	for j := range jobs {
		g.run(e, j)
	}
}

func (g *Gateways) run(e *Enphase, j gatherJob) {
	defer g.wg.Done()
	defer j.done()
	if err := e.Gather(j.acc); err != nil && !errors.Is(err, context.Canceled) {
		j.acc.AddError(err)
	}
}

// Stop cancels every gather in flight and waits for them, so that no metric
// is added after the shim closes its output.
func (g *Gateways) Stop() {
	g.mu.Lock()
	g.stopped = true
	g.mu.Unlock()
	for _, e := range g.List {
		if e.cancel != nil {
			e.cancel()
		}
	}
	g.wg.Wait()
	g.mu.Lock()
	for _, w := range g.workers {
		close(w)
	}
	g.workers = nil
	g.mu.Unlock()
	for _, e := range g.List {
		e.Stop()
	}
}

// GatherOnce gathers every gateway once, concurrently, and waits; it returns
// the errors of gateways that could not be read at all, joined (for 'dump');
// partial errors go to the log.
func (g *Gateways) GatherOnce(acc telegraf.Accumulator) error {
	acc = logErrors{Accumulator: acc, log: g.Log}
	errs := make([]error, len(g.List))
	var wg sync.WaitGroup
	for i, e := range g.List {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = e.Gather(acc)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// logErrors sends errors to the plugin's level-prefixed logger: the shim's
// own accumulator logs them with a timestamp first, which execd cannot parse.
type logErrors struct {
	telegraf.Accumulator
	log telegraf.Logger
}

// AddLine keeps the fast path of the accumulator it wraps (add).
func (a logErrors) AddLine(name string, tags []lineproto.Tag, f []lineproto.Field, t time.Time) {
	emit(a.Accumulator, name, tags, f, t)
}

func (a logErrors) AddError(err error) {
	if err != nil {
		a.log.Error(err.Error())
	}
}
