// Package filelock is an exclusive lock on a file between processes (flock
// on Unix, LockFileEx on Windows), which the kernel drops when the process
// exits however it exits, so a crash never leaves one stuck. The lock file
// is opened without following a symbolic link, and its holder may write a
// line saying who it is, for the messages of the processes it keeps out.
package filelock

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"
)

// ErrLocked means another process, or another open of the same file in
// this process, holds the lock.
var ErrLocked = errors.New("locked by another process")

var errIsLink = errors.New("is a symbolic link")

// Lock is a held lock.
type Lock struct {
	f *os.File
}

// Open opens (creating, mode 0600) the lock file at path without following
// a symbolic link and without locking it, for a caller that has more to do
// with the file (give it to its directory's owner) before TryLock.
func Open(path string) (*os.File, error) { return open(path) }

// TryLock takes the lock on f at once or returns ErrLocked. The Lock owns
// f from then on; on an error f is closed.
func TryLock(f *os.File) (*Lock, error) {
	if err := lockFile(f); err != nil {
		_ = f.Close()
		if errors.Is(err, errWouldBlock) {
			return nil, ErrLocked
		}
		return nil, err
	}
	return &Lock{f: f}, nil
}

// SetHolder writes one line saying who holds the lock ("pid 1234, ..."),
// replacing what an earlier holder wrote.
func (l *Lock) SetHolder(text string) error {
	line := fmt.Sprintf("pid %d: %s\n", os.Getpid(), text)
	if err := l.f.Truncate(0); err != nil {
		return err
	}
	_, err := l.f.WriteAt([]byte(line), 0)
	return err
}

// Release drops the lock. The file stays: removing it would let a third
// process lock a new file while a second still waits on the old one.
func (l *Lock) Release() {
	if l == nil || l.f == nil {
		return
	}
	_ = unlockFile(l.f)
	_ = l.f.Close()
	l.f = nil
}

// maxHolder bounds what is read of a holder line: it is one short line, and
// the file may be anyone's.
const maxHolder = 256

// Holder returns the holder line of the lock file at path, cut and made
// printable, or "" when there is none to read.
func Holder(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(f, maxHolder))
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return -1
	}, strings.ToValidUTF8(string(b), ""))
}
