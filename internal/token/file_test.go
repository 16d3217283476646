//go:build unix

package token

import (
	"context"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func testJWT(t *testing.T) Token {
	t.Helper()
	return storeToken(t, "122301234567", time.Now().Add(time.Hour))
}

// R10: what is not a regular file of sane size is refused at once with a
// clear error, never read forever.
func TestReadFileRefusesNonRegularAndHugeR10(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	huge := filepath.Join(dir, "huge")
	require.NoError(t, os.WriteFile(huge, []byte(strings.Repeat("a", MaxFileSize+1)), 0o600))
	tests := []struct{ name, path, want string }{
		{"FIFO with no writer", fifo, "is not a regular file (a FIFO)"},
		{"/dev/zero", "/dev/zero", "is not a regular file (a character device)"},
		{"directory", dir, "is not a regular file (a directory)"},
		{"65 KiB", huge, "is 65537 bytes, and a token is under 8 KiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() { _, err := ReadFile(tt.path); done <- err }()
			select {
			case err := <-done:
				require.ErrorContains(t, err, tt.want)
			case <-time.After(5 * time.Second):
				t.Fatal("ReadFile blocked")
			}
		})
	}
}

// R10: the lock file is opened without following a symbolic link, so a link
// planted in the token directory cannot make the plugin create a file
// elsewhere.
func TestLockDoesNotFollowSymlinkR10(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(t.TempDir(), "created-elsewhere")
	s := Store{Path: filepath.Join(dir, "envoy.token")}
	require.NoError(t, os.Symlink(victim, s.Path+".lock"))
	_, err := s.TryLock()
	require.Error(t, err)
	require.Contains(t, err.Error(), "token lock")
	_, statErr := os.Stat(victim)
	require.True(t, os.IsNotExist(statErr), "the link was followed")
	_, err = s.Lock(context.Background())
	require.Error(t, err, "Lock gives up at once too")
}

// R10, decided: renewal of a symlinked token_file replaces the file the link
// points to, atomically in that file's directory, and keeps the link.
func TestWriteThroughSymlinkKeepsLinkR10(t *testing.T) {
	realDir := t.TempDir()
	real := filepath.Join(realDir, "envoy.token")
	old := testJWT(t)
	require.NoError(t, os.WriteFile(real, []byte(old.Raw+"\n"), 0o600))
	link := filepath.Join(t.TempDir(), "envoy.token")
	require.NoError(t, os.Symlink(real, link))

	s := Store{Path: link}
	tok := testJWT(t)
	require.NoError(t, s.Write(tok))
	fi, err := os.Lstat(link)
	require.NoError(t, err)
	require.NotZero(t, fi.Mode()&os.ModeSymlink, "the link was replaced by a file")
	got, err := ReadFile(real)
	require.NoError(t, err)
	require.Equal(t, tok.Raw, got.Raw)
	left, _ := filepath.Glob(filepath.Join(realDir, ".envoy.token.tmp-*"))
	require.Empty(t, left)

	// A link to something that is not a regular file is refused.
	bad := filepath.Join(t.TempDir(), "envoy.token")
	require.NoError(t, os.Symlink("/dev/null", bad))
	require.ErrorContains(t, Store{Path: bad}.Write(tok), "not a regular file")
}

// Issue 14 item 3: a permission error names the chown that fixes it; other
// errors get no such advice.
func TestPermissionErrorNamesChown(t *testing.T) {
	p := "/etc/telegraf/enphase/envoy.token"
	err := withChownHint(p, &fs.PathError{Op: "open", Path: p, Err: fs.ErrPermission})
	require.ErrorIs(t, err, fs.ErrPermission)
	u, uerr := user.Current()
	require.NoError(t, uerr)
	require.Contains(t, err.Error(), "permission denied; fix: sudo chown "+u.Username+": "+p)
	require.NotContains(t, withChownHint(p, fs.ErrNotExist).Error(), "chown")
}

// Issue 14 item 3: a token written by root in a directory owned by another
// user (telegraf's) takes that user as owner, and root is warned.
func TestWriteAsRootTakesDirOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create files for another user")
	}
	dir := filepath.Join(t.TempDir(), "enphase")
	require.NoError(t, os.Mkdir(dir, 0o750))
	require.NoError(t, os.Chown(dir, 4242, 4343))
	var warned []string
	s := Store{Path: filepath.Join(dir, "envoy.token"), Warn: func(w string) { warned = append(warned, w) }}
	require.NoError(t, s.Write(testJWT(t)))
	unlock, err := s.TryLock()
	require.NoError(t, err)
	unlock()
	for _, p := range []string{s.Path, s.Path + ".lock"} {
		fi, err := os.Stat(p)
		require.NoError(t, err)
		st := fi.Sys().(*syscall.Stat_t)
		require.EqualValues(t, 4242, st.Uid, p)
		require.EqualValues(t, 4343, st.Gid, p)
	}
	require.Len(t, warned, 1)
	require.Contains(t, warned[0], "running as root")
	require.Contains(t, warned[0], "sudo -u telegraf telegraf-enphase")
}
