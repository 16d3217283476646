package token

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/telegraf-enphase/telegraf-enphase/internal/fileperm"
	"github.com/telegraf-enphase/telegraf-enphase/internal/smallfile"
)

// MaxFileSize bounds a token file: a JWT is under 8 KiB, so anything far
// larger is not a token and is refused before it is read (case R10).
const MaxFileSize = 64 << 10

// readTokenFile reads a token file, refusing what is not a regular file (a
// FIFO, a device such as /dev/zero, a directory) or is larger than
// MaxFileSize, so that reading it never blocks or runs forever. A permission
// error names the chown that fixes it.
func readTokenFile(path string) ([]byte, error) {
	b, err := smallfile.Read(path, MaxFileSize)
	var notRegular *smallfile.NotRegularError
	var tooBig *smallfile.TooLargeError
	switch {
	case errors.As(err, &notRegular):
		return nil, fmt.Errorf("%s is not a regular file (%s): token_file must name a file holding the JWT", path, notRegular.Kind)
	case errors.As(err, &tooBig):
		return nil, fmt.Errorf("%s is %d bytes, and a token is under 8 KiB: token_file must name a file holding only the JWT", path, tooBig.Size)
	case err != nil:
		return nil, withChownHint(path, err)
	}
	return b, nil
}

// withChownHint adds, to a permission error on path, the command that gives
// the file to the user this process runs as (issue 14: a token fetched with
// sudo and then unreadable by telegraf's user).
func withChownHint(path string, err error) error {
	if !errors.Is(err, fs.ErrPermission) {
		return err
	}
	if hint := fileperm.ChownHint(path); hint != "" {
		return fmt.Errorf("%w; fix: %s", err, hint)
	}
	return err
}

// target is the file Write replaces: Path itself, or, when Path is a
// symbolic link, the file it points to, so the link survives renewal and
// the target is replaced atomically in its own directory. A link owned by
// another user (not root, not us) is refused rather than followed.
func (s Store) target() (string, error) {
	fi, err := os.Lstat(s.Path)
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		return s.Path, nil
	}
	if !linkOwnedBySafeUser(fi) {
		return "", fmt.Errorf("token_file %s is a symbolic link owned by another user: not followed; point token_file at the file itself", s.Path)
	}
	real, err := filepath.EvalSymlinks(s.Path)
	if err != nil {
		return "", fmt.Errorf("token_file %s is a symbolic link that does not resolve (%w): point token_file at the file itself", s.Path, err)
	}
	if rfi, err := os.Stat(real); err == nil && !rfi.Mode().IsRegular() {
		return "", fmt.Errorf("token_file %s links to %s, which is not a regular file (%s)", s.Path, real, smallfile.Kind(rfi.Mode()))
	}
	return real, nil
}
