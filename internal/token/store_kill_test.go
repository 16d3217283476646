//go:build unix

package token

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The kill test is Unix-only: it kills its own child with SIGKILL at each
// step of a write, which Windows cannot do to a process from inside.

const killAtEnv = "TOKEN_STORE_TEST_KILL_AT"

// TestMain doubles as the crashing writer of TestWriteSurvivesKillAtEveryStep.
func TestMain(m *testing.M) {
	if step := os.Getenv(killAtEnv); step != "" {
		raw, err := os.ReadFile(os.Getenv("TOKEN_STORE_TEST_NEW"))
		if err != nil {
			os.Exit(3)
		}
		tok, err := Parse(string(raw))
		if err != nil {
			os.Exit(4)
		}
		s := Store{Path: os.Getenv("TOKEN_STORE_TEST_PATH"), step: func(name string) {
			if name == step {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				time.Sleep(time.Minute)
			}
		}}
		if err := s.Write(tok); err != nil {
			os.Exit(5)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestWriteSurvivesKillAtEveryStep: a kill -9 at any step of a rotation
// leaves a whole, valid token (the old one before the rename, the new one
// after), mode 0600, and the next write cleans up.
func TestWriteSurvivesKillAtEveryStep(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	steps := []string{StepTempCreated, StepTempWritten, StepTempSynced, StepRenamed, StepDirSynced}
	for i, step := range steps {
		t.Run(step, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "envoy.token")
			old := storeToken(t, "122301234567", time.Now().Add(24*time.Hour))
			fresh := storeToken(t, "122301234567", time.Now().Add(365*24*time.Hour))
			require.NoError(t, Store{Path: path}.Write(old))
			newFile := filepath.Join(t.TempDir(), "new")
			require.NoError(t, os.WriteFile(newFile, []byte(fresh.Raw), 0o600))

			cmd := exec.Command(exe, "-test.run=^$")
			cmd.Env = append(os.Environ(), killAtEnv+"="+step, "TOKEN_STORE_TEST_PATH="+path, "TOKEN_STORE_TEST_NEW="+newFile)
			err := cmd.Run()
			var exitErr *exec.ExitError
			require.ErrorAs(t, err, &exitErr, "the writer must have been killed")
			ws := exitErr.Sys().(syscall.WaitStatus)
			require.True(t, ws.Signaled() && ws.Signal() == syscall.SIGKILL, "killed by SIGKILL at %s", step)

			got, err := ReadFile(path)
			require.NoError(t, err, "a valid token must be on disk after a kill at %s", step)
			want := old
			if i >= 3 { // from the rename on, the new token is in place
				want = fresh
			}
			require.Equal(t, want.Raw, got.Raw)
			st, err := os.Stat(path)
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o600), st.Mode().Perm())

			// The lock died with the process; the next rotation works and cleans up.
			unlock, err := Store{Path: path}.TryLock()
			require.NoError(t, err)
			require.NoError(t, Store{Path: path}.Write(fresh))
			unlock()
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			for _, e := range entries {
				require.False(t, strings.Contains(e.Name(), ".tmp-"), "leftover %s", e.Name())
			}
		})
	}
}
