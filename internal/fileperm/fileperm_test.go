package fileperm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWarnings(t *testing.T) {
	tests := []struct {
		name     string
		dirMode  os.FileMode // applied with os.Chmod (ModeSticky for the sticky bit)
		fileMode os.FileMode // 0: no file
		want     []string
	}{
		{name: "0600 in a 0700 directory", dirMode: 0o700, fileMode: 0o600},
		{name: "missing file", dirMode: 0o700},
		{name: "group-writable directory is the service's", dirMode: 0o770, fileMode: 0o600},
		{
			name:     "readable by others",
			dirMode:  0o700,
			fileMode: 0o644,
			want:     []string{"token_file DIR/envoy.token has mode 0644: users in its group and other users on this host can read it; fix: chmod 600 DIR/envoy.token"},
		},
		{name: "group bits only", dirMode: 0o700, fileMode: 0o640, want: []string{"has mode 0640: users in its group can read it;", "chmod 600 DIR/envoy.token"}},
		{name: "writable by others", dirMode: 0o700, fileMode: 0o606, want: []string{"has mode 0606: other users on this host can read and change it;"}},
		{name: "group and others differ", dirMode: 0o700, fileMode: 0o664,
			want: []string{"has mode 0664: users in its group can read and change it, other users on this host can read it;"}},
		{
			name:     "world-writable directory",
			dirMode:  0o777,
			fileMode: 0o600,
			want:     []string{"the directory DIR holding token_file is writable by every user (mode 0777)", "mkdir -m 700"},
		},
		{name: "sticky like /tmp is still a risk", dirMode: 0o777 | os.ModeSticky, fileMode: 0o600, want: []string{"(mode 1777)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "d")
			require.NoError(t, os.Mkdir(dir, 0o700))
			require.NoError(t, os.Chmod(dir, tt.dirMode))
			t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
			path := filepath.Join(dir, "envoy.token")
			if tt.fileMode != 0 {
				require.NoError(t, os.WriteFile(path, []byte("x"), 0o600))
				require.NoError(t, os.Chmod(path, tt.fileMode))
			}
			got := Warnings(Path{Key: "token_file", Path: path}, Path{Key: "password_file"})
			if len(tt.want) == 0 {
				require.Empty(t, got)
				return
			}
			require.Len(t, got, 1, "%q", got)
			for _, w := range tt.want {
				require.Contains(t, got[0], strings.ReplaceAll(w, "DIR", dir))
			}
		})
	}
}

// TestWarningsOneDirectoryOnce: files sharing a directory get one warning
// for it, naming every key.
func TestWarningsOneDirectoryOnce(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o777))
	got := Warnings(
		Path{"token_file", filepath.Join(dir, "t")},
		Path{"password_file", filepath.Join(dir, "p")},
		Path{"tls_pin_file", filepath.Join(dir, "t.pin")},
	)
	require.Len(t, got, 1)
	require.Contains(t, got[0], "holding token_file, password_file and tls_pin_file")
}
