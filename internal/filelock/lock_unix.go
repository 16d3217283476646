//go:build unix

package filelock

import (
	"os"

	"golang.org/x/sys/unix"
)

// errWouldBlock is what lockFile returns when another process holds the lock.
const errWouldBlock = unix.EWOULDBLOCK

// lockFile takes an exclusive flock on f without waiting; the kernel drops
// it when the process exits, however it exits.
func lockFile(f *os.File) error {
	return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
}

func unlockFile(f *os.File) error {
	return unix.Flock(int(f.Fd()), unix.LOCK_UN)
}
