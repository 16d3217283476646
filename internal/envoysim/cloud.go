package envoysim

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The cloud half of the simulator: the token flow of docs/envoy-api-notes.md section 1
// (Enlighten login.json, then Entrez /tokens), served on the gateway's own
// listener so a test trusts one certificate for both.
const (
	cloudLoginPath  = "/login/login.json"
	cloudTokensPath = "/tokens"
	otpCookie       = "login_otp_nonce"
	maxCloudBody    = 64 << 10
)

// Cloud is how the simulated Enphase cloud behaves. The zero value is a
// healthy cloud that mints raw JWTs with Options.Role and Options.TokenLifetime.
// Tests change it at run time with SetCloud or POST /__sim/cloud (JSON with
// the tags below; lifetime is a Go duration string such as "12h").
type Cloud struct {
	// Login: "" or "ok" checks the account; "bad-credentials" is 401 whatever
	// the password; "mfa" is 200 {"success":true,"isBlocked":false} plus a
	// login_otp_nonce cookie (for a correct password); "locked" is 200 with the
	// HTML login page; "throttled" is 429; "down" is 503.
	Login string `json:"login"`
	// Tokens: "" or "ok"; "down" is 503; "forbidden" is 403.
	Tokens string `json:"tokens"`
	// Form of a 200 /tokens body: "" or "raw" is the bare JWT plus "\n";
	// "wrapped" is {"generation_time","token","expires_at"}; "html" is an HTML
	// error page; "garbage" is "Error: ..." text.
	Form        string        `json:"form"`
	Role        string        `json:"role"`         // enphaseUser of minted tokens; "" = Options.Role
	Lifetime    time.Duration `json:"lifetime"`     // of minted tokens; 0 = Options.TokenLifetime
	Expired     bool          `json:"expired"`      // mint a token that expired an hour ago
	OtherSerial string        `json:"other_serial"` // mint for this aud instead of the gateway's serial
}

// cloudWire is Cloud on the wire, with Lifetime as a duration string.
type cloudWire struct {
	Login       string `json:"login"`
	Tokens      string `json:"tokens"`
	Form        string `json:"form"`
	Role        string `json:"role"`
	Lifetime    string `json:"lifetime"`
	Expired     bool   `json:"expired"`
	OtherSerial string `json:"other_serial"`
}

// MarshalJSON writes Lifetime as a Go duration string.
func (c Cloud) MarshalJSON() ([]byte, error) {
	w := cloudWire{Login: c.Login, Tokens: c.Tokens, Form: c.Form, Role: c.Role,
		Expired: c.Expired, OtherSerial: c.OtherSerial}
	if c.Lifetime != 0 {
		w.Lifetime = c.Lifetime.String()
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads Lifetime as a Go duration string and refuses unknown
// fields, so a typo in a test fails loudly instead of meaning "ok".
func (c *Cloud) UnmarshalJSON(b []byte) error {
	var w cloudWire
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return err
	}
	var lifetime time.Duration
	if w.Lifetime != "" {
		var err error
		if lifetime, err = time.ParseDuration(w.Lifetime); err != nil {
			return fmt.Errorf("lifetime: %w", err)
		}
	}
	*c = Cloud{Login: w.Login, Tokens: w.Tokens, Form: w.Form, Role: w.Role,
		Lifetime: lifetime, Expired: w.Expired, OtherSerial: w.OtherSerial}
	return nil
}

// check reports a mode the simulator does not know.
func (c Cloud) check() error {
	oneOf := func(field, v string, modes ...string) error {
		for _, m := range modes {
			if v == m {
				return nil
			}
		}
		return fmt.Errorf("envoysim: unknown cloud %s mode %q (want one of %s)", field, v, strings.Join(modes[1:], ", "))
	}
	if err := oneOf("login", c.Login, "", "ok", "bad-credentials", "mfa", "locked", "throttled", "down"); err != nil {
		return err
	}
	if err := oneOf("tokens", c.Tokens, "", "ok", "down", "forbidden"); err != nil {
		return err
	}
	if err := oneOf("form", c.Form, "", "raw", "wrapped", "html", "garbage"); err != nil {
		return err
	}
	if c.Lifetime < 0 {
		return errors.New("envoysim: cloud lifetime must not be negative")
	}
	return nil
}

// SetCloud changes how the simulated cloud behaves from the next request on.
// An unknown mode makes the cloud endpoints answer 500 with the reason.
func (s *Server) SetCloud(c Cloud) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cloud = c
}

// Cloud returns the current cloud behaviour.
func (s *Server) Cloud() Cloud {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cloud
}

const (
	// The page Enlighten serves, with 200, while it refuses logins
	// (barneyonline/ha-enphase-energy#528).
	enlightenLoginPage = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Enlighten | Log in</title></head>
<body><form action="/login/login" method="post" id="login-form">
<input type="email" name="user[email]"><input type="password" name="user[password]">
<input type="submit" value="Sign In"></form></body></html>
`
	entrezErrorPage = `<!DOCTYPE html>
<html><head><title>Entrez</title></head><body><h1>Something went wrong</h1><p>Please try again later.</p></body></html>
`
	entrezGarbage = "Error: something went wrong\n"
	page403       = `<html><head><title>403 Forbidden</title></head><body><center><h1>403 Forbidden</h1></center></body></html>` + "\n"
	page406       = `<html><head><title>406 Not Acceptable</title></head><body><center><h1>406 Not Acceptable</h1></center></body></html>` + "\n"
	page429       = `<html><head><title>429 Too Many Requests</title></head><body><center><h1>429 Too Many Requests</h1></center></body></html>` + "\n"
	page503       = `<html><head><title>503 Service Temporarily Unavailable</title></head><body><center><h1>503 Service Temporarily ` +
		`Unavailable</h1></center></body></html>` + "\n"
)

// cloudRequest answers what every cloud endpoint refuses alike: another
// method than POST, or a behaviour the test set wrongly.
func (s *Server) cloudRequest(w http.ResponseWriter, r *http.Request) (Cloud, bool) {
	if r.Method != http.MethodPost {
		notAllowed(w, "POST")
		return Cloud{}, false
	}
	c := s.cloudFaults(s.Cloud())
	if err := c.check(); err != nil {
		write(w, http.StatusInternalServerError, "text/plain", []byte(err.Error()+"\n"))
		return Cloud{}, false
	}
	return c, true
}

// serveCloudLogin is Enlighten's POST /login/login.json.
func (s *Server) serveCloudLogin(w http.ResponseWriter, r *http.Request) {
	c, ok := s.cloudRequest(w, r)
	if !ok {
		return
	}
	switch c.Login {
	case "throttled":
		write(w, http.StatusTooManyRequests, "text/html", []byte(page429))
		return
	case "down":
		write(w, http.StatusServiceUnavailable, "text/html", []byte(page503))
		return
	case "locked":
		write(w, http.StatusOK, "text/html; charset=utf-8", []byte(enlightenLoginPage))
		return
	case "bad-credentials":
		badLogin(w)
		return
	}
	// A Node-RED user got 406 without "the correct headers" (docs/envoy-api-notes.md section 1).
	if !acceptsJSON(r) {
		write(w, http.StatusNotAcceptable, "text/html", []byte(page406))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxCloudBody)
	email, password := r.PostFormValue("user[email]"), r.PostFormValue("user[password]")
	want, ok := s.opts.Accounts[email]
	if !ok || email == "" || subtle.ConstantTimeCompare([]byte(password), []byte(want)) != 1 {
		badLogin(w)
		return
	}
	if c.Login == "mfa" {
		// home-assistant/core#155793: no session_id, a nonce for the OTP step.
		http.SetCookie(w, &http.Cookie{Name: otpCookie, Value: randomHex(16), Path: "/", Secure: true, HttpOnly: true})
		writeJSON(w, http.StatusOK, map[string]any{"success": true, "isBlocked": false})
		return
	}

	sid := randomHex(16)
	s.mu.Lock()
	s.logins[sid] = email
	s.mu.Unlock()
	now := s.opts.Now()
	writeJSON(w, http.StatusOK, map[string]any{
		"message":       "success",
		"session_id":    sid,
		"manager_token": managerToken(sid, email, now),
		"is_consumer":   s.role(c) == "owner",
		"user_id":       4242,
		"user_name":     email,
		"first_name":    "Demo",
	})
}

// serveCloudTokens is Entrez's POST /tokens.
func (s *Server) serveCloudTokens(w http.ResponseWriter, r *http.Request) {
	c, ok := s.cloudRequest(w, r)
	if !ok {
		return
	}
	switch c.Tokens {
	case "down":
		write(w, http.StatusServiceUnavailable, "text/html", []byte(page503))
		return
	case "forbidden":
		write(w, http.StatusForbidden, "text/html", []byte(page403))
		return
	}
	var req struct {
		SessionID string `json:"session_id"`
		SerialNum string `json:"serial_num"`
		Username  string `json:"username"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxCloudBody)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Bad Request"})
		return
	}
	s.mu.Lock()
	email, ok := s.logins[req.SessionID]
	s.mu.Unlock()
	switch {
	case !ok || req.SessionID == "":
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Unauthorized: invalid session"})
		return
	case req.Username != email:
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Unauthorized: username does not match the session"})
		return
	case req.SerialNum != s.serial:
		// Undocumented in reality (docs/envoy-api-notes.md section 1); 403 is plausible.
		writeJSON(w, http.StatusForbidden, map[string]any{"message": "Forbidden: gateway not linked to this account"})
		return
	}

	switch c.Form {
	case "html":
		write(w, http.StatusOK, "text/html; charset=utf-8", []byte(entrezErrorPage))
		return
	case "garbage":
		write(w, http.StatusOK, "text/plain; charset=utf-8", []byte(entrezGarbage))
		return
	}
	lifetime := c.Lifetime
	if lifetime == 0 {
		lifetime = s.opts.TokenLifetime
	}
	iat := s.opts.Now()
	exp := iat.Add(lifetime)
	if c.Expired {
		exp = iat.Add(-time.Hour)
		iat = exp.Add(-lifetime)
	}
	aud := s.serial
	if c.OtherSerial != "" {
		aud = c.OtherSerial
	}
	tok := s.mint(aud, s.role(c), email, iat, exp)
	if c.Form == "wrapped" {
		writeJSON(w, http.StatusOK, map[string]any{"generation_time": iat.Unix(), "token": tok, "expires_at": exp.Unix()})
		return
	}
	write(w, http.StatusOK, "text/plain; charset=utf-8", []byte(tok+"\n"))
}

// serveSimCloud is /__sim/cloud: GET shows the behaviour, POST replaces it
// (an empty body resets it to a healthy cloud).
func (s *Server) serveSimCloud(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		writeJSON(w, http.StatusOK, s.Cloud())
	case http.MethodPost:
		var c Cloud
		err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxCloudBody)).Decode(&c)
		if err != nil && !errors.Is(err, io.EOF) {
			write(w, http.StatusBadRequest, "text/plain", []byte("envoysim: /__sim/cloud: "+err.Error()+"\n"))
			return
		}
		if err := c.check(); err != nil {
			write(w, http.StatusBadRequest, "text/plain", []byte(err.Error()+"\n"))
			return
		}
		s.SetCloud(c)
		w.WriteHeader(http.StatusNoContent)
	default:
		notAllowed(w, "GET, HEAD, POST")
	}
}

func (s *Server) role(c Cloud) string {
	if c.Role != "" {
		return c.Role
	}
	return s.opts.Role
}

func badLogin(w http.ResponseWriter) {
	writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Invalid email or password. Please try again."})
}

func acceptsJSON(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		for _, part := range strings.Split(v, ",") {
			mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err == nil && (mt == "application/json" || mt == "application/*" || mt == "*/*") {
				return true
			}
		}
	}
	return false
}

// managerToken imitates Enlighten's HS256 manager_token (a secret the client
// must ignore and never log); the key is thrown away: nobody checks it.
func managerToken(sid, email string, now time.Time) string {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"data": map[string]any{"session_id": sid, "email_id": email, "client_app": "itk3", "user_id": 4242},
		"exp":  now.Add(7 * 24 * time.Hour).Unix(),
		"sub":  "4242",
	})
	signed, err := t.SignedString(key)
	if err != nil {
		panic(fmt.Sprintf("envoysim: signing manager_token: %v", err))
	}
	return signed
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		write(w, http.StatusInternalServerError, "text/plain", []byte("envoysim: "+err.Error()+"\n"))
		return
	}
	write(w, code, "application/json; charset=utf-8", append(body, '\n'))
}
