package telegrafenphase

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// TestVersionIsSemantic fails when VERSION is not one line holding a
// semantic version (MAJOR.MINOR.PATCH, an optional -pre-release): the deb
// package, the dist file names and 'version' all take it as it is.
func TestVersionIsSemantic(t *testing.T) {
	semver := regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.]+)?$`)
	if !semver.MatchString(Version()) {
		t.Fatalf("VERSION holds %q, not a semantic version such as 0.2.0", versionFile)
	}
	if strings.Count(versionFile, "\n") > 1 {
		t.Fatalf("VERSION has more than one line: %q", versionFile)
	}
}

// docVersionRE finds a version the documentation gives for this project.
var docVersionRE = regexp.MustCompile(`telegraf-enphase v([0-9][0-9A-Za-z.\-]*[0-9A-Za-z])`)

// TestDocsVersionMatches fails when a Markdown file names a telegraf-enphase
// version other than VERSION's, and when the plugin README's badge line
// (Telegraf's "⭐ <project> vX.Y.Z" convention) is gone.
func TestDocsVersionMatches(t *testing.T) {
	want := Version()
	found := map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "bin" || d.Name() == "dist") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".md") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range docVersionRE.FindAllStringSubmatch(string(b), -1) {
			found[filepath.ToSlash(path)] = true
			if m[1] != want {
				t.Errorf("%s names telegraf-enphase v%s, but VERSION is %s: update one of them", path, m[1], want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !found["plugins/inputs/enphase/README.md"] {
		t.Errorf("plugins/inputs/enphase/README.md no longer names the version (⭐ telegraf-enphase v%s)", want)
	}
}

func TestCommitFromBuildInfo(t *testing.T) {
	const rev = "3bae4bf0123456789abcdef0123456789abcdef0"
	for _, tt := range []struct {
		name     string
		settings []debug.BuildSetting
		want     string
	}{
		{"clean", []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "false"}}, "3bae4bf"},
		{"dirty", []debug.BuildSetting{{Key: "vcs.modified", Value: "true"}, {Key: "vcs.revision", Value: rev}}, "3bae4bf-dirty"},
		{"outside git", []debug.BuildSetting{{Key: "-trimpath", Value: "true"}}, ""},
		{"short revision kept", []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}}, "abc"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := commitFromBuildInfo(tt.settings); got != tt.want {
				t.Errorf("commitFromBuildInfo = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestString checks the line a bug report quotes: the version, the commit
// (set here as the Makefile's -X would) and the platform.
func TestString(t *testing.T) {
	old := commit
	t.Cleanup(func() { commit = old })
	commit = "3bae4bf-dirty"
	got := String()
	if !strings.HasPrefix(got, Version()+" (commit 3bae4bf-dirty, go") || !strings.HasSuffix(got, " "+runtime.GOOS+"/"+runtime.GOARCH+")") {
		t.Errorf("String() = %q", got)
	}
}
