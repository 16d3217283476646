package renew

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/enlighten"
	"github.com/telegraf-enphase/telegraf-enphase/internal/token"
)

const serial = "122301234567"

func mk(t *testing.T, aud, role string, iat, exp time.Time) token.Token {
	t.Helper()
	raw, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"aud": aud, "enphaseUser": role, "iat": iat.Unix(), "exp": exp.Unix(),
	}).SignedString([]byte("renew-test"))
	require.NoError(t, err)
	tok, err := token.Parse(raw)
	require.NoError(t, err)
	return tok
}

// fakeCloud mints a prepared token or fails; it counts calls.
type fakeCloud struct {
	next  token.Token
	err   error
	calls int
}

func (f *fakeCloud) Mint(_ context.Context, _, _, _ string) (token.Token, error) {
	f.calls++
	return f.next, f.err
}

// fakeGateway accepts tokens unless told otherwise.
type fakeGateway struct {
	reject      map[string]bool
	unreachable bool
	checks      int
}

func (f *fakeGateway) CheckToken(_ context.Context, t token.Token) error {
	f.checks++
	if f.unreachable {
		return errors.New("GET /auth/check_jwt: connection refused")
	}
	if f.reject[t.Raw] {
		return refusal{}
	}
	return nil
}

type refusal struct{}

func (refusal) Error() string      { return "check_jwt answered 401" }
func (refusal) TokenRefused() bool { return true }

type fixture struct {
	r     *Renewer
	cloud *fakeCloud
	gw    *fakeGateway
	now   time.Time
}

func newFixture(t *testing.T, stored *token.Token) *fixture {
	f := &fixture{cloud: &fakeCloud{}, gw: &fakeGateway{reject: map[string]bool{}}, now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	store := token.Store{Path: filepath.Join(t.TempDir(), "envoy.token")}
	if stored != nil {
		require.NoError(t, store.Write(*stored))
	}
	f.r = &Renewer{
		Store:  store,
		Creds:  Credentials{Username: "me@example.com", Password: func() (string, error) { return "pa$$word", nil }},
		Mint:   f.cloud,
		Check:  f.gw,
		Policy: DefaultPolicy(),
		Now:    func() time.Time { return f.now },
	}
	return f
}

func (f *fixture) stored(t *testing.T) token.Token {
	t.Helper()
	tok, err := f.r.Store.Read()
	require.NoError(t, err)
	return tok
}

// TestPolicy covers A7: owner tokens renew 30 days ahead, installer tokens
// (12 hours) one hour ahead.
func TestPolicy(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	p := DefaultPolicy()
	cases := []struct {
		name string
		tok  token.Token
		due  bool
	}{
		{"A7 owner, 60 days left", mk(t, serial, "owner", now.Add(-305*24*time.Hour), now.Add(60*24*time.Hour)), false},
		{"A7 owner, 29 days left", mk(t, serial, "owner", now.Add(-336*24*time.Hour), now.Add(29*24*time.Hour)), true},
		{"A7 installer, 5 hours left", mk(t, serial, "installer", now.Add(-7*time.Hour), now.Add(5*time.Hour)), false},
		{"A7 installer, 50 minutes left", mk(t, serial, "installer", now.Add(-11*time.Hour), now.Add(50*time.Minute)), true},
		{"A1 expired", mk(t, serial, "owner", now.Add(-400*24*time.Hour), now.Add(-time.Hour)), true},
		{"unknown role, year-long", mk(t, serial, "", now.Add(-24*time.Hour), now.Add(300*24*time.Hour)), false},
		{"unknown role, short-lived", mk(t, serial, "", now.Add(-11*time.Hour), now.Add(30*time.Minute)), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { require.Equal(t, tc.due, p.Due(tc.tok, now)) })
	}
}

func TestRenewWhenDue(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	old := mk(t, serial, "owner", now.Add(-340*24*time.Hour), now.Add(25*24*time.Hour))
	f := newFixture(t, &old)
	f.cloud.next = mk(t, serial, "owner", now, now.Add(365*24*time.Hour))
	res, err := f.r.Renew(context.Background(), serial, Options{})
	require.NoError(t, err)
	require.True(t, res.Renewed)
	require.Equal(t, f.cloud.next.Raw, f.stored(t).Raw)
	require.Equal(t, 1, f.gw.checks, "validated on the gateway before rotating")
	require.Equal(t, int64(1), f.r.Stats().Renewals)

	// Now not due: no cloud call.
	res, err = f.r.Renew(context.Background(), serial, Options{})
	require.NoError(t, err)
	require.False(t, res.Renewed)
	require.Contains(t, res.Reason, "not due")
	require.Equal(t, 1, f.cloud.calls)
}

// TestFailedValidationKeepsOldToken: a minted token the gateway refuses
// never replaces the working one.
func TestFailedValidationKeepsOldToken(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	old := mk(t, serial, "owner", now.Add(-340*24*time.Hour), now.Add(25*24*time.Hour))
	f := newFixture(t, &old)
	f.cloud.next = mk(t, serial, "owner", now, now.Add(365*24*time.Hour))
	f.gw.reject[f.cloud.next.Raw] = true
	_, err := f.r.Renew(context.Background(), serial, Options{})
	require.ErrorContains(t, err, "failed validation on the gateway, keeping the old one")
	require.Equal(t, old.Raw, f.stored(t).Raw)
}

// TestWrongSerialNotStored covers E4/A6: a token for another gateway is refused.
func TestWrongSerialNotStored(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	f := newFixture(t, nil)
	f.cloud.next = mk(t, "999999999999", "owner", now, now.Add(365*24*time.Hour))
	_, err := f.r.Renew(context.Background(), serial, Options{})
	require.ErrorContains(t, err, "token is for gateway 999999999999")
	_, err = f.r.Store.Read()
	require.Error(t, err, "nothing stored")
}

// TestBackoff covers A5 (retry storms lock accounts): after a cloud failure no new cloud
// call happens until the backoff (5 min, doubling, at most 6 h) has passed,
// and the old token stays.
func TestBackoff(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	old := mk(t, serial, "owner", now.Add(-340*24*time.Hour), now.Add(25*24*time.Hour))
	f := newFixture(t, &old)
	f.r.perHour, f.r.perDay = 1000, 1000 // the backoff alone
	f.cloud.err = errors.New("Enlighten rejected the e-mail or password")
	want := []time.Duration{
		5 * time.Minute,
		10 * time.Minute,
		20 * time.Minute,
		40 * time.Minute,
		80 * time.Minute,
		160 * time.Minute,
		320 * time.Minute,
		6 * time.Hour,
		6 * time.Hour,
	}
	for i, wait := range want {
		_, err := f.r.Renew(context.Background(), serial, Options{})
		require.ErrorContains(t, err, "next attempt in "+wait.String())
		require.Equal(t, i+1, f.cloud.calls)
		f.now = f.now.Add(wait - time.Second)
		_, err = f.r.Renew(context.Background(), serial, Options{})
		require.ErrorIs(t, err, ErrBackingOff)
		require.Equal(t, i+1, f.cloud.calls, "no cloud call while backing off")
		f.now = f.now.Add(time.Second)
	}
	require.Equal(t, old.Raw, f.stored(t).Raw)
	require.Equal(t, int64(len(want)), f.r.Stats().Failures)

	// A success resets the backoff.
	f.cloud.err = nil
	f.cloud.next = mk(t, serial, "owner", f.now, f.now.Add(365*24*time.Hour))
	res, err := f.r.Renew(context.Background(), serial, Options{})
	require.NoError(t, err)
	require.True(t, res.Renewed)
	require.True(t, f.r.Stats().NextAttempt.IsZero())
}

// TestBackoffLeavesTimeBeforeExpiry: a 12-hour installer token due an hour
// before expiry is tried again at least every quarter of what it has left
// (never more often than every 5 minutes), so a cloud fault shorter than the
// renewal window costs no data; the plain doubling would wait past expiry.
func TestBackoffLeavesTimeBeforeExpiry(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	old := mk(t, serial, "installer", now.Add(-11*time.Hour), now.Add(56*time.Minute))
	f := newFixture(t, &old)
	f.r.perHour, f.r.perDay = 1000, 1000 // the backoff alone
	f.cloud.err = errors.New("Enlighten answered 503")
	// 56 min left: 5 min; 51 left: 10; 41 left: a quarter; 30:45 left: a quarter.
	want := []time.Duration{5 * time.Minute, 10 * time.Minute, 10*time.Minute + 15*time.Second, 7*time.Minute + 41*time.Second + 250*time.Millisecond}
	for _, wait := range want {
		_, err := f.r.Renew(context.Background(), serial, Options{})
		require.ErrorContains(t, err, "next attempt in "+wait.String())
		f.now = f.now.Add(wait)
	}
	for f.now.Before(old.Expires) {
		_, err := f.r.Renew(context.Background(), serial, Options{})
		require.ErrorContains(t, err, "next attempt in")
		next := f.r.Stats().NextAttempt
		require.GreaterOrEqual(t, next.Sub(f.now), 5*time.Minute, "never more often than every 5 minutes")
		f.now = next
	}
	require.LessOrEqual(t, f.cloud.calls, 16, "attempts in the last hour")
	// The cloud is back just before expiry: the next attempt renews.
	f.cloud.err = nil
	f.cloud.next = mk(t, serial, "installer", f.now, f.now.Add(12*time.Hour))
	res, err := f.r.Renew(context.Background(), serial, Options{})
	require.NoError(t, err)
	require.True(t, res.Renewed)
}

// TestCloudOutagesAreTransient: the cloud client's outage error is the one
// kind the renewal retries sooner.
func TestCloudOutagesAreTransient(t *testing.T) {
	require.True(t, transient(fmt.Errorf("Entrez token: %w", enlighten.ErrUnavailable)))
	for _, err := range []error{enlighten.ErrBadCredentials, enlighten.ErrMFA, enlighten.ErrThrottled} {
		require.False(t, transient(fmt.Errorf("login: %w", err)), err)
	}
}

// outage is a cloud failure that retrying may cure.
type outage struct{}

func (outage) Error() string   { return "the Enphase cloud is unreachable" }
func (outage) Transient() bool { return true }

// TestBackoffWithoutUsableToken: once the gateway refuses the stored token,
// a cloud outage is retried every 15 minutes at most, while a refused
// account (bad password) still backs off for hours (A5, A6).
func TestBackoffWithoutUsableToken(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name string
		err  error
		want []time.Duration
	}{
		{"outage", outage{}, []time.Duration{5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 15 * time.Minute}},
		{"refused account", errors.New("Enlighten rejected the e-mail or password"),
			[]time.Duration{5 * time.Minute, 10 * time.Minute, 20 * time.Minute, 40 * time.Minute}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			old := mk(t, serial, "owner", now.Add(-10*24*time.Hour), now.Add(300*24*time.Hour))
			f := newFixture(t, &old)
			f.r.perHour, f.r.perDay = 1000, 1000 // the backoff alone
			f.gw.reject[old.Raw] = true          // revoked
			f.cloud.err = tt.err
			require.Equal(t, tt.name == "outage", transient(tt.err))
			for _, wait := range tt.want {
				_, err := f.r.Renew(context.Background(), serial, Options{Verify: true})
				require.ErrorContains(t, err, "next attempt in "+wait.String())
				f.now = f.now.Add(wait)
			}
		})
	}
}

// TestRejectedRenewsEvenIfNotDue covers A6: a token the gateway refuses is
// renewed at once, whatever its expiry; one it accepts again is kept.
func TestRejectedRenewsEvenIfNotDue(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	old := mk(t, serial, "owner", now.Add(-10*24*time.Hour), now.Add(300*24*time.Hour))
	f := newFixture(t, &old)
	f.cloud.next = mk(t, serial, "owner", now, now.Add(365*24*time.Hour))

	res, err := f.r.Renew(context.Background(), serial, Options{Verify: true})
	require.NoError(t, err)
	require.False(t, res.Renewed, "the gateway accepts the stored token again: keep it")

	f.gw.unreachable = true
	res, err = f.r.Renew(context.Background(), serial, Options{Verify: true})
	require.NoError(t, err)
	require.False(t, res.Renewed, "an unreachable gateway is no reason to call the cloud")
	require.Zero(t, f.cloud.calls)
	f.gw.unreachable = false

	f.gw.reject[old.Raw] = true
	res, err = f.r.Renew(context.Background(), serial, Options{Verify: true})
	require.NoError(t, err)
	require.True(t, res.Renewed)
	require.Equal(t, f.cloud.next.Raw, f.stored(t).Raw)
}

func TestNoCredentials(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	old := mk(t, serial, "owner", now.Add(-340*24*time.Hour), now.Add(25*24*time.Hour))
	f := newFixture(t, &old)
	f.r.Creds = Credentials{}
	_, err := f.r.Renew(context.Background(), serial, Options{})
	require.ErrorContains(t, err, "paste a new token")
	require.Zero(t, f.cloud.calls)
}

// TestLockedByAnotherRenewer: the plugin gives up at once while cron renews.
func TestLockedByAnotherRenewer(t *testing.T) {
	f := newFixture(t, nil)
	unlock, err := f.r.Store.TryLock()
	require.NoError(t, err)
	defer unlock()
	_, err = f.r.Renew(context.Background(), serial, Options{})
	require.ErrorIs(t, err, token.ErrLocked)
	require.Zero(t, f.cloud.calls)
}
