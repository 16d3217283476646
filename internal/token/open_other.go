//go:build !unix

package token

import (
	"io/fs"
	"os"
)

func openLockFile(path string) (*os.File, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return nil, &fs.PathError{Op: "open", Path: path, Err: errLockIsLink}
	}
	return os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
}

func openForRead(path string) (*os.File, error) { return os.Open(path) }

func linkOwnedBySafeUser(fs.FileInfo) bool { return true }
