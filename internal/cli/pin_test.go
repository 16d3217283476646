package cli

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/certpin"
	"github.com/telegraf-enphase/telegraf-enphase/internal/envoysim"
)

func currentFingerprint(t *testing.T, sim *envoysim.Server) string {
	t.Helper()
	block, _ := pem.Decode(sim.CertificatePEM())
	require.NotNil(t, block)
	cert, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	return certpin.Of(cert.Raw).String()
}

// pinConfig writes a config for g with its token and the given tls_pin line.
func pinConfig(t *testing.T, g gateway, pinLine string) (conf, tokFile string) {
	t.Helper()
	dir := t.TempDir()
	tokFile = filepath.Join(dir, "envoy.token")
	require.NoError(t, os.WriteFile(tokFile, []byte(g.sim.Token()+"\n"), 0o600))
	conf = filepath.Join(dir, "enphase.conf")
	body := fmt.Sprintf("[[inputs.enphase]]\n  url = %q\n  token_file = %q\n  %s\n", g.url, tokFile, pinLine)
	require.NoError(t, os.WriteFile(conf, []byte(body), 0o600))
	return conf, tokFile
}

// startQuietGateway is startGateway with the simulator's server log
// discarded: the handshakes a pin refuses make it log, through the standard
// logger that each command's Telegraf logging setup replaces meanwhile.
func startQuietGateway(t *testing.T) gateway {
	t.Helper()
	sim, err := envoysim.New(envoysim.Options{})
	require.NoError(t, err)
	ts := httptest.NewUnstartedServer(sim.Handler())
	ts.TLS = sim.TLSConfig()
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return gateway{sim, ts.URL}
}

// TestPinCommandT7 covers T7 from the command line: 'pin' shows the presented
// and pinned certificates without sending a request; after the gateway renews
// its certificate (POST /__sim/rotate_cert) 'dump' refuses it with the exact
// command to run, 'pin' exits 1, and 'pin --accept' makes 'dump' work again.
func TestPinCommandT7(t *testing.T) {
	g := startQuietGateway(t)
	conf, tokFile := pinConfig(t, g, `tls_pin = "tofu"`)
	pinFile := tokFile + ".pin"
	old := currentFingerprint(t, g.sim)

	code, out, stderr := runMain("pin", "--config", conf)
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, out, "presented: SHA256 "+old+" (CN=envoy-"+g.sim.Serial())
	require.Contains(t, out, "pinned:    none yet: the first connection pins the certificate it is presented, in "+pinFile)
	require.Zero(t, g.sim.Stats().Total, "pin reads the certificate in the handshake, and sends no request")

	code, _, stderr = runMain("dump", "--config", conf)
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stderr, "trusting the gateway's certificate on first use: SHA256 "+old)
	code, out, stderr = runMain("pin", "--config", conf)
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, out, "pinned:    SHA256 "+old+" (CN=envoy-"+g.sim.Serial()+", first seen ")
	require.Contains(t, out, "match:     yes")

	// The gateway renews its certificate.
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // the test's own control call
	resp, err := insecure.Post(g.url+"/__sim/rotate_cert", "", nil)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	renewed := currentFingerprint(t, g.sim)
	require.NotEqual(t, old, renewed)

	before := g.sim.Stats()
	code, out, stderr = runMain("dump", "--config", conf)
	require.Equal(t, exitFail, code)
	// Only the health point, which says the gateway is not being read.
	require.Regexp(t, `^enphase_gateway,address=[^ ]+,serial=unknown [^\n]*\bup=0i\b[^\n]*\n$`, out)
	require.Contains(t, stderr, "the gateway's certificate changed: pinned SHA256 "+old+", presented SHA256 "+renewed+" (pin in "+pinFile+")")
	require.Contains(t, stderr, "accept the new one with `telegraf-enphase pin --accept --config "+conf+"` or delete the pin file")
	require.Equal(t, before.Total, g.sim.Stats().Total, "no request reached the gateway")
	require.Equal(t, before.CheckJWT, g.sim.Stats().CheckJWT, "no token was sent")

	code, out, _ = runMain("pin", "--config", conf)
	require.Equal(t, exitFail, code)
	require.Contains(t, out, "presented: SHA256 "+renewed)
	require.Contains(t, out, "pinned:    SHA256 "+old)
	require.Contains(t, out, "match:     NO: the gateway's certificate changed")

	code, out, stderr = runMain("pin", "--accept", "--config", conf)
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, out, "match:     yes, accepted now")
	rec, err := certpin.ReadFile(pinFile)
	require.NoError(t, err)
	require.Equal(t, renewed, rec.Fingerprint.String())

	code, out, stderr = runMain("dump", "--config", conf)
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, out, "enphase_production")
	require.NotContains(t, out+stderr, g.sim.Token())
}

// TestPinCommandRefusals: --accept is refused where it cannot or should not
// decide: no tls_pin, a fixed tls_pin, several gateways at once.
func TestPinCommandRefusals(t *testing.T) {
	g := startQuietGateway(t)
	fp := currentFingerprint(t, g.sim)
	tests := []struct {
		name      string
		conf      func(t *testing.T) string
		args      []string
		wantCode  int
		wantOut   string
		wantError string
	}{
		{name: "T7 no tls_pin shows how to set one", conf: func(t *testing.T) string { c, _ := pinConfig(t, g, "insecure_skip_verify = true"); return c },
			wantCode: exitOK, wantOut: `pinned:    none, tls_pin is not set (to pin this certificate: tls_pin = "tofu", or tls_pin = "sha256:` + fp + `")`},
		{name: "T7 --accept without tls_pin", conf: func(t *testing.T) string { c, _ := pinConfig(t, g, "insecure_skip_verify = true"); return c },
			args: []string{"--accept"}, wantCode: exitFail, wantError: `tls_pin: not set, so there is nothing to accept`},
		{name: "T7 fixed pin that matches", conf: func(t *testing.T) string { c, _ := pinConfig(t, g, `tls_pin = "sha256:`+fp+`"`); return c },
			wantCode: exitOK, wantOut: "pinned:    SHA256 " + fp + " (tls_pin)\n  match:     yes"},
		{name: "T7 --accept with a fixed pin that differs", conf: func(t *testing.T) string {
			c, _ := pinConfig(t, g, `tls_pin = "sha256:`+certpin.Of([]byte("x")).String()+`"`)
			return c
		}, args: []string{"--accept"}, wantCode: exitFail,
			wantError: `tls_pin: is a fixed fingerprint in the configuration: to accept the presented certificate, set tls_pin = "sha256:` + fp + `"`},
		{name: "T7 --accept with two gateways", conf: func(t *testing.T) string {
			other := g // the same simulator by another name: two tables for one url are refused (R12)
			other.url = strings.Replace(g.url, "127.0.0.1", "localhost", 1)
			return writeConfig(t, g, other)
		},
			args: []string{"--accept"}, wantCode: exitUsage, wantError: "--accept needs --gateway when the file has 2 gateways"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := runMain(append([]string{"pin", "--config", tt.conf(t)}, tt.args...)...)
			require.Equal(t, tt.wantCode, code, stderr)
			require.Contains(t, out, tt.wantOut)
			require.Contains(t, stderr, tt.wantError)
		})
	}
	require.Zero(t, g.sim.Stats().Total, "pin never sends a request")
}

func TestUsageListsPin(t *testing.T) {
	code, out, _ := runMain("help")
	require.Equal(t, exitOK, code)
	require.True(t, strings.Contains(out, "telegraf-enphase pin --config FILE [--gateway G] [--accept]"))
}
