package envoysim

import (
	"bytes"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// presented is the leaf certificate a fresh TLS connection to addr gets.
func presented(t *testing.T, addr string) []byte {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // the test reads what is presented
	require.NoError(t, err)
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].Raw
}

// TestRotateCertificate (T7: the gateway renews its self-signed certificate
// about once a year): new connections get the new certificate, whether the
// simulator is started by Start or by httptest with TLSConfig, and POST
// /__sim/rotate_cert does the same.
func TestRotateCertificate(t *testing.T) {
	tests := []struct {
		name   string
		start  func(t *testing.T, s *Server) string // returns host:port
		rotate func(t *testing.T, s *Server, base string)
	}{
		{
			name: "T7 Start, RotateCertificate",
			start: func(t *testing.T, s *Server) string {
				base, err := s.Start("127.0.0.1:0")
				require.NoError(t, err)
				t.Cleanup(func() { _ = s.Close() })
				return strings.TrimPrefix(base, "https://")
			},
			rotate: func(t *testing.T, s *Server, _ string) { require.NoError(t, s.RotateCertificate()) },
		},
		{
			name: "T7 httptest with TLSConfig, POST /__sim/rotate_cert",
			start: func(t *testing.T, s *Server) string {
				ts := httptest.NewUnstartedServer(s.Handler())
				ts.TLS = s.TLSConfig()
				ts.StartTLS()
				t.Cleanup(ts.Close)
				return strings.TrimPrefix(ts.URL, "https://")
			},
			rotate: func(t *testing.T, s *Server, addr string) {
				c := trustingClient(t, s)
				for method, want := range map[string]int{http.MethodGet: http.StatusMethodNotAllowed, http.MethodPost: http.StatusNoContent} {
					r := do(t, c, method, "https://"+addr+"/__sim/rotate_cert", nil)
					require.Equal(t, want, r.code, method)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(Options{Captures: testCaptures()})
			require.NoError(t, err)
			addr := tt.start(t, s)
			before := presented(t, addr)
			pemBefore := s.CertificatePEM()
			require.True(t, bytes.Contains(pemBefore, []byte("CERTIFICATE")))

			tt.rotate(t, s, addr)
			after := presented(t, addr)
			require.NotEqual(t, before, after, "a new certificate after the rotation")
			require.NotEqual(t, pemBefore, s.CertificatePEM())
			require.Equal(t, 200, do(t, trustingClient(t, s), http.MethodGet, "https://"+addr+"/info", nil).code,
				"CertificatePEM is the certificate now served")
			require.Zero(t, s.Stats().Total-s.Stats().Requests["/info"], "control endpoints are not counted")
		})
	}
}
