// Package fileperm finds files holding secrets (a token, a password, a
// certificate pin) that users other than their owner can read or change, and
// directories where any user can put such a file. It only looks (stat): the
// plugin warns, and the person decides.
package fileperm

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// File returns a warning when the file at path (named by its configuration
// key) has any permission bit for its group or for other users. A missing
// file gets none: it is checked once it exists.
func File(key, path string) string {
	if runtime.GOOS == "windows" {
		return "" // permission bits mean nothing there
	}
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return ""
	}
	mode := fi.Mode().Perm()
	if mode&0o077 == 0 {
		return ""
	}
	return fmt.Sprintf("%s %s has mode %04o: %s; fix: chmod 600 %s", key, path, mode, Access(mode), path)
}

// Access says who besides the owner can do what with a file of mode, by
// its actual bits: 0644 is "other users on this host can read it".
func Access(mode fs.FileMode) string {
	who := func(bits fs.FileMode) string {
		var can []string
		if bits&0o4 != 0 {
			can = append(can, "read")
		}
		if bits&0o2 != 0 {
			can = append(can, "change")
		}
		if bits&0o1 != 0 && len(can) == 0 {
			can = append(can, "execute")
		}
		return strings.Join(can, " and ")
	}
	group, other := who(mode>>3&0o7), who(mode&0o7)
	switch {
	case group == "" && other == "":
		return "only its owner can use it"
	case group == other:
		return "users in its group and other users on this host can " + other + " it"
	case other == "":
		return "users in its group can " + group + " it"
	case group == "":
		return "other users on this host can " + other + " it"
	}
	return "users in its group can " + group + " it, other users on this host can " + other + " it"
}

// Dir returns a warning when dir, which holds the files of keys, is writable
// by every user. The sticky bit (/tmp) does not make it safe: it stops others
// from deleting or renaming a file, not from creating it first (a token of
// their choosing, or a pin that makes the plugin trust their certificate). A
// group-writable directory is not reported: its group is usually the
// service's own (telegraf), whose members hold the token anyway.
func Dir(keys []string, dir string) string {
	if runtime.GOOS == "windows" {
		return ""
	}
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm()&0o002 == 0 {
		return ""
	}
	mode := fi.Mode().Perm()
	if fi.Mode()&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	what := keys[len(keys)-1]
	if len(keys) > 1 {
		what = strings.Join(keys[:len(keys)-1], ", ") + " and " + what
	}
	return fmt.Sprintf(
		"the directory %s holding %s is writable by every user (mode %04o): another user can put a file of their own there before the plugin writes it; fix: keep "+
			"%s in a directory only telegraf's user can write, e.g. mkdir -m 700 /etc/telegraf/enphase",
		dir,
		what,
		mode,
		what,
	)
}

// Path is a file the configuration names, with its key.
type Path struct{ Key, Path string }

// Warnings checks each file, then each directory holding them once.
func Warnings(paths ...Path) []string {
	var out, dirs []string
	keys := map[string][]string{}
	for _, p := range paths {
		if p.Path == "" {
			continue
		}
		if w := File(p.Key, p.Path); w != "" {
			out = append(out, w)
		}
		dir := filepath.Dir(p.Path)
		if _, seen := keys[dir]; !seen {
			dirs = append(dirs, dir)
		}
		keys[dir] = append(keys[dir], p.Key)
	}
	for _, d := range dirs {
		if w := Dir(keys[d], d); w != "" {
			out = append(out, w)
		}
	}
	return out
}
