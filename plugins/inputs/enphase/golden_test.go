package enphase

import (
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/configfile"
	"github.com/telegraf-enphase/telegraf-enphase/internal/envoysim"
)

var update = flag.Bool("update", false, "rewrite the golden files (expected.out, expected.err) from the plugin's output")

// testcasesDir holds the golden cases, as Telegraf's own plugins keep them:
// testcases/<case>/capture (absent for the embedded demo), an optional
// telegraf.conf holding one [[inputs.enphase]] table (url, token and CA are
// the simulator's), the line protocol the plugin must emit, expected.out,
// and, where the case expects errors, expected.err (one per line, the
// simulator's address written as SIM).
const testcasesDir = "testcases"

// TestGolden gathers each case twice at a fixed clock, 15 s apart (so the
// slower tiers run on the first gather only and the second shows the steady
// state), and compares with expected.out, types included.
func TestGolden(t *testing.T) {
	entries, err := os.ReadDir(testcasesDir)
	require.NoError(t, err)
	ran := 0
	for _, d := range entries {
		if !d.IsDir() {
			continue
		}
		dir := filepath.Join(testcasesDir, d.Name())
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
			e := initPlugin(t, sim, url, clk, caseConfig(t, dir))
			var acc testutil.Accumulator
			require.NoError(t, e.Gather(&acc))
			clk.Advance(15e9)
			require.NoError(t, e.Gather(&acc))
			got := acc.GetTelegrafMetrics()
			gotErrs := make([]string, 0, len(acc.Errors))
			for _, err := range acc.Errors {
				gotErrs = append(gotErrs, strings.ReplaceAll(err.Error(), strings.TrimPrefix(strings.TrimPrefix(url, "https://"), "http://"), "SIM"))
			}
			golden, goldenErr := filepath.Join(dir, "expected.out"), filepath.Join(dir, "expected.err")
			if *update {
				require.NoError(t, os.WriteFile(golden, serialize(t, got), 0o644))
				if len(gotErrs) > 0 {
					require.NoError(t, os.WriteFile(goldenErr, []byte(strings.Join(gotErrs, "\n")+"\n"), 0o644))
				} else if err := os.Remove(goldenErr); err != nil && !os.IsNotExist(err) {
					require.NoError(t, err)
				}
				return
			}
			var wantErrs []string
			if _, err := os.Stat(goldenErr); err == nil {
				wantErrs, err = testutil.ParseLinesFromFile(goldenErr)
				require.NoError(t, err)
				require.NotEmpty(t, wantErrs, "%s is empty: remove it", goldenErr)
			}
			require.ElementsMatch(t, wantErrs, gotErrs)
			testutil.RequireMetricsEqual(t, parseLines(t, golden), got, testutil.SortMetrics())
		})
	}
	require.NotZero(t, ran, "no golden case found in %s", testcasesDir)
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

// caseConfig is the plugin with the case's telegraf.conf decoded into it, or
// the defaults when the case has none.
func caseConfig(t *testing.T, dir string) *Enphase {
	t.Helper()
	path := filepath.Join(dir, "telegraf.conf")
	if _, err := os.Stat(path); err != nil {
		return New()
	}
	tables, err := configfile.Load(path, "enphase", New)
	require.NoError(t, err)
	require.Len(t, tables, 1, "%s: one [[inputs.enphase]] table", path)
	return tables[0].Value
}
