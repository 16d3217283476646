package enphase

import (
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"testing/fstest"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoysim"
)

// The tests run the real plugin against the simulator, over TLS, through
// check_jwt and session cookies, as a user's gateway would be read.

// clock is a settable time source shared by a plugin under test and the simulator.
type clock = envoysim.Clock

func newClock() *clock { return envoysim.NewClock(time.Date(2026, 8, 1, 18, 0, 0, 0, time.UTC)) }

// startSim serves fsys (nil: the embedded demo) and returns the simulator and its URL.
func startSim(t *testing.T, fsys fs.FS) (*envoysim.Server, string) {
	t.Helper()
	sim, err := envoysim.New(envoysim.Options{Captures: fsys})
	require.NoError(t, err)
	url, err := sim.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	return sim, url
}

// writeToken stores tok in a fresh token file.
func writeToken(t *testing.T, tok string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "envoy.token")
	require.NoError(t, os.WriteFile(p, []byte(tok+"\n"), 0o600))
	return p
}

// newPlugin builds an initialised plugin for url, trusting the simulator's
// certificate (so the tests prove TLS works without skipping verification).
func newPlugin(t *testing.T, sim *envoysim.Server, url string, clk *clock) *Enphase {
	t.Helper()
	return initPlugin(t, sim, url, clk, New())
}

// initPlugin points e (New, perhaps with a case's configuration decoded into
// it) at the simulator and initialises it. A gateway before firmware 7 gets
// no token and no CA: it speaks plain http.
func initPlugin(t *testing.T, sim *envoysim.Server, url string, clk *clock, e *Enphase) *Enphase {
	t.Helper()
	e.URL = url
	if !sim.Legacy() {
		ca := filepath.Join(t.TempDir(), "envoy.pem")
		require.NoError(t, os.WriteFile(ca, sim.CertificatePEM(), 0o600))
		e.TokenFile = writeToken(t, sim.Token())
		e.TLSCA = ca
		e.Timeout = config.Duration(5 * time.Second)
		e.GatherTimeout = config.Duration(10 * time.Second)
	}
	if e.Log == nil {
		e.Log = testutil.Logger{}
	}
	if clk != nil {
		e.now = clk.Now
	}
	require.NoError(t, e.Init())
	t.Cleanup(e.Stop)
	return e
}

// overlay returns the demo capture with some files replaced or added; a nil
// body removes the file (and its log).
func overlay(t *testing.T, files map[string]*fstest.MapFile) fs.FS {
	t.Helper()
	out := fstest.MapFS{}
	demo := os.DirFS(filepath.Join("..", "..", "..", "internal", "envoysim", "demo"))
	require.NoError(t, fs.WalkDir(demo, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(demo, p)
		out[p] = &fstest.MapFile{Data: b}
		return err
	}))
	for name, f := range files {
		if f == nil {
			delete(out, name)
			delete(out, name+"_log.json")
			continue
		}
		out[name] = f
	}
	return out
}

// body is a capture file with status code (written as its _log.json).
func body(files map[string]*fstest.MapFile, name string, code int, content string) {
	files[name] = &fstest.MapFile{Data: []byte(content)}
	files[name+"_log.json"] = &fstest.MapFile{Data: []byte(`{"code": ` + strconv.Itoa(code) + `}`)}
}
