package token

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
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
