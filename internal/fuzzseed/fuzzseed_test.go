package fuzzseed

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// fuzzFuncRE finds fuzz targets in test sources.
var fuzzFuncRE = regexp.MustCompile(`(?m)^func (Fuzz\w*)\(\w+ \*testing\.F\)`)

// makefileTargets reads FUZZ_TARGETS from the Makefile: package:Function
// words, over continued lines.
func makefileTargets(t *testing.T, root string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	m := regexp.MustCompile(`(?m)^FUZZ_TARGETS\s*:?=(.*)$`).FindStringSubmatch(text)
	if m == nil {
		t.Fatal("Makefile has no FUZZ_TARGETS")
	}
	out := map[string]bool{}
	for _, w := range strings.Fields(m[1]) {
		out[w] = true
	}
	return out
}

// TestFuzzTargetsInMakefile fails when a Fuzz function exists that `make
// fuzz` (and so CI) does not run, or when the Makefile lists one that is gone.
func TestFuzzTargetsInMakefile(t *testing.T) {
	root := Root(t)
	listed := makefileTargets(t, root)
	found := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bin" || name == "dist" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		for _, m := range fuzzFuncRE.FindAllSubmatch(src, -1) {
			found["./"+filepath.ToSlash(rel)+":"+string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) == 0 {
		t.Fatal("no fuzz target found: is the walk broken?")
	}
	var missing, stale []string
	for k := range found {
		if !listed[k] {
			missing = append(missing, k)
		}
	}
	for k := range listed {
		if !found[k] {
			stale = append(stale, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(stale)
	if len(missing) > 0 {
		t.Errorf("fuzz targets missing from FUZZ_TARGETS in the Makefile: %s", strings.Join(missing, " "))
	}
	if len(stale) > 0 {
		t.Errorf("FUZZ_TARGETS in the Makefile lists targets that do not exist: %s", strings.Join(stale, " "))
	}
}

// TestSeeds checks that the captures the fuzz targets start from are found.
func TestSeeds(t *testing.T) {
	t.Setenv(FixturesEnv, "")
	if len(CaptureDirs(t)) < 5 {
		t.Fatalf("only %d capture folders found", len(CaptureDirs(t)))
	}
	for _, name := range []string{"info", "production.json_details_1", "ivp_meters_readings", "ivp_ensemble_inventory"} {
		if len(Bodies(t, name)) == 0 {
			t.Errorf("no capture of %s", name)
		}
	}
	if len(Endpoints(t, "/ivp/ensemble/inventory")) == 0 {
		t.Error("no scenario file gives /ivp/ensemble/inventory")
	}
}

// TestLimit checks the cap make fuzz sets: at most FUZZSEED_MAX seeds,
// spread from the first to the last, all of them when unset, and a clear
// failure on a bad value.
func TestLimit(t *testing.T) {
	seeds := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	for _, tt := range []struct {
		env  string
		want []int
	}{
		{"", seeds},
		{"20", seeds},
		{"10", seeds},
		{"4", []int{0, 3, 6, 9}},
		{"2", []int{0, 9}},
		{"1", []int{0}},
	} {
		t.Run("FUZZSEED_MAX="+tt.env, func(t *testing.T) {
			t.Setenv(MaxEnv, tt.env)
			if got := limit(t, seeds); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("limit = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("bad value", func(t *testing.T) {
		t.Setenv(MaxEnv, "0")
		ft := &fatalRecorder{TB: t}
		func() {
			defer func() { _ = recover() }()
			limit(ft, seeds)
		}()
		if !strings.Contains(ft.msg, "FUZZSEED_MAX=\"0\"") {
			t.Errorf("FUZZSEED_MAX=0: got %q, want a failure naming the variable", ft.msg)
		}
	})
	// The capped seeds still hold every capture kind the targets need, and
	// the first capture (FuzzMetrics builds its site on it).
	t.Setenv(FixturesEnv, "")
	all := Bodies(t, "production.json_details_1")
	t.Setenv(MaxEnv, "3")
	capped := Bodies(t, "production.json_details_1")
	if len(all) <= 3 {
		t.Fatalf("only %d captures of production.json_details_1: the cap is not exercised", len(all))
	}
	if len(capped) != 3 || string(capped[0]) != string(all[0]) {
		t.Errorf("capped to %d seeds of %d, the first kept: %v", len(capped), len(all), len(capped) > 0 && string(capped[0]) == string(all[0]))
	}
	if len(Endpoints(t, "/ivp/ensemble/inventory")) == 0 {
		t.Error("Endpoints found no /ivp/ensemble/inventory under the cap: the cap must apply after the path is picked")
	}
}

// fatalRecorder records Fatalf's message and stops the caller like Fatalf.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic("Fatalf")
}

func (f *fatalRecorder) Helper() {}
