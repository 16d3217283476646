// Package atomicfile replaces a file atomically: a crash at any instant
// leaves either the old or the new content on disk, whole. The token file
// and the lifetime counters' state file are written through it.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/telegraf-enphase/telegraf-enphase/internal/fileperm"
)

// Steps of Write, in order, for tests that kill the process at each.
const (
	StepTempCreated = "temp-created"
	StepTempWritten = "temp-written"
	StepTempSynced  = "temp-synced"
	StepRenamed     = "renamed"
	StepDirSynced   = "dir-synced"
)

// Options tune Write.
type Options struct {
	// Warn, when set, receives the warning that root created the file.
	Warn func(string)
	// Step, when set (by tests), is called after each step of Write.
	Step func(name string)
}

// TempPrefix names the temporary files of Write for dest, so leftovers of a
// crash can be found and removed.
func TempPrefix(dest string) string { return "." + filepath.Base(dest) + ".tmp-" }

// Write stores data at dest, mode 0600: a temporary file in the same
// directory (created 0750 if missing) is written and synced, given to the
// directory's owner when running as root, renamed over dest, and the
// directory is synced so the rename survives a power cut.
func Write(dest string, data []byte, o Options) error {
	mark := func(name string) {
		if o.Step != nil {
			o.Step(name)
		}
	}
	dir := filepath.Dir(dest)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	RemoveLeftovers(dest)
	f, err := os.CreateTemp(dir, TempPrefix(dest)+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	if w, err := fileperm.AdoptDirOwner(f, dest, dir); err != nil {
		return err
	} else if w != "" && o.Warn != nil {
		o.Warn(w)
	}
	mark(StepTempCreated)
	if _, err := f.Write(data); err != nil {
		return err
	}
	mark(StepTempWritten)
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	mark(StepTempSynced)
	if err := os.Rename(tmp, dest); err != nil {
		return fmt.Errorf("replacing %s: %w", dest, err)
	}
	ok = true
	mark(StepRenamed)
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	mark(StepDirSynced)
	return nil
}

// RemoveLeftovers deletes temporary files a crashed Write for dest left behind.
func RemoveLeftovers(dest string) {
	prefix := TempPrefix(dest)
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(dest), prefix+"*"))
	for _, m := range matches {
		if strings.HasPrefix(filepath.Base(m), prefix) {
			_ = os.Remove(m)
		}
	}
}
