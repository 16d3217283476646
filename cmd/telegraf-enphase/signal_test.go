package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/hostile"
)

// R16: with stdout blocked (Telegraf stuck, or a pipe nobody reads), SIGTERM
// and SIGHUP both end the real binary promptly with status 0. Before, SIGTERM
// waited forever for the stuck write and SIGHUP killed it with status 129.
func TestSignalsEndABlockedProcessR16(t *testing.T) {
	bin := buildBinary(t)
	g := hostile.New(t, "../../internal/envoysim/demo", nil)
	dir := t.TempDir()
	conf := filepath.Join(dir, "enphase.conf")
	require.NoError(t, os.WriteFile(conf, []byte(g.PluginConfig(t, dir)), 0o600))

	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			outR, outW, err := os.Pipe() // read by nobody
			require.NoError(t, err)
			defer outR.Close()
			var stderr lockedBuffer
			cmd := exec.Command(bin, "--config", conf)
			cmd.Stdout, cmd.Stderr = outW, &stderr
			stdin, err := cmd.StdinPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			outW.Close()
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			t.Cleanup(func() { _ = cmd.Process.Kill() })

			// Ask for gathers until the pipe is full: the gateway stops
			// being read because the gather is stuck writing metrics.
			const path = "/production.json?details=1"
			before := g.Requests(path)
			var last, still int
			for still < 10 {
				_, err := stdin.Write([]byte("\n"))
				require.NoError(t, err, "stderr:\n%s", &stderr)
				time.Sleep(150 * time.Millisecond)
				n := g.Requests(path)
				if n == last {
					still++
				} else {
					still = 0
				}
				last = n
				require.Less(t, n-before, 200, "stdout never filled; stderr:\n%s", &stderr)
			}
			require.Greater(t, last-before, 1, "gathers ran before stdout filled; stderr:\n%s", &stderr)

			require.NoError(t, cmd.Process.Signal(sig))
			select {
			case err := <-exited:
				var exit *exec.ExitError
				if errors.As(err, &exit) {
					t.Fatalf("%s: exit status %d, want 0; stderr:\n%s", sig, exit.ExitCode(), &stderr)
				}
				require.NoError(t, err)
			case <-time.After(5 * time.Second): // Telegraf's execd escalates after 5 s
				t.Fatalf("%s did not end the process; stderr:\n%s", sig, &stderr)
			}
		})
	}
}
