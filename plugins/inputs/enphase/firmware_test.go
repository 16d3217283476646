package enphase

import (
	"io/fs"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
)

// swapFS is a capture whose files can be replaced while the simulator serves
// it, as a firmware push replaces a gateway's behaviour.
type swapFS struct {
	mu    sync.Mutex
	files fstest.MapFS
}

func (s *swapFS) Open(name string) (fs.File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return fstest.MapFS{name: &fstest.MapFile{Data: f.Data}}.Open(name)
}

func (s *swapFS) set(name, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[name] = &fstest.MapFile{Data: []byte(body)}
}

// TestFirmwareChangeReprobes: /info is re-read every info_interval; a new
// firmware opens a new session and probes again the endpoints the old one
// lacked (case T10: firmware pushes change endpoints).
func TestFirmwareChangeReprobes(t *testing.T) {
	files := map[string]*fstest.MapFile{}
	deviceData := overlay(t, nil).(fstest.MapFS)["ivp_pdm_device_data"].Data
	body(files, "ivp_pdm_device_data", 404, `{ "error" : "404 - Not Found" }`)
	base := overlay(t, files).(fstest.MapFS)
	capture := &swapFS{files: base}
	sim, url := startSim(t, capture)
	clk := newClock()
	e := New()
	// Longer than the test: only the firmware change can bring the endpoint back.
	e.ReprobeInterval = config.Duration(24 * time.Hour)
	var log testutil.CaptureLogger
	e.Log = &log
	initPlugin(t, sim, url, clk, e)
	var acc testutil.Accumulator
	require.NoError(t, e.Gather(&acc))
	require.Equal(t, 1, sim.Stats().Requests[envoy.PathDeviceData])
	require.Equal(t, 12, measurements(acc.GetTelegrafMetrics())["enphase_inverter"], "from the summary list meanwhile")

	// The firmware update brings /ivp/pdm/device_data.
	info, err := fs.ReadFile(base, "info")
	require.NoError(t, err)
	capture.set("info", strings.Replace(string(info), "D8.2.4345", "D8.3.5433", 1))
	capture.set("ivp_pdm_device_data_log.json", `{"code":200}`)
	capture.set("ivp_pdm_device_data", string(deviceData))

	clk.Advance(30 * time.Minute)
	require.NoError(t, e.Gather(&acc))
	require.Equal(t, 1, sim.Stats().Requests[envoy.PathDeviceData], "dropped until /info shows the change")
	require.Equal(t, 1, sim.Stats().Requests[envoy.PathInfo])

	clk.Advance(time.Duration(e.InfoInterval) - 30*time.Minute)
	acc.ClearMetrics()
	require.NoError(t, e.Gather(&acc))
	require.Equal(t, 2, sim.Stats().Requests[envoy.PathInfo])
	require.Equal(t, 2, sim.Stats().Requests[envoy.PathDeviceData], "probed again after the firmware change")
	require.Equal(t, 2, sim.Stats().CheckJWT, "a new firmware means a new session")
	require.Contains(t, strings.Join(logLines(&log), "\n"), `firmware changed from "D8.2.4345" to "D8.3.5433"`)
	fw, ok := field2(acc.GetTelegrafMetrics(), "enphase_gateway", "firmware")
	require.True(t, ok)
	require.Equal(t, "D8.3.5433", fw)
	for _, m := range acc.GetTelegrafMetrics() {
		if m.Name() == "enphase_inverter" {
			require.True(t, m.HasField("dc_voltage_v"), "detailed data now")
		}
	}
	require.Empty(t, acc.Errors)
}

// TestServerErrorRereadsInfo covers T10: a 503 (reboot or update under way)
// costs that gather's endpoint, and the next gather re-reads /info first.
func TestServerErrorRereadsInfo(t *testing.T) {
	files := map[string]*fstest.MapFile{}
	capture := &swapFS{files: overlay(t, files).(fstest.MapFS)}
	sim, url := startSim(t, capture)
	clk := newClock()
	e := newPlugin(t, sim, url, clk)
	var acc testutil.Accumulator
	require.NoError(t, e.Gather(&acc))
	capture.set("production.json_details_1_log.json", `{"code":503}`)
	clk.Advance(15 * time.Second)
	require.NoError(t, e.Gather(&acc))
	require.Len(t, acc.Errors, 1)
	require.Contains(t, acc.Errors[0].Error(), "503, the gateway is not ready")
	capture.set("production.json_details_1_log.json", `{"code":200}`)
	clk.Advance(15 * time.Second)
	acc.ClearMetrics()
	require.NoError(t, e.Gather(&acc))
	require.Equal(t, 2, sim.Stats().Requests[envoy.PathInfo])
	require.NotZero(t, measurements(acc.GetTelegrafMetrics())["enphase_production"])
}
