//go:build unix

package cli

import (
	"io"
	"io/fs"
	"os"
	"syscall"
)

// pollable returns in as a file that the runtime's network poller waits on
// when it is a pipe, as under Telegraf's execd. Read from a blocking pipe,
// the goroutine that waits for Telegraf's next line holds a thread in
// read(2); when the line comes, the gather it asks for cannot run until the
// runtime takes the processor back from that thread and wakes another one.
// Through the poller, the gather runs on the thread the line woke
// (BENCHMARKS.md measures it). A terminal or a file is left as it is: a
// terminal's non-blocking mode would be the shell's too.
func pollable(in io.Reader) io.Reader {
	f, ok := in.(*os.File)
	if !ok {
		return in
	}
	st, err := f.Stat()
	if err != nil || st.Mode()&fs.ModeNamedPipe == 0 {
		return in
	}
	// A duplicate descriptor, owned by the File made here: when that File
	// is closed or collected it closes its own descriptor, never in's.
	syscall.ForkLock.RLock()
	fd, err := syscall.Dup(int(f.Fd()))
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return in
	}
	// O_NONBLOCK belongs to the open pipe, so in (unread from now on) shares
	// it; NewFile sees it and registers the descriptor with the poller.
	if err := syscall.SetNonblock(fd, true); err != nil {
		_ = syscall.Close(fd)
		return in
	}
	return os.NewFile(uintptr(fd), f.Name())
}
