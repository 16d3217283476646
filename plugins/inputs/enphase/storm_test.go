package enphase

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoysim"
	"github.com/telegraf-enphase/telegraf-enphase/internal/renew"
)

// pluginWith builds a plugin with credentials like cloudRig.plugin, after
// edit has changed its settings (its clock included), and returns Init's error.
func (r *cloudRig) pluginWith(t *testing.T, dir, stored string, edit func(*Enphase)) (*Enphase, *testutil.CaptureLogger, error) {
	t.Helper()
	ca := filepath.Join(dir, "envoy.pem")
	require.NoError(t, os.WriteFile(ca, r.sim.CertificatePEM(), 0o600))
	e := New()
	e.URL = r.url
	e.TokenFile = filepath.Join(dir, "envoy.token")
	if stored != "" {
		require.NoError(t, os.WriteFile(e.TokenFile, []byte(stored+"\n"), 0o600))
	}
	e.TLSCA = ca
	e.Username = account
	pw := filepath.Join(dir, "password")
	require.NoError(t, os.WriteFile(pw, []byte(password+"\n"), 0o600))
	e.PasswordFile = pw
	e.EnlightenURL, e.EntrezURL, e.CloudTLSCA = r.url, r.url, ca
	log := &testutil.CaptureLogger{}
	e.Log = log
	e.now = r.clk.Now
	if edit != nil {
		edit(e)
	}
	err := e.Init()
	if err == nil {
		t.Cleanup(e.Stop)
	}
	return e, log, err
}

// TestRenewalMarginNotShorterThanLifeR1: renew_installer_before = "13h"
// with 12-hour installer tokens would make every token due at once.
func TestRenewalMarginNotShorterThanLifeR1(t *testing.T) {
	r := startCloudRig(t)
	_, _, err := r.pluginWith(t, t.TempDir(), "", func(e *Enphase) { e.RenewInstallerBefore = config.Duration(13 * time.Hour) })
	require.ErrorContains(t, err, "renew_installer_before: 13h0m0s is out of range")
	_, _, err = r.pluginWith(t, t.TempDir(), "", func(e *Enphase) { e.RenewOwnerBefore = config.Duration(400 * 24 * time.Hour) })
	require.ErrorContains(t, err, "renew_owner_before:")
}

// TestRenewalStormBoundedR1 gathers for hours of simulated time against a
// cloud and a clock that used to make the plugin log in on every gather,
// and counts the logins Enphase's cloud sees: never more than 3 in an hour
// that minted a usable token, 4 when each failed (the backoff's first hour).
func TestRenewalStormBoundedR1(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cloud  envoysim.Cloud
		ahead  time.Duration // the host clock ahead of the cloud's and gateway's
		margin time.Duration // renew_installer_before
		hours  int
		step   time.Duration
		max    int // logins in all
	}{
		// A fresh 12-hour token has 9 h left by our clock: due for a
		// margin of 11 h, unless "due" is judged by the token's own life.
		{"host clock 3h ahead, margin 11h", envoysim.Cloud{Role: "installer", Lifetime: 12 * time.Hour},
			3 * time.Hour, 11 * time.Hour, 24, 5 * time.Minute, renew.MaxLoginsPerDay},
		{"cloud mints expired tokens", envoysim.Cloud{Role: "installer", Lifetime: 12 * time.Hour, Expired: true}, 0, time.Hour, 3, 30 * time.Second, 9},
		{"cloud mints 2-minute tokens", envoysim.Cloud{Role: "installer", Lifetime: 2 * time.Minute}, 0, time.Hour, 3, 30 * time.Second, 9},
		{"host clock 11h30m ahead", envoysim.Cloud{Role: "installer", Lifetime: 12 * time.Hour}, 11*time.Hour + 30*time.Minute, time.Hour, 3, 30 * time.Second, 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startCloudRig(t)
			r.sim.SetCloud(tc.cloud)
			e, log, err := r.pluginWith(t, t.TempDir(), "", func(e *Enphase) {
				e.RenewInstallerBefore = config.Duration(tc.margin)
				e.now = func() time.Time { return r.clk.Now().Add(tc.ahead) }
			})
			require.NoError(t, err)
			perHour := map[int]int{}
			start := r.clk.Now()
			for r.clk.Now().Sub(start) < time.Duration(tc.hours)*time.Hour {
				before := r.sim.Stats().CloudLogin
				var acc testutil.Accumulator
				_ = e.Gather(&acc)
				waitRenewal(t, e)
				perHour[int(r.clk.Now().Sub(start)/time.Hour)] += r.sim.Stats().CloudLogin - before
				r.clk.Advance(tc.step)
			}
			total := 0
			for h, n := range perHour {
				// Failed logins are spaced by the backoff (0, 5, 15, 35 min:
				// 4 in the first hour), successful ones by the cap.
				require.LessOrEqual(t, n, renew.MaxLoginsPerHour+1, "logins in hour %d", h)
				if !tc.cloud.Expired {
					require.LessOrEqual(t, n, renew.MaxLoginsPerHour, "logins in hour %d", h)
				}
				total += n
			}
			require.NotZero(t, total)
			require.LessOrEqual(t, total, tc.max)
			t.Logf("%d logins in %d h", total, tc.hours)
			if tc.margin == 11*time.Hour {
				require.Equal(t, 1, perHour[0]+perHour[1], "a token just minted is not due again")
			}
			if tc.ahead >= time.Hour {
				var clock int
				for _, l := range logLines(log) {
					if strings.Contains(l, "this host's clock is about") {
						clock++
					}
				}
				require.Equal(t, 1, clock, "one warning about the clock:\n%s", strings.Join(logLines(log), "\n"))
			}
			r.secretsIn(t, log)
		})
	}
}
