package renew

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestPolicyValidateR1: a margin not shorter than the token's life makes
// every token due at once; it is refused naming the key.
func TestPolicyValidateR1(t *testing.T) {
	for _, tc := range []struct {
		p   Policy
		key string
	}{
		{DefaultPolicy(), ""},
		{Policy{OwnerBefore: 364 * 24 * time.Hour, InstallerBefore: 11 * time.Hour}, ""},
		{Policy{OwnerBefore: 30 * 24 * time.Hour, InstallerBefore: 13 * time.Hour}, "renew_installer_before"},
		{Policy{OwnerBefore: 30 * 24 * time.Hour, InstallerBefore: 12 * time.Hour}, "renew_installer_before"},
		{Policy{OwnerBefore: 365 * 24 * time.Hour, InstallerBefore: time.Hour}, "renew_owner_before"},
		{Policy{OwnerBefore: 0, InstallerBefore: time.Hour}, "renew_owner_before"},
	} {
		key, err := tc.p.Validate()
		require.Equal(t, tc.key, key, "%+v", tc.p)
		require.Equal(t, tc.key != "", err != nil)
	}
}

// TestFreshTokenNeverDueR1: whatever the margin or the token's own life, a
// token just minted is not due; it is due once less than the margin, and
// less than half its life, is left.
func TestFreshTokenNeverDueR1(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	p := Policy{OwnerBefore: 364 * 24 * time.Hour, InstallerBefore: 11 * time.Hour}
	for _, life := range []time.Duration{time.Minute, 2 * time.Hour, 12 * time.Hour, 24 * time.Hour, 365 * 24 * time.Hour} {
		for _, role := range []string{"installer", "owner", ""} {
			fresh := mk(t, serial, role, now, now.Add(life))
			require.False(t, p.Due(fresh, now), "%s %s", role, life)
			dueAt := now.Add(life - min(p.Before(fresh), life/2))
			require.False(t, p.Due(fresh, dueAt.Add(-time.Second)), "%s %s", role, life)
			require.True(t, p.Due(fresh, dueAt.Add(time.Second)), "%s %s", role, life)
		}
	}
}

// TestLoginCapR1: a cloud that mints tokens due at once (a minute's life)
// is asked at most 3 times an hour and 10 times a day, forced or not, and
// the cap survives a new Renewer (a restart) through the file beside the token.
func TestLoginCapR1(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	f := newFixture(t, nil)
	mint := func() { f.cloud.next = mk(t, serial, "installer", f.now, f.now.Add(time.Minute)) }
	start := f.now
	var limited int
	for i := range 24 * 60 { // a day, one attempt a minute
		mint()
		_, err := f.r.Renew(context.Background(), serial, Options{Force: i%2 == 0})
		if errors.Is(err, ErrLoginLimit) {
			limited++
			require.Contains(t, err.Error(), "at most 3 Enlighten logins an hour and 10 a day")
		}
		f.now = f.now.Add(time.Minute)
		if f.now.Sub(start) == time.Hour {
			require.Equal(t, 3, f.cloud.calls, "logins in the first hour")
		}
	}
	require.Equal(t, 10, f.cloud.calls, "logins in a day")
	require.NotZero(t, limited)

	// A restart: a new Renewer on the same token file.
	f.now = now.Add(24*time.Hour + 30*time.Second)
	prev := f.cloud.calls
	r2 := &Renewer{Store: f.r.Store, Creds: f.r.Creds, Mint: f.r.Mint, Check: f.r.Check, Policy: f.r.Policy, Now: func() time.Time { return f.now }}
	for range 5 {
		mint()
		_, _ = r2.Renew(context.Background(), serial, Options{Force: true})
	}
	require.LessOrEqual(t, f.cloud.calls-prev, 3)
	b, err := readFile(f.r.Store.Path + ".logins")
	require.NoError(t, err)
	require.NotEmpty(t, strings.TrimSpace(b))
}

// TestSkewedClockWarnsOnceR1: a token minted just now whose iat is hours
// off our clock warns once about the clock.
func TestSkewedClockWarnsOnceR1(t *testing.T) {
	f := newFixture(t, nil)
	var warnings []string
	f.r.Warn = func(s string) { warnings = append(warnings, s) }
	for range 3 {
		cloud := f.now.Add(-3 * time.Hour) // our clock 3 h ahead
		f.cloud.next = mk(t, serial, "installer", cloud, cloud.Add(12*time.Hour))
		_, err := f.r.Renew(context.Background(), serial, Options{Force: true})
		require.NoError(t, err)
		f.now = f.now.Add(time.Hour)
	}
	require.Len(t, warnings, 1)
	require.Contains(t, warnings[0], "about 3h0m0s ahead of Enphase's cloud")
}

func readFile(p string) (string, error) {
	b, err := os.ReadFile(p)
	return string(b), err
}
