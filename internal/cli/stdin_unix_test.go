//go:build unix

package cli

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// descriptor is f's, read without Fd, which would make f blocking.
func descriptor(t *testing.T, f *os.File) uintptr {
	t.Helper()
	raw, err := f.SyscallConn()
	require.NoError(t, err)
	var d uintptr
	require.NoError(t, raw.Control(func(fd uintptr) { d = fd }))
	return d
}

func nonBlocking(t *testing.T, f *os.File) bool {
	t.Helper()
	raw, err := f.SyscallConn()
	require.NoError(t, err)
	var flags uintptr
	require.NoError(t, raw.Control(func(fd uintptr) {
		flags, _, _ = syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_GETFL, 0)
	}))
	return flags&syscall.O_NONBLOCK != 0
}

// A pipe (Telegraf's stdin) is read through the runtime's poller, so the
// line that asks for a gather does not leave a thread blocked in read(2);
// the loop reads it as before, and a closed pipe still ends the loop.
func TestPollableStdinPipe(t *testing.T) {
	// A blocking pipe, as a parent process hands it over (os.Pipe's own
	// are already on the poller).
	var fds [2]int
	require.NoError(t, syscall.Pipe(fds[:]))
	r, w := os.NewFile(uintptr(fds[0]), "stdin"), os.NewFile(uintptr(fds[1]), "w")
	t.Cleanup(func() { _ = r.Close(); _ = w.Close() })
	require.False(t, nonBlocking(t, r))
	in := pollable(r)
	f, ok := in.(*os.File)
	require.True(t, ok)
	require.NotSame(t, r, f, "a pipe is opened anew on the poller")
	t.Cleanup(func() { _ = f.Close() })
	require.NotEqual(t, uintptr(fds[0]), descriptor(t, f), "on a descriptor of its own, so that closing either leaves the other")
	require.True(t, nonBlocking(t, f))

	var out, log syncBuf
	l, c := newLoop(in, &out, &log, 0, 0)
	done := runAsync(l, make(chan os.Signal))
	_, err := w.Write([]byte("\n"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "enphase_test") }, 10*time.Second, time.Millisecond)
	_, err = w.Write([]byte("\n"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return c.count() == 2 }, 10*time.Second, time.Millisecond)
	require.NoError(t, w.Close())
	requireExitOK(t, done, "a closed pipe did not end the loop")
}

// A file or a terminal keeps its mode: a terminal's is the shell's too.
func TestPollableLeavesOtherInputs(t *testing.T) {
	p := filepath.Join(t.TempDir(), "in")
	require.NoError(t, os.WriteFile(p, []byte("\n"), 0o600))
	f, err := os.Open(p)
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	require.Same(t, f, pollable(f))
	require.False(t, nonBlocking(t, f))
	sr := strings.NewReader("\n")
	require.Same(t, sr, pollable(sr))
}
