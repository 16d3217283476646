//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// result is what one contender cost.
type result struct {
	name    string
	gathers int // gathers the gateway saw (its prodPath count)

	cpu       time.Duration // rusage user+sys of the whole run, children included
	cpuFirst  time.Duration // from start to half an interval after the first gather
	cpuSteady time.Duration // from there to half an interval after the last gather
	steady    int           // gathers in that window

	// The execd contender: the plugin process's own share of cpuSteady,
	// and the Telegraf process's.
	pluginSteady, telegrafSteady time.Duration

	maxRSSKB    int64 // rusage ru_maxrss: the largest single process, reaped children included
	sumRSSKB    int64 // polled: the largest total of the group's VmRSS at one instant
	leaderHWMKB int64 // polled VmHWM of the group leader (Telegraf, or bash)
	pluginHWMKB int64 // polled VmHWM of telegraf-enphase (execd contender)

	reqs      simStats // the whole run
	reqsFirst simStats // start to the first sample: start-up and the first gather
	reqSteady simStats // the steady window

	fields fieldCount
	errLog []string // E! lines Telegraf logged before it was stopped
}

func (r result) perGather(d time.Duration) float64 { return d.Seconds() / float64(r.gathers) }

// steadyFields is the fields of a steady gather: the mean over gathers
// after the first where the output tells gathers apart, else the mean.
func (r result) steadyFields() float64 {
	if pg := r.fields.perGather; len(pg) > 1 {
		sum := 0
		for _, n := range pg[1:] {
			sum += n
		}
		return float64(sum) / float64(len(pg)-1)
	}
	return float64(r.fields.fields) / float64(r.gathers)
}

// measure runs one contender against a fresh simulator.
func measure(ctx context.Context, b *binaries, c contender, o options, dir string) (res result, err error) {
	res.name = c.name
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return res, err
	}
	s, err := startSim(ctx, b.sim, dir)
	if err != nil {
		return res, err
	}
	defer s.stop()
	before, err := s.stats(ctx)
	if err != nil {
		return res, err
	}

	out := filepath.Join(dir, "fields.out")
	argv, err := c.argv(b, s, dir, out, o)
	if err != nil {
		return res, err
	}
	r, err := startRun(c.name, dir, argv)
	if err != nil {
		return res, err
	}
	defer r.close(ctx, &err)
	p, mem, logFile := r.p, r.mem, r.logFile

	// Wait for the gateway to have seen n gathers.
	deadline := time.Now().Add(30*time.Second + time.Duration(o.gathers+2)*o.interval)
	waitGathers := func(n int) (simStats, error) {
		for {
			st, err := s.stats(ctx)
			if err != nil {
				return st, err
			}
			if st.Requests[c.prodPath] >= n {
				return st, nil
			}
			if p.exited() {
				return st, fmt.Errorf("exited (%v) after %d of %d gathers", p.err, st.Requests[c.prodPath], o.gathers)
			}
			if time.Now().After(deadline) {
				return st, fmt.Errorf("only %d of %d gathers before the deadline", st.Requests[c.prodPath], o.gathers)
			}
			select {
			case <-ctx.Done():
				return st, ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	// A sample half an interval after a gather began falls between gathers:
	// the gathers at --latency-scale 0 take milliseconds.
	between := func() error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(o.interval / 2):
			return nil
		}
	}

	if _, err := waitGathers(1); err != nil {
		return res, err
	}
	if err := between(); err != nil {
		return res, err
	}
	first := sampleGroup(p.pid())
	afterFirst, err := s.stats(ctx)
	if err != nil {
		return res, err
	}
	if n := afterFirst.Requests[c.prodPath]; n != 1 {
		return res, fmt.Errorf("%d gathers half an interval after the first: the interval is too short to tell gathers apart", n)
	}

	if _, err := waitGathers(o.gathers); err != nil {
		return res, err
	}
	if err := between(); err != nil {
		return res, err
	}
	last := sampleGroup(p.pid())
	atEnd, err := s.stats(ctx)
	if err != nil {
		return res, err
	}

	logLen := fileSize(logFile)
	if c.telegraf {
		// Telegraf's execd closes the plugin's stdin and waits for it, so
		// the plugin is reaped before Telegraf exits.
		p.signal(syscall.SIGTERM)
		if err := p.wait(ctx, 20*time.Second); err != nil {
			return res, fmt.Errorf("after SIGTERM: %w", err)
		}
	} else if err := p.wait(ctx, 2*o.interval+10*time.Second); err != nil {
		return res, err
	}
	ru, err := r.reap()
	if err != nil {
		return res, err
	}
	res.sumRSSKB = mem.peakSumKB()
	res.leaderHWMKB = mem.hwmOf(argv[0])
	if c.plugin != "" {
		res.pluginHWMKB = mem.hwmOf(c.plugin)
	}

	final, err := s.stats(ctx)
	if err != nil {
		return res, err
	}
	res.gathers = final.sub(before).Requests[c.prodPath]
	res.cpu = rusageCPU(ru)
	res.cpuFirst = first.total
	res.cpuSteady = last.total - first.total
	res.steady = atEnd.Requests[c.prodPath] - afterFirst.Requests[c.prodPath]
	if c.plugin != "" {
		res.pluginSteady = last.cpuOf(c.plugin) - first.cpuOf(c.plugin)
		res.telegrafSteady = last.cpuOf(b.telegraf) - first.cpuOf(b.telegraf)
	}
	res.maxRSSKB = ru.Maxrss // kilobytes on Linux
	res.reqs = final.sub(before)
	res.reqsFirst = afterFirst.sub(before)
	res.reqSteady = atEnd.sub(afterFirst)
	if res.fields, err = c.count(out); err != nil {
		return res, err
	}
	res.errLog = errorLines(logFile, logLen)

	switch {
	case res.gathers < o.gathers:
		return res, fmt.Errorf("the gateway saw %d gathers, want %d", res.gathers, o.gathers)
	case res.reqs.Unauthorized > 0:
		return res, fmt.Errorf("the gateway refused %d requests (401)", res.reqs.Unauthorized)
	case res.fields.fields == 0:
		return res, fmt.Errorf("no fields in %s", out)
	case res.steady < 1:
		return res, errors.New("no gather between the two samples")
	}
	return res, nil
}

// contenderRun is one contender's process group, its log and its memory sampler.
type contenderRun struct {
	name, logFile string
	p             *proc
	mem           *memPoller
}

// startRun starts argv as a process group logging to dir/contender.log.
func startRun(name, dir string, argv []string) (*contenderRun, error) {
	logFile := filepath.Join(dir, "contender.log")
	p, err := startGroup(name, dir, argv, logFile, logFile)
	if err != nil {
		return nil, err
	}
	return &contenderRun{name: name, logFile: logFile, p: p, mem: startMemPoller(p.pid(), 50*time.Millisecond)}, nil
}

// close stops what is left of the group and the sampler, on every path:
// nothing of the group may outlive the measurement. On failure it adds the
// log's last lines to *err.
func (r *contenderRun) close(ctx context.Context, err *error) {
	r.p.stop(2 * time.Second)
	r.mem.finish()
	if *err != nil && ctx.Err() == nil {
		*err = fmt.Errorf("%s: %w\n--- %s (last lines):\n%s", r.name, *err, r.logFile, r.p.logTail(25))
	}
}

// reap checks that the leader, once it has exited, did so cleanly and took
// its children with it, stops the sampler and returns the group's usage.
func (r *contenderRun) reap() (*syscall.Rusage, error) {
	if r.p.err != nil {
		return nil, fmt.Errorf("exited with %v", r.p.err)
	}
	// Whatever is left in the group was not reaped by the leader, so its CPU
	// is missing from the rusage: a measurement error, not a detail.
	if left := groupProcs(r.p.pid()); len(left) > 0 {
		var names []string
		for _, l := range left {
			names = append(names, fmt.Sprintf("%d %s (%c)", l.pid, l.argv0, l.state))
		}
		return nil, fmt.Errorf("processes outlived the leader: %s", strings.Join(names, ", "))
	}
	ru, err := r.p.rusage()
	if err != nil {
		return nil, err
	}
	r.mem.finish()
	return ru, nil
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// errorLines are the " E! " lines of a log, up to byte offset upTo.
func errorLines(path string, upTo int64) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	if int64(len(b)) > upTo {
		b = b[:upTo]
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, " E! ") {
			out = append(out, l)
		}
	}
	return out
}

// paths are the request paths of some stats, sorted.
func paths(sts ...simStats) []string {
	seen := map[string]bool{}
	for _, st := range sts {
		for p := range st.Requests {
			seen[p] = true
		}
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// measureBaseline is Telegraf's floor: the agent and an [[inputs.execd]]
// whose child (cat) answers each gather's newline with an empty line, so
// that nothing is parsed or written. There is no gateway: the samples are
// taken by the clock, the first after start-up has settled.
func measureBaseline(ctx context.Context, b *binaries, o options, dir string) (res result, err error) {
	res.name = "Telegraf floor: inputs.execd running cat"
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return res, err
	}
	cat, err := exec.LookPath("cat")
	if err != nil {
		return res, err
	}
	out := filepath.Join(dir, "fields.out")
	block := fmt.Sprintf(`[[inputs.execd]]
  interval = %q
  command = [%q]
  signal = "STDIN"
  data_format = "influx"
`, o.interval, cat)
	argv, err := telegrafArgv(b, dir, agentConf(o, block, out))
	if err != nil {
		return res, err
	}
	r, err := startRun(res.name, dir, argv)
	if err != nil {
		return res, err
	}
	defer r.close(ctx, &err)
	p, mem, logFile := r.p, r.mem, r.logFile
	sleep := func(d time.Duration) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
		if p.exited() {
			return fmt.Errorf("exited early (%v)", p.err)
		}
		return nil
	}
	// Telegraf is up within a second or two; its gathers fall on whole
	// intervals, so samples half an interval off them fall between gathers.
	settled := time.Now().Add(2*time.Second + o.interval)
	at := settled.Add(-time.Duration(settled.UnixNano()%int64(o.interval)) + o.interval/2)
	if at.Before(settled) {
		at = at.Add(o.interval)
	}
	if err := sleep(time.Until(at)); err != nil {
		return res, err
	}
	first := sampleGroup(p.pid())
	if err := sleep(time.Duration(o.gathers-1) * o.interval); err != nil {
		return res, err
	}
	last := sampleGroup(p.pid())
	logLen := fileSize(logFile)
	p.signal(syscall.SIGTERM)
	if err := p.wait(ctx, 20*time.Second); err != nil {
		return res, fmt.Errorf("after SIGTERM: %w", err)
	}
	ru, err := r.reap()
	if err != nil {
		return res, err
	}
	res.cpu = rusageCPU(ru)
	res.cpuFirst = first.total
	res.cpuSteady = last.total - first.total
	res.steady = o.gathers - 1
	res.telegrafSteady = last.cpuOf(b.telegraf) - first.cpuOf(b.telegraf)
	res.maxRSSKB = ru.Maxrss
	res.sumRSSKB = mem.peakSumKB()
	res.leaderHWMKB = mem.hwmOf(b.telegraf)
	res.errLog = errorLines(logFile, logLen)
	if fc, err := countLineProtocol(out, ""); err == nil && fc.fields > 0 {
		return res, fmt.Errorf("cat made Telegraf write %d fields", fc.fields)
	}
	return res, nil
}
