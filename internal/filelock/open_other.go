//go:build !unix

package filelock

import (
	"io/fs"
	"os"
)

func open(path string) (*os.File, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return nil, &fs.PathError{Op: "open", Path: path, Err: errIsLink}
	}
	return os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
}
