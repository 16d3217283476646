//go:build unix

package token

import (
	"io/fs"
	"os"
	"syscall"
)

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
