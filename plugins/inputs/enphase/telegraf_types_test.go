package enphase

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/configfile"
	"github.com/telegraf-enphase/telegraf-enphase/internal/envoysim"
)

// TestTelegrafTypesKeepTheKeys: token, password and legacy_password are
// Telegraf secrets and insecure_skip_verify, tls_ca and tls_server_name
// Telegraf's TLS settings, under the keys configurations already use; a
// bad TLS setting fails at start naming its key, and no secret is printed.
func TestTelegrafTypesKeepTheKeys(t *testing.T) {
	sim, err := envoysim.New(envoysim.Options{})
	require.NoError(t, err)
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	require.NoError(t, os.WriteFile(notPEM, []byte("not a certificate"), 0o600))
	conf := fmt.Sprintf(`[[inputs.enphase]]
  url = "https://192.168.1.5"
  token = %q
  insecure_skip_verify = false
  tls_ca = %q
  tls_server_name = "envoy-122301234567"
  legacy_password = "legacy-secret-1"
  username = "owner@example.com"
  password = "cloud-secret-2"
`, sim.Token(), notPEM)
	load := func(t *testing.T, conf string) *Enphase {
		t.Helper()
		tables, err := configfile.Parse("enphase.conf", []byte(conf), "enphase", New)
		require.NoError(t, err)
		e := tables[0].Value
		e.Log = testutil.Logger{}
		return e
	}

	e := load(t, conf)
	require.Equal(t, "envoy-122301234567", e.ServerName)
	require.Equal(t, notPEM, e.TLSCA)
	for _, s := range []string{fmt.Sprintf("%v", e), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e)} {
		require.NotContains(t, s, sim.Token())
		require.NotContains(t, s, "legacy-secret-1")
		require.NotContains(t, s, "cloud-secret-2")
	}
	pw, err := secret(&e.LegacyPassword)
	require.NoError(t, err)
	require.Equal(t, "legacy-secret-1", pw)

	tests := []struct {
		name, set, wantKey, wantReason string
	}{
		{name: "tls_ca not PEM", wantKey: "tls_ca", wantReason: "holds no PEM certificate"},
		{
			name:       "tls_ca missing",
			set:        fmt.Sprintf("tls_ca = %q", filepath.Join(dir, "missing.pem")),
			wantKey:    "tls_ca",
			wantReason: "could not read certificate",
		},
		{name: "tls_min_version", set: `tls_min_version = "TLS9"`, wantKey: "tls_min_version", wantReason: "TLS9"},
		{name: "tls_enable false", set: "tls_enable = false", wantKey: "tls_enable", wantReason: "only https"},
		{
			name:       "cloud_tls_ca not PEM",
			set:        fmt.Sprintf("cloud_tls_ca = %q", notPEM),
			wantKey:    "cloud_tls_ca",
			wantReason: "holds no PEM certificate",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := conf
			if tt.set != "" {
				// Only the setting under test is wrong: tls_ca is dropped
				// (a valid CA is the simulator's) unless it is the one.
				ca := filepath.Join(dir, "envoy.pem")
				require.NoError(t, os.WriteFile(ca, sim.CertificatePEM(), 0o600))
				c = fmt.Sprintf(`[[inputs.enphase]]
  url = "https://192.168.1.5"
  token_file = %q
  tls_ca = %q
  username = "owner@example.com"
  password = "cloud-secret-2"
  %s
`, writeToken(t, sim.Token()), ca, tt.set)
				if tt.wantKey == "tls_ca" {
					c = fmt.Sprintf("[[inputs.enphase]]\n  url = \"https://192.168.1.5\"\n  token = %q\n  %s\n", sim.Token(), tt.set)
				}
			}
			err := load(t, c).Init()
			var ce *ConfigError
			require.ErrorAs(t, err, &ce)
			require.Equal(t, tt.wantKey, ce.Key, err.Error())
			require.Contains(t, ce.Reason, tt.wantReason)
			require.NotContains(t, err.Error(), sim.Token())
			require.NotContains(t, err.Error(), "cloud-secret-2")
		})
	}
}
