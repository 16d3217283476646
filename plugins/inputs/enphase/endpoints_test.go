package enphase

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/capture"
	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
	"github.com/telegraf-enphase/telegraf-enphase/internal/envoysim"
)

// TestEveryRequestedPathIsDescribed gathers every golden case through all
// its tiers and fails when the plugin asked the gateway for a path that is
// missing from the endpoints table, from 'get --all”s capture list or from
// the fuzz seeds; and when a row of the table is never asked for, so the
// table cannot hold a stale row either.
func TestEveryRequestedPathIsDescribed(t *testing.T) {
	entries, err := os.ReadDir(testcasesDir)
	require.NoError(t, err)
	requested := map[string]bool{}
	cases := map[string]fs.FS{}
	for _, d := range entries {
		cases[d.Name()] = captureFS(t, filepath.Join(testcasesDir, d.Name()))
	}
	// No case has a generator: batteries-v11 with one configured and running.
	generator := readEnsembleCase(t, "generator_running")
	cases["batteries-v11 with a generator"] = dirWith(t, "batteries-v11", map[string]string{
		capture.Name(envoy.PathGeneratorConfig):                 `{"gen_type":"Standby","max_cont_gen_amps":58.3}`,
		capture.Name(envoy.PathEnsembleGenerator):               string(generator[envoy.PathEnsembleGenerator]),
		capture.Name(envoy.PathEnsembleGenerator) + "_log.json": `{"code":200}`,
	})
	for name, fsys := range cases {
		clk := newClock()
		sim, err := envoysim.New(envoysim.Options{Captures: fsys, Now: clk.Now})
		require.NoError(t, err)
		url, err := sim.Start("127.0.0.1:0")
		require.NoError(t, err)
		e := initPlugin(t, sim, url, clk, New())
		var acc testutil.Accumulator
		require.NoError(t, e.Gather(&acc), name)
		for path := range sim.Stats().Requests {
			requested[path] = true
		}
		require.NoError(t, sim.Close())
	}
	captured := CaptureEndpoints()
	for path := range requested {
		switch path {
		case envoy.PathInfo, "/info.xml", envoy.PathCheckJWT:
			// The client's own: /info says which endpoints apply.
			require.Contains(t, captured, envoy.PathInfo)
			continue
		}
		require.NotNil(t, endpointByPath(path), "%s is requested but has no row in the endpoints table", path)
		require.Contains(t, captured, path, "%s is requested but 'get --all' does not capture it", path)
		require.Contains(t, fuzzEndpoints, path, "%s is requested but FuzzMetrics does not fuzz it", path)
	}
	for _, ep := range endpoints {
		require.True(t, requested[ep.path], "no golden case asks for %s: is its row stale?", ep.path)
		require.NotNil(t, ep.target, ep.path)
		require.NotNil(t, ep.use, ep.path)
	}
	// The capture list once left out /ivp/ss/gen_config, which the plugin reads.
	require.True(t, slices.Contains(captured, envoy.PathGeneratorConfig))
}
