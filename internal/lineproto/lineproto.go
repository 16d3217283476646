// Package lineproto writes the execd loop's metrics: each gateway gather's
// lines encoded straight into one buffer (a Batch, the gather's
// accumulator), and a Writer that writes each finished gather in one write.
package lineproto

import (
	"io"
	"math"
	"sync"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"
	"github.com/influxdata/telegraf"
)

// MaxPending bounds the line protocol waiting for a stdout nobody reads
// (case R16): past it, whole gathers are dropped, with an error, rather
// than memory growing for as long as Telegraf is stuck.
const MaxPending = 16 << 20

// Batch is the accumulator of one gateway gather. It encodes each metric
// as a line of protocol as it is added, with no telegraf.Metric in between,
// and the writer writes the gather's lines in one write once it has ended:
// what Telegraf's shim did with a metric, a serializer and a write(2) per
// line cost more than the gather itself.
type Batch struct {
	mu     sync.Mutex
	fields int // fields written
	enc    lineprotocol.Encoder
	log    telegraf.Logger
	tags   []Tag   // scratch: the tags of a map, in key order
	vals   []field // scratch: the fields that can be written
}

type field struct {
	key string
	val lineprotocol.Value
}

var batches = sync.Pool{New: func() any { return &Batch{} }}

// NewBatch returns an empty Batch, from a pool; errors go to log.
func NewBatch(log telegraf.Logger) *Batch {
	b := batches.Get().(*Batch)
	b.log = log
	b.enc.Reset()
	b.fields = 0
	return b
}

// Bytes is the line protocol added so far; Fields counts its fields.
func (b *Batch) Bytes() []byte { return b.enc.Bytes() }

// Fields is the number of fields in Bytes.
func (b *Batch) Fields() int { return b.fields }

// Release returns the Batch to the pool; it must not be used after.

func (b *Batch) Release() {
	if cap(b.enc.Bytes()) > 1<<20 {
		return // one huge gather should not pin its buffer for good
	}
	b.log = nil
	batches.Put(b)
}

func (b *Batch) AddFields(name string, fields map[string]any, tags map[string]string, t ...time.Time) {
	b.add(name, fields, tags, t)
}

func (b *Batch) AddGauge(name string, fields map[string]any, tags map[string]string, t ...time.Time) {
	b.add(name, fields, tags, t)
}

func (b *Batch) AddCounter(name string, fields map[string]any, tags map[string]string, t ...time.Time) {
	b.add(name, fields, tags, t)
}

func (b *Batch) AddSummary(name string, fields map[string]any, tags map[string]string, t ...time.Time) {
	b.add(name, fields, tags, t)
}

func (b *Batch) AddHistogram(name string, fields map[string]any, tags map[string]string, t ...time.Time) {
	b.add(name, fields, tags, t)
}

func (b *Batch) AddMetric(m telegraf.Metric) {
	b.add(m.Name(), m.Fields(), m.Tags(), []time.Time{m.Time()})
}

// SetPrecision is a no-op: lines keep nanoseconds, like the accumulator
// the shim used with its precision at 1 ns.
func (*Batch) SetPrecision(time.Duration) {}

func (b *Batch) AddError(err error) {
	if err != nil {
		b.log.Error(err.Error())
	}
}

// WithTracking is for service inputs whose metrics need delivery reports;
// no gateway gather asks for them.
func (*Batch) WithTracking(int) telegraf.TrackingAccumulator {
	panic("telegraf-enphase: metric tracking is not supported by the execd loop")
}

// Tag is a tag of a line given to AddLine.
type Tag struct {
	Key, Value string
}

// Kind is the type of a Field's value.
type Kind uint8

// The kinds of field values the plugin writes.
const (
	Float  Kind = iota // Field.Float, a float64
	Int                // Field.Int, an int64 ("i")
	String             // Field.Str
)

// Field is a field of a line given to AddLine: its value is Float, Int or
// Str, as Kind says. A typed value, not an any: boxing each float64 cost an
// allocation.
type Field struct {
	Key   string
	Kind  Kind
	Float float64
	Int   int64
	Str   string
}

// Value is the field's value as the type Telegraf's metrics hold.
func (f Field) Value() any {
	switch f.Kind {
	case Int:
		return f.Int
	case String:
		return f.Str
	}
	return f.Float
}

// AddLine adds a metric given as lists, what the plugin's mapping builds,
// without the maps of a telegraf.Accumulator: fields sorted by key, tags
// sorted by key, neither with a key twice. The lists are not kept. What
// AddFields leaves out, AddLine leaves out too, so both write the same
// bytes for the same metric.
func (b *Batch) AddLine(name string, tags []Tag, fields []Field, t time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.vals = b.vals[:0]
	for _, f := range fields {
		if f.Key == "" {
			continue
		}
		var val lineprotocol.Value
		ok := true
		switch f.Kind {
		case Float:
			val, ok = lineprotocol.FloatValue(f.Float)
		case Int:
			val = lineprotocol.IntValue(f.Int)
		case String:
			val, ok = lineprotocol.StringValue(f.Str)
		default:
			ok = false
		}
		if ok {
			b.vals = append(b.vals, field{f.Key, val})
		}
	}
	b.write(name, tags, t)
}

// add encodes one line. Fields that cannot be written are left out, as
// Telegraf's serializer does, and so is a line left with none: a non-finite
// float would make Telegraf's parser drop the line, and one without fields
// stops its writer.
func (b *Batch) add(name string, fields map[string]any, tags map[string]string, t []time.Time) {
	ts := time.Now()
	if len(t) > 0 {
		ts = t[0]
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.vals = b.vals[:0]
	for k, v := range fields {
		if k == "" {
			continue
		}
		if val, ok := value(v); ok {
			b.vals = append(b.vals, field{k, val})
		}
	}
	// Fields in key order, as Telegraf's serializer writes them: the same
	// gather gives the same bytes (dump's output diffs cleanly).
	for i := 1; i < len(b.vals); i++ {
		for j := i; j > 0 && b.vals[j].key < b.vals[j-1].key; j-- {
			b.vals[j], b.vals[j-1] = b.vals[j-1], b.vals[j]
		}
	}
	b.tags = b.tags[:0]
	for k, v := range tags {
		b.tags = append(b.tags, Tag{k, v})
	}
	SortTags(b.tags)
	b.write(name, b.tags, ts)
}

// write encodes the line of b.vals, fields in key order, and tags, in key
// order; empty tags are left out, as Telegraf's serializer does.
func (b *Batch) write(name string, tags []Tag, ts time.Time) {
	if len(b.vals) == 0 {
		return
	}
	e := &b.enc
	e.StartLine(name)
	for _, t := range tags {
		if t.Key != "" && t.Value != "" {
			e.AddTag(t.Key, t.Value)
		}
	}
	for _, f := range b.vals {
		e.AddField(f.key, f.val)
	}
	e.EndLine(ts)
	if err := e.Err(); err == nil {
		b.fields += len(b.vals)
	} else {
		b.log.Errorf("metric %s left out: %v", name, err)
		e.ClearErr()
	}
}

// SortTags sorts tags by key, in place, keeping the order of equal keys.
// It is an insertion sort: a metric has a handful of tags, and sort.Slice
// would allocate for its closure.
func SortTags(s []Tag) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].Key < s[j-1].Key; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// value converts a field as Telegraf's metric and influx serializer do,
// so the field types stay those the shim wrote: every integer an int64
// ("i", unsigned ones clamped), float32 widened, non-finite floats and
// unknown types left out.
func value(v any) (lineprotocol.Value, bool) {
	switch x := v.(type) {
	case float64:
		return lineprotocol.FloatValue(x) // false for NaN and ±Inf
	case int64:
		return lineprotocol.IntValue(x), true
	case int:
		return lineprotocol.IntValue(int64(x)), true
	case string:
		return lineprotocol.StringValue(x)
	case bool:
		return lineprotocol.BoolValue(x), true
	case uint64:
		return lineprotocol.IntValue(int64(min(x, math.MaxInt64))), true
	case uint:
		return lineprotocol.IntValue(int64(min(uint64(x), math.MaxInt64))), true
	case int32:
		return lineprotocol.IntValue(int64(x)), true
	case uint32:
		return lineprotocol.IntValue(int64(x)), true
	case int16:
		return lineprotocol.IntValue(int64(x)), true
	case uint16:
		return lineprotocol.IntValue(int64(x)), true
	case int8:
		return lineprotocol.IntValue(int64(x)), true
	case uint8:
		return lineprotocol.IntValue(int64(x)), true
	case float32:
		return lineprotocol.FloatValue(float64(x))
	case []byte:
		return lineprotocol.StringValueFromBytes(x)
	}
	return lineprotocol.Value{}, false
}

// Writer writes finished gathers to stdout, in the order they finished,
// from one goroutine: a gather never waits for stdout.
type Writer struct {
	log telegraf.Logger

	mu      sync.Mutex
	wake    sync.Cond // Put or Close: Run has work
	drained sync.Cond // Run wrote a gather: pending went down
	queue   []*Batch
	pending int
	closed  bool
}

// NewWriter returns a Writer; run it with Run.
func NewWriter(log telegraf.Logger) *Writer {
	w := &Writer{log: log}
	w.wake.L = &w.mu
	w.drained.L = &w.mu
	return w
}

// Put queues a finished gather, or drops it when too much already waits.
func (w *Writer) Put(b *Batch) {
	n := len(b.enc.Bytes())
	if n == 0 {
		b.Release()
		return
	}
	w.mu.Lock()
	if w.pending+n > MaxPending {
		w.mu.Unlock()
		w.log.Errorf("stdout is not being read: %d bytes of metrics wait; dropping a gather's %d bytes", w.pending, n)
		b.Release()
		return
	}
	w.queue = append(w.queue, b)
	w.pending += n
	w.mu.Unlock()
	w.wake.Signal()
}

// Stuck waits up to grace for the lines not written yet (the one being
// written included) and returns how many bytes still wait after it: 0 when
// stdout took them. Above 0 when the next gather is asked, stdout is not
// keeping up; without the grace a write that is ending would look stuck:
// the reader may read the last line before Run counts it written, and ask
// again.
func (w *Writer) Stuck(grace time.Duration) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.pending == 0 {
		return 0
	}
	expired := false
	t := time.AfterFunc(grace, func() {
		w.mu.Lock()
		expired = true
		w.mu.Unlock()
		w.drained.Broadcast()
	})
	defer t.Stop()
	for w.pending > 0 && !expired {
		w.drained.Wait()
	}
	return w.pending
}

// Close lets Run return once the queue is written.
func (w *Writer) Close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.wake.Signal()
}

// Run writes each queued gather in one write until close. After a write
// error it drops what follows, so gathers never block on it.
func (w *Writer) Run(out io.Writer) {
	failed := false
	for {
		w.mu.Lock()
		for len(w.queue) == 0 && !w.closed {
			w.wake.Wait()
		}
		if len(w.queue) == 0 {
			w.mu.Unlock()
			return
		}
		b := w.queue[0]
		w.queue[0] = nil
		w.queue = w.queue[1:]
		w.mu.Unlock()
		p := b.enc.Bytes()
		if !failed {
			if _, err := out.Write(p); err != nil {
				w.log.Errorf("writing metrics to stdout: %v; dropping metrics until the process ends", err)
				failed = true
			}
		}
		w.mu.Lock()
		w.pending -= len(p)
		w.mu.Unlock()
		w.drained.Broadcast()
		b.Release()
	}
}
