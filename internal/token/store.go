package token

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/telegraf-enphase/telegraf-enphase/internal/atomicfile"
	"github.com/telegraf-enphase/telegraf-enphase/internal/filelock"
	"github.com/telegraf-enphase/telegraf-enphase/internal/fileperm"
)

// Store is a token file that is replaced atomically: a crash at any instant
// leaves either the old or the new token on disk, whole, mode 0600. A lock
// file beside it keeps a cron 'token renew' and the running plugin from
// renewing at the same time.
type Store struct {
	Path string

	// Warn, when set, receives warnings of Write (root created the file).
	Warn func(string)

	// step, when set (by tests), is called after each step of Write, so a
	// test can kill the process there.
	step func(name string)
}

// Steps of Write, in order (those of atomicfile.Write).
const (
	StepTempCreated = atomicfile.StepTempCreated
	StepTempWritten = atomicfile.StepTempWritten
	StepTempSynced  = atomicfile.StepTempSynced
	StepRenamed     = atomicfile.StepRenamed
	StepDirSynced   = atomicfile.StepDirSynced
)

// Read parses the stored token.
func (s Store) Read() (Token, error) { return ReadFile(s.Path) }

// Write stores t through atomicfile.Write: a temporary file in the same
// directory is written and synced, then renamed over the old file, and the
// directory is synced so the rename survives a power cut.
func (s Store) Write(t Token) error {
	if _, err := Parse(t.Raw); err != nil {
		return fmt.Errorf("refusing to store an invalid token: %w", err)
	}
	dest, err := s.target()
	if err != nil {
		return err
	}
	if err := atomicfile.Write(dest, []byte(t.Raw+"\n"), atomicfile.Options{Warn: s.Warn, Step: s.step}); err != nil {
		return fmt.Errorf("writing token file: %w", err)
	}
	return nil
}

// ErrLocked means another process is renewing this token right now.
var ErrLocked = errors.New("another telegraf-enphase is renewing this token")

// Lock takes the renewal lock, waiting for it until ctx ends. The kernel
// releases it if the process dies, so a crash never leaves it stuck.
func (s Store) Lock(ctx context.Context) (unlock func(), err error) {
	for {
		unlock, err := s.TryLock()
		if !errors.Is(err, ErrLocked) {
			return unlock, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the token lock %s.lock: %w", s.Path, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TryLock takes the renewal lock or returns ErrLocked at once.
func (s Store) TryLock() (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(s.Path), 0o750); err != nil {
		return nil, fmt.Errorf("token directory: %w", err)
	}
	f, err := filelock.Open(s.Path + ".lock")
	if err != nil {
		return nil, fmt.Errorf("token lock: %w", withChownHint(s.Path+".lock", err))
	}
	if _, err := fileperm.AdoptDirOwner(f, s.Path+".lock", filepath.Dir(s.Path)); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("token lock: %w", err)
	}
	l, err := filelock.TryLock(f)
	if errors.Is(err, filelock.ErrLocked) {
		return nil, ErrLocked
	}
	if err != nil {
		return nil, fmt.Errorf("token lock: %w", err)
	}
	return l.Release, nil
}

// CheckWritable opens (creating) the lock file, as a renewal will, so that a
// directory this user cannot write is reported at start rather than at the
// first renewal, months later (R6). A directory not made yet is left to
// the renewal, which makes it.
func (s Store) CheckWritable() error {
	if _, err := os.Stat(filepath.Dir(s.Path)); err != nil {
		return nil
	}
	f, err := filelock.Open(s.Path + ".lock")
	if err != nil {
		return fmt.Errorf("token lock: %w", withChownHint(s.Path+".lock", err))
	}
	return f.Close()
}
