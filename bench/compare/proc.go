//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a child started in its own process group, so that it and all its
// descendants can be signalled and found (/proc/*/stat pgrp) together.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when Wait has returned
	err  error         // Wait's error, valid once done is closed
	logs string        // file holding the child's stderr (and stdout unless redirected)
}

// startGroup starts argv in dir with stdout and stderr going to files (never
// pipes: Wait must not depend on a reader), in a new process group.
func startGroup(name, dir string, argv []string, stdoutFile, stderrFile string) (*proc, error) {
	stdout, err := os.Create(stdoutFile)
	if err != nil {
		return nil, err
	}
	defer stdout.Close()
	stderr := stdout
	if stderrFile != stdoutFile {
		if stderr, err = os.Create(stderrFile); err != nil {
			return nil, err
		}
		defer stderr.Close()
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Stdin = nil // /dev/null
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// Pdeathsig: if this program dies without cleaning up, the group leader
	// goes with it (and Telegraf's execd child then sees its stdin close).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{}), logs: stderrFile}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig to the group leader only.
func (p *proc) signal(sig syscall.Signal) {
	if !p.exited() {
		_ = p.cmd.Process.Signal(sig)
	}
}

// killGroup SIGKILLs every process of the group, leader or not. The group
// lives on after its leader as long as a member does.
func (p *proc) killGroup() {
	_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
}

// wait waits for the leader to exit, at most timeout.
func (p *proc) wait(ctx context.Context, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
		return fmt.Errorf("%s did not exit within %s", p.name, timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop ends the group for good: SIGTERM to the leader, then SIGKILL to the
// whole group after grace, and waits for the leader to be reaped.
func (p *proc) stop(grace time.Duration) {
	p.signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
	}
	p.killGroup()
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
	}
}

// rusage is the leader's resource usage as wait4 reported it: on Linux it
// covers the leader and every descendant it (or they) reaped.
func (p *proc) rusage() (*syscall.Rusage, error) {
	if !p.exited() || p.cmd.ProcessState == nil {
		return nil, errors.New("no rusage: the process has not been waited for")
	}
	ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok || ru == nil {
		return nil, errors.New("no rusage from wait")
	}
	return ru, nil
}

// logTail is the end of the child's log, for error messages.
func (p *proc) logTail(n int) string { return tailFile(p.logs, n) }

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func rusageCPU(ru *syscall.Rusage) time.Duration {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ---------------------------------------------------------------------------
// /proc

// clockTick is USER_HZ, the unit of /proc/<pid>/stat times: 100 on every
// Linux architecture Telegraf runs on.
const clockTick = 10 * time.Millisecond

// procInfo is one process of a group, read from /proc.
type procInfo struct {
	pid, ppid, pgrp int
	state           byte
	argv0           string
	cpu             time.Duration // own CPU, every live thread (schedstat, ns), or utime+stime
	children        time.Duration // cutime+cstime: reaped descendants (ticks)
	rssKB, hwmKB    int64
}

// parseStat reads the fields of /proc/<pid>/stat this program needs. The
// command name is in parentheses and may itself hold spaces or ')'.
func parseStat(b []byte) (pid, ppid, pgrp int, state byte, utime, stime, cutime, cstime int64, err error) {
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		err = errors.New("malformed stat")
		return
	}
	if pid, err = strconv.Atoi(strings.TrimSpace(string(b[:open]))); err != nil {
		return
	}
	f := strings.Fields(string(b[end+1:]))
	// f[0] is field 3 (state); field n is f[n-3].
	if len(f) < 15 {
		err = errors.New("short stat")
		return
	}
	state = f[0][0]
	nums := make([]int64, 15)
	for i := 1; i < 15; i++ {
		if nums[i], err = strconv.ParseInt(f[i], 10, 64); err != nil {
			return
		}
	}
	ppid, pgrp = int(nums[1]), int(nums[2])
	utime, stime, cutime, cstime = nums[11], nums[12], nums[13], nums[14]
	return
}

// statusKB reads a "Key:   123 kB" line of /proc/<pid>/status.
func statusKB(status []byte, key string) int64 {
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// threadsCPU sums the on-CPU time (ns) of a process's live threads from
// /proc/<pid>/task/*/schedstat; ok is false where schedstat is missing.
func threadsCPU(pid int) (time.Duration, bool) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil || len(tasks) == 0 {
		return 0, false
	}
	var sum int64
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, t.Name(), "schedstat"))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // the thread just exited
			}
			return 0, false
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			return 0, false
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, false
		}
		sum += ns
	}
	return time.Duration(sum), true
}

// groupProcs lists the processes of process group pgid (zombies included).
func groupProcs(pgid int) []procInfo {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []procInfo
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue // gone
		}
		_, ppid, pgrp, state, ut, st, cut, cst, err := parseStat(b)
		if err != nil || pgrp != pgid {
			continue
		}
		pi := procInfo{pid: pid, ppid: ppid, pgrp: pgrp, state: state,
			cpu: time.Duration(ut+st) * clockTick, children: time.Duration(cut+cst) * clockTick}
		if ns, ok := threadsCPU(pid); ok && state != 'Z' {
			pi.cpu = ns
		}
		if status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
			pi.rssKB, pi.hwmKB = statusKB(status, "VmRSS"), statusKB(status, "VmHWM")
		}
		if cl, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil {
			pi.argv0, _, _ = strings.Cut(string(cl), "\x00")
		}
		out = append(out, pi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pid < out[j].pid })
	return out
}

// cpuSample is the CPU a group has used so far: each live process's own
// time plus what it has collected from the descendants it reaped.
type cpuSample struct {
	at     time.Time
	total  time.Duration
	byPID  map[int]time.Duration // own CPU of each live process
	argv0s map[int]string
}

func sampleGroup(pgid int) cpuSample {
	s := cpuSample{at: time.Now(), byPID: map[int]time.Duration{}, argv0s: map[int]string{}}
	for _, p := range groupProcs(pgid) {
		s.total += p.cpu + p.children
		s.byPID[p.pid] = p.cpu
		s.argv0s[p.pid] = p.argv0
	}
	return s
}

// cpuOf is the own CPU of the processes started as argv0 (0 if none).
func (s cpuSample) cpuOf(argv0 string) time.Duration {
	var d time.Duration
	for pid, a := range s.argv0s {
		if a == argv0 {
			d += s.byPID[pid]
		}
	}
	return d
}

// ---------------------------------------------------------------------------
// memory poller

// memPoller follows a group's resident memory while it runs: the largest sum
// of VmRSS over its processes at one instant, and each process's VmHWM.
type memPoller struct {
	pgid  int
	mu    sync.Mutex
	sumKB int64
	hwmKB map[string]int64 // by argv0: the largest VmHWM of processes started as it
	once  sync.Once
	stop  chan struct{}
	done  chan struct{}
}

func startMemPoller(pgid int, every time.Duration) *memPoller {
	m := &memPoller{pgid: pgid, hwmKB: map[string]int64{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			m.poll()
			select {
			case <-m.stop:
				return
			case <-t.C:
			}
		}
	}()
	return m
}

func (m *memPoller) poll() {
	var sum int64
	procs := groupProcs(m.pgid)
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range procs {
		sum += p.rssKB
		if p.hwmKB > m.hwmKB[p.argv0] {
			m.hwmKB[p.argv0] = p.hwmKB
		}
	}
	if sum > m.sumKB {
		m.sumKB = sum
	}
}

// finish stops the poller; it may be called more than once.
func (m *memPoller) finish() {
	m.once.Do(func() { close(m.stop) })
	<-m.done
}

func (m *memPoller) peakSumKB() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sumKB
}

func (m *memPoller) hwmOf(argv0 string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hwmKB[argv0]
}
