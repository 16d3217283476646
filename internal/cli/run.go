package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/influxdata/telegraf"

	"github.com/telegraf-enphase/telegraf-enphase/internal/lineproto"
)

// Defaults of the execd loop.
const (
	// gcPercent is the execd mode's GOGC for up to compactHeapGateways
	// gateways (see tuneRuntime).
	gcPercent           = 25
	compactHeapGateways = 50
	// idleWarning is how long after start a process that Telegraf never
	// asked for a gather says why it idles (signal = "none").
	idleWarning = 2 * time.Minute
	// stopGrace bounds a stop: gathers in flight are cancelled and what
	// they wrote is flushed, but a stdout nobody reads cannot hold the
	// process (case R16). Telegraf's execd escalates after 5 s.
	stopGrace = 3 * time.Second
	// stuckGrace is how long a gather asked while the last one's lines are
	// still being written waits for them before it counts stdout as stuck:
	// a pipe write that is ending takes microseconds.
	stuckGrace = 500 * time.Millisecond
)

// run is the execd mode: Telegraf writes a line to stdin each interval
// (signal = "STDIN") and reads line protocol from stdout.
func run(args []string, env Env) int {
	var c common
	fs := newFlags("telegraf-enphase", &c)
	poll := fs.Duration("poll-interval", 0, "gather on this interval by itself (default: only when Telegraf asks on stdin)")
	if err := fs.Parse(args); err != nil {
		return usageError(env, err)
	}
	if fs.NArg() > 0 {
		return usageError(env, fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	if *poll < 0 || (*poll > 0 && *poll < time.Second) {
		return usageError(env, fmt.Errorf("--poll-interval %s: use 0 (Telegraf drives gathers) or 1s and more", *poll))
	}
	set, log, ok := c.load(env)
	if !ok {
		return exitUsage
	}
	tuneRuntime(os.Getenv, len(set.List))
	for _, e := range set.List {
		if *poll > 0 {
			log.Infof("reading %s every %s, and every time Telegraf asks", e.Name(), *poll)
		} else {
			log.Infof("reading %s every time Telegraf asks", e.Name())
		}
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(stop)
	l := &execdLoop{input: set, in: pollable(env.Stdin), out: env.Stdout, log: log, poll: *poll, idle: idleWarning, grace: stopGrace}
	return l.run(stop)
}

// tuneRuntime sets the execd mode's runtime for a file of n gateways: one
// P, and a compact heap for up to compactHeapGateways, unless the
// environment sets GOMAXPROCS or GOGC itself.
func tuneRuntime(getenv func(string) string, n int) {
	// One P: a gather is a few milliseconds of work every 15 s, and with
	// more Ps each wake-up (stdin, a response, a timer) also spins idle Ps
	// looking for work. Measured with bench/fleet: 0.77× the CPU a gather
	// with one gateway (median of 7 rounds), no clear change with 50
	// (BENCHMARKS.md).
	if getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	// A compact heap: a steady gather allocates some 40 KB and keeps almost
	// none of it, and at the default GOGC the heap spreads over 4 MB before
	// a collection, so every gather writes to pages it has not touched for
	// a while, each a cache and TLB miss (on a virtual machine, a dear
	// one). At 25 the heap of a few gateways stays near 1 MB: collections
	// come more often and cost little. With hundreds of gateways the live
	// heap is tens of MB and the collections would cost more than they save
	// (BENCHMARKS.md: 200 gateways, 1.22× the CPU per gateway-gather).
	if getenv("GOGC") == "" && n <= compactHeapGateways {
		debug.SetGCPercent(gcPercent)
	}
}

// gatherer is what the loop runs: the gateways of the file. GatherEach
// returns at once; each gateway's gather adds to the accumulator open gave
// it and calls the function open gave with it when it has ended, which is
// when the loop writes that gather's lines, in one write.
type gatherer interface {
	GatherEach(open func() (telegraf.Accumulator, func()))
	Stop()
}

// execdLoop is the loop Telegraf's shim would run, with what the shim lacks
// for a process that runs for years: a stop that a blocked stdout cannot
// hold (R16), SIGHUP ending it like SIGTERM, a --poll-interval that outlives
// a closed stdin, a warning when Telegraf never asks, and every line on
// stderr level-prefixed and capped (R3), and one write per gateway gather
// of lines encoded as they are added (package lineproto).
type execdLoop struct {
	input gatherer
	in    io.Reader
	out   io.Writer
	log   telegraf.Logger
	poll  time.Duration // 0: gather only when asked on stdin
	idle  time.Duration // warn when no gather was asked this long after start
	grace time.Duration // how long a stop waits for gathers and stdout

	busy    chan struct{} // holds a token while a gather is starting
	skipped int           // gathers skipped in a row because stdout is not read

	// mu orders an ask that finds busy held against the release of busy,
	// so that the ask is kept (pending) and never lost between the two.
	mu      sync.Mutex
	pending bool // asked while a gather was starting: start one more after it
}

// run gathers until stop fires or, without a poll interval, stdin closes.
func (l *execdLoop) run(stop <-chan os.Signal) int {
	l.busy = make(chan struct{}, 1)
	w := lineproto.NewWriter(l.log)
	written := make(chan struct{})
	go func() {
		defer close(written)
		w.Run(l.out)
	}()

	asked := make(chan struct{}, 1)
	closed := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(l.in)
		for sc.Scan() {
			select {
			case asked <- struct{}{}:
			default: // one pending request is enough
			}
		}
		close(closed)
	}()

	var tick <-chan time.Time
	if l.poll > 0 {
		t := time.NewTicker(l.poll)
		defer t.Stop()
		tick = t.C
		l.gather(w)
	}
	var idle <-chan time.Time
	if l.poll == 0 && l.idle > 0 {
		t := time.NewTimer(l.idle)
		defer t.Stop()
		idle = t.C
	}
	for done := false; !done; {
		select {
		case <-asked:
			idle = nil
			l.gather(w)
		case <-tick:
			l.gather(w)
		case <-idle:
			l.log.Warnf("no gather was asked for in the %s since start: Telegraf asks on stdin only with signal = \"STDIN\" "+
				"in the [[inputs.execd]] block; set it there (or run with --poll-interval)", l.idle)
		case <-closed:
			closed = nil
			// A line read just before the end is asked before closed is
			// closed, but select picks among ready cases at random: it
			// still gets its gather.
			select {
			case <-asked:
				idle = nil
				l.gather(w)
			default:
			}
			if l.poll == 0 {
				done = true // Telegraf stopped, or the process was run without it
			} else {
				l.log.Infof("stdin closed: gathering every %s until a signal ends the process", l.poll)
			}
		case s := <-stop:
			l.log.Debugf("%v: stopping", s)
			done = true
		}
	}

	stopped := make(chan struct{})
	go func() {
		l.mu.Lock()
		l.pending = false // a stop does not start the gather asked last
		l.mu.Unlock()
		l.busy <- struct{}{} // no Gather is starting goroutines any more
		l.input.Stop()       // cancels gathers in flight and waits for them
		w.Close()
		<-written
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(l.grace):
		// Leave the stuck write (stdout nobody reads) to the exit.
	}
	return exitOK
}

// gather starts a gather, or, while one is still starting, asks for one
// more after it: the loop itself never blocks, so a signal is always seen,
// and an ask that arrives as the last gather ends is not dropped (Telegraf
// would go a whole interval without metrics).
func (l *execdLoop) gather(w *lineproto.Writer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case l.busy <- struct{}{}:
	default:
		l.pending = true // several asks meanwhile are one: gathers do not queue up
		return
	}
	go func() {
		for {
			l.gatherOnce(w)
			l.mu.Lock()
			if !l.pending {
				<-l.busy
				l.mu.Unlock()
				return
			}
			l.pending = false
			l.mu.Unlock()
		}
	}()
}

// gatherOnce runs one gather while busy is held.
func (l *execdLoop) gatherOnce(w *lineproto.Writer) {
	// A stdout that has not taken the last gather's lines (Telegraf stuck,
	// case R16) skips gathers: reading the gateways again would only pile
	// up lines nobody reads. A write that is only ending as Telegraf asks
	// again gets stuckGrace to finish; l.skipped is only touched while busy
	// is held.
	if n := w.Stuck(stuckGrace); n > 0 {
		if l.skipped++; l.skipped == 1 {
			l.log.Warnf("stdout has not taken the last gather's %d bytes of metrics yet: skipping gathers until it does", n)
		}
		return
	}
	if l.skipped > 0 {
		l.log.Infof("stdout is read again: %d gathers were skipped", l.skipped)
		l.skipped = 0
	}
	l.input.GatherEach(func() (telegraf.Accumulator, func()) {
		b := lineproto.NewBatch(l.log)
		return b, func() { w.Put(b) }
	})
}
