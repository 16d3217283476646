// Package envoy is the client for an Enphase Envoy / IQ Gateway's local API
// (firmware 7 and 8): HTTPS, a JWT checked once on /auth/check_jwt, then the
// sessionId cookie, one request at a time because the gateway is a weak device.
// Firmware before 7 is read in legacy mode (a *LegacyAuth as Config.Auth, legacy.go): plain
// HTTP with Digest authentication.
package envoy

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/telegraf-enphase/telegraf-enphase/internal/certpin"
	"github.com/telegraf-enphase/telegraf-enphase/internal/token"
)

// Paths of the endpoints the plugin reads.
const (
	PathInfo          = "/info"
	PathCheckJWT      = "/auth/check_jwt"
	PathProduction    = "/production.json?details=1"
	PathMeters        = "/ivp/meters"
	PathMeterReadings = "/ivp/meters/readings"
	PathInverters     = "/api/v1/production/inverters"
)

// MaxBody bounds what is read of one answer unless the caller gives its
// own bound (GetLimit); the largest real bodies (device_data of 50 devices)
// are well under 1 MiB. The plugin gives every endpoint its own, tighter
// bound (case R4): memory, not the network, is what a large body costs.
const MaxBody = 16 << 20

// MaxInfoBody bounds /info (and /info.xml, /auth/check_jwt): the largest real
// /info is 2.4 KB, and it is read without authentication (case R4).
const MaxInfoBody = 64 << 10

// maxHeaderBytes bounds an answer's headers, cookies included: the gateway's
// are a few hundred bytes (case R5: a cookie flood is refused, not kept).
const maxHeaderBytes = 64 << 10

// MaxSessionCookie is the longest sessionId kept: the gateway's is 32 bytes. A
// longer one would be sent back on every request, and a server that refuses
// it (400, 431 "Request Header Or Cookie Too Large") would refuse them all
// (case R5); without it the client keeps sending the Bearer token.
const MaxSessionCookie = 4 << 10

// TokenSource yields the current token; it is asked before every request so a
// token renewed on disk by cron is picked up without a restart.
type TokenSource interface {
	Token() (token.Token, error)
}

// Auth is how a client authenticates, chosen when it is built: TokenAuth
// for firmware 7 and later, *LegacyAuth (HTTP Digest) before 7. A client
// never changes its strategy; a gateway that turns out to need the other
// one gets a new client.
type Auth interface {
	// scheme is the URL scheme the strategy speaks.
	scheme() string
}

// TokenAuth authenticates with the gateway's JWT, asked of Tokens before
// every request, checked once on /auth/check_jwt, then the sessionId cookie.
type TokenAuth struct {
	Tokens TokenSource
}

func (TokenAuth) scheme() string { return "https" }

// scheme: legacy mode speaks plain http, with no keep-alive, no token,
// check_jwt or cookie.
func (*LegacyAuth) scheme() string { return "http" }

// Config configures a Client.
type Config struct {
	URL     *url.URL
	TLS     *tls.Config
	Timeout time.Duration // per request
	// Auth is the authentication strategy; nil reads public endpoints only
	// (/info).
	Auth Auth
}

// Client talks to one gateway. It is safe for concurrent use; requests are
// serialised.
type Client struct {
	base    *url.URL
	http    *http.Client
	timeout time.Duration
	auth    authenticator // the Auth strategy's state; guarded by mu
	digest  bool          // legacy mode (a *LegacyAuth)

	mu sync.Mutex // one request at a time per gateway
	// Guarded by mu:
	reqs map[string]*http.Request // a request per path, without context or header, copied for each GET
	body []byte                   // GetInto's buffer, for the request under way

	requests atomic.Int64
	checks   atomic.Int64
}

// New builds a client. It does no I/O.
func New(cfg Config) *Client {
	base := cfg.URL
	legacy, _ := cfg.Auth.(*LegacyAuth)
	var auth authenticator
	if legacy != nil {
		auth = newLegacyState(legacy)
	} else {
		var tokens TokenSource = noTokens{}
		if ta, ok := cfg.Auth.(TokenAuth); ok && ta.Tokens != nil {
			tokens = ta.Tokens
		}
		auth = &tokenSession{tokens: tokens}
	}
	if legacy != nil && base.Scheme != legacy.scheme() {
		u := *base
		u.Scheme = legacy.scheme()
		base = &u
	}
	tr := &http.Transport{
		Proxy:                  nil, // the gateway is on the LAN; a proxy would only add a hop
		DialContext:            (&net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:        cfg.TLS,
		TLSHandshakeTimeout:    cfg.Timeout,
		MaxConnsPerHost:        1,
		MaxIdleConnsPerHost:    1,
		IdleConnTimeout:        90 * time.Second,
		ResponseHeaderTimeout:  cfg.Timeout,
		MaxResponseHeaderBytes: maxHeaderBytes,
		// fw 3.18.10 resets a reused connection after the digest exchange.
		DisableKeepAlives: legacy != nil,
	}
	return &Client{
		base:    base,
		timeout: cfg.Timeout,
		auth:    auth,
		digest:  legacy != nil,
		http: &http.Client{
			Transport: tr,
			// Missing endpoints can redirect to error pages and http:// to
			// https://localhost: never follow (case T6).
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// noTokens is the token source of a client given no authentication.
type noTokens struct{}

func (noTokens) Token() (token.Token, error) {
	return token.Token{}, errors.New("no token configured: firmware 7 and later need token_file and an https:// url")
}

// Host is the gateway's address as configured, for messages.
func (c *Client) Host() string { return c.base.Host }

// Requests is the number of HTTP requests sent so far, check_jwt included.
func (c *Client) Requests() int64 { return c.requests.Load() }

// AuthChecks is the number of /auth/check_jwt calls so far.
func (c *Client) AuthChecks() int64 { return c.checks.Load() }

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// ResetSession forgets the sessionId (in legacy mode the digest challenge
// and that the credentials worked), e.g. after a firmware change.
func (c *Client) ResetSession() {
	c.mu.Lock()
	c.auth.reset()
	c.mu.Unlock()
}

// Response is one answer of the gateway.
type Response struct {
	Path     string
	Status   int
	Header   http.Header
	Body     []byte
	Duration time.Duration
}

// Info reads /info, which needs no authentication; where it is missing,
// /info.xml (case P17).
func (c *Client) Info(ctx context.Context) (Info, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, err := c.do(ctx, PathInfo, "", "", MaxInfoBody)
	if err == nil && r.Status == http.StatusNotFound {
		first := r
		r, err = c.do(ctx, "/info.xml", "", "", MaxInfoBody)
		if err == nil && r.Status != http.StatusOK {
			// Every gateway answers one of them: this is another device
			// (issue 14: a router, a NAS, a printer at a wrong address).
			return Info{}, c.notGateway(fmt.Sprintf("/info answered %d and /info.xml %d", first.Status, r.Status))
		}
	}
	if err != nil {
		return Info{}, err
	}
	switch {
	case r.Status == http.StatusUnauthorized || r.Status == http.StatusForbidden:
		// A gateway's /info needs no authentication.
		return Info{}, c.notGateway(fmt.Sprintf("%s answered %d, asking for a login", r.Path, r.Status))
	case r.Status != http.StatusOK:
		return Info{}, statusError(r)
	}
	info, err := ParseInfo(r.Body)
	var nx *notXMLError
	if errors.As(err, &nx) {
		return Info{}, c.notGateway(fmt.Sprintf("%s is %s", r.Path, nx.what))
	}
	return info, err
}

// NotGatewayError is an address where something answers that is not an
// Enphase gateway.
type NotGatewayError struct {
	URL, Why string
}

func (e *NotGatewayError) Error() string {
	return fmt.Sprintf("the device at %s is not an Enphase gateway (%s): "+
		"check url, the gateway's address (its IP address in your router's list of devices, or https://envoy.local)", e.URL, e.Why)
}

func (c *Client) notGateway(why string) error {
	return &NotGatewayError{URL: c.base.String(), Why: why}
}

// GetPublic fetches an endpoint without authentication (/info).
func (c *Client) GetPublic(ctx context.Context, path string) (Response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.do(ctx, path, "", "", MaxBody)
}

// Get fetches an authenticated endpoint and returns the response whatever its
// status, after the session dance: check_jwt once, then the cookie; on a 401,
// check_jwt again and retry once. In legacy mode it answers the gateway's
// digest challenge instead (see legacyState.get).
func (c *Client) Get(ctx context.Context, path string) (Response, error) {
	return c.GetLimit(ctx, path, MaxBody)
}

// GetLimit is Get reading at most limit bytes of the body (MaxBody when
// limit is 0 or less): an endpoint's own bound.
func (c *Client) GetLimit(ctx context.Context, path string, limit int64) (Response, error) {
	return c.GetInto(ctx, path, limit, nil) // a body of its own
}

// GetInto is GetLimit reading the body into buf's storage, grown if need
// be: the Response's Body shares it, and is good until buf is next used. A
// gather reads every endpoint into one buffer, decoding each body before
// the next request, rather than allocating a body a request.
func (c *Client) GetInto(ctx context.Context, path string, limit int64, buf []byte) (Response, error) {
	if limit <= 0 {
		limit = MaxBody
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.body = buf[:0]
	defer func() { c.body = nil }()
	return c.auth.get(ctx, c, path, limit)
}

// authenticator is the client's side of its Auth strategy: it
// authenticates a request and keeps what it learns between requests. Its
// methods run with Client.mu held.
type authenticator interface {
	get(ctx context.Context, c *Client, path string, limit int64) (Response, error)
	// check validates t (nil: the current token) on the gateway and opens a session.
	check(ctx context.Context, c *Client, t *token.Token) error
	reset()
}

// tokenSession is TokenAuth's state: the session the last check_jwt opened.
type tokenSession struct {
	tokens       TokenSource
	session      string // the Cookie header that sends the sessionId; a secret
	sessionToken string // the token the session was opened with
}

func (s *tokenSession) reset() { s.session, s.sessionToken = "", "" }

func (s *tokenSession) get(ctx context.Context, c *Client, path string, limit int64) (Response, error) {
	tok, ok := ctx.Value(tokenKey{}).(token.Token)
	if !ok {
		var err error
		if tok, err = s.tokens.Token(); err != nil {
			return Response{}, &AuthError{Host: c.base.Host, Reason: err.Error()}
		}
	}
	fresh := false
	// sessionToken is set only by a successful check_jwt, with or without a
	// cookie, so a gateway that sets none is not checked on every request.
	if s.sessionToken != tok.Raw {
		if err := s.checkJWT(ctx, c, tok); err != nil {
			return Response{}, err
		}
		fresh = true
	}
	r, err := c.do(ctx, path, s.bearer(tok), s.session, limit)
	if err != nil || r.Status != http.StatusUnauthorized || fresh {
		return r, err
	}
	// The session may have ended (reboot, idle timeout): renew it once.
	s.reset()
	if err := s.checkJWT(ctx, c, tok); err != nil {
		return Response{}, err
	}
	return c.do(ctx, path, s.bearer(tok), s.session, limit)
}

func (s *tokenSession) check(ctx context.Context, c *Client, t *token.Token) error {
	if t == nil {
		tok, err := s.tokens.Token()
		if err != nil {
			return &AuthError{Host: c.base.Host, Reason: err.Error()}
		}
		t = &tok
	}
	return s.checkJWT(ctx, c, *t)
}

// CheckJWT validates the current token on the gateway and opens a session.
func (c *Client) CheckJWT(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.auth.check(ctx, c, nil)
}

// CheckToken validates t on the gateway, e.g. a freshly minted token before
// it replaces the stored one. The session it opens is kept: t is about to
// become the current token.
func (c *Client) CheckToken(ctx context.Context, t token.Token) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.auth.check(ctx, c, &t)
}

// bearer returns the Authorization value to send: none once a session cookie
// exists, because the gateway checks a JWT at a cost and the cookie suffices.
func (s *tokenSession) bearer(tok token.Token) string {
	if s.session != "" {
		return ""
	}
	return "Bearer " + tok.Raw
}

func (s *tokenSession) checkJWT(ctx context.Context, c *Client, tok token.Token) error {
	c.checks.Add(1)
	s.reset()
	r, err := c.do(ctx, PathCheckJWT, "Bearer "+tok.Raw, "", MaxInfoBody)
	if err != nil {
		return err
	}
	switch {
	case r.Status == http.StatusUnauthorized || r.Status == http.StatusForbidden:
		return &AuthError{Host: c.base.Host, Status: r.Status,
			Reason: fmt.Sprintf(
				"the gateway rejected the %s (check_jwt answered %d): it is expired, revoked, or minted for another gateway; get a new token",
				tok,
				r.Status,
			)}
	case r.Status != http.StatusOK:
		return statusError(r)
	case !bytes.Contains(r.Body, []byte("Valid token")):
		return &AuthError{Host: c.base.Host, Status: r.Status, Reason: "check_jwt answered 200 without \"Valid token\": the url may not point at an Envoy"}
	}
	for _, ck := range (&http.Response{Header: r.Header}).Cookies() {
		if ck.Name == "sessionId" && ck.Value != "" && len(ck.Value) <= MaxSessionCookie {
			// Made once a session, not once a request.
			s.session = (&http.Cookie{Name: ck.Name, Value: ck.Value}).String()
		}
	}
	// Without a cookie we keep sending the Bearer header, which also works.
	s.sessionToken = tok.Raw
	return nil
}

// do sends one GET. cookie is a whole Cookie header ("" for none).
func (c *Client) do(ctx context.Context, path, authorization, cookie string, limit int64) (Response, error) {
	// A caller's deadline sooner than ours (the gather's) gets the blame.
	var callerLimit time.Duration
	if d, ok := ctx.Deadline(); ok && time.Until(d) < c.timeout {
		callerLimit = c.callerBudget(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	tmpl, err := c.request(path)
	if err != nil {
		return Response{}, fmt.Errorf("GET %s: %w", path, err)
	}
	req := tmpl.WithContext(ctx)
	req.Header = make(http.Header, 4)
	req.Header["Accept"] = acceptJSON
	req.Header["User-Agent"] = userAgent
	if authorization != "" {
		req.Header["Authorization"] = []string{authorization}
	}
	if cookie != "" {
		req.Header["Cookie"] = []string{cookie}
	}
	c.requests.Add(1)
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return Response{}, c.transportError(path, err, callerLimit)
	}
	defer resp.Body.Close()
	// One byte beyond the limit tells a body cut at the limit from one
	// that ends there (case R4).
	body, err := readBody(resp, limit+1, c.body)
	r := Response{Path: path, Status: resp.StatusCode, Header: resp.Header, Body: body, Duration: time.Since(start)}
	if err != nil {
		return r, c.transportError(path, err, callerLimit)
	}
	if int64(len(body)) > limit {
		r.Body = nil
		return r, &BodyError{Path: path, Reason: fmt.Sprintf("larger than %d bytes, the limit for %s: not a real gateway answer", limit, path), TooLarge: true}
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return r, &RedirectError{Scheme: c.base.Scheme, Host: c.base.Host, Path: path, Status: resp.StatusCode, Location: resp.Header.Get("Location")}
	}
	return r, nil
}

// The headers every request sends, shared: nothing on the way writes into a
// header's values.
var (
	acceptJSON = []string{"application/json"}
	userAgent  = []string{"telegraf-enphase"}
)

// request is the GET of path, built once per path, as http.NewRequest
// builds it: parsing the URL again for every request of every gather cost
// more than the rest of building it. The paths are the client's own, a
// handful, plus what a user asks by hand.
func (c *Client) request(path string) (*http.Request, error) {
	if r, ok := c.reqs[path]; ok {
		return r, nil
	}
	r, err := http.NewRequest(http.MethodGet, c.base.String()+path, nil)
	if err != nil {
		return nil, err
	}
	r.Header = nil // each request gets its own
	if c.reqs == nil || len(c.reqs) >= maxCachedRequests {
		c.reqs = make(map[string]*http.Request)
	}
	c.reqs[path] = r
	return r, nil
}

// maxCachedRequests bounds the requests kept by path: more paths than a
// gather's endpoints only come from a user's own GETs.
const maxCachedRequests = 64

// readBody reads at most n bytes of resp's body into buf's storage, or one
// buffer sized by its Content-Length when the gateway sends one: io.ReadAll
// starts at 512 bytes and copies a 6 KB answer four times on its way, every
// gather. A Content-Length that lies costs nothing: the buffer grows as
// ReadAll's.
func readBody(resp *http.Response, n int64, buf []byte) ([]byte, error) {
	size := int64(512)
	if cl := resp.ContentLength; cl > 0 {
		size = min(cl+1, n) // +1: room for the read that sees the end
	}
	r := io.LimitReader(resp.Body, n)
	b := buf[:0]
	if int64(cap(b)) < size {
		b = make([]byte, 0, size)
	}
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		m, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+m]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// callerBudget is the whole time the caller allowed, when it says (see
// WithBudget); else the time left.
func (c *Client) callerBudget(ctx context.Context) time.Duration {
	if b, ok := ctx.Value(budgetKey{}).(time.Duration); ok {
		return b
	}
	d, _ := ctx.Deadline()
	return time.Until(d).Round(100 * time.Millisecond)
}

type budgetKey struct{}

type tokenKey struct{}

// WithToken returns ctx carrying t, which the requests made under it send
// instead of asking the token source: a gather that has just read and
// checked the token file need not stat it again for every request.
func WithToken(ctx context.Context, t token.Token) context.Context {
	return context.WithValue(ctx, tokenKey{}, t)
}

// WithBudget returns ctx with a deadline of d from now, remembering d so a
// timeout can be reported as "the gather's 14s ran out".
func WithBudget(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, d)
	return context.WithValue(ctx, budgetKey{}, d), cancel
}

// transportError explains network failures with the fix users need; the URL
// in the message carries no secret. callerLimit is set when the caller's
// deadline, not the request timeout, bounded the wait.
func (c *Client) transportError(path string, err error, callerLimit time.Duration) error {
	var hint string
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var certInvalid x509.CertificateInvalidError
	var tlsRecord tls.RecordHeaderError
	var dnsErr *net.DNSError
	// A pin's refusal says itself what happened and what to do; it is not a
	// transient failure to retry (case T7).
	if refused := certpin.Refusal(err); refused != nil {
		return refused
	}
	switch {
	case errors.As(err, &unknownAuthority) || errors.As(err, &certInvalid):
		hint = "the gateway's certificate is self-signed: set tls_pin = \"tofu\" to trust the one it shows now, " +
			"or tls_ca to its certificate, or insecure_skip_verify = true"
	case errors.As(err, &hostname):
		hint = "the certificate is for envoy-<serial>, not this address: set tls_server_name = \"envoy-<serial>\" or insecure_skip_verify = true"
	case errors.As(err, &tlsRecord):
		hint = "the gateway did not answer TLS: firmware before 7 speaks plain http"
	case errors.As(err, &dnsErr):
		hint = fmt.Sprintf("cannot resolve %q (envoy.local often fails in containers): set url to the gateway's IP address", c.base.Hostname())
	case errors.Is(err, syscall.ECONNREFUSED) && c.base.Scheme == "http" && !c.digest:
		hint = "connection refused: firmware 8.3 closed port 80, use https://"
	case errors.Is(err, syscall.ECONNREFUSED):
		hint = "connection refused: check the address and that the gateway is on"
	case (errors.Is(err, context.DeadlineExceeded) || isTimeout(err)) && callerLimit > 0:
		hint = fmt.Sprintf(
			"no answer before the gather's %s ran out: the gateway is slow (it stalls for a minute or two around 23:00); the next gather will try again",
			callerLimit,
		)
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		hint = fmt.Sprintf(
			"no answer within %s: the gateway is busy or rebooting (it stalls for a minute or two around 23:00); the next gather will try again",
			c.timeout,
		)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("GET %s on %s: %w", path, c.base.Host, context.Canceled)
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		hint = "the gateway dropped the connection (it does while rebooting or updating, or over a weak Wi-Fi link); the next gather will try again"
	}
	if hint != "" {
		return &TransportError{Host: c.base.Host, Path: path, Err: err, Hint: hint}
	}
	return &TransportError{Host: c.base.Host, Path: path, Err: err}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TransportError is a failure to get any answer from the gateway.
type TransportError struct {
	Host, Path string
	Err        error
	Hint       string
}

func (e *TransportError) Error() string {
	msg := e.Err.Error()
	var ue *url.Error
	if errors.As(e.Err, &ue) {
		msg = ue.Err.Error()
	}
	// The error's text may hold what the server sent (a malformed status
	// line, a header): cut and quoted like any gateway text (case R3).
	msg = Quote(msg)
	if e.Hint != "" {
		return fmt.Sprintf("GET %s on %s: %s (%s)", e.Path, e.Host, e.Hint, msg)
	}
	return fmt.Sprintf("GET %s on %s: %s", e.Path, e.Host, msg)
}

func (e *TransportError) Unwrap() error { return e.Err }

// AuthError means the gateway does not accept our token at all (in legacy
// mode: our digest user and password).
type AuthError struct {
	Host   string
	Status int
	Reason string
}

func (e *AuthError) Error() string { return fmt.Sprintf("authenticating on %s: %s", e.Host, e.Reason) }

// TokenRefused reports whether the gateway itself refused the token (as
// opposed to the token not being readable).
func (e *AuthError) TokenRefused() bool {
	return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
}

// RedirectError is a 3xx, which we never follow: a redirect could carry the
// token to another host, or over plain http (case T6).
type RedirectError struct {
	Scheme     string // of the request: http or https
	Host, Path string
	Status     int
	Location   string
}

func (e *RedirectError) Error() string {
	loc, err := url.Parse(e.Location)
	switch {
	case err == nil && loc.Scheme == "https" && e.Scheme != "https":
		return fmt.Sprintf(
			"GET %s on %s: redirected (%d) to %s; set url to https:// (firmware 7+ only speaks https)",
			e.Path,
			e.Host,
			e.Status,
			Quote(e.Location),
		)
	case err == nil && loc.Host != "" && !strings.EqualFold(loc.Host, e.Host):
		return fmt.Sprintf("GET %s on %s: redirected (%d) to %s, another host: not followed (it would be sent the token); "+
			"check that url is the gateway's address", e.Path, e.Host, e.Status, Quote(e.Location))
	}
	return fmt.Sprintf(
		"GET %s on %s: redirected (%d) to %s, not followed: the endpoint is missing on this firmware",
		e.Path,
		e.Host,
		e.Status,
		Quote(e.Location),
	)
}

// StatusError is an answer other than 200.
type StatusError struct {
	Path        string
	Status      int
	ContentType string
	// Digest: the 401 asked for digest credentials (firmware before 7),
	// not a token.
	Digest bool
}

func (e *StatusError) Error() string {
	switch e.Status {
	case http.StatusNotFound:
		return fmt.Sprintf("%s: 404, this firmware does not have it", e.Path)
	case http.StatusUnauthorized, http.StatusForbidden:
		if e.Digest {
			return fmt.Sprintf("%s: %d, the gateway refused legacy_user / legacy_password for it "+
				"(firmware before 7 opens some endpoints to the installer user only)", e.Path, e.Status)
		}
		return fmt.Sprintf("%s: %d, not allowed for this token", e.Path, e.Status)
	case http.StatusServiceUnavailable:
		return fmt.Sprintf("%s: 503, the gateway is not ready (starting or updating)", e.Path)
	}
	return fmt.Sprintf("%s: HTTP %d", e.Path, e.Status)
}

func statusError(r Response) error {
	digest := false
	for _, v := range r.Header.Values("WWW-Authenticate") {
		if len(v) >= 6 && strings.EqualFold(v[:6], "digest") {
			digest = true
		}
	}
	return &StatusError{Path: r.Path, Status: r.Status, ContentType: r.Header.Get("Content-Type"), Digest: digest}
}

// DefaultMaxValues bounds the JSON values of a body decoded by Decode.
const DefaultMaxValues = 50_000

// Decode is DecodeLimit with DefaultMaxValues.
func Decode(r Response, v any) error { return DecodeLimit(r, v, DefaultMaxValues) }

// DecodeLimit checks that a response is a 200 JSON body and unmarshals it whole
// into v. HTML with status 200 (T2), empty bodies (T3), truncated JSON (T4)
// and JSON error objects (T5) are errors, so nothing half-parsed is emitted.
// A body of more than maxValues JSON values (objects, arrays and their
// members, counted before decoding) is refused: each value may become a
// struct hundreds of times its size in the body, so the value count, not
// the body's size, bounds the memory decoding takes (case R4). Decoding
// does not watch the gather's deadline: bounded in size and values, it takes
// milliseconds (see BENCHMARKS.md).
func DecodeLimit(r Response, v any, maxValues int) error { return decodeLimit(r, v, maxValues, true) }

// decodeLimit is DecodeLimit; with fast, the types decoded by hand (see
// decodeFast) are, and encoding/json decodes the others. Without, it is the
// reference the hand-written decoder is tested against.
func decodeLimit(r Response, v any, maxValues int, fast bool) error {
	if r.Status != http.StatusOK {
		return statusError(r)
	}
	b := bytes.TrimSpace(r.Body)
	if len(b) == 0 {
		return &BodyError{Path: r.Path, Reason: "empty body"}
	}
	if b[0] != '{' && b[0] != '[' {
		what := "not JSON"
		if b[0] == '<' {
			what = "an HTML page instead of JSON"
		}
		return &BodyError{Path: r.Path, Reason: what, HTML: b[0] == '<'}
	}
	// Error objects are a few dozen bytes: a large body is data, and is not
	// parsed twice to find out.
	if b[0] == '{' && len(b) < 512 {
		var e struct {
			Error *string `json:"error"`
			Err   *string `json:"err"`
		}
		if decodeStrict(b, &e) == nil && (e.Error != nil || e.Err != nil) {
			msg := e.Error
			if msg == nil {
				msg = e.Err
			}
			if strings.Contains(*msg, "404") {
				return &StatusError{Path: r.Path, Status: http.StatusNotFound}
			}
			// A JSON "error" key with other content may be real data (e.g. error counters) only when more keys exist.
			var keys map[string]any
			if decodeStrict(b, &keys) == nil && len(keys) == 1 {
				return &BodyError{Path: r.Path, Reason: "gateway error " + Quote(*msg)}
			}
		}
	}
	if maxValues <= 0 {
		maxValues = DefaultMaxValues
	}
	tooLarge := func() error {
		return &BodyError{Path: r.Path, TooLarge: true,
			Reason: fmt.Sprintf("more than %d JSON values, the limit for %s: not a real gateway answer", maxValues, r.Path)}
	}
	if fast {
		if handled, err := decodeFast(b, v, maxValues); handled {
			switch {
			case err == errTooManyValues:
				return tooLarge()
			case err != nil:
				return &BodyError{Path: r.Path, Reason: "bad JSON (" + Quote(err.Error()) + ")"}
			}
			return nil
		}
	}
	if countValues(b, maxValues) > maxValues {
		return tooLarge()
	}
	if err := decodeStrict(b, v); err != nil {
		// Go's JSON errors quote the offending literal, whatever its length.
		return &BodyError{Path: r.Path, Reason: "bad JSON (" + Quote(err.Error()) + ")"}
	}
	return nil
}

// BodyError is a 200 whose body is not the data we asked for.
type BodyError struct {
	Path, Reason string
	HTML         bool // an HTML page: a login or "page not found" page
	TooLarge     bool // longer than the endpoint's limit (case R4)
}

func (e *BodyError) Error() string { return fmt.Sprintf("%s: %s", e.Path, e.Reason) }

// countValues counts the JSON values of b that may each cost a struct or an
// element when decoded: every object and array opened, and every member
// after the first (a comma), outside strings. It stops counting past max.
func countValues(b []byte, max int) int {
	n := 0
	inString, escaped := false, false
	for _, c := range b {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[', ',':
			n++
			if n > max {
				return n
			}
		}
	}
	return n
}
