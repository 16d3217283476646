package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/hostile"
)

// Issue 14 item 7: two copies of the plugin reading one gateway (an old
// Telegraf still running, a 'dump' from cron beside Telegraf) would poll it
// twice as often and write every series twice. The first one holds the
// gateway; the second says which process holds it and reads nothing, and
// reads again once the first has stopped.
func TestSecondProcessIsToldWhoReadsTheGateway(t *testing.T) {
	bin := buildBinary(t)
	g := hostile.New(t, "../../internal/envoysim/demo", nil)
	dir := t.TempDir()
	conf := filepath.Join(dir, "enphase.conf")
	require.NoError(t, os.WriteFile(conf, []byte(g.PluginConfig(t, dir)), 0o600))

	var out, stderr lockedBuffer
	first := exec.Command(bin, "--config", conf)
	first.Stdout, first.Stderr = &out, &stderr
	stdin, err := first.StdinPipe()
	require.NoError(t, err)
	require.NoError(t, first.Start())
	t.Cleanup(func() { _ = first.Process.Kill(); _ = first.Wait() })
	_, err = stdin.Write([]byte("\n"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "enphase_production") },
		20*time.Second, 50*time.Millisecond, "the first process never wrote; stderr:\n%s", &stderr)

	before := g.Requests("/production.json?details=1")
	dump := exec.Command(bin, "dump", "--config", conf)
	var dumpOut, dumpErr bytes.Buffer
	dump.Stdout, dump.Stderr = &dumpOut, &dumpErr
	err = dump.Run()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "dump beside a running plugin must fail; stdout:\n%s", dumpOut.String())
	require.Equal(t, 1, exit.ExitCode())
	require.Contains(t, dumpErr.String(), "another telegraf-enphase is reading this gateway")
	require.Contains(t, dumpErr.String(), fmt.Sprintf("pid %d:", first.Process.Pid), "the holder is named")
	require.NotContains(t, dumpOut.String(), "enphase_production", "the second process writes no series")
	require.Equal(t, before, g.Requests("/production.json?details=1"), "the second process polls nothing but /info")

	require.NoError(t, stdin.Close()) // Telegraf stopped: the first process ends
	require.NoError(t, first.Wait())
	dumpOut.Reset()
	dumpErr.Reset()
	dump = exec.Command(bin, "dump", "--config", conf)
	dump.Stdout, dump.Stderr = &dumpOut, &dumpErr
	require.NoError(t, dump.Run(), "stderr:\n%s", dumpErr.String())
	require.Contains(t, dumpOut.String(), "enphase_production")
}
