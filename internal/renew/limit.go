package renew

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/telegraf-enphase/telegraf-enphase/internal/atomicfile"
)

// Cloud logins per gateway are capped whatever the configuration, the host
// clock or the cloud does (R1): an account that logs in on every gather is
// locked within the hour. Every cloud login goes through Renewer.mint, the
// one place that counts them, under the token lock, so the cap holds across
// the plugin, cron's 'token renew' and 'token fetch'.
const (
	MaxLoginsPerHour = 3
	MaxLoginsPerDay  = 10
)

// ErrLoginLimit means the cap on cloud logins forbids another one yet.
var ErrLoginLimit = errors.New("cloud login limit reached")

// loginLog is when the recent cloud logins of one gateway happened, kept in
// a file beside the token (one Unix time a line) so a restart does not reset
// the cap, and in memory when that file cannot be written.
type loginLog struct {
	path   string
	memory []time.Time
}

// read returns the logins of the last day, by our clock; times more than a
// day ahead of it are taken for a clock that was wrong, and forgotten.
func (l *loginLog) read(now time.Time) []time.Time {
	all := append([]time.Time(nil), l.memory...)
	if b, err := os.ReadFile(l.path); err == nil && len(b) < 64<<10 {
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.ParseInt(f, 10, 64); err == nil {
				all = append(all, time.Unix(n, 0))
			}
		}
	}
	var recent []time.Time
	seen := map[int64]bool{}
	for _, t := range all {
		if t.After(now.Add(-24*time.Hour)) && t.Before(now.Add(24*time.Hour)) && !seen[t.Unix()] {
			seen[t.Unix()] = true
			recent = append(recent, t)
		}
	}
	sort.Slice(recent, func(i, j int) bool { return recent[i].Before(recent[j]) })
	return recent
}

// allowed returns the zero time when a login is allowed at now, else when
// the next one is.
func allowedAt(recent []time.Time, now time.Time, perHour, perDay int) time.Time {
	var next time.Time
	var hour []time.Time
	for _, t := range recent {
		if t.After(now.Add(-time.Hour)) {
			hour = append(hour, t)
		}
	}
	if len(hour) >= perHour {
		next = hour[len(hour)-perHour].Add(time.Hour)
	}
	if len(recent) >= perDay {
		if d := recent[len(recent)-perDay].Add(24 * time.Hour); d.After(next) {
			next = d
		}
	}
	if !next.After(now) {
		return time.Time{}
	}
	return next
}

// record notes a login at now that minted a token.
func (l *loginLog) record(recent []time.Time, now time.Time) {
	l.memory = append(recent, now)
	var b strings.Builder
	for _, t := range l.memory {
		fmt.Fprintln(&b, t.Unix())
	}
	// Atomically, as the token: a crash leaves the old log or the new one.
	// Failing that, the log is kept in memory: the cap holds for this process.
	_ = atomicfile.Write(l.path, []byte(b.String()), atomicfile.Options{})
}
