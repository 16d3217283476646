package hostile

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const demo = "../envoysim/demo"

func client(t *testing.T, g *Gateway) *http.Client {
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(g.CertificatePEM()))
	return &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func get(t *testing.T, c *http.Client, url, bearer, cookie string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: cookie})
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

func TestGatewayServesCaptureBehindAuth(t *testing.T) {
	g := New(t, demo, map[string]http.Handler{
		"/ivp/meters":            Status(http.StatusRequestHeaderFieldsTooLarge),
		"/api/v1/production?x=1": Redirect(http.StatusFound, "https://elsewhere.example/"+strings.Repeat("a", 10)),
	})
	c := client(t, g)

	resp, body := get(t, c, g.URL+"/info", "", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, "<sn>"+g.Serial+"</sn>")

	resp, _ = get(t, c, g.URL+"/production.json?details=1", "", "")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "no token, no data")
	resp, _ = get(t, c, g.URL+"/auth/check_jwt", "not.a.jwt", "")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	resp, body = get(t, c, g.URL+"/auth/check_jwt", g.Token(), "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, "Valid token")
	var session string
	for _, ck := range resp.Cookies() {
		if ck.Name == sessionCookie {
			session = ck.Value
		}
	}
	require.NotEmpty(t, session)

	resp, body = get(t, c, g.URL+"/production.json?details=1", "", session)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, string(CaptureBody(t, demo, "/production.json?details=1")), body)

	resp, _ = get(t, c, g.URL+"/ivp/meters", "", session)
	require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode, "the test's handler wins")
	resp, _ = get(t, c, g.URL+"/api/v1/production?x=1", "", "")
	require.Equal(t, http.StatusFound, resp.StatusCode, "a handler keyed with its query")
	resp, _ = get(t, c, g.URL+"/no/such/thing", "", session)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Equal(t, 2, g.Requests("/production.json?details=1"))
}

func TestEndlessEndsWithTheClient(t *testing.T) {
	g := New(t, demo, map[string]http.Handler{"/info": Endless("text/xml", []byte("<a>"))})
	resp, err := client(t, g).Get(g.URL + "/info")
	require.NoError(t, err)
	n, err := io.CopyN(io.Discard, resp.Body, 10<<20)
	require.NoError(t, err)
	require.EqualValues(t, 10<<20, n)
	require.NoError(t, resp.Body.Close())
}
