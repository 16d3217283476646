package envoy_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
	"github.com/telegraf-enphase/telegraf-enphase/internal/hostile"
	"github.com/telegraf-enphase/telegraf-enphase/internal/token"
)

// demo is the capture the hostile gateway serves where a test does not
// answer itself.
var demo = filepath.Join("..", "envoysim", "demo")

type fixedToken struct{ tok token.Token }

func (f fixedToken) Token() (token.Token, error) { return f.tok, nil }

// hostileClient is a client of g that trusts its certificate and holds a
// token it accepts.
func hostileClient(t *testing.T, g *hostile.Gateway) *envoy.Client {
	t.Helper()
	u, err := url.Parse(g.URL)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(g.CertificatePEM()))
	tok, err := token.Parse(g.Token())
	require.NoError(t, err)
	c := envoy.New(envoy.Config{URL: u, TLS: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, Timeout: 5 * time.Second,
		Auth: envoy.TokenAuth{Tokens: fixedToken{tok}}})
	t.Cleanup(c.Close)
	return c
}

// TestNotAGatewayIssue14 (issue 14 item 4): a wrong address that reaches
// another device, HTTPS or not, is named as not an Enphase gateway, with the
// address and the fix, whatever that device answers on /info.
func TestNotAGatewayIssue14(t *testing.T) {
	html := []byte("<!DOCTYPE html><html><head><title>Router login</title></head><body><form></form></body></html>")
	tests := []struct {
		name     string
		handlers map[string]http.Handler
		why      string
	}{
		{"404 on both", map[string]http.Handler{"/info": hostile.Status(404), "/info.xml": hostile.Status(404)}, "/info answered 404 and /info.xml 404"},
		{
			"404 then an HTML 403",
			map[string]http.Handler{"/info": hostile.Status(404), "/info.xml": hostile.Status(403)},
			"/info answered 404 and /info.xml 403",
		},
		{"a login page", map[string]http.Handler{"/info": hostile.Status(401)}, "/info answered 401, asking for a login"},
		{"an HTML page with 200", map[string]http.Handler{"/info": hostile.Body(200, "text/html", html)}, "XML with no serial number"},
		{"another device's XML", map[string]http.Handler{
			"/info": hostile.Body(200, "text/xml", []byte(`<?xml version="1.0"?><root><device><name>NAS</name></device></root>`)),
		}, "XML with no serial number"},
		{"not XML at all", map[string]http.Handler{"/info": hostile.Body(200, "application/json", []byte(`{"status":"ok"}`))}, "not the gateway's XML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := hostile.New(t, demo, tt.handlers)
			_, err := hostileClient(t, g).Info(context.Background())
			var ng *envoy.NotGatewayError
			require.ErrorAs(t, err, &ng)
			require.ErrorContains(t, err, "the device at "+g.URL+" is not an Enphase gateway")
			require.ErrorContains(t, err, tt.why)
			require.ErrorContains(t, err, "check url")
			require.NotContains(t, err.Error(), "this firmware does not have it")
		})
	}
}

// TestBodyCutAtTheLimitR17: a body longer than the endpoint's limit is
// "larger than N bytes, the limit for PATH", not a JSON syntax error.
func TestBodyCutAtTheLimitR17(t *testing.T) {
	g := hostile.New(t, demo, map[string]http.Handler{
		envoy.PathMeters: hostile.Endless("application/json", []byte(`[{"eid":1},`)),
		"/info":          hostile.Endless("text/xml", []byte("<envoy_info>")),
	})
	c := hostileClient(t, g)
	r, err := c.GetLimit(context.Background(), envoy.PathMeters, 4096)
	if err == nil {
		err = envoy.Decode(r, new([]envoy.Meter))
	}
	require.EqualError(t, err, "/ivp/meters: larger than 4096 bytes, the limit for /ivp/meters: not a real gateway answer")
	var be *envoy.BodyError
	require.ErrorAs(t, err, &be)
	require.True(t, be.TooLarge)

	_, err = c.Info(context.Background())
	require.ErrorContains(t, err, "larger than 65536 bytes, the limit for /info")
}
