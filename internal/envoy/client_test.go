package envoy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/token"
)

const (
	testSerial   = "122301234567"
	validTokenOK = "<!DOCTYPE html><h2>Valid token.</h2>\n"
)

// signToken mints an HS256 token with the claims Enphase tokens carry and
// parses it with the project's parser.
func signToken(t *testing.T, serial, jti string) token.Token {
	t.Helper()
	now := time.Now()
	raw, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"aud":         serial,
		"iss":         "Entrez",
		"enphaseUser": "owner",
		"username":    "owner@example.com",
		"iat":         now.Unix(),
		"exp":         now.Add(365 * 24 * time.Hour).Unix(),
		"jti":         jti,
	}).SignedString([]byte("test-key"))
	require.NoError(t, err)
	tok, err := token.Parse(raw)
	require.NoError(t, err)
	require.Equal(t, raw, tok.Raw)
	return tok
}

// testTokens is an envoy.TokenSource whose token the test can swap.
type testTokens struct {
	mu  sync.Mutex
	tok token.Token
	err error
}

func (s *testTokens) Token() (token.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tok, s.err
}

func (s *testTokens) set(tok token.Token) {
	s.mu.Lock()
	s.tok = tok
	s.mu.Unlock()
}

// seen is one request as the fake gateway received it.
type seen struct {
	Path          string
	Authorization string
	Session       string // sessionId cookie, "" when absent
	Status        int
}

// fakeGateway is a tiny Envoy: /auth/check_jwt opens a session (optionally
// with a sessionId cookie); other paths need that cookie or a bearer token
// check_jwt accepted. It is separate from internal/envoysim so it can
// misbehave in ways the simulator does not.
type fakeGateway struct {
	mu          sync.Mutex
	cookie      bool   // set a sessionId cookie on check_jwt
	checkStatus int    // check_jwt status; 0 means 200
	checkBody   string // check_jwt body on 200; "" means the real "Valid token." page
	dataAll401  bool   // every data request is refused
	delay       time.Duration
	routes      map[string]http.HandlerFunc // extra paths, answered without auth

	session  string          // the current valid sessionId
	sessions int             // sessions opened so far
	bearers  map[string]bool // tokens check_jwt accepted
	log      []seen
	inFlight int
	maxIn    int
}

func (g *fakeGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	g.inFlight++
	if g.inFlight > g.maxIn {
		g.maxIn = g.inFlight
	}
	delay := g.delay
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.inFlight--
		g.mu.Unlock()
	}()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
		}
	}

	rec := seen{Path: r.URL.RequestURI(), Authorization: r.Header.Get("Authorization")}
	if c, err := r.Cookie("sessionId"); err == nil {
		rec.Session = c.Value
	}
	status := g.answer(w, r, rec)
	rec.Status = status
	g.mu.Lock()
	g.log = append(g.log, rec)
	g.mu.Unlock()
}

func (g *fakeGateway) answer(w http.ResponseWriter, r *http.Request, rec seen) int {
	g.mu.Lock()
	route := g.routes[r.URL.Path]
	g.mu.Unlock()
	if route != nil {
		rw := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		route(rw, r)
		return rw.status
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if r.URL.Path == PathCheckJWT {
		if g.checkStatus != 0 && g.checkStatus != http.StatusOK {
			w.WriteHeader(g.checkStatus)
			return g.checkStatus
		}
		body := g.checkBody
		if body == "" {
			body = validTokenOK
		}
		if strings.Contains(body, "Valid token") {
			if g.bearers == nil {
				g.bearers = map[string]bool{}
			}
			g.bearers[rec.Authorization] = true
			if g.cookie {
				g.sessions++
				g.session = fmt.Sprintf("session-%d", g.sessions)
				http.SetCookie(w, &http.Cookie{Name: "sessionId", Value: g.session, Path: "/", Secure: true, HttpOnly: true})
			}
		}
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(body))
		return http.StatusOK
	}
	ok := (rec.Session != "" && rec.Session == g.session) || (rec.Authorization != "" && g.bearers[rec.Authorization])
	if g.dataAll401 || !ok {
		w.WriteHeader(http.StatusUnauthorized)
		return http.StatusUnauthorized
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"path":"` + r.URL.Path + `"}`))
	return http.StatusOK
}

// expireSession makes the current sessionId invalid, as a gateway reboot does.
func (g *fakeGateway) expireSession() {
	g.mu.Lock()
	g.session = ""
	g.mu.Unlock()
}

func (g *fakeGateway) requests() []seen {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]seen(nil), g.log...)
}

func (g *fakeGateway) resetLog() {
	g.mu.Lock()
	g.log = nil
	g.mu.Unlock()
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// startFake serves g over TLS and returns a client for it.
func startFake(t *testing.T, g *fakeGateway, tokens TokenSource, timeout time.Duration) *Client {
	t.Helper()
	srv := httptest.NewTLSServer(g)
	t.Cleanup(srv.Close)
	u, err := ParseURL(srv.URL)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	c := New(Config{URL: u, TLS: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, Timeout: timeout, Auth: TokenAuth{Tokens: tokens}})
	t.Cleanup(c.Close)
	return c
}

func TestClientSessionAuth(t *testing.T) {
	tok := signToken(t, testSerial, "jti-1")
	bearer := "Bearer " + tok.Raw
	tests := []struct {
		name   string
		cookie bool
		// what the data requests must carry
		wantAuth    string
		wantSession string
	}{
		{name: "A8 check_jwt without cookie keeps the bearer", cookie: false, wantAuth: bearer, wantSession: ""},
		{name: "A8 check_jwt with cookie sends only the cookie", cookie: true, wantAuth: "", wantSession: "session-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &fakeGateway{cookie: tt.cookie}
			c := startFake(t, g, &testTokens{tok: tok}, 5*time.Second)
			ctx := context.Background()
			for i := 0; i < 3; i++ {
				r, err := c.Get(ctx, PathMeters)
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, r.Status)
				require.Equal(t, PathMeters, r.Path)
				require.JSONEq(t, `{"path":"/ivp/meters"}`, string(r.Body))
			}
			var checks, data []seen
			for _, s := range g.requests() {
				if s.Path == PathCheckJWT {
					require.Equal(t, bearer, s.Authorization, "check_jwt carries the bearer")
					require.Empty(t, s.Session, "check_jwt carries no cookie")
					checks = append(checks, s)
					continue
				}
				data = append(data, s)
			}
			require.Len(t, data, 3)
			for _, s := range data {
				require.Equal(t, tt.wantAuth, s.Authorization, "data request Authorization")
				require.Equal(t, tt.wantSession, s.Session, "data request cookie")
				require.Equal(t, http.StatusOK, s.Status)
			}
			require.NotEmpty(t, checks)
			require.Equal(t, int64(len(checks)), c.AuthChecks())
			require.Equal(t, int64(len(checks)+len(data)), c.Requests())
			if tt.cookie {
				require.Len(t, checks, 1, "A8 one check_jwt per session")
			}
		})
	}
}

// TestClientNoCookieChecksOnceA8: a gateway that validates the token but
// sets no sessionId cookie must not be asked check_jwt before every request
// (A8: "never per request"); the bearer alone authenticates data requests.
func TestClientNoCookieChecksOnceA8(t *testing.T) {
	tok := signToken(t, testSerial, "jti-1")
	g := &fakeGateway{cookie: false}
	c := startFake(t, g, &testTokens{tok: tok}, 5*time.Second)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		r, err := c.Get(ctx, PathMeters)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, r.Status)
	}
	require.Equal(t, int64(1), c.AuthChecks(), "A8 one check_jwt, then the bearer suffices")
	require.Equal(t, int64(4), c.Requests())

	// A 401 still renews once, then retries with the bearer (A6).
	g.mu.Lock()
	g.bearers = nil // the gateway forgot the token, e.g. after a reboot
	g.mu.Unlock()
	g.resetLog()
	r, err := c.Get(ctx, PathMeters)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, r.Status)
	bearer := "Bearer " + tok.Raw
	require.Equal(t, []seen{
		{Path: PathMeters, Authorization: bearer, Status: http.StatusUnauthorized},
		{Path: PathCheckJWT, Authorization: bearer, Status: http.StatusOK},
		{Path: PathMeters, Authorization: bearer, Status: http.StatusOK},
	}, g.requests())
	require.Equal(t, int64(2), c.AuthChecks())
}

func TestClientRenewsSessionOnceAfter401A6(t *testing.T) {
	tok := signToken(t, testSerial, "jti-1")
	g := &fakeGateway{cookie: true}
	c := startFake(t, g, &testTokens{tok: tok}, 5*time.Second)
	ctx := context.Background()

	_, err := c.Get(ctx, PathProduction)
	require.NoError(t, err)
	require.Equal(t, int64(1), c.AuthChecks())
	require.Equal(t, int64(2), c.Requests())

	t.Run("A6 session ended: one check_jwt then one retry", func(t *testing.T) {
		g.expireSession()
		g.resetLog()
		r, err := c.Get(ctx, PathProduction)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, r.Status)
		require.Equal(t, []seen{
			{Path: PathProduction, Session: "session-1", Status: http.StatusUnauthorized},
			{Path: PathCheckJWT, Authorization: "Bearer " + tok.Raw, Status: http.StatusOK},
			{Path: PathProduction, Session: "session-2", Status: http.StatusOK},
		}, g.requests())
		require.Equal(t, int64(2), c.AuthChecks())
		require.Equal(t, int64(5), c.Requests())
	})

	t.Run("A6 still 401 after renewal: no second retry", func(t *testing.T) {
		g.mu.Lock()
		g.dataAll401 = true
		g.mu.Unlock()
		g.resetLog()
		r, err := c.Get(ctx, PathProduction)
		require.NoError(t, err, "the 401 response is returned for the caller to judge")
		require.Equal(t, http.StatusUnauthorized, r.Status)
		require.Equal(t, []seen{
			{Path: PathProduction, Session: "session-2", Status: http.StatusUnauthorized},
			{Path: PathCheckJWT, Authorization: "Bearer " + tok.Raw, Status: http.StatusOK},
			{Path: PathProduction, Session: "session-3", Status: http.StatusUnauthorized},
		}, g.requests())
		require.Equal(t, int64(3), c.AuthChecks())
		require.Equal(t, int64(8), c.Requests())
		var se *StatusError
		require.ErrorAs(t, Decode(r, &struct{}{}), &se)
		require.Equal(t, http.StatusUnauthorized, se.Status)
	})

	t.Run("A6 401 right after a fresh check_jwt: no retry", func(t *testing.T) {
		c.ResetSession()
		g.resetLog()
		r, err := c.Get(ctx, PathProduction)
		require.NoError(t, err)
		require.Equal(t, http.StatusUnauthorized, r.Status)
		require.Equal(t, []seen{
			{Path: PathCheckJWT, Authorization: "Bearer " + tok.Raw, Status: http.StatusOK},
			{Path: PathProduction, Session: "session-4", Status: http.StatusUnauthorized},
		}, g.requests())
		require.Equal(t, int64(4), c.AuthChecks())
		require.Equal(t, int64(10), c.Requests())
	})
}

func TestClientCheckJWTFailures(t *testing.T) {
	tok := signToken(t, testSerial, "jti-secret")
	tests := []struct {
		name       string
		status     int
		body       string
		wantStatus int
		wantMsg    []string
	}{
		{name: "A6 check_jwt 401", status: http.StatusUnauthorized, wantStatus: 401,
			wantMsg: []string{"rejected", "check_jwt answered 401", testSerial, "get a new token"}},
		{name: "A6 check_jwt 403", status: http.StatusForbidden, wantStatus: 403,
			wantMsg: []string{"rejected", "check_jwt answered 403"}},
		{name: "T2 check_jwt 200 without Valid token", status: http.StatusOK, body: "<html><body>Welcome</body></html>", wantStatus: 200,
			wantMsg: []string{`without "Valid token"`, "may not point at an Envoy"}},
		{name: "T3 check_jwt 200 with empty body", status: http.StatusOK, body: " ", wantStatus: 200,
			wantMsg: []string{`without "Valid token"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &fakeGateway{cookie: true, checkStatus: tt.status, checkBody: tt.body}
			c := startFake(t, g, &testTokens{tok: tok}, 5*time.Second)
			r, err := c.Get(context.Background(), PathMeters)
			var ae *AuthError
			require.ErrorAs(t, err, &ae)
			require.Equal(t, tt.wantStatus, ae.Status)
			require.Equal(t, c.Host(), ae.Host)
			require.Equal(t, Response{}, r)
			msg := err.Error()
			require.True(t, strings.HasPrefix(msg, "authenticating on "+c.Host()+": "), msg)
			for _, s := range tt.wantMsg {
				require.Contains(t, msg, s)
			}
			require.NotContains(t, msg, tok.Raw, "the token is a secret")
			for _, part := range strings.Split(tok.Raw, ".") {
				require.NotContains(t, msg, part, "no segment of the token may leak")
			}
			// Only check_jwt was asked; no data request went out.
			got := g.requests()
			require.Len(t, got, 1)
			require.Equal(t, PathCheckJWT, got[0].Path)
			require.Equal(t, int64(1), c.AuthChecks())
			require.Equal(t, int64(1), c.Requests())
		})
	}

	t.Run("T9 check_jwt 500 is a status error", func(t *testing.T) {
		g := &fakeGateway{checkStatus: http.StatusInternalServerError}
		c := startFake(t, g, &testTokens{tok: tok}, 5*time.Second)
		err := c.CheckJWT(context.Background())
		var se *StatusError
		require.ErrorAs(t, err, &se)
		require.Equal(t, http.StatusInternalServerError, se.Status)
		require.Equal(t, PathCheckJWT, se.Path)
		var ae *AuthError
		require.False(t, errors.As(err, &ae))
	})

	t.Run("A2 token source error is an auth error without a request", func(t *testing.T) {
		g := &fakeGateway{cookie: true}
		c := startFake(t, g, &testTokens{err: errors.New("token file /etc/telegraf/envoy.jwt: token is empty")}, 5*time.Second)
		_, err := c.Get(context.Background(), PathMeters)
		var ae *AuthError
		require.ErrorAs(t, err, &ae)
		require.Contains(t, err.Error(), "token is empty")
		require.Zero(t, c.Requests())
		require.Empty(t, g.requests())
	})
}

func TestClientRedirectNotFollowedT6(t *testing.T) {
	var targetHits int
	var mu sync.Mutex
	// Another host, which a followed redirect would send the token to.
	other := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		targetHits++
		mu.Unlock()
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(other.Close)
	g := &fakeGateway{cookie: true, routes: map[string]http.HandlerFunc{
		"/target": func(w http.ResponseWriter, _ *http.Request) {
			mu.Lock()
			targetHits++
			mu.Unlock()
			_, _ = w.Write([]byte(`{}`))
		},
		"/moved": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/target", http.StatusMovedPermanently)
		},
		"/to-localhost": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://localhost/home", http.StatusFound)
		},
		"/to-other-host": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+"/ivp/meters/readings", http.StatusFound)
		},
	}}
	c := startFake(t, g, &testTokens{tok: signToken(t, testSerial, "j")}, 5*time.Second)

	tests := []struct {
		name         string
		path         string
		wantStatus   int
		wantLocation string
		wantMsg      string
	}{
		{name: "T6 301 to a relative page", path: "/moved", wantStatus: 301, wantLocation: "/target", wantMsg: `redirected (301) to "/target", not followed`},
		{
			name:         "T6 302 to https on another name",
			path:         "/to-localhost",
			wantStatus:   302,
			wantLocation: "https://localhost/home",
			wantMsg:      `to "https://localhost/home", another host: not followed`,
		},
		{
			name:         "T6 302 to another host",
			path:         "/to-other-host",
			wantStatus:   302,
			wantLocation: other.URL + "/ivp/meters/readings",
			wantMsg:      `to "` + other.URL + `/ivp/meters/readings", another host: not followed`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := c.Get(context.Background(), tt.path)
			var re *RedirectError
			require.ErrorAs(t, err, &re)
			require.Equal(t, tt.wantStatus, re.Status)
			require.Equal(t, tt.wantStatus, r.Status)
			require.Equal(t, tt.path, re.Path)
			require.Equal(t, tt.wantLocation, re.Location)
			require.Contains(t, err.Error(), tt.wantMsg)

			r, err = c.GetPublic(context.Background(), tt.path)
			require.ErrorAs(t, err, &re)
			require.Equal(t, tt.wantStatus, r.Status)
		})
	}
	mu.Lock()
	defer mu.Unlock()
	require.Zero(t, targetHits, "T6: the redirect target must never be requested")
}

// TestClientHTTPRedirectToHTTPST6: firmware 7 answers http:// with a
// redirect to https; the error says to set url to https://.
func TestClientHTTPRedirectToHTTPST6(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://localhost"+r.URL.Path, http.StatusMovedPermanently)
	}))
	t.Cleanup(srv.Close)
	u, err := ParseURL(srv.URL)
	require.NoError(t, err)
	c := New(Config{URL: u, Timeout: 5 * time.Second})
	t.Cleanup(c.Close)
	_, err = c.Info(context.Background())
	var re *RedirectError
	require.ErrorAs(t, err, &re)
	require.Contains(t, err.Error(), `redirected (301) to "https://localhost/info"; set url to https://`)
}

func TestClientNewTokenTriggersCheckJWTA1(t *testing.T) {
	tokA := signToken(t, testSerial, "token-a")
	tokB := signToken(t, testSerial, "token-b")
	require.NotEqual(t, tokA.Raw, tokB.Raw)
	src := &testTokens{tok: tokA}
	g := &fakeGateway{cookie: true}
	c := startFake(t, g, src, 5*time.Second)
	ctx := context.Background()

	for i := 0; i < 2; i++ {
		_, err := c.Get(ctx, PathMeters)
		require.NoError(t, err)
	}
	require.Equal(t, int64(1), c.AuthChecks(), "A8 the same token reuses the session")
	require.Equal(t, int64(3), c.Requests())

	src.set(tokB)
	g.resetLog()
	r, err := c.Get(ctx, PathMeters)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, r.Status)
	require.Equal(t, []seen{
		{Path: PathCheckJWT, Authorization: "Bearer " + tokB.Raw, Status: http.StatusOK},
		{Path: PathMeters, Session: "session-2", Status: http.StatusOK},
	}, g.requests(), "A1 a renewed token opens a new session")
	require.Equal(t, int64(2), c.AuthChecks())
	require.Equal(t, int64(5), c.Requests())

	// The same token again: no new check.
	_, err = c.Get(ctx, PathMeters)
	require.NoError(t, err)
	require.Equal(t, int64(2), c.AuthChecks())
	require.Equal(t, int64(6), c.Requests())

	// Public requests count as requests, not as checks.
	g.mu.Lock()
	g.routes = map[string]http.HandlerFunc{PathInfo: func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write(infoBody(`<sn>`+testSerial+`</sn><software>D8.2.4345</software><imeter>true</imeter>`, `<web-tokens>true</web-tokens>`))
	}}
	g.mu.Unlock()
	info, err := c.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, testSerial, info.Serial)
	require.Equal(t, Version{8, 2, 4345}, info.Version)
	require.Equal(t, int64(2), c.AuthChecks())
	require.Equal(t, int64(7), c.Requests())
	last := g.requests()[len(g.requests())-1]
	require.Equal(t, seen{Path: PathInfo, Status: http.StatusOK}, last, "/info carries no credentials")
}

// TestClientCheckTokenA1 covers CheckToken: a freshly minted token is
// validated before it replaces the stored one, and its session is kept.
func TestClientCheckTokenA1(t *testing.T) {
	tokA := signToken(t, testSerial, "token-a")
	tokB := signToken(t, testSerial, "token-b")
	src := &testTokens{tok: tokA}
	g := &fakeGateway{cookie: true}
	c := startFake(t, g, src, 5*time.Second)
	ctx := context.Background()

	_, err := c.Get(ctx, PathMeters)
	require.NoError(t, err)
	require.NoError(t, c.CheckToken(ctx, tokB))
	require.Equal(t, int64(2), c.AuthChecks())

	// The source now yields the new token: the session CheckToken opened is used.
	src.set(tokB)
	g.resetLog()
	_, err = c.Get(ctx, PathMeters)
	require.NoError(t, err)
	require.Equal(t, []seen{{Path: PathMeters, Session: "session-2", Status: http.StatusOK}}, g.requests())
	require.Equal(t, int64(2), c.AuthChecks())
	require.Equal(t, int64(4), c.Requests())

	// A refused new token is an AuthError that does not reveal it.
	g.mu.Lock()
	g.checkStatus = http.StatusUnauthorized
	g.mu.Unlock()
	tokC := signToken(t, testSerial, "token-c")
	err = c.CheckToken(ctx, tokC)
	var ae *AuthError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, http.StatusUnauthorized, ae.Status)
	require.NotContains(t, err.Error(), tokC.Raw)
	require.Equal(t, int64(3), c.AuthChecks())
}

func TestClientTimeoutT8(t *testing.T) {
	g := &fakeGateway{cookie: true, routes: map[string]http.HandlerFunc{
		"/slow": func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(5 * time.Second):
				_, _ = w.Write([]byte(`{}`))
			case <-r.Context().Done():
				// The client gave up: answer nothing at all. A reply
				// written now can still race in just after the client's
				// deadline and be accepted by net/http.
				panic(http.ErrAbortHandler)
			}
		},
	}}
	const timeout = 200 * time.Millisecond
	c := startFake(t, g, &testTokens{tok: signToken(t, testSerial, "j")}, timeout)

	for _, tt := range []struct {
		name string
		get  func() (Response, error)
	}{
		{"T8 authenticated request", func() (Response, error) { return c.Get(context.Background(), "/slow") }},
		{"T8 public request", func() (Response, error) { return c.GetPublic(context.Background(), "/slow") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := tt.get()
			elapsed := time.Since(start)
			var te *TransportError
			require.ErrorAs(t, err, &te)
			require.Equal(t, "/slow", te.Path)
			require.Equal(t, c.Host(), te.Host)
			require.Contains(t, err.Error(), "no answer within 200ms")
			require.Less(t, elapsed, 3*time.Second, "the per-request timeout bounds the wait")
		})
	}
}

func TestClientSerialisesRequestsE5(t *testing.T) {
	g := &fakeGateway{cookie: true, delay: 20 * time.Millisecond}
	c := startFake(t, g, &testTokens{tok: signToken(t, testSerial, "j")}, 5*time.Second)

	const workers = 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := c.Get(context.Background(), PathMeterReadings)
			if err == nil && r.Status != http.StatusOK {
				err = fmt.Errorf("status %d", r.Status)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	g.mu.Lock()
	maxIn := g.maxIn
	g.mu.Unlock()
	require.Equal(t, 1, maxIn, "E5/T8 one request at a time per gateway")
	require.Equal(t, int64(1), c.AuthChecks(), "A8 concurrent callers share one session")
	require.Equal(t, int64(workers+1), c.Requests())
	require.Len(t, g.requests(), workers+1)
}

// readBody presizes its buffer from Content-Length; a length that lies
// (shorter, longer, absent, beyond the limit) must change nothing read, nor size the buffer past the limit (R4).
func TestReadBodyWhateverContentLengthSays(t *testing.T) {
	body := strings.Repeat("x", 3000)
	for _, tc := range []struct {
		name  string
		cl    int64
		limit int64
		want  int
	}{
		{"exact", 3000, 10000, 3000},
		{"absent", -1, 10000, 3000},
		{"too short", 10, 10000, 3000},
		{"too long", 1 << 40, 10000, 3000},
		{"beyond the limit", 3000, 1000, 1000},
		{"lying beyond the limit", 1 << 40, 1000, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := &http.Response{Body: io.NopCloser(strings.NewReader(body)), ContentLength: tc.cl}
			got, err := readBody(resp, tc.limit, nil)
			if err != nil || len(got) != tc.want || string(got) != body[:tc.want] {
				t.Fatalf("readBody = %d bytes, %v; want %d bytes of the body", len(got), err, tc.want)
			}
			if int64(cap(got)) > 2*max(tc.limit, 512)+512 {
				t.Fatalf("buffer of %d bytes for a limit of %d: a lying Content-Length must not size it", cap(got), tc.limit)
			}
		})
	}
}

// countingTokens counts the reads of its token source (a token file's stat).
type countingTokens struct {
	testTokens
	reads atomic.Int64
}

func (s *countingTokens) Token() (token.Token, error) {
	s.reads.Add(1)
	return s.testTokens.Token()
}

// Requests under WithToken send the token the caller read and never ask the
// source: a gather reads the token file once, not once per request. Without
// it, every request reads the source, so a replaced file is seen at once.
func TestWithTokenReadsTheSourceOnce(t *testing.T) {
	stored, other := signToken(t, testSerial, "jti-1"), signToken(t, testSerial, "jti-2")
	g := &fakeGateway{cookie: false}
	src := &countingTokens{testTokens: testTokens{tok: stored}}
	c := startFake(t, g, src, 5*time.Second)
	ctx := WithToken(context.Background(), other)
	for range 3 {
		r, err := c.Get(ctx, PathMeters)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, r.Status)
	}
	require.Zero(t, src.reads.Load())
	for _, s := range g.requests() {
		require.Equal(t, "Bearer "+other.Raw, s.Authorization, s.Path)
	}
	_, err := c.Get(context.Background(), PathMeters)
	require.NoError(t, err)
	require.Equal(t, int64(1), src.reads.Load())
}

// GetInto reads each body into the caller's buffer while it is large
// enough, grows it when it is not, and leaves later GetLimit calls their
// own bodies: a capture keeps several, a gather decodes each before the next.
func TestGetIntoReusesTheCallersBuffer(t *testing.T) {
	bodies := map[string]string{"/a": strings.Repeat("a", 100), "/b": "bb", "/c": strings.Repeat("c", 10_000)}
	g := &fakeGateway{cookie: true, routes: map[string]http.HandlerFunc{}}
	for path, body := range bodies {
		g.routes[path] = func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(body)) }
	}
	c := startFake(t, g, &testTokens{tok: signToken(t, testSerial, "jti-1")}, 5*time.Second)
	ctx := context.Background()
	sameArray := func(a, b []byte) bool { return cap(a) > 0 && cap(b) > 0 && &a[:1][0] == &b[:1][0] }

	buf := make([]byte, 0, 4096)
	ra, err := c.GetInto(ctx, "/a", 0, buf)
	require.NoError(t, err)
	require.Equal(t, bodies["/a"], string(ra.Body))
	require.True(t, sameArray(ra.Body, buf), "a body that fits is read into the buffer given")
	rb, err := c.GetInto(ctx, "/b", 0, ra.Body)
	require.NoError(t, err)
	require.Equal(t, "bb", string(rb.Body))
	require.True(t, sameArray(rb.Body, buf))
	rc, err := c.GetInto(ctx, "/c", 0, rb.Body)
	require.NoError(t, err)
	require.Equal(t, bodies["/c"], string(rc.Body), "a body larger than the buffer is read whole")
	require.False(t, sameArray(rc.Body, buf))

	r1, err := c.Get(ctx, "/a")
	require.NoError(t, err)
	r2, err := c.Get(ctx, "/b")
	require.NoError(t, err)
	require.Equal(t, bodies["/a"], string(r1.Body), "a later Get does not write over an earlier body")
	require.False(t, sameArray(r1.Body, buf) || sameArray(r2.Body, buf) || sameArray(r1.Body, r2.Body))
}

// Requests are built from one template per path: each carries its own
// headers, the session's cookie once, and never a header of an earlier
// request (check_jwt's bearer, an ended session's cookie).
func TestRequestsDoNotShareHeaders(t *testing.T) {
	var mu sync.Mutex
	var got []http.Header
	g := &fakeGateway{cookie: true, routes: map[string]http.HandlerFunc{"/h": func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Clone())
		mu.Unlock()
		_, _ = w.Write([]byte("{}"))
	}}}
	c := startFake(t, g, &testTokens{tok: signToken(t, testSerial, "jti-1")}, 5*time.Second)
	ctx := context.Background()
	for range 3 {
		_, err := c.Get(ctx, "/h")
		require.NoError(t, err)
	}
	c.ResetSession()
	_, err := c.Get(ctx, "/h")
	require.NoError(t, err)
	require.Len(t, got, 4)
	for i, h := range got {
		want := "sessionId=session-1"
		if i == 3 {
			want = "sessionId=session-2"
		}
		require.Equal(t, []string{want}, h["Cookie"], "request %d", i)
		require.Empty(t, h["Authorization"], "request %d: the cookie suffices", i)
		require.Equal(t, []string{"application/json"}, h["Accept"], "request %d", i)
		require.Equal(t, []string{"telegraf-enphase"}, h["User-Agent"], "request %d", i)
	}
}

// The requests kept by path are bounded, whatever paths a caller asks for.
func TestRequestTemplatesAreBounded(t *testing.T) {
	g := &fakeGateway{cookie: true}
	c := startFake(t, g, &testTokens{tok: signToken(t, testSerial, "jti-1")}, 5*time.Second)
	for i := range 3 * maxCachedRequests {
		_, err := c.Get(context.Background(), fmt.Sprintf("/p%d", i))
		require.NoError(t, err)
		require.LessOrEqual(t, len(c.reqs), maxCachedRequests)
	}
	rs := g.requests()
	require.Equal(t, fmt.Sprintf("/p%d", 3*maxCachedRequests-1), rs[len(rs)-1].Path, "a path asked after the reset is still the path asked")
}
