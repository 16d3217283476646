package lineproto

import (
	"bytes"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/execdlog"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// countingWriter records each write.
type countingWriter struct{ writes []string }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.writes = append(c.writes, string(p))
	return len(p), nil
}

// A gather's lines reach stdout in one write; types are those Telegraf's
// serializer wrote (integers "i", unsigned clamped), tags sorted, and a
// non-finite float never written: a metric left without fields is no line.
func TestBatchEncodesLikeTheSerializer(t *testing.T) {
	var log syncBuf
	lg := execdlog.New(&log, telegraf.Info)
	w := NewWriter(lg)
	ts := time.Unix(1700000000, 5)
	b := NewBatch(lg)
	b.AddFields("m", map[string]any{"f": 1.5}, map[string]string{"z": "1", "a": "b c", "empty": ""}, ts)
	b.AddFields("m", map[string]any{"i": int64(-3), "u": uint64(math.MaxUint64), "s": `a"b`, "ok": true}, nil, ts)
	b.AddFields("m", map[string]any{"nan": math.NaN(), "inf": math.Inf(1)}, nil, ts)
	b.AddFields("m", map[string]any{"nan": math.NaN(), "x": 2.0}, nil, ts)
	require.Equal(t, 6, b.Fields())
	w.Put(b)
	w.Close()
	var out countingWriter
	w.Run(&out)
	require.Len(t, out.writes, 1)
	lines := strings.Split(strings.TrimSuffix(out.writes[0], "\n"), "\n")
	require.Len(t, lines, 3)
	require.Equal(t, `m,a=b\ c,z=1 f=1.5 1700000000000000005`, lines[0])
	for _, f := range []string{"i=-3i", "u=9223372036854775807i", `s="a\"b"`, "ok=true"} {
		require.Contains(t, lines[1], f)
	}
	require.Equal(t, "m x=2 1700000000000000005", lines[2])
	require.Empty(t, log.String())
}

// A stdout nobody reads holds at most MaxPending bytes; further gathers
// are dropped with an error (R16).
func TestWriterBoundsPendingR16(t *testing.T) {
	var log syncBuf
	lg := execdlog.New(&log, telegraf.Info)
	w := NewWriter(lg)
	big := strings.Repeat("x", 1<<20)
	for range 20 {
		b := NewBatch(lg)
		b.AddFields("m", map[string]any{"s": big}, nil, time.Unix(1, 0))
		w.Put(b)
	}
	require.LessOrEqual(t, w.pending, MaxPending)
	require.Contains(t, log.String(), "stdout is not being read")
}

// AddLine, given the lists of a metric (sorted), writes what AddFields
// writes for the same metric as maps, leaving out the same things: empty
// tags and keys, non-finite floats, invalid UTF-8, a line without fields.
func TestAddLineEncodesAsAddFields(t *testing.T) {
	ts := time.Unix(1700000000, 5)
	lg := execdlog.New(&syncBuf{}, telegraf.Info)
	cases := []struct {
		name   string
		tags   []Tag
		fields []Field
	}{
		{"types", []Tag{{"a", "b c"}, {"empty", ""}, {"z", "1"}}, []Field{
			{Key: "f", Kind: Float, Float: 1.5}, {Key: "i", Kind: Int, Int: -3}, {Key: "s", Kind: String, Str: `a"b`},
		}},
		{"left out", []Tag{{"", "x"}, {"serial", "1"}}, []Field{
			{Key: "", Kind: Float, Float: 1}, {Key: "bad", Kind: String, Str: "\xff"}, {Key: "inf", Kind: Float, Float: math.Inf(1)},
			{Key: "nan", Kind: Float, Float: math.NaN()}, {Key: "x", Kind: Float, Float: 2},
		}},
		{"no field left", []Tag{{"serial", "1"}}, []Field{{Key: "nan", Kind: Float, Float: math.NaN()}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lists, maps := NewBatch(lg), NewBatch(lg)
			lists.AddLine("m", c.tags, c.fields, ts)
			fm := map[string]any{}
			for _, f := range c.fields {
				fm[f.Key] = f.Value()
			}
			tm := map[string]string{}
			for _, tg := range c.tags {
				tm[tg.Key] = tg.Value
			}
			maps.AddFields("m", fm, tm, ts)
			require.Equal(t, string(maps.Bytes()), string(lists.Bytes()))
			require.Equal(t, maps.Fields(), lists.Fields())
			if c.name == "types" {
				require.Equal(t, `m,a=b\ c,z=1 f=1.5,i=-3i,s="a\"b" 1700000000000000005`+"\n", string(lists.Bytes()))
			}
		})
	}
}

type gateWriter struct{ open chan struct{} }

func (g gateWriter) Write(p []byte) (int, error) { <-g.open; return len(p), nil }

// Stuck tells a write that does not end (R16) from one that ends within
// the grace: the first still waits after it, the second is 0.
func TestWriterStuckWaitsForAnEndingWriteR16(t *testing.T) {
	var log syncBuf
	lg := execdlog.New(&log, telegraf.Info)
	w := NewWriter(lg)
	require.Zero(t, w.Stuck(time.Hour), "nothing queued: not stuck, and no wait")
	out := gateWriter{open: make(chan struct{})}
	go w.Run(out)
	defer w.Close()
	b := NewBatch(lg)
	b.AddFields("m", map[string]any{"n": 1.0}, nil, time.Unix(1, 0))
	w.Put(b)
	require.Positive(t, w.Stuck(50*time.Millisecond), "a write that does not end is stuck")
	time.AfterFunc(20*time.Millisecond, func() { close(out.open) })
	require.Zero(t, w.Stuck(10*time.Second), "a write that ends within the grace is not")
}
