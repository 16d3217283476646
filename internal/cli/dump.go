package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/agent"
	"github.com/influxdata/telegraf/plugins/serializers/influx"

	"github.com/telegraf-enphase/telegraf-enphase/internal/execdlog"
	"github.com/telegraf-enphase/telegraf-enphase/plugins/inputs/enphase"
)

// dump gathers every gateway once and prints line protocol, as Telegraf would
// receive it: the one-shot replacement of the old curl scripts.
func dump(args []string, env Env) int {
	var c common
	fs := newFlags("dump", &c)
	if err := fs.Parse(args); err != nil {
		return usageError(env, err)
	}
	if fs.NArg() > 0 {
		return usageError(env, fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	set, log, ok := c.load(env)
	if !ok {
		return exitUsage
	}
	defer set.Stop()
	fetchMissingTokens(set, log)

	var col collector
	acc := agent.NewAccumulator(&col, col.channel())
	gatherErr := set.GatherOnce(acc)
	metrics := col.close()
	if err := writeLineProtocol(env.Stdout, metrics); err != nil {
		log.Errorf("%v", err)
		return exitFail
	}
	if gatherErr != nil {
		// One line per gateway that could not be read at all.
		for _, err := range unwrapJoined(gatherErr) {
			fmt.Fprintf(env.Stderr, "E! %v\n", err)
		}
		if errors.Is(gatherErr, enphase.ErrUnreadable) {
			return exitFail
		}
	}
	return exitOK
}

// fetchMissingTokens fetches, with the Enlighten credentials, the token of
// each gateway that has no usable one, and waits for it, as the first
// gather of a running plugin would: so that dump succeeds where Telegraf
// will. A failure is logged; the gather then says what it means.
func fetchMissingTokens(set *enphase.Gateways, log *execdlog.Logger) {
	for _, e := range set.List {
		res, fetched, err := enphase.NewService(e).FetchMissingToken(context.Background())
		switch {
		case err != nil:
			log.Errorf("%s: fetching a token with the Enlighten credentials: %v", e.Name(), err)
		case fetched:
			log.Infof("%s: no usable token was stored: fetched a new %s with the Enlighten credentials, the gateway accepted it; stored in %s", e.Name(), res.Token, e.TokenFile)
		}
	}
}

func unwrapJoined(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// writeLineProtocol serialises with Telegraf's own serializer (what the shim
// writes), with fields and lines sorted so a dump diffs cleanly.
func writeLineProtocol(w io.Writer, metrics []telegraf.Metric) error {
	s := &influx.Serializer{SortFields: true}
	if err := s.Init(); err != nil {
		return err
	}
	lines := make([]string, 0, len(metrics))
	for _, m := range metrics {
		b, err := s.Serialize(m)
		if err != nil {
			return fmt.Errorf("serializing %s: %w", m.Name(), err)
		}
		lines = append(lines, string(b))
	}
	sort.Strings(lines)
	for _, l := range lines {
		if _, err := io.WriteString(w, l); err != nil {
			return err
		}
	}
	return nil
}

// collector receives the metrics of an accumulator.
type collector struct {
	ch      chan telegraf.Metric
	done    chan struct{}
	mu      sync.Mutex
	metrics []telegraf.Metric
}

func (c *collector) channel() chan<- telegraf.Metric {
	c.ch = make(chan telegraf.Metric, 64)
	c.done = make(chan struct{})
	go func() {
		defer close(c.done)
		for m := range c.ch {
			c.mu.Lock()
			c.metrics = append(c.metrics, m)
			c.mu.Unlock()
		}
	}()
	return c.ch
}

func (c *collector) close() []telegraf.Metric {
	close(c.ch)
	<-c.done
	return c.metrics
}

// LogName, MakeMetric and Log make collector an agent.MetricMaker.
func (*collector) LogName() string                              { return "" }
func (*collector) MakeMetric(m telegraf.Metric) telegraf.Metric { return m }
func (*collector) Log() telegraf.Logger                         { return nil }
