package enlighten_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/enlighten"
	"github.com/telegraf-enphase/telegraf-enphase/internal/envoysim"
	"github.com/telegraf-enphase/telegraf-enphase/internal/token"
)

const (
	testEmail    = "owner@example.com"
	testPassword = "hunter2-Sekret:pw"
	year         = 365 * 24 * time.Hour
)

var sentinels = []error{
	enlighten.ErrBadCredentials, enlighten.ErrMFA, enlighten.ErrThrottled, enlighten.ErrUnavailable,
	enlighten.ErrWrongSerial, enlighten.ErrExpired, enlighten.ErrNotAToken,
}

// jwtLike matches any compact JWT; hexID matches the sim's session_id and
// cookie values.
var (
	jwtLike = regexp.MustCompile(`[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`)
	hexID   = regexp.MustCompile(`[0-9a-f]{32}`)
)

// recorder sits in front of the sim's handler (same certificate) and keeps
// every secret the cloud hands out, so tests can prove none reaches an error.
type recorder struct {
	h       http.Handler
	mu      sync.Mutex
	secrets []string
}

type teeWriter struct {
	http.ResponseWriter
	buf *bytes.Buffer
}

func (w teeWriter) Write(b []byte) (int, error) {
	w.buf.Write(b)
	return w.ResponseWriter.Write(b)
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	rec.h.ServeHTTP(teeWriter{w, &buf}, r)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	body := buf.String()
	rec.secrets = append(rec.secrets, jwtLike.FindAllString(body, -1)...)
	rec.secrets = append(rec.secrets, hexID.FindAllString(body, -1)...)
	var login struct {
		SessionID string `json:"session_id"`
	}
	if json.Unmarshal(buf.Bytes(), &login) == nil && login.SessionID != "" {
		rec.secrets = append(rec.secrets, login.SessionID)
	}
	for _, c := range (&http.Response{Header: w.Header()}).Cookies() {
		rec.secrets = append(rec.secrets, c.Value)
	}
}

func (rec *recorder) all() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]string(nil), rec.secrets...)
}

type env struct {
	sim    *envoysim.Server
	client *enlighten.Client
	base   string
	rec    *recorder // nil when the client talks to sim.Start's listener
	pool   *x509.CertPool
}

// newEnv starts a simulator with one account. recorded puts a recorder in
// front of it; otherwise the client uses the sim's own listener.
func newEnv(t *testing.T, opts envoysim.Options, recorded bool) *env {
	t.Helper()
	if opts.Accounts == nil {
		opts.Accounts = map[string]string{testEmail: testPassword}
	}
	// One frozen clock for the cloud and the client, so lifetimes and
	// "expired … ago" are exact (JWT times are whole seconds).
	now := time.Now().Truncate(time.Second)
	clock := func() time.Time { return now }
	opts.Now = clock
	sim, err := envoysim.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	e := &env{sim: sim, pool: x509.NewCertPool()}
	require.True(t, e.pool.AppendCertsFromPEM(sim.CertificatePEM()))
	if recorded {
		e.rec = &recorder{h: sim.Handler()}
		ts := httptest.NewUnstartedServer(e.rec)
		ts.TLS = sim.TLSConfig()
		ts.StartTLS()
		t.Cleanup(ts.Close)
		e.base = ts.URL
	} else {
		e.base, err = sim.Start("127.0.0.1:0")
		require.NoError(t, err)
	}
	e.client, err = enlighten.New(enlighten.Config{EnlightenURL: e.base, EntrezURL: e.base, RootCAs: e.pool, Now: clock})
	require.NoError(t, err)
	return e
}

// checkJWT asks the simulated gateway whether it accepts tok.
func (e *env) checkJWT(t *testing.T, tok string) int {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.pool}}, Timeout: 10 * time.Second}
	req, err := http.NewRequest(http.MethodGet, e.base+"/auth/check_jwt", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// requireSentinel checks err is want and none of the other sentinels.
func requireSentinel(t *testing.T, err, want error) {
	t.Helper()
	require.Error(t, err)
	for _, s := range sentinels {
		require.Equal(t, s == want, errors.Is(err, s), "errors.Is(%q, %q)", err, s)
	}
}

// requireNoSecrets checks an error text against the password, the sim's
// token, anything that looks like a JWT or a session_id, and the exact
// secrets a recorder saw.
func requireNoSecrets(t *testing.T, msg string, extra ...string) {
	t.Helper()
	require.NotContains(t, msg, testPassword)
	require.NotContains(t, msg, "hunter2")
	require.NotRegexp(t, jwtLike, msg)
	require.NotRegexp(t, hexID, msg)
	require.NotContains(t, msg, "eyJ")
	for _, s := range extra {
		if s != "" {
			require.NotContains(t, msg, s)
		}
	}
}

func TestMintAgainstSim(t *testing.T) {
	type want struct {
		role     string
		lifetime time.Duration
	}
	tests := []struct {
		name       string
		opts       envoysim.Options
		cloud      envoysim.Cloud
		email      string // default testEmail
		password   string // default testPassword
		wantErr    error  // nil: success
		wantMsg    []string
		wantTokens int // /tokens calls expected: proves no retry and no call after a failed login
		want       want
	}{
		{name: "ok raw", wantTokens: 1, want: want{"owner", year}},
		{name: "ok explicit modes", cloud: envoysim.Cloud{Login: "ok", Tokens: "ok", Form: "raw"}, wantTokens: 1, want: want{"owner", year}},
		{name: "ok wrapped (A2)", cloud: envoysim.Cloud{Form: "wrapped"}, wantTokens: 1, want: want{"owner", year}},
		{
			name:       "installer 12h from cloud (A7)",
			cloud:      envoysim.Cloud{Role: "installer", Lifetime: 12 * time.Hour},
			wantTokens: 1,
			want:       want{"installer", 12 * time.Hour},
		},
		{
			name:       "installer 12h wrapped (A7)",
			cloud:      envoysim.Cloud{Role: "installer", Lifetime: 12 * time.Hour, Form: "wrapped"},
			wantTokens: 1,
			want:       want{"installer", 12 * time.Hour},
		},
		{
			name:       "installer from options (A7)",
			opts:       envoysim.Options{Role: "installer", TokenLifetime: 12 * time.Hour},
			wantTokens: 1,
			want:       want{"installer", 12 * time.Hour},
		},
		{
			name: "html form (A2)", cloud: envoysim.Cloud{Form: "html"}, wantTokens: 1,
			wantErr: enlighten.ErrNotAToken, wantMsg: []string{"Entrez token for gateway ", "the cloud did not return a token", "an HTML page"},
		},
		{
			name: "garbage form (A2)", cloud: envoysim.Cloud{Form: "garbage"}, wantTokens: 1,
			wantErr: enlighten.ErrNotAToken, wantMsg: []string{"the cloud did not return a token", "an error message in plain text"},
		},
		{
			name: "bad credentials mode (A5)", cloud: envoysim.Cloud{Login: "bad-credentials"},
			wantErr: enlighten.ErrBadCredentials, wantMsg: []string{"Enlighten rejected the e-mail or password for owner@example.com", "401"},
		},
		{
			name: "wrong password (A5)", password: "wrong-password",
			wantErr: enlighten.ErrBadCredentials, wantMsg: []string{"Enlighten rejected the e-mail or password for owner@example.com"},
		},
		{
			name: "unknown account (A5)", email: "nobody@example.com",
			wantErr: enlighten.ErrBadCredentials, wantMsg: []string{"for nobody@example.com"},
		},
		{
			name: "MFA (A4)", cloud: envoysim.Cloud{Login: "mfa"},
			wantErr: enlighten.ErrMFA,
			wantMsg: []string{
				"Enlighten login for owner@example.com: the account has multi-factor authentication on: scripts cannot log in; paste a token from " +
					"https://entrez.enphaseenergy.com into token_file instead (see README)",
			},
		},
		{
			name: "locked: HTML login page with 200 (T2/A5)", cloud: envoysim.Cloud{Login: "locked"},
			wantErr: enlighten.ErrThrottled, wantMsg: []string{"the Enphase cloud is refusing logins for now (account locked or throttled): wait, do not retry " +
				"quickly", "HTML login page"},
		},
		{
			name: "login 429 (A5)", cloud: envoysim.Cloud{Login: "throttled"},
			wantErr: enlighten.ErrThrottled, wantMsg: []string{"wait, do not retry quickly", "429 Too Many Requests"},
		},
		{
			name: "login 503", cloud: envoysim.Cloud{Login: "down"},
			wantErr: enlighten.ErrUnavailable, wantMsg: []string{"Enlighten login for owner@example.com: the Enphase cloud is unreachable or failing (HTTP 503 " +
				"Service Unavailable)"},
		},
		{
			name: "tokens 503", cloud: envoysim.Cloud{Tokens: "down"}, wantTokens: 1,
			wantErr: enlighten.ErrUnavailable, wantMsg: []string{"Entrez token for gateway ", "the Enphase cloud is unreachable or failing (HTTP 503"},
		},
		{
			name: "tokens 403 (A5)", cloud: envoysim.Cloud{Tokens: "forbidden"}, wantTokens: 1,
			wantErr: enlighten.ErrThrottled, wantMsg: []string{"403 Forbidden", "not linked to owner@example.com's account"},
		},
		{
			name: "expired (A1)", cloud: envoysim.Cloud{Expired: true}, wantTokens: 1,
			wantErr: enlighten.ErrExpired, wantMsg: []string{"the cloud returned a token that expired at ", "(1h0m0s ago)", "check this computer's clock"},
		},
		{
			name: "other serial (E4/A6)", cloud: envoysim.Cloud{OtherSerial: "999999999999"}, wantTokens: 1,
			wantErr: enlighten.ErrWrongSerial, wantMsg: []string{"the cloud returned a token for another gateway", "the token is for 999999999999, not "},
		},
	}
	for _, front := range []string{"sim listener", "recorded"} {
		for _, tt := range tests {
			t.Run(front+"/"+tt.name, func(t *testing.T) {
				e := newEnv(t, tt.opts, front == "recorded")
				e.sim.SetCloud(tt.cloud)
				email, password := testEmail, testPassword
				if tt.email != "" {
					email = tt.email
				}
				if tt.password != "" {
					password = tt.password
				}
				tok, err := e.client.Mint(context.Background(), email, password, e.sim.Serial())

				st := e.sim.Stats()
				require.Equal(t, 1, st.CloudLogin, "login calls")
				require.Equal(t, tt.wantTokens, st.CloudTokens, "/tokens calls")

				if tt.wantErr == nil {
					require.NoError(t, err)
					require.Equal(t, e.sim.Serial(), tok.Serial)
					require.Equal(t, tt.want.role, tok.Role)
					require.Equal(t, testEmail, tok.Username)
					require.Equal(t, tt.want.lifetime, tok.Expires.Sub(tok.IssuedAt))
					require.Equal(t, 3, len(strings.Split(tok.Raw, ".")))
					require.NotContains(t, tok.String(), tok.Raw)
					// Signed with the sim's key: the gateway takes it.
					require.Equal(t, http.StatusOK, e.checkJWT(t, tok.Raw))
					return
				}
				t.Log(err)
				requireSentinel(t, err, tt.wantErr)
				require.Equal(t, token.Token{}, tok)
				for _, m := range tt.wantMsg {
					require.Contains(t, err.Error(), m)
				}
				if tt.wantErr == enlighten.ErrWrongSerial {
					require.Contains(t, err.Error(), e.sim.Serial())
				}
				var seen []string
				if e.rec != nil {
					seen = e.rec.all()
					if tt.wantTokens == 1 && tt.cloud.Tokens == "" {
						require.NotEmpty(t, seen, "the recorder saw no session_id")
					}
				}
				requireNoSecrets(t, err.Error(), append(seen, e.sim.Token(), password)...)
			})
		}
	}
}

func TestMintRevokedTokenRenewal(t *testing.T) {
	// After Enphase revokes tokens, the old one fails check_jwt and a freshly
	// minted one works: the renewal path the plugin relies on (A6).
	e := newEnv(t, envoysim.Options{}, false)
	require.Equal(t, http.StatusOK, e.checkJWT(t, e.sim.Token()))
	e.sim.RevokeTokens()
	require.Equal(t, http.StatusUnauthorized, e.checkJWT(t, e.sim.Token()))
	tok, err := e.client.Mint(context.Background(), testEmail, testPassword, e.sim.Serial())
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, e.checkJWT(t, tok.Raw))
}

func TestClientClock(t *testing.T) {
	// A token the cloud thinks is fine is expired by this computer's clock (A10):
	// reported as ErrExpired, not used.
	e := newEnv(t, envoysim.Options{}, false)
	c, err := enlighten.New(enlighten.Config{
		EnlightenURL: e.base, EntrezURL: e.base, RootCAs: e.pool,
		Now: func() time.Time { return time.Now().Add(2 * year) },
	})
	require.NoError(t, err)
	_, err = c.Mint(context.Background(), testEmail, testPassword, e.sim.Serial())
	requireSentinel(t, err, enlighten.ErrExpired)
	requireNoSecrets(t, err.Error(), e.sim.Token())
}

func TestUntrustedCertificate(t *testing.T) {
	e := newEnv(t, envoysim.Options{}, false)
	c, err := enlighten.New(enlighten.Config{EnlightenURL: e.base, EntrezURL: e.base}) // system roots
	require.NoError(t, err)
	_, err = c.Mint(context.Background(), testEmail, testPassword, e.sim.Serial())
	requireSentinel(t, err, enlighten.ErrUnavailable)
	require.Contains(t, err.Error(), "certificate")
	require.Contains(t, err.Error(), "not trusted")
	t.Log(err)
	require.NotContains(t, err.Error(), `Post "`, "the URL wrapper is dropped")
	requireNoSecrets(t, err.Error())
	require.Equal(t, 0, e.sim.Stats().CloudLogin, "nothing may be sent over an unverified connection")
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	var calls sync.WaitGroup
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		defer calls.Done()
		select { // a cloud that does not answer
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release); ts.Close() })
	pool := x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	c, err := enlighten.New(enlighten.Config{EnlightenURL: ts.URL, EntrezURL: ts.URL, RootCAs: pool, Timeout: 100 * time.Millisecond})
	require.NoError(t, err)

	start := time.Now()
	_, err = c.Mint(context.Background(), testEmail, testPassword, "122301234567")
	require.Less(t, time.Since(start), 5*time.Second)
	requireSentinel(t, err, enlighten.ErrUnavailable)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Contains(t, err.Error(), "no answer within 100ms")
	t.Log(err)
	requireNoSecrets(t, err.Error())
}

func TestConnectionErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedURL := "https://" + ln.Addr().String()
	require.NoError(t, ln.Close())

	c, err := enlighten.New(enlighten.Config{EnlightenURL: closedURL, EntrezURL: closedURL, Timeout: 5 * time.Second})
	require.NoError(t, err)
	_, err = c.Mint(context.Background(), testEmail, testPassword, "122301234567")
	requireSentinel(t, err, enlighten.ErrUnavailable)
	require.Contains(t, err.Error(), "cannot connect")
	t.Log(err)
	requireNoSecrets(t, err.Error())

	// The caller giving up is not the cloud failing.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = c.Mint(ctx, testEmail, testPassword, "122301234567")
	require.ErrorIs(t, err, context.Canceled)
	for _, s := range sentinels {
		require.NotErrorIs(t, err, s)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		cfg     enlighten.Config
		wantErr string
	}{
		{name: "defaults", cfg: enlighten.Config{}},
		{name: "trailing slash", cfg: enlighten.Config{EnlightenURL: "https://127.0.0.1:8443/", EntrezURL: "https://localhost/base/"}},
		{name: "http refused", cfg: enlighten.Config{EnlightenURL: "http://127.0.0.1:8080"}, wantErr: "must start with https://"},
		{name: "http localhost refused", cfg: enlighten.Config{EntrezURL: "http://localhost"}, wantErr: "EntrezURL"},
		{name: "no scheme", cfg: enlighten.Config{EnlightenURL: "enlighten.enphaseenergy.com"}, wantErr: "must start with https://"},
		{name: "no host", cfg: enlighten.Config{EnlightenURL: "https://"}, wantErr: "has no host"},
		{name: "not a URL", cfg: enlighten.Config{EnlightenURL: "https://%zz"}, wantErr: "is not a URL"},
		{name: "user info", cfg: enlighten.Config{EnlightenURL: "https://me:pw@example.com"}, wantErr: "must not contain a user or password"},
		{name: "query", cfg: enlighten.Config{EntrezURL: "https://example.com/?x=1"}, wantErr: "query"},
		{name: "negative timeout", cfg: enlighten.Config{Timeout: -time.Second}, wantErr: "Timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := enlighten.New(tt.cfg)
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.NotNil(t, c)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
			require.NotContains(t, err.Error(), ":pw@")
		})
	}
}

func TestMintArguments(t *testing.T) {
	e := newEnv(t, envoysim.Options{}, false)
	tests := []struct {
		name, email, password, serial, wantErr string
	}{
		{"no e-mail", " ", testPassword, e.sim.Serial(), "no e-mail"},
		{"no password", testEmail, "", e.sim.Serial(), "no password given for owner@example.com"},
		{"no serial", testEmail, testPassword, "", "no gateway serial"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.client.Mint(context.Background(), tt.email, tt.password, tt.serial)
			require.ErrorContains(t, err, tt.wantErr)
			for _, s := range sentinels {
				require.NotErrorIs(t, err, s)
			}
		})
	}
	require.Equal(t, 0, e.sim.Stats().CloudLogin)
}

// fakeCloud answers the shapes the simulator does not produce, with secrets
// it knows, and checks what the client sends.
type fakeCloud struct {
	t            *testing.T
	login        func(w http.ResponseWriter)
	tokens       func(w http.ResponseWriter)
	mu           sync.Mutex
	loginCalls   int
	tokensCalls  int
	redirectHits int
}

const (
	fakeSession = "SESSION-SECRET-4711"
	fakeSerial  = "122301234567"
)

func (f *fakeCloud) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.URL.Path {
	case "/login/login.json":
		f.loginCalls++
		if r.Method != http.MethodPost || r.Header.Get("Accept") != "application/json" ||
			r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" ||
			r.PostFormValue("user[email]") != testEmail || r.PostFormValue("user[password]") != testPassword {
			f.t.Errorf("bad login request: %s %v", r.Method, r.Header)
		}
		f.login(w)
	case "/tokens":
		f.tokensCalls++
		var req map[string]string
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &req); err != nil || r.Header.Get("Content-Type") != "application/json" ||
			req["session_id"] != fakeSession || req["serial_num"] != fakeSerial || req["username"] != testEmail || len(req) != 3 {
			f.t.Errorf("bad /tokens request: %s %v", body, r.Header)
		}
		f.tokens(w)
	default:
		f.redirectHits++
	}
}

func fakeToken(t *testing.T, aud string, exp time.Time) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"aud": aud, "iss": "Entrez", "enphaseUser": "owner", "username": testEmail,
		"iat": time.Now().Unix(), "exp": exp.Unix(), "jti": "00000000-0000-4000-8000-000000000000",
	}).SignedString([]byte("test-key"))
	require.NoError(t, err)
	return s
}

func TestMintAgainstFakeCloud(t *testing.T) {
	good := fakeToken(t, fakeSerial, time.Now().Add(year))
	respond := func(code int, ct, body string, cookies ...*http.Cookie) func(http.ResponseWriter) {
		return func(w http.ResponseWriter) {
			for _, c := range cookies {
				http.SetCookie(w, c)
			}
			if ct != "" {
				w.Header().Set("Content-Type", ct)
			}
			w.WriteHeader(code)
			_, _ = io.WriteString(w, body)
		}
	}
	okLogin := respond(200, "application/json", `{"message":"success","session_id":"`+fakeSession+`","manager_token":"`+good+`","is_consumer":true}`)
	okTokens := respond(200, "text/html", good) // a bare JWT labelled text/html still counts
	tests := []struct {
		name       string
		login      func(http.ResponseWriter)
		tokens     func(http.ResponseWriter)
		wantErr    error  // nil with wantPlain "": success
		wantPlain  string // a plain error (no sentinel) containing this
		wantMsg    string
		wantTokens int
	}{
		{name: "raw JWT labelled text/html", login: okLogin, tokens: okTokens, wantTokens: 1},
		{name: "raw JWT with CRLF", login: okLogin, tokens: respond(200, "", good+"\r\n"), wantTokens: 1},
		{name: "quoted JWT (A2)", login: okLogin, tokens: respond(200, "application/json", `"`+good+`"`), wantTokens: 1},
		{
			name:       "wrapper (A2)",
			login:      okLogin,
			tokens:     respond(200, "application/json", `{"generation_time":1,"token":"`+good+`","expires_at":2}`),
			wantTokens: 1,
		},
		{
			name:    "MFA marker mfa_required",
			login:   respond(200, "application/json", `{"mfa_required":true}`),
			wantErr: enlighten.ErrMFA,
			wantMsg: "paste a token from https://entrez.enphaseenergy.com into token_file",
		},
		{
			name:    "MFA cookie only",
			login:   respond(200, "application/json", `{}`, &http.Cookie{Name: "login_otp_nonce", Value: "NONCE-SECRET"}),
			wantErr: enlighten.ErrMFA,
			wantMsg: "multi-factor authentication on: scripts cannot log in",
		},
		{
			name:    "no session_id, no marker",
			login:   respond(200, "application/json", `{"message":"Invalid email or password"}`),
			wantErr: enlighten.ErrMFA,
			wantMsg: "no MFA marker",
		},
		{name: "isBlocked", login: respond(200, "application/json", `{"success":false,"isBlocked":true}`), wantErr: enlighten.ErrThrottled, wantMsg: "blocked"},
		{name: "login 403", login: respond(403, "text/html", "<html>forbidden</html>"), wantErr: enlighten.ErrThrottled, wantMsg: "403 Forbidden"},
		{name: "login 405 (A5)", login: respond(405, "text/html", "<html>405</html>"), wantErr: enlighten.ErrThrottled, wantMsg: "changed the URL"},
		{name: "login 500", login: respond(500, "text/plain", "boom "+fakeSession), wantErr: enlighten.ErrUnavailable, wantMsg: "500 Internal Server Error"},
		{name: "login 406", login: respond(406, "text/html", "<html>406</html>"), wantPlain: "unexpected HTTP 406 Not Acceptable"},
		{name: "login redirect is not followed", login: func(w http.ResponseWriter) {
			w.Header().Set("Location", "/elsewhere?session="+fakeSession)
			w.WriteHeader(http.StatusTemporaryRedirect)
		}, wantPlain: "unexpected redirect (HTTP 307 Temporary Redirect)"},
		{name: "login not JSON", login: respond(200, "text/plain", "ok "+fakeSession), wantPlain: "plain text instead of the expected JSON object"},
		{name: "login JSON of another shape", login: respond(200, "application/json", `{"session_id":4711}`), wantPlain: "JSON of an unexpected shape"},
		{
			name:       "tokens 401",
			login:      okLogin,
			tokens:     respond(401, "application/json", `{"session":"`+fakeSession+`"}`),
			wantPlain:  "Entrez refused the fresh Enlighten session (HTTP 401 Unauthorized)",
			wantTokens: 1,
		},
		{name: "tokens 429", login: okLogin, tokens: respond(429, "", ""), wantErr: enlighten.ErrThrottled, wantMsg: "429", wantTokens: 1},
		{
			name:       "tokens 502",
			login:      okLogin,
			tokens:     respond(502, "", fakeSession),
			wantErr:    enlighten.ErrUnavailable,
			wantMsg:    "502 Bad Gateway",
			wantTokens: 1,
		},
		{
			name:       "tokens 404",
			login:      okLogin,
			tokens:     respond(404, "", ""),
			wantPlain:  "unexpected HTTP 404 Not Found: Enphase may have changed its token flow",
			wantTokens: 1,
		},
		{name: "tokens empty", login: okLogin, tokens: respond(200, "", " \n"), wantErr: enlighten.ErrNotAToken, wantMsg: "an empty body", wantTokens: 1},
		{
			name:       "tokens wrapper without token",
			login:      okLogin,
			tokens:     respond(200, "application/json", `{"expires_at":1}`),
			wantErr:    enlighten.ErrNotAToken,
			wantMsg:    `without a "token" key`,
			wantTokens: 1,
		},
		{
			name:       "tokens malformed JSON",
			login:      okLogin,
			tokens:     respond(200, "application/json", `{"token":`),
			wantErr:    enlighten.ErrNotAToken,
			wantMsg:    "malformed JSON",
			wantTokens: 1,
		},
		{
			name:       "tokens plain text",
			login:      okLogin,
			tokens:     respond(200, "text/plain", "maintenance "+fakeSession),
			wantErr:    enlighten.ErrNotAToken,
			wantMsg:    "it sent plain text with HTTP 200 instead of a JWT",
			wantTokens: 1,
		},
		{
			name:       "tokens wrapper with a non-JWT",
			login:      okLogin,
			tokens:     respond(200, "application/json", `{"token":"x.y"}`),
			wantErr:    enlighten.ErrNotAToken,
			wantMsg:    "a JSON wrapper whose token is not a gateway JWT",
			wantTokens: 1,
		},
		{
			name:       "tokens malformed JWT",
			login:      okLogin,
			tokens:     respond(200, "", "abc.def.ghi"),
			wantErr:    enlighten.ErrNotAToken,
			wantMsg:    "a malformed JWT",
			wantTokens: 1,
		},
		{
			name:       "tokens truncated JWT",
			login:      okLogin,
			tokens:     respond(200, "", good[:strings.LastIndex(good, ".")]),
			wantErr:    enlighten.ErrNotAToken,
			wantMsg:    "plain text",
			wantTokens: 1,
		},
		{
			name:       "tokens HTML textarea (Flow B page)",
			login:      okLogin,
			tokens:     respond(200, "text/html", `<textarea id="JWTToken">`+good+`</textarea>`),
			wantErr:    enlighten.ErrNotAToken,
			wantMsg:    "an HTML page",
			wantTokens: 1,
		},
		{
			name:       "tokens for another serial",
			login:      okLogin,
			tokens:     respond(200, "", fakeToken(t, "999999999999", time.Now().Add(year))),
			wantErr:    enlighten.ErrWrongSerial,
			wantMsg:    "the token is for 999999999999, not 122301234567",
			wantTokens: 1,
		},
		{
			name:       "tokens expired",
			login:      okLogin,
			tokens:     respond(200, "", fakeToken(t, fakeSerial, time.Now().Add(-48*time.Hour))),
			wantErr:    enlighten.ErrExpired,
			wantMsg:    "the cloud returned a token that expired at ",
			wantTokens: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeCloud{t: t, login: tt.login, tokens: tt.tokens}
			ts := httptest.NewTLSServer(f)
			t.Cleanup(ts.Close)
			pool := x509.NewCertPool()
			pool.AddCert(ts.Certificate())
			c, err := enlighten.New(enlighten.Config{EnlightenURL: ts.URL, EntrezURL: ts.URL + "/", RootCAs: pool})
			require.NoError(t, err)

			tok, err := c.Mint(context.Background(), " "+testEmail+" ", testPassword, fakeSerial)
			f.mu.Lock()
			require.Equal(t, 1, f.loginCalls)
			require.Equal(t, tt.wantTokens, f.tokensCalls)
			require.Zero(t, f.redirectHits)
			f.mu.Unlock()
			if err != nil {
				t.Log(err)
			}
			switch {
			case tt.wantErr != nil:
				requireSentinel(t, err, tt.wantErr)
				require.Contains(t, err.Error(), tt.wantMsg)
			case tt.wantPlain != "":
				requireSentinel(t, err, nil)
				require.Contains(t, err.Error(), tt.wantPlain)
			default:
				require.NoError(t, err)
				require.Equal(t, good, tok.Raw)
				require.Equal(t, fakeSerial, tok.Serial)
				return
			}
			requireNoSecrets(t, err.Error(), fakeSession, "SESSION-SECRET", "NONCE-SECRET", good)
		})
	}
}
