//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// A command name with spaces and a parenthesis, as /proc allows.
	line := "4242 (tele graf) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 7 3 11 5 20 0 9 0 100 1000 200 0\n"
	pid, ppid, pgrp, state, ut, st, cut, cst, err := parseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if pid != 4242 || ppid != 1 || pgrp != 4242 || state != 'S' || ut != 7 || st != 3 || cut != 11 || cst != 5 {
		t.Fatalf("got pid %d ppid %d pgrp %d state %c times %d %d %d %d", pid, ppid, pgrp, state, ut, st, cut, cst)
	}
	if _, _, _, _, _, _, _, _, err := parseStat([]byte("12 (x) S 1 2")); err == nil {
		t.Fatal("short stat accepted")
	}
}

func TestStatusKB(t *testing.T) {
	status := []byte("Name:\tx\nVmHWM:\t   19500 kB\nVmRSS:\t   18000 kB\n")
	if got := statusKB(status, "VmHWM"); got != 19500 {
		t.Fatalf("VmHWM %d", got)
	}
	if got := statusKB(status, "VmRSS"); got != 18000 {
		t.Fatalf("VmRSS %d", got)
	}
	if got := statusKB(status, "VmSwap"); got != 0 {
		t.Fatalf("VmSwap %d", got)
	}
}

// The group of this test process is found, with some CPU and memory.
func TestGroupProcs(t *testing.T) {
	pgid, err := syscall.Getpgid(0)
	if err != nil {
		t.Skip(err)
	}
	var me *procInfo
	for _, p := range groupProcs(pgid) {
		if p.pid == os.Getpid() {
			me = &p
		}
	}
	if me == nil {
		t.Fatal("this process is not in its own group's list")
	}
	if me.cpu <= 0 || me.rssKB <= 0 || me.hwmKB < me.rssKB {
		t.Fatalf("implausible: %+v", *me)
	}
}

func TestReplaceSection(t *testing.T) {
	fresh, err := replaceSection(skeleton, "new")
	if err != nil {
		t.Fatal(err)
	}
	want := "# Benchmarks\n\n" + beginMarker + "\nnew\n" + endMarker + "\n\n" + goBenchHead
	if !strings.HasPrefix(fresh, want) || !strings.HasSuffix(fresh, "gather._\n") {
		t.Fatalf("got:\n%s", fresh)
	}
	again, err := replaceSection(fresh+"\nmore from others\n", "newer\n\n")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(again, "\nnew\n") || !strings.Contains(again, beginMarker+"\nnewer\n"+endMarker) ||
		!strings.HasSuffix(again, "more from others\n") {
		t.Fatalf("got:\n%s", again)
	}
	// No markers: before the Go benchmarks heading, else at the end.
	got, _ := replaceSection("# B\n\n"+goBenchHead+"\n\nx\n", "s")
	if got != "# B\n\n"+beginMarker+"\ns\n"+endMarker+"\n\n"+goBenchHead+"\n\nx\n" {
		t.Fatalf("got:\n%q", got)
	}
	got, _ = replaceSection("# B", "s")
	if got != "# B\n\n"+beginMarker+"\ns\n"+endMarker+"\n" {
		t.Fatalf("got:\n%q", got)
	}
	if _, err := replaceSection(endMarker+"\n"+beginMarker, "s"); err == nil {
		t.Fatal("markers in the wrong order accepted")
	}
}

func TestWriteSection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	for _, s := range []string{"one", "two"} {
		if err := writeSection(path, s); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "one") || strings.Count(string(b), beginMarker) != 1 || !strings.Contains(string(b), goBenchHead) {
		t.Fatalf("got:\n%s", b)
	}
}

func TestCountLineProtocol(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lp")
	lp := "enphase_token,serial=1 expires_in_s=1,role=\"owner\" 1\n" +
		"enphase_inverter,serial=1 power_w=2 5\n" +
		"enphase_gateway,serial=1 requests=7i 1\n" +
		"enphase_token,serial=1 expires_in_s=1,role=\"owner\" 2\n" +
		"enphase_gateway,serial=1 requests=2i 2\n" +
		"enphase_token,serial=1 expires_in_s=1 3\n" // a gather cut short
	if err := os.WriteFile(path, []byte(lp), 0o600); err != nil {
		t.Fatal(err)
	}
	fc, err := countLineProtocol(path, "enphase_gateway")
	if err != nil {
		t.Fatal(err)
	}
	if fc.lines != 6 || fc.fields != 8 || len(fc.perGather) != 2 || fc.perGather[0] != 4 || fc.perGather[1] != 3 {
		t.Fatalf("got %+v", fc)
	}
	fc, err = countLineProtocol(path, "")
	if err != nil || fc.fields != 8 || fc.perGather != nil {
		t.Fatalf("got %+v, %v", fc, err)
	}
	r := result{gathers: 2, fields: fieldCount{fields: 8, perGather: []int{4, 3, 5}}}
	if r.firstFields() != 4 || r.steadyFields() != 4 {
		t.Fatalf("first %v steady %v", r.firstFields(), r.steadyFields())
	}
}

func TestCountKeyValues(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv")
	if err := os.WriteFile(path, []byte("/a:x.0=1\n/a:y=2.5\n\nnoise\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fc, err := countKeyValues(path)
	if err != nil || fc.fields != 2 {
		t.Fatalf("got %+v, %v", fc, err)
	}
}

// The sample.conf block and the recipe hold exactly the placeholders the
// contenders replace.
func TestConfigsHoldTheirPlaceholders(t *testing.T) {
	b := &binaries{root: filepath.Join("..", ".."), plugin: "/x/telegraf-enphase", telegraf: "/x/telegraf"}
	s := &sim{url: "https://127.0.0.1:1", token: "/x/envoy.token"}
	o := options{gathers: 3, interval: time.Second}
	dir := t.TempDir()
	for _, argv := range []func(*binaries, *sim, string, string, options) ([]string, error){execdArgv, httpArgv} {
		args, err := argv(b, s, dir, filepath.Join(dir, "out"), o)
		if err != nil {
			t.Fatal(err)
		}
		conf, err := os.ReadFile(args[len(args)-1])
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`interval = "1s"`, `omit_hostname = true`, `"/x/envoy.token"`} {
			if !strings.Contains(string(conf)+readOrEmpty(filepath.Join(dir, "enphase.conf")), want) {
				t.Fatalf("%s lacks %s:\n%s", args[len(args)-1], want, conf)
			}
		}
		if strings.Contains(string(conf), "<") || strings.Contains(string(conf), "/usr/local/bin") {
			t.Fatalf("a placeholder is left:\n%s", conf)
		}
	}
}

func readOrEmpty(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

func TestSig(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 4.0123: "4.01", 0.0219: "0.0219", 183: "183", 1234.6: "1235", 2.0: "2.00"} {
		if got := sig(v); got != want {
			t.Errorf("sig(%v) = %s, want %s", v, got, want)
		}
	}
}

func TestCPUModelAndPin(t *testing.T) {
	if got := cpuModel("processor\t: 0\nmodel name\t: AMD EPYC 7B13\n"); got != "AMD EPYC 7B13" {
		t.Fatalf("got %q", got)
	}
	if got := cpuModel("Hardware\t: BCM2835\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n"); got != "Raspberry Pi 4 Model B Rev 1.4" {
		t.Fatalf("got %q", got)
	}
	v, err := pinnedTelegraf(filepath.Join("..", ".."))
	if err != nil || !strings.HasPrefix(v, "v1.") {
		t.Fatalf("got %q, %v", v, err)
	}
}
