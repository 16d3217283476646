//go:build linux

// Command fleet measures one telegraf-enphase process reading many
// gateways: for each fleet size it starts that many simulated gateways (the
// embedded demo of internal/envoysim, in this process, on loopback, with no
// latency), runs telegraf-enphase on a configuration listing them all, asks
// for a gather on stdin every interval as Telegraf's execd does, and reports
// the plugin's CPU per gateway-gather, its memory, threads, goroutines and
// file descriptors, and whether every gateway's gather was written before
// the next was asked. It also measures the plugin's CPU in a minute with no
// gather asked (-idle).
//
//	go run ./bench/fleet [-sizes 1,10,50,200] [-interval 5s] [-gathers 6] [-idle 60s]
//
// Linux only: it reads /proc.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoysim"
)

func main() {
	sizes := flag.String("sizes", "1,10,50,200", "fleet sizes, comma-separated")
	interval := flag.Duration("interval", 5*time.Second, "gather interval (Telegraf's default for the plugin is 15s)")
	gathers := flag.Int("gathers", 6, "gathers per fleet size; the first is left out of the steady figures")
	idle := flag.Duration("idle", 60*time.Second, "measure CPU with one gateway and no gather asked for this long (0: skip)")
	latency := flag.Float64("latency-scale", 0, "envoysim's multiplier of the captured response times (0: answer at once)")
	plugin := flag.String("plugin", "", "telegraf-enphase binary (default: build ./cmd/telegraf-enphase)")
	flag.Parse()
	if *gathers < 2 || *interval < time.Second {
		fmt.Fprintln(os.Stderr, "fleet: -gathers must be at least 2 and -interval at least 1s")
		os.Exit(2)
	}
	if err := run(*sizes, *interval, *gathers, *idle, *latency, *plugin); err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		os.Exit(1)
	}
}

func run(sizeList string, interval time.Duration, gathers int, idle time.Duration, latency float64, plugin string) error {
	var sizes []int
	for _, f := range strings.Split(sizeList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 500 {
			return fmt.Errorf("-sizes: %q is not a fleet size from 1 to 500", f)
		}
		sizes = append(sizes, n)
	}
	tmp, err := os.MkdirTemp("", "telegraf-enphase-fleet-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if plugin == "" {
		plugin = filepath.Join(tmp, "telegraf-enphase")
		if out, err := exec.Command("go", "build", "-o", plugin, "./cmd/telegraf-enphase").CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	fmt.Printf("| gateways | gathers on time | slowest gather s | CPU ms per gateway-gather (steady) | vs 1 gateway " +
		"| RSS MB (peak) | threads | goroutines between gathers | open fds |\n")
	fmt.Printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	var one float64
	for _, n := range sizes {
		r, err := measure(plugin, filepath.Join(tmp, strconv.Itoa(n)), n, interval, gathers, 0, latency)
		if err != nil {
			return fmt.Errorf("%d gateways: %w", n, err)
		}
		per := r.steadyCPU.Seconds() * 1e3 / float64(n*(gathers-1))
		if one == 0 {
			one = per
		}
		fmt.Printf("| %d | %d of %d | %.3f | %.3f | %.2f× | %.1f (%.1f) | %d | %d | %d |\n",
			n, r.onTime, gathers, r.slowest, per, per/one, r.rssKB/1024, r.hwmKB/1024, r.threads, r.goroutines, r.fds)
		for _, w := range r.warnings {
			fmt.Fprintf(os.Stderr, "fleet: %d gateways: plugin logged: %s\n", n, w)
		}
	}
	if idle > 0 {
		r, err := measure(plugin, filepath.Join(tmp, "idle"), 1, idle, 0, idle, latency)
		if err != nil {
			return fmt.Errorf("idle: %w", err)
		}
		fmt.Printf("\nIdle: one gateway, no gather asked, %s: %.3f ms CPU (%.4f%% of a core); %d goroutines, %d threads at the end.\n",
			idle, r.idleCPU.Seconds()*1e3, 100*r.idleCPU.Seconds()/idle.Seconds(), r.goroutines, r.threads)
	}
	return nil
}

type result struct {
	onTime     int
	slowest    float64 // the largest gather_duration_s written
	steadyCPU  time.Duration
	idleCPU    time.Duration
	rssKB      float64
	hwmKB      float64
	threads    int
	goroutines int
	fds        int
	warnings   []string
}

// measure runs the plugin on n simulated gateways for gathers gathers (or,
// with idle set, asks for none and measures idle CPU).
func measure(plugin, dir string, n int, interval time.Duration, gathers int, idle time.Duration, latency float64) (res result, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return res, err
	}
	var conf bytes.Buffer
	for i := range n {
		s, err := envoysim.New(envoysim.Options{LatencyScale: latency, Serial: fmt.Sprintf("9%011d", i)}) // distinct gateways: one process reads a serial once
		if err != nil {
			return res, err
		}
		url, err := s.Start("127.0.0.1:0")
		if err != nil {
			return res, err
		}
		defer s.Close()
		tok := filepath.Join(dir, fmt.Sprintf("gw%d.token", i))
		if err := os.WriteFile(tok, []byte(s.Token()), 0o600); err != nil {
			return res, err
		}
		fmt.Fprintf(&conf, "[[inputs.enphase]]\n  url = %q\n  token_file = %q\n  insecure_skip_verify = true\n\n", url, tok)
	}
	confPath := filepath.Join(dir, "enphase.conf")
	if err := os.WriteFile(confPath, conf.Bytes(), 0o600); err != nil {
		return res, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute+time.Duration(gathers+2)*interval+idle)
	defer cancel()
	cmd := exec.CommandContext(ctx, plugin, "--config", confPath)
	cmd.Env = append(os.Environ(), "GOTRACEBACK=all")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return res, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return res, err
	}
	var stderr syncBuf
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return res, err
	}
	defer cmd.Process.Kill()
	pid := cmd.Process.Pid

	// Count each gather's enphase_gateway lines (one per gateway gather).
	var mu sync.Mutex
	gatewayLines := 0
	slowest := 0.0
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			l := sc.Text()
			if !strings.HasPrefix(l, "enphase_gateway,") {
				continue
			}
			d := 0.0
			if i := strings.Index(l, "gather_duration_s="); i >= 0 {
				v := l[i+len("gather_duration_s="):]
				if j := strings.IndexAny(v, ", "); j >= 0 {
					v = v[:j]
				}
				d, _ = strconv.ParseFloat(v, 64)
			}
			mu.Lock()
			gatewayLines++
			slowest = max(slowest, d)
			mu.Unlock()
		}
	}()
	lines := func() int { mu.Lock(); defer mu.Unlock(); return gatewayLines }

	if idle > 0 {
		time.Sleep(time.Second) // start-up
		before, err := cpuOf(pid)
		if err != nil {
			return res, err
		}
		time.Sleep(idle)
		after, err := cpuOf(pid)
		if err != nil {
			return res, err
		}
		res.idleCPU = after - before
	}
	var afterFirst time.Duration
	for g := range gathers {
		asked := time.Now()
		if _, err := stdin.Write([]byte("\n")); err != nil {
			return res, err
		}
		want := (g + 1) * n
		for lines() < want && time.Since(asked) < interval {
			time.Sleep(5 * time.Millisecond)
		}
		if lines() >= want {
			res.onTime++
		}
		time.Sleep(time.Until(asked.Add(interval)))
		if g == 0 {
			if afterFirst, err = cpuOf(pid); err != nil {
				return res, err
			}
		}
		sampleProc(pid, &res)
	}
	if gathers > 0 {
		end, err := cpuOf(pid)
		if err != nil {
			return res, err
		}
		res.steadyCPU = end - afterFirst
	}
	sampleProc(pid, &res)
	res.fds = countFDs(pid)
	mu.Lock()
	res.slowest = slowest
	mu.Unlock()

	// A goroutine dump (SIGQUIT, GOTRACEBACK=all) counts the goroutines
	// between gathers.
	logLen := stderr.Len()
	_ = cmd.Process.Signal(syscall.SIGQUIT)
	stdin.Close()
	<-read
	_ = cmd.Wait()
	dump := stderr.String()
	res.goroutines = strings.Count(dump[logLen:], "\ngoroutine ")
	if strings.HasPrefix(dump[logLen:], "goroutine ") {
		res.goroutines++
	}
	for _, l := range strings.Split(dump[:logLen], "\n") {
		if strings.HasPrefix(l, "W!") || strings.HasPrefix(l, "E!") {
			res.warnings = append(res.warnings, l)
		}
	}
	if res.goroutines == 0 {
		return res, errors.New("no goroutine dump after SIGQUIT")
	}
	return res, nil
}

// cpuOf is the CPU time of every thread of pid, from their schedstat
// (nanoseconds, unlike /proc/pid/stat's clock ticks).
func cpuOf(pid int) (time.Duration, error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0, err
	}
	var sum time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, t.Name()))
		if err != nil {
			continue // the thread exited
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			continue
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, err
		}
		sum += time.Duration(ns)
	}
	return sum, nil
}

// sampleProc keeps the largest VmRSS, VmHWM and thread count seen.
func sampleProc(pid int, r *result) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return
	}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		x, _ := strconv.ParseFloat(f[0], 64)
		switch k {
		case "VmRSS":
			r.rssKB = max(r.rssKB, x)
		case "VmHWM":
			r.hwmKB = max(r.hwmKB, x)
		case "Threads":
			r.threads = max(r.threads, int(x))
		}
	}
}

func countFDs(pid int) int {
	es, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(es)
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
func (s *syncBuf) Len() int                    { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Len() }

var _ io.Writer = (*syncBuf)(nil)
