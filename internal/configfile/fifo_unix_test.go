//go:build unix

package configfile

import "syscall"

// mkfifo makes a named pipe, for the tests that a FIFO is refused (R10).
func mkfifo(path string) error { return syscall.Mkfifo(path, 0o600) }
