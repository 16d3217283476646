package enphase

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/telegraf-enphase/telegraf-enphase/internal/filelock"
	"github.com/telegraf-enphase/telegraf-enphase/internal/fileperm"
)

// One process reads a gateway: an old Telegraf still running beside a new
// one, or a 'dump' from cron beside Telegraf, would double the load on a
// weak device and write every series twice. The lock is the state file's
// (STATE.lock), held from the first /info to Stop, since two processes
// writing one state file would also undo each other's counters.

// ErrBusy means another process holds the gateway's lock.
var ErrBusy = errors.New("another telegraf-enphase is reading this gateway")

// gatewayLock is the poller's hold on its gateway.
type gatewayLock struct {
	held   *filelock.Lock
	busy   bool // the last try found it held: said once per episode
	failed bool // the lock file could not be made: said once
}

// holdGateway takes the gateway's lock if it is not held yet. It returns
// ErrBusy, wrapped with the holder, when another process has it. A lock
// file that cannot be made does not stop the reading (the state file's
// own warning says what to fix): nothing else could hold it either.
func (p *poller) holdGateway() error {
	l := &p.state.lock
	path := p.state.counters.path
	if l.held != nil || path == "" {
		return nil
	}
	path += ".lock"
	f, err := filelock.Open(path)
	if err == nil {
		_, err = fileperm.AdoptDirOwner(f, path, filepath.Dir(path))
		if err != nil {
			_ = f.Close()
		}
	}
	if err != nil {
		if !l.failed {
			l.failed = true
			p.log.Warnf("%s: cannot make the lock file %s (%v): a second process reading this gateway would not be noticed", p.name(), path, err)
		}
		return nil
	}
	held, err := filelock.TryLock(f)
	if errors.Is(err, filelock.ErrLocked) {
		holder := filelock.Holder(path)
		if holder == "" {
			holder = "a process that did not say who it is"
		}
		return fmt.Errorf("%w (%s, lock %s): stop one of the two, as both would poll the gateway and write every series twice",
			ErrBusy, holder, path)
	}
	if err != nil {
		return fmt.Errorf("gateway lock %s: %w", path, err)
	}
	_ = held.SetHolder(fmt.Sprintf("%s, reading %s since %s", processLine(), p.name(), p.now().UTC().Format(time.RFC3339)))
	l.held = held
	if l.busy {
		p.log.Infof("%s: the other process has stopped; reading the gateway again", p.name())
	}
	l.busy = false
	return nil
}

// releaseGateway drops the lock, at Stop.
func (p *poller) releaseGateway() {
	p.state.lock.held.Release()
	p.state.lock.held = nil
}

// processLine says which process this is, for the holder line: the command
// line holds no secret (--config, --gateway, --poll-interval), and is cut.
func processLine() string {
	s := strings.Join(os.Args, " ")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}
