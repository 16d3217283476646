package enphase

import (
	"bytes"
	"flag"
	"io/fs"
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
)

var update = flag.Bool("update", false, "rewrite the expected.out golden files from the plugin's output")

// testdataDir holds our own captures: testdata/<case>/capture (absent for the
// embedded demo) and the line protocol the plugin must emit, expected.out.
var testdataDir = filepath.Join("..", "..", "..", "testdata")

// TestGolden gathers each capture twice at a fixed clock, 6 minutes apart (so
// the inverter tier runs on the first gather only and the second shows the
// steady state), and compares with expected.out, types included.
func TestGolden(t *testing.T) {
	entries, err := os.ReadDir(testdataDir)
	require.NoError(t, err)
	ran := 0
	for _, d := range entries {
		if !d.IsDir() {
			continue
		}
		dir := filepath.Join(testdataDir, d.Name())
		if _, err := os.Stat(filepath.Join(dir, "expected.out")); err != nil && !*update {
			continue
		}
		ran++
		t.Run(d.Name(), func(t *testing.T) {
			clk := newClock()
			// The simulator's clock is ours, so its token's times are fixed too.
			sim, err := envoysim.New(envoysim.Options{Captures: captureFS(t, dir), Now: clk.Now})
			require.NoError(t, err)
			url, err := sim.Start("127.0.0.1:0")
			require.NoError(t, err)
			t.Cleanup(func() { _ = sim.Close() })
			var e *Enphase
			if sim.Legacy() {
				e = New()
				e.URL, e.Log, e.now = url, testutil.Logger{}, clk.Now
				require.NoError(t, e.Init())
				t.Cleanup(e.Stop)
			} else {
				e = newPlugin(t, sim, url, clk)
			}
			var acc testutil.Accumulator
			require.NoError(t, e.Gather(&acc))
			clk.Advance(15e9)
			require.NoError(t, e.Gather(&acc))
			require.Empty(t, acc.Errors)
			got := acc.GetTelegrafMetrics()
			golden := filepath.Join(dir, "expected.out")
			if *update {
				require.NoError(t, os.WriteFile(golden, serialize(t, got), 0o644))
				return
			}
			want := parseLines(t, golden)
			testutil.RequireMetricsEqual(t, want, got, testutil.SortMetrics())
		})
	}
	require.NotZero(t, ran, "no golden case found in %s", testdataDir)
}

// captureFS is the case's capture folder, or nil (the embedded demo) when it has none.
func captureFS(t *testing.T, dir string) fs.FS {
	t.Helper()
	c := filepath.Join(dir, "capture")
	if _, err := os.Stat(c); err != nil {
		return nil
	}
	return os.DirFS(c)
}

// serialize writes metrics as sorted line protocol, the golden file format.
func serialize(t *testing.T, metrics []telegraf.Metric) []byte {
	t.Helper()
	s := &serializers_influx.Serializer{SortFields: true}
	require.NoError(t, s.Init())
	lines := make([]string, 0, len(metrics))
	for _, m := range metrics {
		b, err := s.Serialize(m)
		require.NoError(t, err)
		lines = append(lines, string(b))
	}
	sort.Strings(lines)
	var buf bytes.Buffer
	for _, l := range lines {
		buf.WriteString(l)
	}
	return buf.Bytes()
}

func parseLines(t *testing.T, path string) []telegraf.Metric {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	p := &parsers_influx.Parser{}
	require.NoError(t, p.Init())
	ms, err := p.Parse(b)
	require.NoError(t, err)
	return ms
}
