package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/hostile"
)

// R3: Telegraf's execd reads the plugin's stderr with a 64 KiB line limit and
// stops reading it at a longer line; the pipe then fills and the plugin blocks
// in its logger, gathering nothing ever again. A gateway whose /info carries a
// 60 KiB firmware string for a few gathers, and one endpoint that answers an
// error holding a 30,000-digit number on every gather (each just within its
// endpoint's size limit, R4, so it reaches the parser and its error), must
// cost only those gathers' data: with the real Telegraf, metrics keep
// arriving afterwards.
func TestLongGatewayTextKeepsTelegrafReadingR3(t *testing.T) {
	telegraf := need(t, "telegraf", envOr("TELEGRAF_BIN", filepath.Join(root, "bin", "telegraf")), "run 'make telegraf'")
	gobin := need(t, "go", "go", "install Go")
	dir := t.TempDir()
	plugin := filepath.Join(dir, "telegraf-enphase")
	build := exec.Command(gobin, "build", "-o", plugin, "./cmd/telegraf-enphase")
	build.Dir = root
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	demo := filepath.Join(root, "internal", "envoysim", "demo")
	info := hostile.CaptureBody(t, demo, "/info")
	// 60 KiB: within /info's size limit (R4), so it reaches the version parser.
	longInfo := hostile.Replace("text/xml", info, "<software>D8.2.4345</software>", "<software>"+strings.Repeat("x", 60<<10)+"</software>")
	var infoAnswers atomic.Int32
	const hostileInfos = 3
	g := hostile.New(t, demo, map[string]http.Handler{
		"/info": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if infoAnswers.Add(1) <= hostileInfos {
				longInfo.ServeHTTP(w, r)
				return
			}
			hostile.Body(http.StatusOK, "text/xml", info).ServeHTTP(w, r)
		}),
		// 30,000 digits: within /ivp/meters' size limit, so its JSON error is quoted.
		"/ivp/meters": hostile.Body(http.StatusOK, "application/json", []byte(`{"error":"`+strings.Repeat("9", 30_000)+`"}`)),
	})
	pluginConf := filepath.Join(dir, "enphase.conf")
	require.NoError(t, os.WriteFile(pluginConf, []byte(g.PluginConfig(t, dir)), 0o600))

	metrics := filepath.Join(dir, "metrics.out")
	telegrafConf := filepath.Join(dir, "telegraf.conf")
	require.NoError(t, os.WriteFile(telegrafConf, []byte(fmt.Sprintf(`[agent]
  interval = "1s"
  flush_interval = "1s"
  omit_hostname = true

%s
[[outputs.file]]
  files = [%q]
  data_format = "influx"
`, sampleExecd(t, plugin, pluginConf), metrics)), 0o600))

	var tlog syncBuffer
	cmd := exec.Command(telegraf, "--config", telegrafConf)
	cmd.Stdout, cmd.Stderr = &tlog, &tlog
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	// Gathers that read the production endpoint after the hostile /info
	// answers are over, as written by Telegraf.
	productionGathers := func() int {
		b, _ := os.ReadFile(metrics)
		stamps := map[string]bool{}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(l, "enphase_production,") {
				stamps[l[strings.LastIndexByte(l, ' ')+1:]] = true
			}
		}
		return len(stamps)
	}
	require.Eventually(t, func() bool { return infoAnswers.Load() > hostileInfos }, 60*time.Second, 100*time.Millisecond,
		"the hostile /info answers were not all asked for; telegraf log:\n%s", &tlog)
	require.Eventually(t, func() bool { return productionGathers() >= 8 }, 60*time.Second, 200*time.Millisecond,
		"metrics stopped arriving after the long lines (%d /info answers, %d meter errors); telegraf log:\n%s",
		infoAnswers.Load(), g.Requests("/ivp/meters"), cutLog(&tlog))
	require.Greater(t, g.Requests("/ivp/meters"), 0, "the long error was asked for")

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	_ = cmd.Wait()
	logText := tlog.String()
	require.Contains(t, logText, "firmware version", "the /info error reached Telegraf's log")
	for _, l := range strings.Split(logText, "\n") {
		require.Less(t, len(l), 8<<10, "a log line Telegraf read is %d bytes", len(l))
		require.NotContains(t, l, "token too long", "Telegraf stopped reading the plugin's stderr")
	}
}

// cutLog keeps a failure message readable when the log holds long lines.
func cutLog(b *syncBuffer) string {
	var out []string
	for _, l := range strings.Split(b.String(), "\n") {
		if len(l) > 300 {
			l = l[:300] + fmt.Sprintf("... (%d bytes)", len(l))
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}
