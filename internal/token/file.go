package token

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/telegraf-enphase/telegraf-enphase/internal/fileperm"
)

// MaxFileSize bounds a token file: a JWT is under 8 KiB, so anything far
// larger is not a token and is refused before it is read (case R10).
const MaxFileSize = 64 << 10

// readTokenFile reads a token file, refusing what is not a regular file (a
// FIFO, a device such as /dev/zero, a directory) or is larger than
// MaxFileSize, so that reading it never blocks or runs forever. A permission
// error names the chown that fixes it.
func readTokenFile(path string) ([]byte, error) {
	f, err := openForRead(path)
	if err != nil {
		return nil, withChownHint(path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%s): token_file must name a file holding the JWT", path, fileType(fi.Mode()))
	}
	if fi.Size() > MaxFileSize {
		return nil, fmt.Errorf("%s is %d bytes, and a token is under 8 KiB: token_file must name a file holding only the JWT", path, fi.Size())
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("%s grew past %d bytes while being read: token_file must name a file holding only the JWT", path, MaxFileSize)
	}
	return b, nil
}

func fileType(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m.IsDir():
		return "a directory"
	}
	return m.Type().String()
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
		return "", fmt.Errorf("token_file %s links to %s, which is not a regular file (%s)", s.Path, real, fileType(rfi.Mode()))
	}
	return real, nil
}
