// Package telegrafenphase is the module's root. It holds the release version,
// read from the VERSION file, so that every build reports the one version
// the repository declares, with or without the Makefile.
package telegrafenphase

import (
	_ "embed"
	"runtime"
	"runtime/debug"
	"strings"
)

//go:embed VERSION
var versionFile string

// commit is the commit the binary was built from, "-dirty" appended when the
// tree had uncommitted changes. The Makefile sets it (-ldflags "-X
// github.com/telegraf-enphase/telegraf-enphase.commit=..."); a plain go build
// in a clone leaves it empty, and the commit Go stamps in the binary is used.
var commit string

// Version is the release version, a semantic version such as "0.2.0".
func Version() string { return strings.TrimSpace(versionFile) }

// Commit is the short commit the binary was built from ("3bae4bf",
// "3bae4bf-dirty"), or "" when unknown (a build outside git, go test).
func Commit() string {
	if commit != "" {
		return commit
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	return commitFromBuildInfo(info.Settings)
}

func commitFromBuildInfo(settings []debug.BuildSetting) string {
	var rev string
	dirty := false
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return ""
	}
	// git rev-parse --short's length, as the Makefile prints it.
	if len(rev) > 7 {
		rev = rev[:7]
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}

// String is what 'version' prints and a bug report should quote:
// "0.2.0 (commit 3bae4bf, go1.26.0 linux/arm)".
func String() string {
	c := Commit()
	if c == "" {
		c = "unknown"
	}
	return Version() + " (commit " + c + ", " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + ")"
}
