package enphase

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/influxdata/telegraf"
	parsers_influx "github.com/influxdata/telegraf/plugins/parsers/influx"
	serializers_influx "github.com/influxdata/telegraf/plugins/serializers/influx"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoysim"
	"github.com/telegraf-enphase/telegraf-enphase/internal/lineproto"
)

// The golden files' format: sorted line protocol.

// serialize writes metrics as sorted line protocol.
func serialize(tb testing.TB, metrics []telegraf.Metric) []byte {
	tb.Helper()
	s := &serializers_influx.Serializer{SortFields: true}
	if err := s.Init(); err != nil {
		tb.Fatal(err)
	}
	lines := make([]string, 0, len(metrics))
	for _, m := range metrics {
		b, err := s.Serialize(m)
		if err != nil {
			tb.Fatal(err)
		}
		lines = append(lines, string(b))
	}
	sort.Strings(lines)
	var buf bytes.Buffer
	for _, l := range lines {
		buf.WriteString(l)
	}
	return buf.Bytes()
}

// parseLines reads a golden file's line protocol.
func parseLines(tb testing.TB, path string) []telegraf.Metric {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	p := &parsers_influx.Parser{}
	if err := p.Init(); err != nil {
		tb.Fatal(err)
	}
	ms, err := p.Parse(b)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return ms
}

// mapsOnly hides the Batch's AddLine: metrics reach it as maps, the way
// any telegraf.Accumulator gets them.
type mapsOnly struct{ telegraf.Accumulator }

// TestLineListsEncodeAsMaps gathers each golden case twice, as TestGolden
// does, into a lineproto.Batch: once through add's fast path (AddLine, the
// execd loop's), once through maps (AddFields). The bytes must be the same:
// the fast path changes nothing of what Telegraf receives.
func TestLineListsEncodeAsMaps(t *testing.T) {
	entries, err := os.ReadDir(testcasesDir)
	require.NoError(t, err)
	ran := 0
	for _, d := range entries {
		dir := filepath.Join(testcasesDir, d.Name())
		if _, err := os.Stat(filepath.Join(dir, "expected.out")); err != nil {
			continue
		}
		ran++
		t.Run(d.Name(), func(t *testing.T) {
			gather := func(fast bool) []byte {
				clk := newClock()
				sim, err := envoysim.New(envoysim.Options{Captures: captureFS(t, dir), Now: clk.Now})
				require.NoError(t, err)
				url, err := sim.Start("127.0.0.1:0")
				require.NoError(t, err)
				defer func() { _ = sim.Close() }()
				e := initPlugin(t, sim, url, clk, caseConfig(t, dir))
				b := lineproto.NewBatch(testutil.Logger{Quiet: true})
				var acc telegraf.Accumulator = b
				if !fast {
					acc = mapsOnly{b}
				}
				_, isFast := acc.(lineAdder)
				require.Equal(t, fast, isFast)
				require.NoError(t, e.Gather(acc))
				clk.Advance(15e9)
				require.NoError(t, e.Gather(acc))
				return append([]byte(nil), b.Bytes()...)
			}
			fast, maps := gather(true), gather(false)
			require.NotEmpty(t, fast)
			require.Equal(t, string(maps), string(fast))
		})
	}
	require.NotZero(t, ran, "no golden case found in %s", testcasesDir)
}
