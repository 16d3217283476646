package cli

import (
	"bytes"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/execdlog"
	"github.com/telegraf-enphase/telegraf-enphase/internal/lineproto"
)

// countingInput adds one metric per gather.
type countingInput struct {
	mu      sync.Mutex
	gathers int
	stopped bool
}

func (c *countingInput) GatherEach(open func() (telegraf.Accumulator, func())) {
	c.mu.Lock()
	c.gathers++
	c.mu.Unlock()
	acc, done := open()
	acc.AddFields("enphase_test", map[string]any{"n": 1.0}, map[string]string{"serial": "1"})
	done()
}

func (c *countingInput) Stop() { c.mu.Lock(); c.stopped = true; c.mu.Unlock() }

func (c *countingInput) count() int { c.mu.Lock(); defer c.mu.Unlock(); return c.gathers }

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func newLoop(in io.Reader, out io.Writer, log *syncBuf, poll, idle time.Duration) (*execdLoop, *countingInput) {
	c := &countingInput{}
	return &execdLoop{input: c, in: in, out: out, log: execdlog.New(log, telegraf.Info), poll: poll, idle: idle, grace: 500 * time.Millisecond}, c
}

func runAsync(l *execdLoop, stop chan os.Signal) <-chan int {
	done := make(chan int, 1)
	go func() { done <- l.run(stop) }()
	return done
}

// requireExitOK waits for the loop to end with exitOK, failing with why if
// it has not within 10 s.
func requireExitOK(t *testing.T, done <-chan int, why string) {
	t.Helper()
	select {
	case code := <-done:
		require.Equal(t, exitOK, code)
	case <-time.After(10 * time.Second):
		t.Fatal(why)
	}
}

// One gather per stdin line, line protocol out, and a closed stdin (Telegraf
// stopping) ends the loop.
func TestExecdLoopGathersPerLine(t *testing.T) {
	var out, log syncBuf
	l, c := newLoop(strings.NewReader("\n\n"), &out, &log, 0, 0)
	requireExitOK(t, runAsync(l, make(chan os.Signal)), "a closed stdin did not end the loop")
	require.GreaterOrEqual(t, c.count(), 1)
	require.True(t, c.stopped)
	require.Contains(t, out.String(), "enphase_test,serial=1 n=1 ")
}

// Issue 14 item 6: with --poll-interval the process gathers by itself, also
// when stdin is closed (nohup, '&', systemd), until a signal ends it.
func TestPollIntervalOutlivesClosedStdin(t *testing.T) {
	var out, log syncBuf
	l, c := newLoop(strings.NewReader(""), &out, &log, 20*time.Millisecond, 0)
	stop := make(chan os.Signal, 1)
	done := runAsync(l, stop)
	require.Eventually(t, func() bool { return c.count() >= 5 }, 10*time.Second, 10*time.Millisecond)
	select {
	case <-done:
		t.Fatal("the loop ended although it has a poll interval")
	default:
	}
	require.Contains(t, log.String(), "I! stdin closed: gathering every 20ms until a signal ends the process")
	stop <- syscall.SIGTERM
	require.Equal(t, exitOK, <-done)
	require.True(t, c.stopped)
}

// Issue 14 item 6: signal = "none" gets one warning naming signal = "STDIN";
// a loop that is asked in time gets none.
func TestIdleWarningNamesSignalSTDIN(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	var out, log syncBuf
	l, _ := newLoop(pr, &out, &log, 0, 50*time.Millisecond)
	stop := make(chan os.Signal, 1)
	done := runAsync(l, stop)
	require.Eventually(t, func() bool { return strings.Contains(log.String(), `signal = "STDIN"`) }, 10*time.Second, 10*time.Millisecond)
	time.Sleep(150 * time.Millisecond)
	require.Equal(t, 1, strings.Count(log.String(), "W! "), "warned once: %s", log.String())
	require.True(t, strings.HasPrefix(log.String(), "W! no gather was asked for in the 50ms since start"), log.String())
	stop <- syscall.SIGHUP
	require.Equal(t, exitOK, <-done)

	pr2, pw2 := io.Pipe()
	var log2 syncBuf
	// The ask must be seen before the idle time: a second, not 100 ms, so
	// that a loaded CI machine does not make it late.
	l2, c2 := newLoop(pr2, &out, &log2, 0, time.Second)
	done2 := runAsync(l2, stop)
	_, err := pw2.Write([]byte("\n"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return c2.count() == 1 }, 10*time.Second, 10*time.Millisecond)
	time.Sleep(1200 * time.Millisecond) // past the idle time: still no warning
	require.NoError(t, pw2.Close())
	<-done2
	require.NotContains(t, log2.String(), "W! ")
}

// askingWriter is Telegraf reading a gather's lines and asking for the
// next gather before the write has returned to the plugin: the pipe hands
// the bytes over before write(2) returns, and Telegraf may be that fast.
type askingWriter struct {
	ask    *io.PipeWriter
	writes chan struct{}
}

func (a askingWriter) Write(p []byte) (int, error) {
	go a.ask.Write([]byte("\n")) //nolint:errcheck // the test reads the gathers, not this
	time.Sleep(50 * time.Millisecond)
	a.writes <- struct{}{}
	return len(p), nil
}

// R16's skip is for a stdout that does not take the lines, not for a write
// that is ending as Telegraf asks again: that gather runs (it was skipped,
// and TestExecdMode waited forever for it).
func TestAskDuringTheLastWriteGathersR16(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	out := askingWriter{ask: pw, writes: make(chan struct{}, 100)}
	var log syncBuf
	l, c := newLoop(pr, out, &log, 0, 0)
	stop := make(chan os.Signal, 1)
	done := runAsync(l, stop)
	_, err := pw.Write([]byte("\n"))
	require.NoError(t, err)
	for i := 0; i < 3; i++ {
		select {
		case <-out.writes:
		case <-time.After(10 * time.Second):
			t.Fatalf("gather %d was not written; gathers: %d, log: %s", i+1, c.count(), log.String())
		}
	}
	require.GreaterOrEqual(t, c.count(), 3)
	require.NotContains(t, log.String(), "skipping gathers")
	stop <- syscall.SIGTERM
	require.Equal(t, exitOK, <-done)
}

// holdingInput is a gatherer whose GatherEach waits for release: a gather
// still starting when Telegraf asks again.
type holdingInput struct {
	countingInput
	started chan struct{}
	release chan struct{}
}

func (h *holdingInput) GatherEach(open func() (telegraf.Accumulator, func())) {
	h.countingInput.GatherEach(open)
	h.started <- struct{}{}
	<-h.release
}

// R16: asks that arrive while a gather is still starting are not dropped
// (the CI once lost the third gather of the test above that way) and do not
// queue up either: however many came meanwhile, one more gather runs. The
// loop's gather is called directly, as the loop calls it for each ask.
func TestAskWhileAGatherStartsIsKeptR16(t *testing.T) {
	var out, log syncBuf
	h := &holdingInput{started: make(chan struct{}), release: make(chan struct{})}
	l := &execdLoop{input: h, out: &out, log: execdlog.New(&log, telegraf.Info), busy: make(chan struct{}, 1)}
	w := lineproto.NewWriter(l.log)
	written := make(chan struct{})
	go func() { defer close(written); w.Run(&out) }()
	wait := func(what string) {
		t.Helper()
		select {
		case <-h.started:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not start; gathers: %d", what, h.count())
		}
	}
	l.gather(w)
	wait("the first gather")
	for i := 0; i < 3; i++ {
		l.gather(w) // asked while the first holds
	}
	require.Equal(t, 1, h.count())
	h.release <- struct{}{}
	wait("the gather asked meanwhile")
	h.release <- struct{}{}
	select {
	case <-h.started:
		t.Fatal("asks made while one gather started were queued as several gathers")
	case <-time.After(200 * time.Millisecond):
	}
	require.Equal(t, 2, h.count())
	l.busy <- struct{}{} // the second gather has let go
	w.Close()
	<-written
	require.Equal(t, 2, strings.Count(out.String(), "enphase_test,serial=1 n=1 "))
}

// blockedWriter is a stdout nobody reads.
type blockedWriter struct{ unblock chan struct{} }

func (b blockedWriter) Write(p []byte) (int, error) { <-b.unblock; return len(p), nil }

// R16: a stdout nobody reads cannot hold a stop.
func TestStopWithBlockedStdoutR16(t *testing.T) {
	for _, sig := range []os.Signal{syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			pr, pw := io.Pipe()
			defer pw.Close()
			out := blockedWriter{unblock: make(chan struct{})}
			defer close(out.unblock)
			var log syncBuf
			l, c := newLoop(pr, out, &log, 0, 0)
			stop := make(chan os.Signal, 1)
			done := runAsync(l, stop)
			// Ask while the first write blocks: later gathers are skipped
			// (no lines pile up) and the stop must not wait.
			go func() {
				for {
					if _, err := pw.Write([]byte("\n")); err != nil {
						return
					}
				}
			}()
			require.Eventually(t, func() bool {
				return strings.Contains(log.String(), "skipping gathers until it does")
			}, 20*time.Second, 10*time.Millisecond)
			time.Sleep(100 * time.Millisecond)
			require.Equal(t, 1, c.count(), "gathers ran while stdout took nothing")
			stop <- sig
			requireExitOK(t, done, "the stop waited for a stdout nobody reads")
		})
	}
}

// The execd mode runs on one P, with a compact heap up to
// compactHeapGateways gateways, unless the environment says otherwise (the
// runtime has then applied it already).
func TestTuneRuntime(t *testing.T) {
	procs, gc := runtime.GOMAXPROCS(0), debug.SetGCPercent(100)
	t.Cleanup(func() { runtime.GOMAXPROCS(procs); debug.SetGCPercent(gc) })
	none := func(string) string { return "" }

	runtime.GOMAXPROCS(2)
	tuneRuntime(none, 1)
	require.Equal(t, 1, runtime.GOMAXPROCS(0))
	require.Equal(t, gcPercent, debug.SetGCPercent(100))

	tuneRuntime(none, compactHeapGateways)
	require.Equal(t, gcPercent, debug.SetGCPercent(100))
	tuneRuntime(none, compactHeapGateways+1)
	require.Equal(t, 100, debug.SetGCPercent(100), "a large fleet keeps the default")

	runtime.GOMAXPROCS(2)
	tuneRuntime(func(k string) string { return map[string]string{"GOMAXPROCS": "2", "GOGC": "100"}[k] }, 1)
	require.Equal(t, 2, runtime.GOMAXPROCS(0))
	require.Equal(t, 100, debug.SetGCPercent(100))
}
