//go:build unix

package filelock

import (
	"os"
	"syscall"
)

// open opens (creating) the lock file without following a symbolic link
// (case R10): a link planted beside the token or state must not make a
// process running as root create or truncate a file elsewhere.
func open(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_RDWR|syscall.O_NOFOLLOW, 0o600)
}
