// Package enlighten mints gateway tokens from Enphase's cloud (the flow of
// docs/envoy-api-notes.md section 1): an Enlighten login gives a session_id,
// then Entrez /tokens gives a JWT for one gateway serial.
//
// The client never retries: repeated logins get accounts locked for hours
// (case A5 in docs/field-cases.md), so backing off is the caller's job. Errors
// are typed so the caller can tell "fix the configuration" (ErrBadCredentials,
// ErrMFA, ErrWrongSerial) from "wait" (ErrThrottled, ErrUnavailable). No error
// text ever carries the password, the session_id, a cookie or a token.
package enlighten

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/telegraf-enphase/telegraf-enphase/internal/token"
)

// Defaults for Config.
const (
	DefaultEnlightenURL = "https://enlighten.enphaseenergy.com"
	DefaultEntrezURL    = "https://entrez.enphaseenergy.com"
	DefaultTimeout      = 20 * time.Second
)

const (
	loginPath  = "/login/login.json"
	tokensPath = "/tokens"
	otpCookie  = "login_otp_nonce" // set by login.json when MFA is on (home-assistant/core#155793)
	maxBody    = 1 << 20           // a token is < 1 KiB; the lockout page a few KiB
	tokenSite  = "https://entrez.enphaseenergy.com"
)

// Errors Mint returns, wrapped with what happened and what to do; test them
// with errors.Is.
var (
	// ErrBadCredentials: Enlighten answered 401 to the login. Fix the
	// configuration; retrying only risks a lockout.
	ErrBadCredentials = errors.New("Enlighten rejected the e-mail or password")
	// ErrMFA: the login succeeded without a session_id, which is what an
	// account with multi-factor authentication gets. Scripts cannot log in.
	ErrMFA = errors.New("the account has multi-factor authentication on")
	// ErrThrottled: 403, 405 or 429, or the HTML login page with 200, as
	// Enphase serves while an account is locked. Wait hours, not seconds.
	ErrThrottled = errors.New("the Enphase cloud is refusing logins for now (account locked or throttled)")
	// ErrUnavailable: 5xx, timeouts, connection and TLS errors; Transient,
	// so a renewal may retry it sooner than a refusal.
	ErrUnavailable error = transientError("the Enphase cloud is unreachable or failing")
	// ErrWrongSerial: the token's aud is not the requested gateway serial.
	ErrWrongSerial = errors.New("the cloud returned a token for another gateway")
	// ErrExpired: the token had expired when it arrived (case A1).
	ErrExpired = errors.New("the cloud returned a token that expired")
	// ErrNotAToken: /tokens answered 200 with something that is not a JWT (A2).
	ErrNotAToken = errors.New("the cloud did not return a token")
)

// Config configures a Client. The zero value talks to Enphase's production cloud.
type Config struct {
	EnlightenURL string         // default DefaultEnlightenURL; https only
	EntrezURL    string         // default DefaultEntrezURL; https only
	RootCAs      *x509.CertPool // nil: the system roots. TLS is always verified.
	Timeout      time.Duration  // per request, body included; default DefaultTimeout
	Now          func() time.Time
}

// Client mints tokens. It is safe for concurrent use and keeps no state
// between calls.
type Client struct {
	loginURL  string
	tokensURL string
	timeout   time.Duration
	now       func() time.Time
	http      *http.Client
}

// New checks cfg and builds a Client.
func New(cfg Config) (*Client, error) {
	enlighten, err := baseURL("EnlightenURL", cfg.EnlightenURL, DefaultEnlightenURL)
	if err != nil {
		return nil, err
	}
	entrez, err := baseURL("EntrezURL", cfg.EntrezURL, DefaultEntrezURL)
	if err != nil {
		return nil, err
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("enlighten: Timeout %v must not be negative", cfg.Timeout)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	transport := &http.Transport{
		Proxy:             http.ProxyFromEnvironment,
		TLSClientConfig:   &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: true,
		// A token is minted at most daily: nothing to reuse, and no idle
		// connections left behind.
		DisableKeepAlives: true,
	}
	return &Client{
		loginURL:  enlighten + loginPath,
		tokensURL: entrez + tokensPath,
		timeout:   cfg.Timeout,
		now:       cfg.Now,
		http: &http.Client{
			Transport: transport,
			// A redirect means the flow changed; following a 307 would also
			// resend the password to wherever it points.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

func baseURL(field, s, def string) (string, error) {
	if s == "" {
		s = def
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("enlighten: %s %q is not a URL: %w", field, s, err)
	}
	switch {
	case u.Scheme != "https":
		return "", fmt.Errorf("enlighten: %s %q must start with https://: the password and tokens travel over it", field, s)
	case u.Host == "":
		return "", fmt.Errorf("enlighten: %s %q has no host", field, s)
	case u.User != nil:
		return "", fmt.Errorf("enlighten: %s must not contain a user or password", field)
	case u.RawQuery != "" || u.Fragment != "":
		return "", fmt.Errorf("enlighten: %s %q must not have a query or fragment", field, s)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// Mint logs in to Enlighten as email and asks Entrez for a token for the
// gateway serial. The token is checked to be a JWT for serial that has not
// expired. Mint makes at most two requests and never retries.
func (c *Client) Mint(ctx context.Context, email, password, serial string) (token.Token, error) {
	email, serial = strings.TrimSpace(email), strings.TrimSpace(serial)
	switch {
	case email == "":
		return token.Token{}, errors.New("enlighten: no e-mail given: set the Enlighten account's e-mail as the username")
	case password == "":
		return token.Token{}, fmt.Errorf("enlighten: no password given for %s", email)
	case serial == "":
		return token.Token{}, errors.New("enlighten: no gateway serial given: it is <sn> in the gateway's /info")
	}
	session, err := c.logIn(ctx, email, password)
	if err != nil {
		return token.Token{}, err
	}
	return c.fetchToken(ctx, session, email, serial)
}

// logIn returns Enlighten's session_id for the account.
func (c *Client) logIn(ctx context.Context, email, password string) (string, error) {
	step := "Enlighten login for " + email
	form := url.Values{"user[email]": {email}, "user[password]": {password}}
	rep, err := c.post(ctx, step, c.loginURL, "application/x-www-form-urlencoded", "application/json", []byte(form.Encode()))
	if err != nil {
		return "", err
	}
	return loginSession(step, email, rep)
}

// loginSession reads login.json's reply: the session_id, or why there is none.
func loginSession(step, email string, rep reply) (string, error) {
	if rep.status == http.StatusUnauthorized {
		return "", fmt.Errorf(
			"%w for %s (HTTP %s): check the username and password; do not retry until they are fixed",
			ErrBadCredentials,
			email,
			rep.statusText(),
		)
	}
	if err := rep.statusError(step, "login", ""); err != nil {
		return "", err
	}
	if rep.isHTML() {
		return "", fmt.Errorf("%s: %w: wait, do not retry quickly (HTTP 200 with the HTML login page instead of JSON, as during a lockout)", step, ErrThrottled)
	}
	var reply struct {
		SessionID   string `json:"session_id"`
		MFARequired bool   `json:"mfa_required"`
		Success     *bool  `json:"success"`
		IsBlocked   bool   `json:"isBlocked"`
	}
	if err := json.Unmarshal(rep.body, &reply); err != nil {
		return "", fmt.Errorf(
			"%s: Enlighten answered HTTP 200 with %s instead of the expected JSON object: Enphase may have changed its login; see README",
			step,
			rep.describe(),
		)
	}
	if reply.SessionID != "" {
		return reply.SessionID, nil
	}
	if reply.IsBlocked {
		return "", fmt.Errorf("%s: %w: wait, do not retry quickly (the login reply says the account is blocked)", step, ErrThrottled)
	}
	const guidance = "scripts cannot log in; paste a token from " + tokenSite + " into token_file instead (see README)"
	if reply.MFARequired || reply.Success != nil || rep.hasCookie(otpCookie) {
		return "", fmt.Errorf("%s: %w: %s", step, ErrMFA, guidance)
	}
	// pyenphase reads a missing session_id as MFA too; say that we are guessing.
	return "", fmt.Errorf("%s: %w: %s; the reply had no session_id and no MFA marker, so if MFA is off, Enphase may have changed its login",
		step, ErrMFA, guidance)
}

// fetchToken asks Entrez for the gateway's token and checks it.
func (c *Client) fetchToken(ctx context.Context, session, email, serial string) (token.Token, error) {
	step := "Entrez token for gateway " + serial
	payload, err := json.Marshal(struct {
		SessionID string `json:"session_id"`
		SerialNum string `json:"serial_num"`
		Username  string `json:"username"`
	}{session, serial, email})
	if err != nil {
		return token.Token{}, fmt.Errorf("%s: encoding the request: %w", step, err)
	}
	// Entrez answers a bare JWT or a JSON wrapper: accept both.
	rep, err := c.post(ctx, step, c.tokensURL, "application/json", "application/json, text/plain, */*", payload)
	if err != nil {
		return token.Token{}, err
	}
	if rep.status == http.StatusUnauthorized {
		return token.Token{}, fmt.Errorf(
			"%s: Entrez refused the fresh Enlighten session (HTTP %s): try again later; if it persists, Enphase may have changed its token flow (see README)",
			step,
			rep.statusText(),
		)
	}
	if err := rep.statusError(step, "token", "; a 403 from /tokens also means the gateway is not linked to "+email+"'s account"); err != nil {
		return token.Token{}, err
	}

	t, err := parseToken(rep)
	if err != nil {
		return token.Token{}, fmt.Errorf("%s: %w: %s", step, ErrNotAToken, err)
	}
	if t.Serial != serial {
		return token.Token{}, fmt.Errorf(
			"%s: %w: the token is for %s, not %s: check the serial (<sn> in the gateway's /info) and that this gateway is linked to %s's account",
			step,
			ErrWrongSerial,
			t.Serial,
			serial,
			email,
		)
	}
	if now := c.now(); t.Expired(now) {
		return token.Token{}, fmt.Errorf("%s: %w at %s (%s ago): check this computer's clock, then try again later",
			step, ErrExpired, t.Expires.UTC().Format(time.RFC3339), now.Sub(t.Expires).Round(time.Second))
	}
	return t, nil
}

// parseToken reads a 200 /tokens body. Its errors say which form arrived,
// never what it contained.
func parseToken(rep reply) (token.Token, error) {
	raw := strings.TrimSpace(string(rep.body))
	// A JSON string holding the JWT: unquote it (A2 "quoted JSON").
	if strings.HasPrefix(raw, `"`) {
		var s string
		if json.Unmarshal([]byte(raw), &s) == nil {
			raw = strings.TrimSpace(s)
		}
	}
	switch {
	case raw == "":
		return token.Token{}, errors.New("it sent an empty body with HTTP 200: try again later")
	case rep.isHTML():
		return token.Token{}, errors.New(
			"it sent an HTML page with HTTP 200 instead of a JWT: try again later; if it persists, Enphase may have changed its token flow (see README)",
		)
	case strings.HasPrefix(raw, "{"):
		var wrapper struct {
			Token json.RawMessage `json:"token"`
		}
		if json.Unmarshal([]byte(raw), &wrapper) != nil {
			return token.Token{}, errors.New("it sent malformed JSON with HTTP 200 instead of a JWT: try again later")
		}
		if len(wrapper.Token) == 0 || string(wrapper.Token) == "null" {
			return token.Token{}, errors.New("it sent a JSON object without a \"token\" key: Enphase may have changed its token flow (see README)")
		}
	}
	t, err := token.Parse(raw)
	if err == nil {
		return t, nil
	}
	const advice = "try again later; if it persists, Enphase may have changed its token flow (see README)"
	switch {
	case strings.HasPrefix(raw, "{"):
		// token.Parse names the defect, never the content.
		return token.Token{}, fmt.Errorf("it sent a JSON wrapper whose token is not a gateway JWT (%v): %s", err, advice)
	case strings.Count(raw, ".") == 2 && !strings.ContainsAny(raw, " \t\r\n"):
		return token.Token{}, fmt.Errorf("it sent a malformed JWT with HTTP 200 (%v): %s", err, advice)
	case strings.HasPrefix(raw, "Error"):
		// Entrez's failures read "Error: ..." (VW); the rest is not echoed.
		return token.Token{}, fmt.Errorf("it sent an error message in plain text (\"Error…\") with HTTP 200 instead of a JWT: %s", advice)
	}
	return token.Token{}, fmt.Errorf("it sent plain text with HTTP 200 instead of a JWT: %s", advice)
}

// reply is a read response.
type reply struct {
	status  int
	body    []byte
	cookies []*http.Cookie
}

// post sends one request, bounded by the client's timeout, and reads the body.
func (c *Client) post(ctx context.Context, step, target, contentType, accept string, body []byte) (reply, error) {
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return reply{}, fmt.Errorf("%s: building the request: %w", step, err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", "telegraf-enphase")
	resp, err := c.http.Do(req)
	if err != nil {
		return reply{}, c.transportError(ctx, step, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return reply{}, c.transportError(ctx, step, err)
	}
	return reply{status: resp.StatusCode, body: b, cookies: resp.Cookies()}, nil
}

// transportError classifies a failure to get an answer. The URL is dropped
// from net/http's message; the cause stays in the chain for errors.Is/As.
func (c *Client) transportError(ctx context.Context, step string, err error) error {
	if ctx.Err() != nil {
		// The caller gave up (shutdown or its own deadline): not the cloud's fault.
		return fmt.Errorf("%s: canceled: %w", step, ctx.Err())
	}
	cause := err
	var ue *url.Error
	if errors.As(err, &ue) {
		cause = ue.Err
	}
	var (
		netErr     net.Error
		verifyErr  *tls.CertificateVerificationError
		unknownCA  x509.UnknownAuthorityError
		hostErr    x509.HostnameError
		invalidErr x509.CertificateInvalidError
		recordErr  tls.RecordHeaderError
		alertErr   tls.AlertError
	)
	what := "cannot connect"
	switch {
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()):
		what = fmt.Sprintf("no answer within %v", c.timeout)
	case errors.As(err, &verifyErr), errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalidErr):
		what = "its TLS certificate is not trusted; check the system's CA certificates and any TLS-intercepting proxy"
	case errors.As(err, &recordErr), errors.As(err, &alertErr):
		what = "TLS handshake failed"
	}
	return fmt.Errorf("%s: %w (%s: %w): try again later", step, ErrUnavailable, what, cause)
}

// statusError classifies a non-200 status; flow names the step ("login",
// "token") and hint403 is added to a 403.
func (r reply) statusError(step, flow, hint403 string) error {
	code := r.status
	switch {
	case code == http.StatusOK:
		return nil
	case code == http.StatusForbidden || code == http.StatusMethodNotAllowed || code == http.StatusTooManyRequests:
		hint := ""
		switch code {
		case http.StatusForbidden:
			hint = hint403
		case http.StatusMethodNotAllowed:
			hint = "; a 405 also means Enphase changed the URL, see README"
		}
		return fmt.Errorf("%s: %w: wait, do not retry quickly (HTTP %s%s)", step, ErrThrottled, r.statusText(), hint)
	case code >= 500:
		return fmt.Errorf("%s: %w (HTTP %s): try again later", step, ErrUnavailable, r.statusText())
	case code >= 300 && code < 400:
		return fmt.Errorf("%s: unexpected redirect (HTTP %s): Enphase may have changed its %s flow (see README)", step, r.statusText(), flow)
	default:
		return fmt.Errorf("%s: unexpected HTTP %s: Enphase may have changed its %s flow (see README)", step, r.statusText(), flow)
	}
}

func (r reply) statusText() string {
	if t := http.StatusText(r.status); t != "" {
		return fmt.Sprintf("%d %s", r.status, t)
	}
	return fmt.Sprint(r.status)
}

// isHTML looks at the body, not Content-Type: servers label bare JWTs
// text/html too, and a JWT never starts with '<'.
func (r reply) isHTML() bool {
	return bytes.HasPrefix(bytes.TrimSpace(r.body), []byte("<"))
}

// describe names the form of a body for messages, without its content.
func (r reply) describe() string {
	trimmed := bytes.TrimSpace(r.body)
	switch {
	case len(trimmed) == 0:
		return "an empty body"
	case r.isHTML():
		return "an HTML page"
	case trimmed[0] == '[':
		return "a JSON array"
	case trimmed[0] == '{':
		return "JSON of an unexpected shape"
	default:
		return "plain text"
	}
}

func (r reply) hasCookie(name string) bool {
	for _, c := range r.cookies {
		if c.Name == name {
			return true
		}
	}
	return false
}

// transientError is a failure that retrying may cure.
type transientError string

func (e transientError) Error() string { return string(e) }

// Transient marks the error for the renewal's backoff.
func (transientError) Transient() bool { return true }
