package cli

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoysim"
	"github.com/telegraf-enphase/telegraf-enphase/internal/token"
)

// TestDumpFetchesMissingToken: with credentials and no token file, dump
// fetches a token from the cloud, waits for it and stores it, as the first
// gather would, and prints the gather; the second run reuses it.
func TestDumpFetchesMissingToken(t *testing.T) {
	r := startTokenRig(t)
	code, out, stderr := r.run(t, "dump", "--config", r.conf)
	require.Equal(t, 0, code, stderr)
	require.NotContains(t, stderr, "being fetched")
	require.NotContains(t, stderr, "E! ")
	require.Contains(t, stderr, "fetched a new owner token for "+r.sim.Serial())
	require.NotEmpty(t, parseLP(t, out)["enphase_production"])
	tok, err := token.ReadFile(r.tokFile)
	require.NoError(t, err)
	require.True(t, r.sim.Accepts(tok.Raw))
	require.Equal(t, 1, r.sim.Stats().CloudLogin)

	code, _, stderr = r.run(t, "dump", "--config", r.conf)
	require.Equal(t, 0, code, stderr)
	require.Equal(t, 1, r.sim.Stats().CloudLogin, "a stored token is not fetched again")
}

// TestDumpFetchFailureSaysWhy: a cloud refusing the login makes dump fail
// with the cloud's reason, once, and no token file.
func TestDumpFetchFailureSaysWhy(t *testing.T) {
	r := startTokenRig(t)
	r.sim.SetCloud(envoysim.Cloud{Login: "bad-credentials"})
	code, _, stderr := r.run(t, "dump", "--config", r.conf)
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, "fetching a token with the Enlighten credentials")
	require.Contains(t, stderr, "Enlighten rejected the e-mail or password")
	require.Equal(t, 1, r.sim.Stats().CloudLogin, "one login, no retry")
	_, err := token.ReadFile(r.tokFile)
	require.Error(t, err)
}
