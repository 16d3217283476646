//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"
)

const (
	modulePath = "github.com/telegraf-enphase/telegraf-enphase"
	// The Telegraf of contenders 1 and 2: the plugins both need, nothing else.
	telegrafTags = "custom,inputs.execd,inputs.http,parsers.json_v2,outputs.file"
	telegrafPkg  = "github.com/influxdata/telegraf/cmd/telegraf"
)

// binaries is everything the comparison runs.
type binaries struct {
	root                   string // the module's directory
	goBin, bash, curl, jq  string
	plugin, sim, telegraf  string // built into the temp dir
	floor                  string // bench/compare/floor, built into the temp dir
	telegrafVersion        string // pinned in the Makefile, checked in the binary
	goVersion, commit      string
	curlVersion, jqVersion string
	bashVersion            string
}

// errMissingTools is reported with the install command.
var errMissingTools = errors.New("curl and jq are needed for the shell contender: apt-get install -y curl jq")

// findTools checks the programs the comparison needs are on PATH.
func findTools(b *binaries) error {
	var missing []string
	for _, t := range []struct {
		name string
		dst  *string
	}{{"curl", &b.curl}, {"jq", &b.jq}, {"bash", &b.bash}, {"go", &b.goBin}} {
		p, err := exec.LookPath(t.name)
		if err != nil {
			missing = append(missing, t.name)
			continue
		}
		*t.dst = p
	}
	for _, m := range missing {
		if m == "curl" || m == "jq" {
			return fmt.Errorf("%s not found on PATH: %w", strings.Join(missing, ", "), errMissingTools)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s not found on PATH", strings.Join(missing, ", "))
	}
	return nil
}

// moduleRoot is the directory of this module's go.mod, from the working
// directory (go run ./bench/compare runs there).
func moduleRoot(ctx context.Context, goBin string) (string, error) {
	out, err := exec.CommandContext(ctx, goBin, "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module: run this from the telegraf-enphase repository")
	}
	b, err := os.ReadFile(gomod)
	if err != nil {
		return "", err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	if strings.TrimSpace(strings.TrimPrefix(first, "module")) != modulePath {
		return "", fmt.Errorf("%s is not module %s: run this from the telegraf-enphase repository", gomod, modulePath)
	}
	return filepath.Dir(gomod), nil
}

var makefileVersion = regexp.MustCompile(`(?m)^TELEGRAF_VERSION\s*:?=\s*(v\S+)\s*$`)

// pinnedTelegraf is the Telegraf version the Makefile builds.
func pinnedTelegraf(root string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		return "", err
	}
	m := makefileVersion.FindSubmatch(b)
	if m == nil {
		return "", errors.New("no TELEGRAF_VERSION := vX.Y.Z in the Makefile")
	}
	return string(m[1]), nil
}

// runLogged runs a build step, showing its output only when it fails.
func runLogged(ctx context.Context, dir string, env []string, argv ...string) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", strings.Join(argv, " "), err, out)
	}
	return nil
}

// build compiles telegraf-enphase and envoy-sim from this module and
// installs the pinned Telegraf with the plugins the contenders use, all
// into tmp.
func build(ctx context.Context, b *binaries, tmp string) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute) // a cold module cache downloads ~350 MB
	defer cancel()
	var err error
	if b.telegrafVersion, err = pinnedTelegraf(b.root); err != nil {
		return err
	}
	logf("building telegraf-enphase and envoy-sim")
	if err := runLogged(ctx, b.root, nil, b.goBin, "build", "-o", tmp+string(filepath.Separator),
		"./cmd/telegraf-enphase", "./cmd/envoy-sim", "./bench/compare/floor"); err != nil {
		return err
	}
	b.plugin, b.sim, b.floor = filepath.Join(tmp, "telegraf-enphase"), filepath.Join(tmp, "envoy-sim"), filepath.Join(tmp, "floor")

	logf("installing Telegraf %s with %s (about 30 s with a cold cache)", b.telegrafVersion, telegrafTags)
	// Run outside the module so nothing of its go.mod or a go.work applies.
	if err := runLogged(ctx, tmp, []string{"GOBIN=" + tmp, "GOWORK=off"}, b.goBin, "install",
		"-ldflags", "-s -w", "-tags", telegrafTags, telegrafPkg+"@"+b.telegrafVersion); err != nil {
		return err
	}
	b.telegraf = filepath.Join(tmp, "telegraf")

	// The binary says "Telegraf unknown" (its version is set by ldflags in
	// Telegraf's own Makefile): read the module version from the build info.
	out, err := exec.CommandContext(ctx, b.goBin, "version", "-m", b.telegraf).Output()
	if err != nil {
		return fmt.Errorf("go version -m %s: %w", b.telegraf, err)
	}
	got := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 3 && f[0] == "mod" && f[1] == "github.com/influxdata/telegraf" {
			got = f[2]
		}
	}
	if got != b.telegrafVersion {
		return fmt.Errorf("built Telegraf is %q, want %s", got, b.telegrafVersion)
	}
	return nil
}

// describe fills in the versions for the report.
func describe(ctx context.Context, b *binaries) {
	first := func(argv ...string) string {
		out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).Output()
		if err != nil {
			return "unknown"
		}
		line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		return line
	}
	b.goVersion = first(b.goBin, "env", "GOVERSION")
	b.curlVersion = first(b.curl, "--version")
	if f := strings.Fields(b.curlVersion); len(f) >= 2 {
		b.curlVersion = f[1]
	}
	b.jqVersion = strings.TrimPrefix(first(b.jq, "--version"), "jq-")
	b.bashVersion = first(b.bash, "-c", "echo ${BASH_VERSION}")
	// Read-only: which commit the numbers belong to.
	cmd := exec.CommandContext(ctx, "git", "rev-parse", "--short", "HEAD")
	cmd.Dir = b.root
	if out, err := cmd.Output(); err == nil {
		b.commit = strings.TrimSpace(string(out))
	}
}

// machine is where the numbers were taken.
type machine struct {
	nproc  int
	cpu    string
	kernel string
}

func thisMachine() machine {
	m := machine{nproc: runtime.NumCPU(), cpu: "unknown", kernel: "unknown"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.cpu = cpuModel(string(b))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(b))
	}
	return m
}

// cpuModel is the first "model name" of /proc/cpuinfo ("Model" or
// "Hardware" on ARM boards that lack it).
func cpuModel(cpuinfo string) string {
	for _, key := range []string{"model name", "Model", "Hardware"} {
		for _, l := range strings.Split(cpuinfo, "\n") {
			k, v, ok := strings.Cut(l, ":")
			if ok && strings.TrimSpace(k) == key && strings.TrimSpace(v) != "" {
				return strings.TrimSpace(v)
			}
		}
	}
	return "unknown"
}
