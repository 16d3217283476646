// Package renew keeps a gateway's token valid without anyone watching: it
// decides when a token is due, mints a new one from Enphase's cloud, has the
// gateway validate it on /auth/check_jwt, and only then replaces the stored
// token. Cloud failures back off exponentially, because retry storms get
// Enlighten accounts locked.
package renew

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/telegraf-enphase/telegraf-enphase/internal/token"
)

// Policy says how long before expiry a token is renewed.
type Policy struct {
	OwnerBefore     time.Duration // owner tokens last a year
	InstallerBefore time.Duration // installer tokens last 12 hours
}

// DefaultPolicy renews owner tokens 30 days ahead, installer tokens 1 hour ahead.
func DefaultPolicy() Policy {
	return Policy{OwnerBefore: 30 * 24 * time.Hour, InstallerBefore: time.Hour}
}

// Before is the margin for t's role; an unknown role is treated as the
// short-lived kind, which errs towards renewing early.
func (p Policy) Before(t token.Token) time.Duration {
	if t.Role == "owner" {
		return p.OwnerBefore
	}
	life := t.Expires.Sub(t.IssuedAt)
	if t.Role == "" && life > 30*24*time.Hour {
		return p.OwnerBefore
	}
	return p.InstallerBefore
}

// Lives of the tokens Enphase mints, which a margin must be shorter than.
const (
	OwnerLife     = 365 * 24 * time.Hour
	InstallerLife = 12 * time.Hour
)

// Validate refuses margins not shorter than the token's life (R1): such a
// token would be due the moment it is minted.
func (p Policy) Validate() (key string, err error) {
	switch {
	case p.OwnerBefore <= 0 || p.OwnerBefore >= OwnerLife:
		return "renew_owner_before", fmt.Errorf(
			"%s is out of range: owner tokens live a year, so use a margin above 0 and below 8760h (default %s)",
			p.OwnerBefore,
			DefaultPolicy().OwnerBefore,
		)
	case p.InstallerBefore <= 0 || p.InstallerBefore >= InstallerLife:
		return "renew_installer_before", fmt.Errorf(
			"%s is out of range: installer tokens live 12 hours, so use a margin above 0 and below 12h (default %s)",
			p.InstallerBefore,
			DefaultPolicy().InstallerBefore,
		)
	}
	return "", nil
}

// Margin is how long before its expiry t is renewed: the role's margin, but
// never more than half the token's own life (iat..exp), so that a token just
// minted is never due, whatever the margin or the cloud's idea of a
// lifetime (R1).
func (p Policy) Margin(t token.Token) time.Duration {
	m := p.Before(t)
	if span := t.Expires.Sub(t.IssuedAt); !t.IssuedAt.IsZero() && span > 0 {
		m = min(m, span/2)
	}
	return m
}

// Due reports whether t should be renewed at now.
func (p Policy) Due(t token.Token, now time.Time) bool {
	return t.Remaining(now) < p.Margin(t)
}

// Minter mints a token from the cloud for a gateway serial.
type Minter interface {
	Mint(ctx context.Context, email, password, serial string) (token.Token, error)
}

// Checker validates a token on the gateway (/auth/check_jwt). An error that
// means the gateway refused the token (rather than could not be asked)
// implements TokenRefused() bool.
type Checker interface {
	CheckToken(ctx context.Context, t token.Token) error
}

// refused reports whether err says the gateway refused the token: an
// unreachable gateway is no reason to call the cloud.
func refused(err error) bool {
	var r interface{ TokenRefused() bool }
	return errors.As(err, &r) && r.TokenRefused()
}

// Credentials are the Enlighten account's; Password is called only when a
// token is minted, so a password file is read then and never kept.
type Credentials struct {
	Username string
	Password func() (string, error)
}

// Backoff bounds the wait after failed renewals.
const (
	minBackoff = 5 * time.Minute
	maxBackoff = 6 * time.Hour
	// maxOutageBackoff bounds the wait while no usable token is left and
	// the cloud is only down (not refusing the account): data is being lost.
	maxOutageBackoff = 15 * time.Minute
)

// transient reports whether err is a cloud outage that retrying may cure,
// as opposed to a refusal of the account (bad password, MFA, lockout) that
// retrying only makes worse (A5).
func transient(err error) bool {
	var t interface{ Transient() bool }
	return errors.As(err, &t) && t.Transient()
}

// Renewer renews one gateway's token. It is safe for concurrent use.
type Renewer struct {
	Store  token.Store
	Creds  Credentials
	Mint   Minter
	Check  Checker
	Policy Policy
	Now    func() time.Time
	// Warn, when set, receives the warning about a skewed host clock.
	Warn func(string)

	mu     sync.Mutex
	logins *loginLog
	// perHour and perDay replace the caps when set: only tests of the
	// backoff alone, which the caps would otherwise cut short.
	perHour, perDay int
	warned          bool // about the clock
	failures        int  // consecutive
	next            time.Time
	renewals        int64
	failed          int64
	lastErr         error
}

// Result is what one renewal did.
type Result struct {
	Renewed bool
	Token   token.Token // the stored token afterwards
	Reason  string      // why it was (or was not) renewed
}

// ErrBackingOff means a recent failure forbids another cloud call yet.
var ErrBackingOff = errors.New("renewal backing off after a failure")

// Stats are counters since the process started.
type Stats struct {
	Renewals, Failures int64
	NextAttempt        time.Time // zero when not backing off
	LastError          error
}

// Stats returns the counters.
func (r *Renewer) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Stats{Renewals: r.renewals, Failures: r.failed, NextAttempt: r.next, LastError: r.lastErr}
}

// Options of one renewal.
type Options struct {
	Force  bool // renew even if the stored token is not due
	Verify bool // ask the gateway about the stored token and renew it if refused, whatever its expiry
	Wait   bool // wait for the lock (cron) instead of giving up at once (plugin)
	// OneShot is a command run once ('token fetch', 'token renew'): its
	// failures name no next attempt, which it will not make.
	OneShot bool
}

// Renew renews the token for serial when it is due (or forced), validating
// the new token on the gateway before it replaces the stored one. A failure
// leaves the stored token untouched.
func (r *Renewer) Renew(ctx context.Context, serial string, o Options) (Result, error) {
	now := r.now()
	r.mu.Lock()
	if !o.Force && now.Before(r.next) {
		next := r.next
		r.mu.Unlock()
		return Result{}, fmt.Errorf("%w until %s", ErrBackingOff, next.Format(time.RFC3339))
	}
	r.mu.Unlock()

	var unlock func()
	var err error
	if o.Wait {
		unlock, err = r.Store.Lock(ctx)
	} else {
		unlock, err = r.Store.TryLock()
	}
	if err != nil {
		if errors.Is(err, token.ErrLocked) {
			return Result{}, err
		}
		// A lock that cannot be taken (R6) backs off like any failure,
		// or it would be retried, logged and mailed on every gather.
		return Result{}, r.fail(now, 0, err, o)
	}
	defer unlock()

	// Another process may have renewed while we waited for the lock.
	cur, curErr := r.Store.Read()
	usable := curErr == nil && cur.Serial == serial && !cur.Expired(now)
	reason := "forced"
	if !o.Force {
		reason = "no usable token"
	}
	if curErr == nil && !o.Force {
		switch {
		case cur.Serial != serial:
			reason = "the stored token is for gateway " + cur.Serial
		case cur.Expired(now):
			reason = "the stored token has expired"
		case o.Verify && refused(r.Check.CheckToken(ctx, cur)):
			usable = false
			reason = "the gateway refused the stored token"
		case r.Policy.Due(cur, now):
			reason = fmt.Sprintf("due: %s left, renewal %s before expiry", cur.Remaining(now).Round(time.Minute), r.Policy.Margin(cur))
		default:
			return Result{
				Token:  cur,
				Reason: fmt.Sprintf("not due: %s left, renewal %s before expiry", cur.Remaining(now).Round(time.Minute), r.Policy.Margin(cur)),
			}, nil
		}
	}
	if r.Creds.Username == "" {
		return Result{}, errors.New("no Enlighten credentials (username and password) configured: paste a new token into token_file")
	}
	if err := r.admitLogin(now, serial, o); err != nil {
		return Result{}, err
	}
	fresh, err := r.mint(ctx, serial)
	if err != nil {
		var left time.Duration
		if usable {
			left = cur.Remaining(now)
		}
		return Result{}, r.fail(now, left, err, o)
	}
	r.recordLogin(now)
	r.mu.Lock()
	r.failures, r.next, r.lastErr = 0, time.Time{}, nil
	r.renewals++
	r.mu.Unlock()
	r.checkClock(fresh, now)
	return Result{Renewed: true, Token: fresh, Reason: reason}, nil
}

// admitLogin enforces the cap on cloud logins that minted a token (R1),
// the one place every login passes; the caller holds the token lock. A refusal holds further
// attempts of this process until the next login is allowed.
func (r *Renewer) admitLogin(now time.Time, serial string, o Options) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.logins == nil {
		r.logins = &loginLog{path: r.Store.Path + ".logins"}
	}
	recent := r.logins.read(now)
	if at := allowedAt(recent, now, cmp.Or(r.perHour, MaxLoginsPerHour), cmp.Or(r.perDay, MaxLoginsPerDay)); !at.IsZero() {
		r.next = at
		err := fmt.Errorf("%w for gateway %s: at most %d Enlighten logins an hour and %d a day, so that the account is not locked; the next is allowed at %s",
			ErrLoginLimit, serial, MaxLoginsPerHour, MaxLoginsPerDay, at.UTC().Format(time.RFC3339))
		if o.OneShot {
			err = fmt.Errorf("%w (try again then)", err)
		}
		r.lastErr = err
		return err
	}
	return nil
}

// recordLogin counts a login that minted a token. Failed logins are not
// counted here: the backoff already spaces them (5 min, doubling), and
// counting them would leave a 12-hour token only 3 tries in its last hour.
func (r *Renewer) recordLogin(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logins.record(r.logins.read(now), now)
}

// clockTolerance is how far a fresh token's iat may be ahead of our clock,
// or its time left differ from its own life, before the clock is suspect.
const clockTolerance = 5 * time.Minute

// checkClock warns once when a token minted just now says our clock is off:
// issued in our future, or with more or less time left than its own life.
func (r *Renewer) checkClock(t token.Token, now time.Time) {
	if t.IssuedAt.IsZero() || r.Warn == nil {
		return
	}
	skew := now.Sub(t.IssuedAt) // positive: our clock is ahead of the cloud's
	if skew > -clockTolerance && skew < clockTolerance {
		return
	}
	r.mu.Lock()
	warned := r.warned
	r.warned = true
	r.mu.Unlock()
	if warned {
		return
	}
	way := "ahead of"
	if skew < 0 {
		way, skew = "behind", -skew
	}
	r.Warn(
		fmt.Sprintf(
			"this host's clock is about %s %s Enphase's cloud (a token minted just now says it was issued at %s): "+
				"set the clock right (NTP); renewal is timed by the token's own lifetime meanwhile",
			skew.Round(time.Minute),
			way,
			t.IssuedAt.UTC().Format(time.RFC3339),
		),
	)
}

// mint gets a token from the cloud, validates it on the gateway and stores it.
func (r *Renewer) mint(ctx context.Context, serial string) (token.Token, error) {
	pw, err := r.Creds.Password()
	if err != nil {
		return token.Token{}, fmt.Errorf("reading the Enlighten password: %w", err)
	}
	fresh, err := r.Mint.Mint(ctx, r.Creds.Username, pw, serial)
	if err != nil {
		return token.Token{}, err
	}
	if err := fresh.CheckSerial(serial); err != nil {
		return token.Token{}, err
	}
	if err := r.Check.CheckToken(ctx, fresh); err != nil {
		return token.Token{}, fmt.Errorf("the new token failed validation on the gateway, keeping the old one: %w", err)
	}
	if err := r.Store.Write(fresh); err != nil {
		return token.Token{}, err
	}
	return fresh, nil
}

// fail records a failure and schedules the next attempt: 5 min, 10, 20, ...
// up to 6 hours, but never more than a quarter of the time the stored token
// (left) still has: the long waits spare the cloud (A5), and a 12-hour
// installer token due an hour before expiry still gets several more tries.
// With no usable token left (left 0), an outage is retried every 15 minutes
// at most, so data resumes soon after the cloud does.
func (r *Renewer) fail(now time.Time, left time.Duration, err error, o Options) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures++
	r.failed++
	r.lastErr = err
	wait := minBackoff << min(r.failures-1, 10)
	if wait > maxBackoff {
		wait = maxBackoff
	}
	switch {
	case left > 0:
		wait = min(wait, max(left/4, minBackoff))
	case transient(err):
		wait = min(wait, maxOutageBackoff)
	}
	r.next = now.Add(wait)
	if o.OneShot {
		return fmt.Errorf("token renewal failed: %w", err)
	}
	return fmt.Errorf("token renewal failed (next attempt in %s): %w", wait, err)
}

func (r *Renewer) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}
