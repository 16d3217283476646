package envoy

// Legacy mode: gateways on firmware before 7 speak plain HTTP and protect
// their endpoints with HTTP Digest (docs/envoy-api-notes.md sections 2,
// 3, 4). No token, no check_jwt, no cookie, and no keep-alive: fw 3.18.10
// resets a reused connection after the digest exchange.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/telegraf-enphase/telegraf-enphase/internal/token"
)

// LegacyAuth are the local credentials of a firmware < 7 gateway. The usual
// pair is user "envoy" with the last 6 digits of the serial; "installer"
// reaches more (see LegacyPassword and NewLegacyAuth).
type LegacyAuth struct {
	User, Password string
}

// NewLegacyAuth returns the default credentials for a gateway serial (from
// /info): user "envoy" when user is "", with the password LegacyPassword
// derives for that user.
func NewLegacyAuth(serial, user string) *LegacyAuth {
	if user == "" {
		user = "envoy"
	}
	return &LegacyAuth{User: user, Password: LegacyPassword(serial, user)}
}

// Legacy reports whether the gateway runs firmware before 7, i.e. wants
// plain HTTP and Digest authentication (a *LegacyAuth) instead of a token.
func (i Info) Legacy() bool { return !i.Version.AtLeast(7, 0, 0) }

// ErrLegacyNoJWT is returned by CheckJWT and CheckToken in legacy mode:
// firmware before 7 has no /auth/check_jwt.
var ErrLegacyNoJWT = errors.New("firmware before 7 has no token authentication (/auth/check_jwt); it uses digest credentials")

// legacyState is LegacyAuth's state: the digest exchange, guarded by Client.mu.
type legacyState struct {
	user, password string
	ch             *DigestChallenge // the newest challenge, answered pre-emptively
	nc             uint32           // requests sent with ch.Nonce so far
	// verified: a request answering a challenge got a 2xx, so these
	// credentials are right and a later refusal is about the endpoint.
	verified bool
}

func newLegacyState(a *LegacyAuth) *legacyState {
	if a == nil {
		return nil
	}
	return &legacyState{user: a.User, password: a.Password}
}

// check: firmware before 7 has no check_jwt.
func (*legacyState) check(context.Context, *Client, *token.Token) error { return ErrLegacyNoJWT }

func (l *legacyState) reset() {
	l.ch, l.nc, l.verified = nil, 0, false
}

// answer computes the Authorization for the next request under l.ch.
func (l *legacyState) answer(uri string) string {
	l.nc++
	return l.ch.Authorization(l.user, l.password, http.MethodGet, uri, l.nc, NewCnonce())
}

func (l *legacyState) adopt(ch DigestChallenge) {
	l.ch, l.nc = &ch, 0
}

// get fetches path with digest authentication and returns the
// response whatever its status, like Get. It sends the Authorization for the
// remembered challenge straight away (nc counting up); a 401 with a Digest
// challenge it has not answered yet (the first one, a new nonce, or
// stale=true) is answered once. A refusal after that is an *AuthError while
// the credentials have never been seen to work on this gateway (a 2xx
// answering a challenge), else the 401 response itself: fw < 7 refuses some
// endpoints with valid credentials (/production on 4.10.35 and 5.0.62,
// /ivp/meters on 3.18.10), with a Digest challenge. Caller holds c.mu.
func (l *legacyState) get(ctx context.Context, c *Client, path string, limit int64) (Response, error) {
	u, err := url.Parse(c.base.String() + path)
	if err != nil {
		return Response{}, fmt.Errorf("GET %s: %w", path, err)
	}
	uri := u.RequestURI() // what the request line carries, query included

	auth, usedNonce := "", ""
	if l.ch != nil {
		auth, usedNonce = l.answer(uri), l.ch.Nonce
	}
	answered := false // answered a challenge received during this call
	for {
		r, err := c.do(ctx, path, auth, "", limit)
		if err != nil {
			return r, err
		}
		if r.Status != http.StatusUnauthorized {
			if answered && r.Status >= 200 && r.Status < 300 {
				l.verified = true
			}
			return r, nil
		}
		ch, err := findDigestChallenge(r.Header)
		if err != nil {
			switch {
			case !errors.Is(err, ErrNoDigestChallenge):
				return r, &AuthError{Host: c.base.Host, Status: r.Status,
					Reason: fmt.Sprintf("%s answered 401 with a challenge this client cannot answer: %s", path, Quote(err.Error()))}
			case auth == "":
				// Refused without asking for credentials: nothing to answer.
				return r, nil
			}
			return l.refused(c, r)
		}
		l.adopt(ch)
		if answered || (auth != "" && ch.Nonce == usedNonce && !ch.Stale) {
			return l.refused(c, r)
		}
		auth, usedNonce, answered = l.answer(uri), ch.Nonce, true
	}
}

// refused handles a 401 to a request carrying our credentials.
func (l *legacyState) refused(c *Client, r Response) (Response, error) {
	if l.verified {
		// The credentials worked before: this endpoint is not for this user.
		return r, nil
	}
	// Start the next request afresh, so that its success, if any, answers a
	// challenge and proves the credentials (a 2xx to a remembered answer
	// may come from an endpoint that checks nothing).
	l.ch, l.nc = nil, 0
	return r, &AuthError{Host: c.base.Host, Status: r.Status,
		Reason: fmt.Sprintf("the gateway refused legacy_user %q and its legacy_password (401 on %s): firmware before 7 takes "+
			"user \"envoy\" with the last 6 digits of the serial, or \"installer\" with the password derived from the serial", l.user, r.Path)}
}
