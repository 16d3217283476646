package token

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

// storeToken signs a gateway-shaped JWT; Parse does not verify signatures.
func storeToken(t *testing.T, serial string, exp time.Time) Token {
	t.Helper()
	raw, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"aud": serial, "iss": "Entrez", "enphaseUser": "owner",
		"iat": time.Now().Unix(), "exp": exp.Unix(), "jti": strings.Repeat("a", 8),
	}).SignedString([]byte("store-test"))
	require.NoError(t, err)
	tok, err := Parse(raw)
	require.NoError(t, err)
	return tok
}

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

func TestWriteRefusesInvalidToken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "envoy.token")
	old := storeToken(t, "1", time.Now().Add(time.Hour))
	require.NoError(t, Store{Path: path}.Write(old))
	require.Error(t, Store{Path: path}.Write(Token{Raw: "<html>nope</html>"}))
	got, err := ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, old.Raw, got.Raw)
}

// TestLockExcludes: a second renewer cannot take the lock while the first
// holds it, and waits for it when asked to.
func TestLockExcludes(t *testing.T) {
	s := Store{Path: filepath.Join(t.TempDir(), "envoy.token")}
	unlock, err := s.TryLock()
	require.NoError(t, err)
	_, err = s.TryLock()
	require.ErrorIs(t, err, ErrLocked)

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	_, err = s.Lock(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	var wg sync.WaitGroup
	got := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		u, err := s.Lock(context.Background())
		if err == nil {
			u()
		}
		got <- err
	}()
	unlock()
	wg.Wait()
	require.NoError(t, <-got)
}

// TestFileSourceSeesRename: a token replaced by Write is picked up even when
// the new file has the same size.
func TestFileSourceSeesRename(t *testing.T) {
	path := filepath.Join(t.TempDir(), "envoy.token")
	a := storeToken(t, "122301234567", time.Unix(2000000000, 0))
	b := storeToken(t, "122301234568", time.Unix(2000000000, 0))
	require.Equal(t, len(a.Raw), len(b.Raw))
	require.NoError(t, Store{Path: path}.Write(a))
	src := &FileSource{Path: path}
	got, err := src.Token()
	require.NoError(t, err)
	require.Equal(t, a.Serial, got.Serial)
	require.NoError(t, Store{Path: path}.Write(b))
	got, err = src.Token()
	require.NoError(t, err)
	require.Equal(t, b.Serial, got.Serial)
}

// TestWriteTightensMode: a renewal over a token file someone left readable
// (0644, e.g. pasted with a default umask) leaves it 0600.
func TestWriteTightensMode(t *testing.T) {
	tests := []struct {
		name string
		mode os.FileMode
	}{
		{name: "0644", mode: 0o644},
		{name: "0666", mode: 0o666},
		{name: "0640", mode: 0o640},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "envoy.token")
			old := storeToken(t, "122301234567", time.Now().Add(time.Hour))
			require.NoError(t, os.WriteFile(path, []byte(old.Raw), 0o600))
			require.NoError(t, os.Chmod(path, tt.mode))
			require.NoError(t, Store{Path: path}.Write(storeToken(t, "122301234567", time.Now().Add(365*24*time.Hour))))
			st, err := os.Stat(path)
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
		})
	}
}
