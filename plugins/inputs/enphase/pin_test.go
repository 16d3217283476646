package enphase

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/certpin"
	"github.com/telegraf-enphase/telegraf-enphase/internal/envoysim"
)

// simFingerprint is the fingerprint of the certificate the simulator serves now.
func simFingerprint(t *testing.T, sim *envoysim.Server) certpin.Fingerprint {
	t.Helper()
	block, _ := pem.Decode(sim.CertificatePEM())
	require.NotNil(t, block)
	cert, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	return certpin.Of(cert.Raw)
}

// pinnedPlugin is a plugin for the simulator with tls_pin and Enlighten
// credentials (so a token renewal would show as a cloud login), its files
// in a private directory.
func pinnedPlugin(t *testing.T, sim *envoysim.Server, url, dir, pin string) (*Enphase, *testutil.CaptureLogger) {
	t.Helper()
	e := New()
	e.URL = url
	e.TokenFile = filepath.Join(dir, "envoy.token")
	if _, err := os.Stat(e.TokenFile); err != nil {
		require.NoError(t, os.WriteFile(e.TokenFile, []byte(sim.Token()+"\n"), 0o600))
	}
	e.TLSPin = pin
	e.Username = account
	e.Password = config.NewSecret([]byte(password))
	e.EnlightenURL, e.EntrezURL = url, url
	e.configFile = "/etc/telegraf/telegraf.d/enphase.conf"
	e.Timeout = config.Duration(5 * time.Second)
	e.GatherTimeout = config.Duration(10 * time.Second)
	log := &testutil.CaptureLogger{}
	e.Log = log
	e.now = newClock().Now
	require.NoError(t, e.Init())
	t.Cleanup(e.Stop)
	return e, log
}

// TestCertificatePinTOFU covers T7 with tls_pin = "tofu": the first
// certificate is pinned (0600, beside the token); the same one passes; after
// the gateway renews it every gather fails in the handshake, naming both
// fingerprints and how to accept the new one, before any request or token
// is sent and without a token renewal; 'pin --accept' ends it without a restart.
func TestCertificatePinTOFU(t *testing.T) {
	sim, err := envoysim.New(envoysim.Options{Accounts: map[string]string{account: password}})
	require.NoError(t, err)
	url, err := sim.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	dir := t.TempDir()
	e, log := pinnedPlugin(t, sim, url, dir, "tofu")
	pinFile := filepath.Join(dir, "envoy.token.pin")
	old := simFingerprint(t, sim)

	// First use pins.
	var acc testutil.Accumulator
	require.NoError(t, e.Gather(&acc))
	require.Empty(t, acc.Errors)
	fi, err := os.Stat(pinFile)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	rec, err := certpin.ReadFile(pinFile)
	require.NoError(t, err)
	require.Equal(t, old, rec.Fingerprint)
	require.Equal(t, strings.TrimPrefix(url, "https://"), rec.Host)
	require.Equal(t, "CN=envoy-"+sim.Serial(), rec.Subject)
	require.Contains(t, strings.Join(logLines(log), "\n"), "trusting the gateway's certificate on first use: SHA256 "+old.String())

	// The same certificate passes, on a new connection too.
	e.gw.client().Close()
	require.NoError(t, e.Gather(&acc))
	require.Empty(t, acc.Errors)

	// The gateway renews its certificate. Its web server finishes the open
	// connection first: drop it so the next request needs a handshake.
	require.NoError(t, sim.RotateCertificate())
	e.gw.client().Close()
	renewed := simFingerprint(t, sim)
	before := sim.Stats()
	for i := range 2 {
		acc.ClearMetrics()
		err := e.Gather(&acc)
		require.ErrorIs(t, err, ErrUnreadable, "gather %d", i)
		var m *certpin.MismatchError
		require.ErrorAs(t, err, &m, "gather %d: detectable as a pin refusal", i)
		require.Equal(t, old, m.Pinned)
		require.Equal(t, renewed, m.Presented)
		msg := err.Error()
		require.Contains(
			t,
			msg,
			"the gateway's certificate changed: pinned SHA256 "+old.String()+", presented SHA256 "+renewed.String()+" (pin in "+pinFile+")",
		)
		require.Contains(t, msg, "`telegraf-enphase pin --accept --config /etc/telegraf/telegraf.d/enphase.conf` or delete the pin file")
		require.Contains(t, msg, "Otherwise something is intercepting the connection.")
		require.NotContains(t, msg, "x509", "the pin's message, not a TLS library error")
		failed, ok := field2(acc.GetTelegrafMetrics(), "enphase_gateway", "endpoints_failed")
		require.True(t, ok, "gather %d: enphase_gateway still written", i)
		require.Equal(t, int64(1), failed)
	}
	after := sim.Stats()
	require.Equal(t, before.Total, after.Total, "no request reached the gateway")
	require.Equal(t, before.CheckJWT, after.CheckJWT, "no token was sent")
	require.Zero(t, after.CloudLogin, "a refused certificate is not a refused token: no renewal")
	require.False(t, e.tokens.renewing.Load())

	// A restarted plugin, which has not read /info yet, refuses too.
	restarted, _ := pinnedPlugin(t, sim, url, dir, "tofu")
	err = restarted.Gather(&acc)
	require.ErrorContains(t, err, "presented SHA256 "+renewed.String())
	require.Equal(t, before.Total, sim.Stats().Total)

	// A person accepts the renewed certificate; the running plugin goes on.
	st, err := NewService(e).CheckPin(context.Background(), true)
	require.NoError(t, err)
	require.True(t, st.Accepted)
	require.True(t, st.Match())
	rec, err = certpin.ReadFile(pinFile)
	require.NoError(t, err)
	require.Equal(t, renewed, rec.Fingerprint)
	require.Equal(t, certpin.PinnedAccepted, rec.Pinned)
	acc.ClearMetrics()
	require.NoError(t, e.Gather(&acc))
	require.Empty(t, acc.Errors)
	require.NotZero(t, measurements(acc.GetTelegrafMetrics())["enphase_production"])
	e.Stop() // the old process ends: one process reads a gateway
	require.NoError(t, restarted.Gather(&acc))

	all := strings.Join(logLines(log), "\n")
	require.NotContains(t, all, password)
	require.NotContains(t, all, sim.Token()[strings.LastIndex(sim.Token(), ".")+1:])
}

// TestCertificatePinFixed covers T7 with tls_pin = "sha256:...": the
// fingerprint is accepted as people copy it, and another certificate is
// refused before anything is sent, with the tls_pin line to accept it.
func TestCertificatePinFixed(t *testing.T) {
	sim, url := startSim(t, nil)
	fp := simFingerprint(t, sim)
	other := certpin.Of([]byte("another certificate"))
	tests := []struct {
		name    string
		pin     string
		wantErr string
	}{
		{name: "T7 sha256: and colons", pin: "sha256:" + fp.String()},
		{name: "T7 no colons, lower case", pin: "sha256:" + strings.ToLower(strings.ReplaceAll(fp.String(), ":", ""))},
		{name: "T7 as pin prints it", pin: "SHA256 " + fp.String()},
		{name: "T7 another certificate", pin: "sha256:" + other.String(),
			wantErr: "the gateway's certificate changed: pinned SHA256 " + other.String() + " (tls_pin), presented SHA256 " + fp.String() +
				". Gateways renew their self-signed certificate about once a year; if that is what happened, " +
				"accept the new one with tls_pin = \"sha256:" + fp.String() + "\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := sim.Stats().Total
			e, _ := pinnedPlugin(t, sim, url, t.TempDir(), tt.pin)
			var acc testutil.Accumulator
			err := e.Gather(&acc)
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.Empty(t, acc.Errors)
				return
			}
			var m *certpin.MismatchError
			require.ErrorAs(t, err, &m)
			require.ErrorContains(t, err, tt.wantErr)
			require.Equal(t, before, sim.Stats().Total, "not even /info was asked")
			_, err = NewService(e).CheckPin(context.Background(), true)
			var ce *ConfigError
			require.ErrorAs(t, err, &ce, "a fixed pin is changed in the configuration")
			require.Equal(t, "tls_pin", ce.Key)
		})
	}
}

// TestAcceptCommandInMessages: the command a refusal suggests names the
// configuration file, and the gateway when the file has several.
func TestAcceptCommandInMessages(t *testing.T) {
	tests := []struct {
		file     string
		position int
		serial   string
		want     string
	}{
		{want: "telegraf-enphase pin --accept --config FILE"},
		{file: "/etc/telegraf/enphase/enphase.conf", want: "telegraf-enphase pin --accept --config /etc/telegraf/enphase/enphase.conf"},
		{file: "/e.conf", position: 2, want: "telegraf-enphase pin --accept --config /e.conf --gateway 2"},
		{file: "/e.conf", position: 2, serial: "122301234567", want: "telegraf-enphase pin --accept --config /e.conf --gateway 122301234567"},
	}
	for _, tt := range tests {
		t.Run("T7 "+tt.want, func(t *testing.T) {
			e := &Enphase{configFile: tt.file, position: tt.position, Serial: tt.serial}
			require.Equal(t, tt.want, e.command("pin --accept"))
		})
	}
}
