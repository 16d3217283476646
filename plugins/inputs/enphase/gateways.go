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

	wg sync.WaitGroup
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
func (g *Gateways) GatherEach(open func() (telegraf.Accumulator, func())) {
	for _, e := range g.List {
		acc, done := open()
		errAcc := logErrors{Accumulator: acc, log: g.Log}
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			defer done()
			if err := e.Gather(errAcc); err != nil && !errors.Is(err, context.Canceled) {
				errAcc.AddError(err)
			}
		}()
	}
}

// Stop cancels every gather in flight and waits for them, so that no metric
// is added after the shim closes its output.
func (g *Gateways) Stop() {
	for _, e := range g.List {
		if e.cancel != nil {
			e.cancel()
		}
	}
	g.wg.Wait()
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
