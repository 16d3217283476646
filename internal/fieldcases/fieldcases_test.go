// Package fieldcases holds only this test: it keeps the repository's own
// catalogue of field cases (docs/field-cases.md) complete, so that every case
// id a comment, test or document cites (T1, A6, P14, ...) resolves inside
// the repository.
package fieldcases

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/telegraf-enphase/telegraf-enphase/internal/fuzzseed"
)

const catalogue = "docs/field-cases.md"

// reservedR is the last id of the hardening family, catalogued in
// docs/reliability.md (issue 13) and only reserved in the catalogue.
const reservedR = 17

var (
	// citedRE finds a case id: a family letter and one or two digits, as a
	// word. A dot and a digit after it make it a firmware version (R3.9.36).
	citedRE = regexp.MustCompile(`\b([TAPVCER])([0-9]{1,2})\b(\.[0-9]|:[0-9A-F])?`)
	// definedRE finds a catalogue row: "| T1 | ...".
	definedRE = regexp.MustCompile(`(?m)^\| ([TAPVCE][0-9]{1,2}) \|`)
	// folderRE finds ids in a test-case folder's name, lower case between
	// dashes (testdata/p4-p11-ct-disabled).
	folderRE = regexp.MustCompile(`^[tapvce][0-9]{1,2}$`)
)

// notCases are words that look like case ids but name something else.
var notCases = map[string]string{
	"C6": `Enphase's IQ Combiner 6C ("C6 COMBINER CONTROLLER", "C6 RGM") in the ensemble inventory`,
}

func defined(t *testing.T, root string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, catalogue))
	if err != nil {
		t.Fatalf("the catalogue of field cases: %v", err)
	}
	ids := map[string]bool{}
	for _, m := range definedRE.FindAllStringSubmatch(string(b), -1) {
		if ids[m[1]] {
			t.Errorf("%s defines %s twice", catalogue, m[1])
		}
		ids[m[1]] = true
	}
	if len(ids) == 0 {
		t.Fatalf("%s defines no case", catalogue)
	}
	if !strings.Contains(string(b), "R1..R"+strconv.Itoa(reservedR)) {
		t.Errorf("%s does not reserve R1..R%d", catalogue, reservedR)
	}
	return ids
}

// cited walks the repository and returns, for each id cited in a Go or
// Markdown file or in a folder name, the first place citing it.
func cited(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	note := func(id, where string) {
		if _, ok := notCases[id]; ok {
			return
		}
		if _, ok := out[id]; !ok {
			out[id] = where
		}
	}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || name == "bin" || name == "dist" || name == "vendor") {
				return filepath.SkipDir
			}
			for _, w := range strings.Split(name, "-") {
				if folderRE.MatchString(w) {
					note(strings.ToUpper(w), rel)
				}
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, ".md") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, m := range citedRE.FindAllStringSubmatch(line, -1) {
				if m[3] != "" {
					continue // a firmware version, or a byte of a fingerprint
				}
				note(m[1]+m[2], rel+":"+strconv.Itoa(i+1))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestEveryCitedCaseIsCatalogued fails when a case id is cited anywhere in
// the repository without a row in docs/field-cases.md (R ids: without being
// in the reserved range).
func TestEveryCitedCaseIsCatalogued(t *testing.T) {
	root := fuzzseed.Root(t)
	ids := defined(t, root)
	refs := cited(t, root)
	var missing []string
	for id, where := range refs {
		if id[0] == 'R' {
			if n, _ := strconv.Atoi(id[1:]); n >= 1 && n <= reservedR {
				continue
			}
		}
		if !ids[id] {
			missing = append(missing, id+" (cited at "+where+")")
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("case %s is missing from %s", m, catalogue)
	}
	// The walk must have seen the citations the catalogue exists for.
	if len(refs) < 10 {
		t.Errorf("found only %d cited ids: is the walk reading the repository?", len(refs))
	}
}

// TestCitedRE checks what counts as a citation.
func TestCitedRE(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{in: "covers T1 and P14.", want: []string{"T1", "P14"}},
		{in: "(cases V8, P7), A10;", want: []string{"V8", "P7", "A10"}},
		{in: "firmware R3.9.36 and R4.10.35", want: nil},
		{in: "elliptic.P256(), TestDecodeTruncatedT4, E2E", want: nil},
		{in: "hardening R12.", want: []string{"R12"}},
		{in: "pins SHA256 A6:0B:…:E7:69 on first use", want: nil},
	} {
		var got []string
		for _, m := range citedRE.FindAllStringSubmatch(tc.in, -1) {
			if m[3] == "" {
				got = append(got, m[1]+m[2])
			}
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%q: cited %v, want %v", tc.in, got, tc.want)
		}
	}
}
