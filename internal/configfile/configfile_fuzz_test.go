package configfile_test

import (
	"bytes"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/telegraf-enphase/telegraf-enphase/internal/configfile"
	"github.com/telegraf-enphase/telegraf-enphase/internal/fuzzseed"
	"github.com/telegraf-enphase/telegraf-enphase/plugins/inputs/enphase"
)

// goStringRE finds Go string literals, raw or interpreted, in test sources.
var goStringRE = regexp.MustCompile("`[^`]*`|\"(?:[^\"\\\\\\n]|\\\\.)*\"")

// configSnippets returns the sample configurations and every string literal
// of the repository's tests that holds an inputs table: the configurations
// the tests already try, typos and all.
func configSnippets(f *testing.F) [][]byte {
	out := fuzzseed.Files(f, "sample.conf", filepath.Join("plugins", "inputs", "enphase", "sample.conf"))
	seen := map[string]bool{}
	for _, src := range fuzzseed.Files(f, "*/*/*_test.go", "*/*/*/*_test.go") {
		for _, lit := range goStringRE.FindAll(src, -1) {
			s, err := strconv.Unquote(string(lit))
			if err != nil || !strings.Contains(s, "[inputs.") || seen[s] {
				continue
			}
			seen[s] = true
			out = append(out, []byte(s))
		}
	}
	return out
}

const fuzzConf = "fuzz.conf"

// locationRE is how every message of the loader starts: the file, and the
// line when one is known.
var locationRE = regexp.MustCompile(`^` + regexp.QuoteMeta(fuzzConf) + `(:[1-9][0-9]*)?: `)

// FuzzParse loads any file as the CLI does (configfile.Parse into
// enphase.New's plugin). It must not panic, and must return either tables
// (each a fresh plugin, at its header line) or errors that each start with
// the file's name and point at a line or name the key or table at fault,
// because the shim alone would ignore a typo silently.
func FuzzParse(f *testing.F) {
	for _, b := range configSnippets(f) {
		f.Add(b)
	}
	f.Add([]byte("[[inputs.enphase]]\n  url = \"${FUZZ_UNSET_VAR}\"\n  password = \"${FUZZ_UNSET_VAR:-p$$w}\"\n"))
	f.Add([]byte("[[inputs.enphase]]\n  url = \"${\"\n  timeout = \"1x\"\n  [inputs.enphase.email]\n    to = 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tables, err := configfile.Parse(fuzzConf, data, "enphase", enphase.New)
		if err != nil {
			if tables != nil {
				t.Fatalf("tables returned with an error: %v", err)
			}
			errs := []error{err}
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				errs = j.Unwrap()
			}
			for _, e := range errs {
				msg := e.Error()
				loc := locationRE.FindStringSubmatch(msg)
				if loc == nil {
					t.Fatalf("error does not start with the file: %q", msg)
				}
				if loc[1] == "" && !strings.Contains(msg, `key "`) && !strings.Contains(msg, "[inputs.") &&
					!strings.Contains(msg, "the limit for a config file") {
					t.Fatalf("error names neither a line nor a key: %q", msg)
				}
				if loc[1] != "" {
					if line, _ := strconv.Atoi(loc[1][1:]); line > bytes.Count(data, []byte("\n"))+1 {
						t.Fatalf("error names line %d of a %d-line file: %q", line, bytes.Count(data, []byte("\n"))+1, msg)
					}
				}
			}
			return
		}
		if len(tables) == 0 {
			t.Fatal("no table and no error")
		}
		for i, tb := range tables {
			if tb.Value == nil || tb.Index != i+1 || tb.Line < 0 {
				t.Fatalf("table %d: %+v", i, tb)
			}
			if i > 0 && tb.Value == tables[i-1].Value {
				t.Fatalf("tables %d and %d share one plugin", i-1, i)
			}
		}
	})
}
