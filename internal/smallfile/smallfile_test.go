//go:build unix

package smallfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// R10: what is not a regular file of sane size is refused at once, never
// read forever nor waited on.
func TestReadR10(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	big := filepath.Join(dir, "big")
	require.NoError(t, os.WriteFile(big, []byte(strings.Repeat("a", 101)), 0o600))
	fine := filepath.Join(dir, "fine")
	require.NoError(t, os.WriteFile(fine, []byte("hello"), 0o600))

	for _, tc := range []struct {
		name, path string
		kind       string // NotRegularError's, or "" for none
		tooLarge   bool
	}{
		{"FIFO with no writer", fifo, "a FIFO", false},
		{"/dev/zero", "/dev/zero", "a character device", false},
		{"directory", dir, "a directory", false},
		{"over the limit", big, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() { _, err := Read(tc.path, 100); done <- err }()
			var err error
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Read blocked")
			}
			var nr *NotRegularError
			var tl *TooLargeError
			if tc.kind != "" {
				require.ErrorAs(t, err, &nr)
				require.Equal(t, tc.kind, nr.Kind)
			}
			if tc.tooLarge {
				require.ErrorAs(t, err, &tl)
				require.Equal(t, int64(101), tl.Size)
				require.Equal(t, int64(100), tl.Limit)
			}
		})
	}
	b, err := Read(fine, 100)
	require.NoError(t, err)
	require.Equal(t, "hello", string(b))
	_, err = Read(filepath.Join(dir, "missing"), 100)
	require.True(t, errors.Is(err, os.ErrNotExist), "an open error is returned as it is")
}
