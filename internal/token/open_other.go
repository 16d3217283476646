//go:build !unix

package token

import (
	"io/fs"
	"os"
)

func openForRead(path string) (*os.File, error) { return os.Open(path) }

func linkOwnedBySafeUser(fs.FileInfo) bool { return true }
