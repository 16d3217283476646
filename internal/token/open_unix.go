//go:build unix

package token

import (
	"io/fs"
	"os"
	"syscall"
)

// openLockFile opens (creating) the lock file without following a symbolic
// link (case R10): a link planted in the token directory must not make a
// process running as root create or truncate a file elsewhere.
func openLockFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_RDWR|syscall.O_NOFOLLOW, 0o600)
}

// openForRead opens path without blocking on a FIFO or device (the caller
// then refuses anything but a regular file).
func openForRead(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}

// linkOwnedBySafeUser reports whether a symbolic link was made by root or by
// the user this process runs as: only then is it followed on renewal, as
// the kernel's protected_symlinks does in sticky directories.
func linkOwnedBySafeUser(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	return st.Uid == 0 || int(st.Uid) == os.Geteuid()
}
