package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoysim"
)

// TestAbsurdExpiryR17: exp = 1e300 is no date, not "expired 2562047h ago".
func TestAbsurdExpiryR17(t *testing.T) {
	raw, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"aud": "122000000000", "enphaseUser": "owner", "iat": 1.7e9, "exp": 1e300,
	}).SignedString([]byte("k"))
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "t")
	require.NoError(t, os.WriteFile(p, []byte(raw+"\n"), 0o600))
	code, out, stderr := runMain("token", "show", p)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "beyond any real date (not a real time)")
	require.NotContains(t, out, "2562047h")
}

// TestTokenRenewStatusR17: a forced renewal that fails while the stored
// token still works exits 3 (documented), not 0; a one-shot command names
// no next attempt.
func TestTokenRenewStatusR17(t *testing.T) {
	r := startTokenRig(t)
	now := time.Now()
	r.write(t, r.sim.MintToken(r.sim.Serial(), "owner", now.Add(-10*24*time.Hour), now.Add(300*24*time.Hour)))
	r.sim.SetCloud(envoysim.Cloud{Login: "bad-credentials"})
	code, out, stderr := r.run(t, "token", "renew", "--config", r.conf, "--force")
	require.Equal(t, 3, code, stderr)
	require.Contains(t, out, "renewal failed, the stored owner token")
	require.NotContains(t, stderr, "next attempt")

	code, _, stderr = r.run(t, "token", "fetch", "--config", r.conf)
	require.Equal(t, 1, code)
	require.NotContains(t, stderr, "next attempt")

	// Not forced and not due: nothing failed.
	code, out, stderr = r.run(t, "token", "renew", "--config", r.conf)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "not due")
}

// TestTokenRenewWithoutCredentialsNotDue: issue 14 item 8: with no
// credentials and a token not yet due, 'token renew' reports that nothing
// was due, without an E! line or "renewal failed".
func TestTokenRenewWithoutCredentialsNotDue(t *testing.T) {
	r := startTokenRig(t)
	now := time.Now()
	r.write(t, r.sim.MintToken(r.sim.Serial(), "owner", now.Add(-10*24*time.Hour), now.Add(300*24*time.Hour)))
	b, err := os.ReadFile(r.conf)
	require.NoError(t, err)
	var kept []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.Contains(l, "username") && !strings.Contains(l, "password_file") {
			kept = append(kept, l)
		}
	}
	require.NoError(t, os.WriteFile(r.conf, []byte(strings.Join(kept, "\n")), 0o600))
	code, out, stderr := r.run(t, "token", "renew", "--config", r.conf)
	require.Equal(t, 0, code, stderr)
	require.NotContains(t, stderr, "E!")
	require.NotContains(t, out+stderr, "renewal failed")
	require.Contains(t, out, "not due")
	require.Contains(t, out, "no Enlighten credentials")
}
