package envoysim

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

const (
	cloudEmail    = "owner@example.com"
	cloudPassword = "s3cret:pw"
)

func cloudOpts(o Options) Options {
	o.Captures = testCaptures()
	if o.Accounts == nil {
		o.Accounts = map[string]string{cloudEmail: cloudPassword, "installer@example.com": "pw2"}
	}
	return o
}

func post(t *testing.T, c *http.Client, target, contentType, body string, hdr map[string]string) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return result{code: resp.StatusCode, header: resp.Header, body: string(b), resp: resp}
}

var acceptJSON = map[string]string{"Accept": "application/json"}

func loginForm(email, password string) string {
	return url.Values{"user[email]": {email}, "user[password]": {password}}.Encode()
}

// login does a successful Enlighten login and returns the session_id.
func login(t *testing.T, c *http.Client, base, email, password string) string {
	t.Helper()
	r := post(t, c, base+"/login/login.json", "application/x-www-form-urlencoded", loginForm(email, password), acceptJSON)
	require.Equal(t, http.StatusOK, r.code, r.body)
	var reply struct {
		SessionID string `json:"session_id"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.body), &reply))
	require.NotEmpty(t, reply.SessionID)
	return reply.SessionID
}

func tokensBody(session, serial, user string) string {
	b, _ := json.Marshal(map[string]string{"session_id": session, "serial_num": serial, "username": user})
	return string(b)
}

func claimsOf(t *testing.T, raw string) jwt.MapClaims {
	t.Helper()
	c := jwt.MapClaims{}
	_, _, err := jwt.NewParser().ParseUnverified(strings.TrimSpace(raw), c)
	require.NoError(t, err)
	return c
}

func TestCloudLogin(t *testing.T) {
	var multipartBody bytes.Buffer
	mw := multipart.NewWriter(&multipartBody)
	require.NoError(t, mw.WriteField("user[email]", cloudEmail))
	require.NoError(t, mw.WriteField("user[password]", cloudPassword))
	require.NoError(t, mw.Close())

	form := "application/x-www-form-urlencoded"
	tests := []struct {
		name        string
		cloud       Cloud
		method      string
		path        string // default /login/login.json
		contentType string
		body        string
		hdr         map[string]string
		wantCode    int
		wantCT      string
		wantSession bool
		wantCookie  bool
		contains    string
	}{
		{
			name:        "ok",
			contentType: form,
			body:        loginForm(cloudEmail, cloudPassword),
			hdr:         acceptJSON,
			wantCode:    200,
			wantCT:      "application/json; charset=utf-8",
			wantSession: true,
			contains:    `"manager_token":"eyJ`,
		},
		{
			name:        "ok with trailing ? (pyenphase)",
			path:        "/login/login.json?",
			contentType: form,
			body:        loginForm(cloudEmail, cloudPassword),
			hdr:         acceptJSON,
			wantCode:    200,
			wantSession: true,
		},
		{
			name:        "ok multipart (curl -F)",
			contentType: mw.FormDataContentType(),
			body:        multipartBody.String(),
			hdr:         acceptJSON,
			wantCode:    200,
			wantSession: true,
		},
		{
			name:        "ok Accept */*",
			contentType: form,
			body:        loginForm(cloudEmail, cloudPassword),
			hdr:         map[string]string{"Accept": "text/html, */*;q=0.1"},
			wantCode:    200,
			wantSession: true,
		},
		{name: "second account", contentType: form, body: loginForm("installer@example.com", "pw2"), hdr: acceptJSON, wantCode: 200, wantSession: true},
		{name: "no Accept: 406", contentType: form, body: loginForm(cloudEmail, cloudPassword), wantCode: 406},
		{name: "wrong password", contentType: form, body: loginForm(cloudEmail, "nope"), hdr: acceptJSON, wantCode: 401, contains: "Invalid email or password"},
		{name: "other account's password", contentType: form, body: loginForm(cloudEmail, "pw2"), hdr: acceptJSON, wantCode: 401},
		{name: "unknown account", contentType: form, body: loginForm("x@example.com", cloudPassword), hdr: acceptJSON, wantCode: 401},
		{name: "empty form", contentType: form, hdr: acceptJSON, wantCode: 401},
		{name: "GET", method: http.MethodGet, hdr: acceptJSON, wantCode: 405},
		{
			name:        "mode ok",
			cloud:       Cloud{Login: "ok"},
			contentType: form,
			body:        loginForm(cloudEmail, cloudPassword),
			hdr:         acceptJSON,
			wantCode:    200,
			wantSession: true,
		},
		{
			name:        "mode bad-credentials, right password",
			cloud:       Cloud{Login: "bad-credentials"},
			contentType: form,
			body:        loginForm(cloudEmail, cloudPassword),
			hdr:         acceptJSON,
			wantCode:    401,
		},
		{
			name:        "mode mfa",
			cloud:       Cloud{Login: "mfa"},
			contentType: form,
			body:        loginForm(cloudEmail, cloudPassword),
			hdr:         acceptJSON,
			wantCode:    200,
			wantCookie:  true,
			contains:    `{"isBlocked":false,"success":true}`,
		},
		{name: "mode mfa, wrong password", cloud: Cloud{Login: "mfa"}, contentType: form, body: loginForm(cloudEmail, "nope"), hdr: acceptJSON, wantCode: 401},
		{
			name:        "mode locked",
			cloud:       Cloud{Login: "locked"},
			contentType: form,
			body:        loginForm(cloudEmail, cloudPassword),
			hdr:         acceptJSON,
			wantCode:    200,
			wantCT:      "text/html; charset=utf-8",
			contains:    "<form action=\"/login/login\"",
		},
		{
			name:        "mode throttled",
			cloud:       Cloud{Login: "throttled"},
			contentType: form,
			body:        loginForm(cloudEmail, cloudPassword),
			hdr:         acceptJSON,
			wantCode:    429,
		},
		{name: "mode down", cloud: Cloud{Login: "down"}, contentType: form, body: loginForm(cloudEmail, cloudPassword), hdr: acceptJSON, wantCode: 503},
		{
			name:        "unknown mode",
			cloud:       Cloud{Login: "sideways"},
			contentType: form,
			body:        loginForm(cloudEmail, cloudPassword),
			hdr:         acceptJSON,
			wantCode:    500,
			contains:    `unknown cloud login mode "sideways"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c, base := startSim(t, cloudOpts(Options{}))
			s.SetCloud(tt.cloud)
			path := tt.path
			if path == "" {
				path = "/login/login.json"
			}
			var r result
			if tt.method == http.MethodGet {
				r = do(t, c, http.MethodGet, base+path, tt.hdr)
			} else {
				r = post(t, c, base+path, tt.contentType, tt.body, tt.hdr)
			}
			require.Equal(t, tt.wantCode, r.code, r.body)
			if tt.wantCT != "" {
				require.Equal(t, tt.wantCT, r.header.Get("Content-Type"))
			}
			require.Contains(t, r.body, tt.contains)
			var reply map[string]any
			_ = json.Unmarshal([]byte(r.body), &reply)
			sid, _ := reply["session_id"].(string)
			require.Equal(t, tt.wantSession, sid != "", "session_id in %s", r.body)
			if tt.wantSession {
				require.Regexp(t, `^[0-9a-f]{32}$`, sid)
				require.Equal(t, "success", reply["message"])
				require.Equal(t, true, reply["is_consumer"])
			}
			var nonce bool
			for _, ck := range r.resp.Cookies() {
				nonce = nonce || (ck.Name == "login_otp_nonce" && ck.Value != "")
			}
			require.Equal(t, tt.wantCookie, nonce)

			st := s.Stats()
			require.Equal(t, 1, st.CloudLogin)
			require.Equal(t, 1, st.Requests["/login/login.json"])
			require.Equal(t, 0, st.Unauthorized, "cloud 401s are not the gateway's")
		})
	}
}

func TestCloudTokens(t *testing.T) {
	clock := NewClock(time.Unix(1700000000, 0))
	s, c, base := startSim(t, cloudOpts(Options{Now: clock.Now}))
	sid := login(t, c, base, cloudEmail, cloudPassword)
	other := login(t, c, base, "installer@example.com", "pw2")
	url := base + "/tokens"
	js := "application/json"

	tests := []struct {
		name     string
		cloud    Cloud
		body     string
		wantCode int
		wantCT   string
		contains string
		// For 200 with a JWT: the claims to check.
		wantAud, wantRole string
		wantIat, wantExp  int64
	}{
		{name: "ok raw", body: tokensBody(sid, testSerial, cloudEmail), wantCode: 200, wantCT: "text/plain; charset=utf-8",
			wantAud: testSerial, wantRole: "owner", wantIat: 1700000000, wantExp: 1700000000 + 365*24*3600},
		{
			name:     "ok wrapped",
			cloud:    Cloud{Form: "wrapped"},
			body:     tokensBody(sid, testSerial, cloudEmail),
			wantCode: 200,
			wantCT:   "application/json; charset=utf-8",
			contains: `"generation_time":1700000000`,
			wantAud:  testSerial,
			wantRole: "owner",
			wantIat:  1700000000,
			wantExp:  1700000000 + 365*24*3600,
		},
		{name: "installer 12h", cloud: Cloud{Role: "installer", Lifetime: 12 * time.Hour}, body: tokensBody(sid, testSerial, cloudEmail), wantCode: 200,
			wantAud: testSerial, wantRole: "installer", wantIat: 1700000000, wantExp: 1700000000 + 12*3600},
		{name: "expired an hour ago", cloud: Cloud{Expired: true, Lifetime: 12 * time.Hour}, body: tokensBody(sid, testSerial, cloudEmail), wantCode: 200,
			wantAud: testSerial, wantRole: "owner", wantIat: 1700000000 - 13*3600, wantExp: 1700000000 - 3600},
		{name: "other serial", cloud: Cloud{OtherSerial: "999999999999"}, body: tokensBody(sid, testSerial, cloudEmail), wantCode: 200,
			wantAud: "999999999999", wantRole: "owner", wantIat: 1700000000, wantExp: 1700000000 + 365*24*3600},
		{
			name:     "html form",
			cloud:    Cloud{Form: "html"},
			body:     tokensBody(sid, testSerial, cloudEmail),
			wantCode: 200,
			wantCT:   "text/html; charset=utf-8",
			contains: "<html>",
		},
		{name: "garbage form", cloud: Cloud{Form: "garbage"}, body: tokensBody(sid, testSerial, cloudEmail), wantCode: 200, contains: "Error: something"},
		{name: "down", cloud: Cloud{Tokens: "down"}, body: tokensBody(sid, testSerial, cloudEmail), wantCode: 503},
		{name: "forbidden", cloud: Cloud{Tokens: "forbidden"}, body: tokensBody(sid, testSerial, cloudEmail), wantCode: 403},
		{
			name:     "unknown session",
			body:     tokensBody("0123456789abcdef0123456789abcdef", testSerial, cloudEmail),
			wantCode: 401,
			wantCT:   "application/json; charset=utf-8",
			contains: "invalid session",
		},
		{name: "no session", body: tokensBody("", testSerial, cloudEmail), wantCode: 401},
		{name: "another account's session", body: tokensBody(other, testSerial, cloudEmail), wantCode: 401, contains: "username does not match"},
		{name: "wrong username", body: tokensBody(sid, testSerial, "x@example.com"), wantCode: 401},
		{name: "serial not linked", body: tokensBody(sid, "999999999999", cloudEmail), wantCode: 403, contains: "not linked"},
		{name: "not JSON", body: "session_id=" + sid, wantCode: 400},
		{name: "unknown form", cloud: Cloud{Form: "yaml"}, body: tokensBody(sid, testSerial, cloudEmail), wantCode: 500, contains: "unknown cloud form mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.SetCloud(tt.cloud)
			r := post(t, c, url, js, tt.body, nil)
			require.Equal(t, tt.wantCode, r.code, r.body)
			if tt.wantCT != "" {
				require.Equal(t, tt.wantCT, r.header.Get("Content-Type"))
			}
			require.Contains(t, r.body, tt.contains)
			if tt.wantAud == "" {
				return
			}
			raw := r.body
			if strings.HasPrefix(raw, "{") {
				var w struct {
					Token     string `json:"token"`
					ExpiresAt int64  `json:"expires_at"`
				}
				require.NoError(t, json.Unmarshal([]byte(raw), &w))
				require.Equal(t, tt.wantExp, w.ExpiresAt)
				raw = w.Token
			} else {
				require.True(t, strings.HasSuffix(raw, "\n"), "raw form ends in a newline")
			}
			cl := claimsOf(t, raw)
			require.Equal(t, tt.wantAud, cl["aud"])
			require.Equal(t, tt.wantRole, cl["enphaseUser"])
			require.Equal(t, cloudEmail, cl["username"])
			require.Equal(t, "Entrez", cl["iss"])
			require.EqualValues(t, tt.wantIat, cl["iat"])
			require.EqualValues(t, tt.wantExp, cl["exp"])
			// Signed with the gateway's key: it accepts fresh tokens for itself.
			wantGateway := http.StatusUnauthorized
			if tt.wantAud == testSerial && !tt.cloud.Expired {
				wantGateway = http.StatusOK
			}
			require.Equal(t, wantGateway, do(t, c, http.MethodGet, base+"/auth/check_jwt", bearerHdr(strings.TrimSpace(raw))).code)
		})
	}
	s.SetCloud(Cloud{})
	require.Equal(t, http.StatusMethodNotAllowed, do(t, c, http.MethodGet, url, nil).code)
}

func TestSimCloudEndpoint(t *testing.T) {
	s, c, base := startSim(t, cloudOpts(Options{}))
	ctl := base + "/__sim/cloud"

	r := post(
		t,
		c,
		ctl,
		"application/json",
		`{"login":"mfa","tokens":"forbidden","form":"wrapped","role":"installer","lifetime":"12h","expired":true,"other_serial":"999"}`,
		nil,
	)
	require.Equal(t, http.StatusNoContent, r.code, r.body)
	want := Cloud{Login: "mfa", Tokens: "forbidden", Form: "wrapped", Role: "installer", Lifetime: 12 * time.Hour, Expired: true, OtherSerial: "999"}
	require.Equal(t, want, s.Cloud())

	r = do(t, c, http.MethodGet, ctl, nil)
	require.Equal(t, http.StatusOK, r.code)
	require.JSONEq(
		t,
		`{"login":"mfa","tokens":"forbidden","form":"wrapped","role":"installer","lifetime":"12h0m0s","expired":true,"other_serial":"999"}`,
		r.body,
	)

	// The behaviour applies to the next request.
	require.Equal(
		t,
		http.StatusOK,
		post(t, c, base+"/login/login.json", "application/x-www-form-urlencoded", loginForm(cloudEmail, cloudPassword), acceptJSON).code,
	)

	bad := []struct{ name, body, contains string }{
		{"unknown field", `{"logn":"mfa"}`, "unknown field"},
		{"unknown login mode", `{"login":"maybe"}`, `unknown cloud login mode "maybe"`},
		{"unknown tokens mode", `{"tokens":"slow"}`, "unknown cloud tokens mode"},
		{"unknown form", `{"form":"xml"}`, "unknown cloud form mode"},
		{"lifetime not a duration", `{"lifetime":"a year"}`, "lifetime"},
		{"lifetime a number", `{"lifetime":3600}`, "cannot unmarshal"},
		{"negative lifetime", `{"lifetime":"-1h"}`, "negative"},
		{"not JSON", `login=mfa`, "invalid character"},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			r := post(t, c, ctl, "application/json", b.body, nil)
			require.Equal(t, http.StatusBadRequest, r.code)
			require.Contains(t, r.body, b.contains)
			require.Equal(t, want, s.Cloud(), "a rejected POST changes nothing")
		})
	}

	// {} and an empty body both reset to a healthy cloud.
	require.Equal(t, http.StatusNoContent, post(t, c, ctl, "application/json", `{"login":"down"}`, nil).code)
	require.Equal(t, Cloud{Login: "down"}, s.Cloud())
	require.Equal(t, http.StatusNoContent, post(t, c, ctl, "application/json", `{}`, nil).code)
	require.Equal(t, Cloud{}, s.Cloud())
	s.SetCloud(Cloud{Login: "down"})
	require.Equal(t, http.StatusNoContent, post(t, c, ctl, "", "", nil).code)
	require.Equal(t, Cloud{}, s.Cloud())
	require.JSONEq(t, `{"login":"","tokens":"","form":"","role":"","lifetime":"","expired":false,"other_serial":""}`, do(t, c, http.MethodGet, ctl, nil).body)

	require.Equal(t, http.StatusMethodNotAllowed, do(t, c, http.MethodDelete, ctl, nil).code)

	st := s.Stats()
	require.Equal(t, 1, st.Total, "/__sim/* is not counted")
	require.Equal(t, 1, st.CloudLogin)
}

func TestCloudJSON(t *testing.T) {
	tests := []Cloud{
		{},
		{Login: "locked"},
		{Tokens: "down", Form: "garbage", Role: "installer", Lifetime: 90 * time.Minute, Expired: true, OtherSerial: "1"},
	}
	for _, c := range tests {
		b, err := json.Marshal(c)
		require.NoError(t, err)
		var back Cloud
		require.NoError(t, json.Unmarshal(b, &back))
		require.Equal(t, c, back, string(b))
	}
}

func TestRevokeTokens(t *testing.T) {
	// A frozen clock: revocation must not depend on iat seconds.
	clock := NewClock(time.Unix(1700000000, 0))
	s, c, base := startSim(t, cloudOpts(Options{Now: clock.Now}))
	now := clock.Now()
	old := s.Token()
	oldMinted := s.MintToken(testSerial, "owner", now, now.Add(time.Hour))
	sid := login(t, c, base, cloudEmail, cloudPassword)
	oldCloud := strings.TrimSpace(post(t, c, base+"/tokens", "application/json", tokensBody(sid, testSerial, cloudEmail), nil).body)
	cookie := checkJWT(t, c, base, old)
	require.Equal(t, 200, do(t, c, http.MethodGet, base+"/production.json", cookieHdr(cookie)).code)

	s.RevokeTokens()

	for name, tok := range map[string]string{"Token()": old, "MintToken": oldMinted, "cloud": oldCloud} {
		require.Equal(t, 401, do(t, c, http.MethodGet, base+"/auth/check_jwt", bearerHdr(tok)).code, name)
		require.Equal(t, 401, do(t, c, http.MethodGet, base+"/production.json", bearerHdr(tok)).code, name)
	}
	require.Equal(t, 401, do(t, c, http.MethodGet, base+"/production.json", cookieHdr(cookie)).code, "sessions end")

	// Tokens minted afterwards work, at the same instant and with the same iat;
	// the cloud session from before still mints.
	fresh := s.MintToken(testSerial, "owner", now, now.Add(time.Hour))
	freshCloud := strings.TrimSpace(post(t, c, base+"/tokens", "application/json", tokensBody(sid, testSerial, cloudEmail), nil).body)
	for name, tok := range map[string]string{"MintToken": fresh, "cloud": freshCloud} {
		ck := checkJWT(t, c, base, tok)
		require.Equal(t, 200, do(t, c, http.MethodGet, base+"/production.json", cookieHdr(ck)).code, name)
		require.Equal(t, 200, do(t, c, http.MethodGet, base+"/production.json", bearerHdr(tok)).code, name)
	}

	// Over HTTP, for envoy-sim run as a process.
	require.Equal(t, http.StatusMethodNotAllowed, do(t, c, http.MethodGet, base+"/__sim/revoke_tokens", nil).code)
	require.Equal(t, http.StatusNoContent, post(t, c, base+"/__sim/revoke_tokens", "", "", nil).code)
	require.Equal(t, 401, do(t, c, http.MethodGet, base+"/auth/check_jwt", bearerHdr(fresh)).code)
	require.Equal(t, 401, do(t, c, http.MethodGet, base+"/auth/check_jwt", bearerHdr(freshCloud)).code)
	newest := strings.TrimSpace(post(t, c, base+"/tokens", "application/json", tokensBody(sid, testSerial, cloudEmail), nil).body)
	require.Equal(t, 200, do(t, c, http.MethodGet, base+"/auth/check_jwt", bearerHdr(newest)).code)
}

func TestSessionMaxAge(t *testing.T) {
	clock := NewClock(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
	s, c, base := startSim(t, Options{Captures: testCaptures(), Now: clock.Now, SessionTTL: 10 * time.Minute, SessionMaxAge: 30 * time.Minute})
	ck := checkJWT(t, c, base, s.Token())
	steps := []struct {
		advance  time.Duration
		wantCode int
	}{
		{9 * time.Minute, 200}, // 9 min old
		{9 * time.Minute, 200}, // 18: the idle timeout slides
		{9 * time.Minute, 200}, // 27
		{2 * time.Minute, 200}, // 29
		{time.Minute, 401},     // 30: too old, however busy
		{0, 401},
	}
	for i, st := range steps {
		clock.Advance(st.advance)
		require.Equal(t, st.wantCode, do(t, c, http.MethodGet, base+"/production.json", cookieHdr(ck)).code, "step %d", i)
	}
	// A new check_jwt opens a new session with its own age.
	ck = checkJWT(t, c, base, s.Token())
	clock.Advance(29 * time.Minute)
	require.Equal(t, 401, do(t, c, http.MethodGet, base+"/production.json", cookieHdr(ck)).code, "idle timeout still applies")

	// 0 means no limit (TestSessionIdleTimeout covers the sliding part); negative is refused.
	_, err := New(Options{Captures: testCaptures(), SessionMaxAge: -time.Second})
	require.ErrorContains(t, err, "SessionMaxAge")
}

func TestCloudStats(t *testing.T) {
	s, c, base := startSim(t, cloudOpts(Options{}))
	form := "application/x-www-form-urlencoded"
	sid := login(t, c, base, cloudEmail, cloudPassword)
	post(t, c, base+"/login/login.json", form, loginForm(cloudEmail, "wrong"), acceptJSON) // 401
	do(t, c, http.MethodGet, base+"/login/login.json", nil)                                // 405
	post(t, c, base+"/login/login.json?", form, loginForm(cloudEmail, cloudPassword), nil) // 406
	s.SetCloud(Cloud{Login: "down", Tokens: "down"})
	post(t, c, base+"/login/login.json", form, loginForm(cloudEmail, cloudPassword), acceptJSON) // 503
	post(t, c, base+"/tokens", "application/json", tokensBody(sid, testSerial, cloudEmail), nil) // 503
	s.SetCloud(Cloud{})
	post(t, c, base+"/tokens", "application/json", tokensBody("nope", testSerial, cloudEmail), nil) // 401
	post(t, c, base+"/tokens", "application/json", tokensBody(sid, testSerial, cloudEmail), nil)    // 200
	post(t, c, base+"/__sim/cloud", "application/json", `{}`, nil)                                  // not counted

	want := Stats{
		Requests:     map[string]int{"/login/login.json": 5, "/tokens": 3},
		CheckJWT:     0,
		Unauthorized: 0,
		Total:        8,
		CloudLogin:   5,
		CloudTokens:  3,
		Faults:       map[string]int{},
	}
	require.Equal(t, want, s.Stats())
	r := do(t, c, http.MethodGet, base+"/__sim/stats", nil)
	require.Equal(t, http.StatusOK, r.code)
	var raw map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.body), &raw))
	require.EqualValues(t, 5, raw["cloud_login"])
	require.EqualValues(t, 3, raw["cloud_tokens"])
}

func TestAccountsOption(t *testing.T) {
	_, err := New(Options{Captures: testCaptures(), Accounts: map[string]string{"": "pw"}})
	require.ErrorContains(t, err, "empty e-mail")

	// New copies the map: later changes by the caller do not apply.
	accounts := map[string]string{cloudEmail: cloudPassword}
	_, c, base := startSim(t, Options{Captures: testCaptures(), Accounts: accounts})
	accounts[cloudEmail] = "changed"
	login(t, c, base, cloudEmail, cloudPassword)

	// No accounts: nobody logs in.
	_, c2, base2 := startSim(t, Options{Captures: testCaptures()})
	r := post(t, c2, base2+"/login/login.json", "application/x-www-form-urlencoded", loginForm(cloudEmail, cloudPassword), acceptJSON)
	require.Equal(t, http.StatusUnauthorized, r.code)
}
