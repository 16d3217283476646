package enphase

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoysim"
	"github.com/telegraf-enphase/telegraf-enphase/internal/token"
)

// The token lifecycle, end to end: the plugin against the simulated gateway
// and the simulated Enphase cloud, on one settable clock.

const (
	account  = "owner@example.com"
	password = "pa$$w0rd-with-dollars"
)

type cloudRig struct {
	sim *envoysim.Server
	url string
	clk *clock
}

func startCloudRig(t *testing.T) *cloudRig {
	t.Helper()
	clk := envoysim.NewClock(time.Now().UTC().Truncate(time.Second))
	sim, err := envoysim.New(envoysim.Options{Accounts: map[string]string{account: password}, Now: clk.Now})
	require.NoError(t, err)
	url, err := sim.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	return &cloudRig{sim: sim, url: url, clk: clk}
}

// plugin builds a plugin with credentials whose token file holds stored
// ("" for no file at all).
func (r *cloudRig) plugin(t *testing.T, stored string, withCreds bool) (*Enphase, *testutil.CaptureLogger) {
	t.Helper()
	dir := t.TempDir()
	ca := filepath.Join(dir, "envoy.pem")
	require.NoError(t, os.WriteFile(ca, r.sim.CertificatePEM(), 0o600))
	e := New()
	e.URL = r.url
	e.TokenFile = filepath.Join(dir, "envoy.token")
	if stored != "" {
		require.NoError(t, os.WriteFile(e.TokenFile, []byte(stored+"\n"), 0o600))
	}
	e.TLSCA = ca
	if withCreds {
		e.Username = account
		pw := filepath.Join(dir, "password")
		require.NoError(t, os.WriteFile(pw, []byte(password+"\n"), 0o600))
		e.PasswordFile = pw
		e.EnlightenURL, e.EntrezURL, e.CloudTLSCA = r.url, r.url, ca
	}
	log := &testutil.CaptureLogger{}
	e.Log = log
	e.now = r.clk.Now
	require.NoError(t, e.Init())
	t.Cleanup(e.Stop)
	return e, log
}

// mint is a token of this gateway, issued and expiring relative to the rig's clock.
func (r *cloudRig) mint(role string, age, left time.Duration) string {
	now := r.clk.Now()
	return r.sim.MintToken(r.sim.Serial(), role, now.Add(-age), now.Add(left))
}

// waitRenewal waits for the background renewal to finish.
func waitRenewal(t *testing.T, e *Enphase) {
	t.Helper()
	require.Eventually(t, func() bool { return !e.tokens.renewing.Load() }, 10*time.Second, 5*time.Millisecond)
	e.tokens.wait()
}

func gatherOK(t *testing.T, e *Enphase) *testutil.Accumulator {
	t.Helper()
	var acc testutil.Accumulator
	require.NoError(t, e.Gather(&acc))
	require.Empty(t, acc.Errors)
	require.NotZero(t, measurements(acc.GetTelegrafMetrics())["enphase_production"])
	return &acc
}

func tokenField(t *testing.T, acc *testutil.Accumulator, key string) any {
	t.Helper()
	for _, m := range acc.GetTelegrafMetrics() {
		if m.Name() == "enphase_token" {
			v, ok := m.GetField(key)
			require.True(t, ok, key)
			return v
		}
	}
	t.Fatalf("no enphase_token")
	return nil
}

// secretsIn asserts no password, token or cookie reached the logs.
func (r *cloudRig) secretsIn(t *testing.T, log *testutil.CaptureLogger, tokens ...string) {
	t.Helper()
	all := strings.Join(logLines(log), "\n")
	require.NotContains(t, all, password)
	require.NotContains(t, all, "sessionId=")
	require.NotContains(t, all, "session_id")
	for _, tok := range tokens {
		if tok != "" {
			require.NotContains(t, all, tok[strings.LastIndex(tok, ".")+1:])
		}
	}
}

// TestRenewalBeforeExpiry: an owner token with 20 days left is renewed in the
// background while gathers go on; no gather is lost, the new token is on
// disk, and enphase_token shows it.
func TestRenewalBeforeExpiry(t *testing.T) {
	r := startCloudRig(t)
	old := r.mint("owner", 345*24*time.Hour, 20*24*time.Hour)
	e, log := r.plugin(t, old, true)
	acc := gatherOK(t, e)
	require.InDelta(t, (20 * 24 * time.Hour).Seconds(), tokenField(t, acc, "expires_in_s"), 1)
	waitRenewal(t, e)
	for range 3 {
		r.clk.Advance(15 * time.Second)
		acc = gatherOK(t, e)
	}
	stored, err := token.ReadFile(e.TokenFile)
	require.NoError(t, err)
	require.NotEqual(t, old, stored.Raw)
	require.Greater(t, stored.Remaining(r.clk.Now()), 360*24*time.Hour)
	require.Greater(t, tokenField(t, acc, "expires_in_s").(float64), (360 * 24 * time.Hour).Seconds())
	require.Equal(t, int64(1), tokenField(t, acc, "renewals"))
	require.Equal(t, int64(0), tokenField(t, acc, "renewal_failures"))
	require.Equal(t, 1, r.sim.Stats().CloudLogin)
	require.Equal(t, 1, r.sim.Stats().CloudTokens)
	require.Contains(t, strings.Join(logLines(log), "\n"), "token renewed (due: ")
	r.secretsIn(t, log, old, stored.Raw)
}

// TestInstallerTokenRenewedInTheLastHour covers A7.
func TestInstallerTokenRenewedInTheLastHour(t *testing.T) {
	r := startCloudRig(t)
	r.sim.SetCloud(envoysim.Cloud{Role: "installer", Lifetime: 12 * time.Hour})
	e, _ := r.plugin(t, r.mint("installer", 10*time.Hour, 2*time.Hour), true)
	gatherOK(t, e)
	waitRenewal(t, e)
	require.Zero(t, r.sim.Stats().CloudLogin, "2 hours left: not due")
	r.clk.Advance(61 * time.Minute)
	gatherOK(t, e)
	waitRenewal(t, e)
	require.Equal(t, 1, r.sim.Stats().CloudTokens)
	stored, err := token.ReadFile(e.TokenFile)
	require.NoError(t, err)
	require.Equal(t, "installer", stored.Role)
}

// TestRejectedTokenRenewedAtOnce covers A6: a token whose exp is far away
// but that the gateway rejects (revoked, gateway reset) is renewed at once.
func TestRejectedTokenRenewedAtOnce(t *testing.T) {
	r := startCloudRig(t)
	e, log := r.plugin(t, r.mint("owner", time.Hour, 300*24*time.Hour), true)
	gatherOK(t, e)
	r.sim.RevokeTokens()
	r.clk.Advance(time.Second) // tokens minted from now on are valid again
	var acc testutil.Accumulator
	err := e.Gather(&acc)
	require.ErrorIs(t, err, ErrUnreadable)
	require.Contains(t, err.Error(), "gateway rejected")
	waitRenewal(t, e)
	r.clk.Advance(15 * time.Second)
	gatherOK(t, e)
	require.Equal(t, 1, r.sim.Stats().CloudTokens)
	r.secretsIn(t, log)
}

// TestFirstTokenFetched: with credentials and no token file yet, the plugin
// starts (no cloud call in Init) and fetches one.
func TestFirstTokenFetched(t *testing.T) {
	r := startCloudRig(t)
	e, _ := r.plugin(t, "", true)
	require.Zero(t, r.sim.Stats().CloudLogin, "Init does no network I/O")
	var acc testutil.Accumulator
	err := e.Gather(&acc)
	require.ErrorContains(t, err, "a renewal with the Enlighten credentials was asked for")
	waitRenewal(t, e)
	gatherOK(t, e)
	st, err := os.Stat(e.TokenFile)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
}

// TestCloudFailuresKeepOldToken covers A4, A5 and A9: whatever the cloud
// does, the working token stays in use, the failure is reported once per
// attempt with a message that says what to do, and attempts back off.
func TestCloudFailuresKeepOldToken(t *testing.T) {
	cases := []struct {
		name  string
		cloud envoysim.Cloud
		want  string
	}{
		{"A4 MFA", envoysim.Cloud{Login: "mfa"}, "multi-factor"},
		{"A5 bad credentials", envoysim.Cloud{Login: "bad-credentials"}, "rejected the e-mail or password"},
		{"A5 locked html 200", envoysim.Cloud{Login: "locked"}, "refusing logins"},
		{"A9 cloud down", envoysim.Cloud{Login: "down"}, "unreachable or failing"},
		{"A1 token already expired", envoysim.Cloud{Expired: true}, "expired"},
		{"A2 not a JWT", envoysim.Cloud{Form: "html"}, "HTML"},
		{"E4 other serial", envoysim.Cloud{OtherSerial: "999999999999"}, "999999999999"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := startCloudRig(t)
			r.sim.SetCloud(tc.cloud)
			old := r.mint("owner", 345*24*time.Hour, 20*24*time.Hour)
			e, log := r.plugin(t, old, true)
			for i := range 5 {
				acc := gatherOK(t, e)
				waitRenewal(t, e)
				if i == 4 {
					require.Equal(t, int64(1), tokenField(t, acc, "renewal_failures"))
				}
				r.clk.Advance(15 * time.Second)
			}
			require.Equal(t, 1, r.sim.Stats().CloudLogin, "backing off: one attempt in a minute")
			stored, err := token.ReadFile(e.TokenFile)
			require.NoError(t, err)
			require.Equal(t, old, stored.Raw)
			errs := log.Errors()
			require.Len(t, errs, 1)
			require.Contains(t, errs[0], tc.want)
			require.Contains(t, errs[0], "next attempt in 5m0s")
			r.secretsIn(t, log, old)

			r.clk.Advance(5 * time.Minute)
			gatherOK(t, e)
			waitRenewal(t, e)
			require.Equal(t, 2, r.sim.Stats().CloudLogin, "tried again after the backoff")
		})
	}
}

// TestPastedTokenWarnsBeforeExpiry: without credentials, a token 20 days
// from expiry gives one warning a day, and data keeps flowing.
func TestPastedTokenWarnsBeforeExpiry(t *testing.T) {
	r := startCloudRig(t)
	e, log := r.plugin(t, r.mint("owner", 345*24*time.Hour, 20*24*time.Hour), false)
	for range 3 {
		gatherOK(t, e)
		r.clk.Advance(15 * time.Second)
	}
	require.Len(t, log.Warnings(), 1)
	require.Contains(t, log.Warnings()[0], "no Enlighten credentials are configured to renew it: paste a new token")
	r.clk.Advance(24 * time.Hour)
	gatherOK(t, e)
	require.Len(t, log.Warnings(), 2)
	require.Zero(t, r.sim.Stats().CloudLogin)
}

// TestClockSkew covers A10: a token our clock thinks expired minutes ago is
// still offered to the gateway, which decides.
func TestClockSkew(t *testing.T) {
	r := startCloudRig(t)
	e, _ := r.plugin(t, r.mint("owner", 365*24*time.Hour, 10*time.Minute), false)
	ahead := r.clk.Now().Add(20 * time.Minute)
	e.now = func() time.Time { return ahead }
	gatherOK(t, e)
}

// TestCronAndPluginRace: a cron 'token renew' and the plugin renewing at the
// same moment mint one token, not two, and both end with it.
func TestCronAndPluginRace(t *testing.T) {
	r := startCloudRig(t)
	old := r.mint("owner", 345*24*time.Hour, 20*24*time.Hour)
	plugin, _ := r.plugin(t, old, true)
	cron, _ := r.plugin(t, old, true)
	cron.TokenFile = plugin.TokenFile
	require.NoError(t, cron.Init())

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); gatherOK(t, plugin); waitRenewal(t, plugin) }()
	go func() {
		defer wg.Done()
		_, err := NewService(cron).RenewToken(context.Background(), false)
		require.NoError(t, err)
	}()
	wg.Wait()
	require.Equal(t, 1, r.sim.Stats().CloudTokens, "one renewal, the other saw a fresh token")
	tok, err := NewService(cron).CheckToken(context.Background())
	require.NoError(t, err)
	require.NotEqual(t, old, tok.Raw)
	r.clk.Advance(15 * time.Second)
	gatherOK(t, plugin)
}

// TestSessionMaxAge covers A8: a gateway that ends sessions every 10 minutes
// costs one check_jwt per session, never one per request, and no gather.
func TestSessionMaxAge(t *testing.T) {
	clk := envoysim.NewClock(time.Now().UTC().Truncate(time.Second))
	sim, err := envoysim.New(envoysim.Options{SessionMaxAge: 10 * time.Minute, Now: clk.Now})
	require.NoError(t, err)
	url, err := sim.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	e := newPlugin(t, sim, url, clk)
	for range 100 { // 25 minutes at 15 s
		gatherOK(t, e)
		clk.Advance(15 * time.Second)
	}
	require.Equal(t, 3, sim.Stats().CheckJWT)
}
