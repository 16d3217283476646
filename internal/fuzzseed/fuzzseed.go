// Package fuzzseed finds the real bodies the fuzz targets start from, so
// every target is seeded from the same captures the other tests use rather
// than from copies: the repository's capture folders (plugins/inputs/enphase/testcases/*/capture,
// the simulator's demo, internal/envoy/testdata/*) and, when the variable is
// set, every folder of $ENPHASE_FIXTURES (read in place, never copied).
//
// With $FUZZSEED_MAX set (make fuzz sets it), each function returns at most
// that many seeds, spread over the whole list: the fuzzer runs every seed
// before it mutates any, and a short run spent on hundreds of near-identical
// captures fuzzes nothing. Plain go test replays them all.
package fuzzseed

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"

	"github.com/telegraf-enphase/telegraf-enphase/internal/capture"
)

// FixturesEnv names the folder of extra capture folders (the pyenphase
// fixtures), as for the conformance tests.
const FixturesEnv = "ENPHASE_FIXTURES"

// MaxEnv names the variable that caps the seeds each function returns.
const MaxEnv = "FUZZSEED_MAX"

// limit returns at most $FUZZSEED_MAX of seeds, evenly spaced and always
// including the first (some targets build on the first capture) and the last.
func limit[T any](tb testing.TB, seeds []T) []T {
	tb.Helper()
	v := os.Getenv(MaxEnv)
	if v == "" {
		return seeds
	}
	k, err := strconv.Atoi(v)
	if err != nil || k < 1 {
		tb.Fatalf("fuzzseed: %s=%q: want a number of seeds of 1 or more, or leave it unset for all", MaxEnv, v)
	}
	n := len(seeds)
	if n <= k {
		return seeds
	}
	if k == 1 {
		return seeds[:1]
	}
	out := make([]T, 0, k)
	for i := range k {
		out = append(out, seeds[i*(n-1)/(k-1)])
	}
	return out
}

// maxSeed bounds a seed: the fuzzer mutates every seed, and a large one only
// slows each run down. The largest real body (device_data) is about 31 KiB.
const maxSeed = 256 << 10

// Root is the module's root folder, found from the test's working directory.
func Root(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatalf("fuzzseed: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatalf("fuzzseed: no go.mod above the working directory")
		}
		dir = parent
	}
}

// CaptureDirs lists the capture folders: the repository's, then those of
// $ENPHASE_FIXTURES when it is set, each list sorted.
func CaptureDirs(tb testing.TB) []string {
	tb.Helper()
	root := Root(tb)
	var dirs []string
	for _, pattern := range []string{
		filepath.Join(root, "plugins", "inputs", "enphase", "testcases", "*", "capture"),
		filepath.Join(root, "internal", "envoysim", "demo"),
		filepath.Join(root, "internal", "envoy", "testdata", "*"),
	} {
		dirs = append(dirs, globDirs(tb, pattern)...)
	}
	if fx := os.Getenv(FixturesEnv); fx != "" {
		dirs = append(dirs, globDirs(tb, filepath.Join(fx, "*"))...)
	}
	return dirs
}

func globDirs(tb testing.TB, pattern string) []string {
	tb.Helper()
	matches, err := filepath.Glob(pattern)
	if err != nil {
		tb.Fatalf("fuzzseed: %v", err)
	}
	sort.Strings(matches)
	var out []string
	for _, m := range matches {
		if st, err := os.Stat(m); err == nil && st.IsDir() {
			out = append(out, m)
		}
	}
	return out
}

// Bodies returns the content of every capture file called one of names (in
// capture.Name form: "production.json_details_1", "ivp_meters_readings"),
// without duplicates, in a stable order.
func Bodies(tb testing.TB, names ...string) [][]byte {
	tb.Helper()
	var out [][]byte
	seen := map[string]bool{}
	for _, dir := range CaptureDirs(tb) {
		for _, name := range names {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil || len(b) > maxSeed || seen[string(b)] {
				continue
			}
			seen[string(b)] = true
			out = append(out, b)
		}
	}
	return limit(tb, out)
}

// Files returns the content of the files matching the glob patterns, taken
// relative to the module root.
func Files(tb testing.TB, patterns ...string) [][]byte {
	tb.Helper()
	return limit(tb, files(tb, patterns...))
}

func files(tb testing.TB, patterns ...string) [][]byte {
	tb.Helper()
	root := Root(tb)
	var out [][]byte
	for _, p := range patterns {
		matches, err := filepath.Glob(filepath.Join(root, p))
		if err != nil {
			tb.Fatalf("fuzzseed: %v", err)
		}
		sort.Strings(matches)
		for _, m := range matches {
			if b, err := os.ReadFile(m); err == nil && len(b) <= maxSeed {
				out = append(out, b)
			}
		}
	}
	return out
}

// Endpoints reads the plugin's hand-written scenario files
// (plugins/inputs/enphase/testdata/*/*.json: an object from endpoint path to
// body) and returns every body given for path.
func Endpoints(tb testing.TB, path string) [][]byte {
	tb.Helper()
	var out [][]byte
	for _, b := range files(tb, filepath.Join("plugins", "inputs", "enphase", "testdata", "*", "*.json")) {
		var byPath map[string]json.RawMessage
		if json.Unmarshal(b, &byPath) != nil {
			continue
		}
		if body, ok := byPath[path]; ok {
			out = append(out, bytes.TrimSpace(body))
		}
	}
	return limit(tb, out)
}

// Headers returns every value of the response header name recorded in the
// capture folders' *_log.json files, without duplicates.
func Headers(tb testing.TB, name string) []string {
	tb.Helper()
	var out []string
	seen := map[string]bool{}
	for _, dir := range CaptureDirs(tb) {
		logs, _ := filepath.Glob(filepath.Join(dir, "*"+capture.LogSuffix))
		sort.Strings(logs)
		for _, p := range logs {
			b, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			var l capture.Log
			if json.Unmarshal(b, &l) != nil {
				continue
			}
			if v, ok := l.Header(name); ok && !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	return limit(tb, out)
}
