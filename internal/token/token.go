// Package token reads and inspects the JWTs that Enphase's cloud mints for an
// Envoy / IQ Gateway. It never verifies signatures: the gateway does that on
// /auth/check_jwt. We only read the claims we need to schedule renewal and to
// catch a token minted for another gateway before it turns into a 401 loop.
package token

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Token is a parsed Enphase JWT. Raw is the compact form sent to the gateway;
// it is a secret and must never be logged.
type Token struct {
	Raw      string
	Serial   string    // aud claim: the gateway serial the token is valid for
	Role     string    // enphaseUser claim: "owner" or "installer"
	Username string    // username claim (the Enlighten account e-mail)
	IssuedAt time.Time // iat
	Expires  time.Time // exp
	Header   map[string]any
	Claims   map[string]any
}

// Claims Enphase tokens carry; jwt.RegisteredClaims handles aud as a string or a list.
type claims struct {
	jwt.RegisteredClaims
	EnphaseUser string `json:"enphaseUser"`
	Username    string `json:"username"`
}

// Parse accepts a raw JWT or the JSON wrapper some Entrez responses use
// ({"token": "...", "expires_at": ...}), trimming whitespace and a "Bearer "
// prefix that people paste along with the token (cases A2, A3).
func Parse(s string) (Token, error) {
	raw := strings.TrimSpace(s)
	form := "raw JWT"
	if strings.HasPrefix(raw, "{") {
		var wrapper struct {
			Token string `json:"token"`
		}
		if err := json.Unmarshal([]byte(raw), &wrapper); err != nil {
			return Token{}, fmt.Errorf("token looks like JSON but does not parse (%v): expected a JWT or {\"token\": \"...\"}", err)
		}
		if wrapper.Token == "" {
			return Token{}, errors.New("token is a JSON object without a \"token\" key: expected a JWT or {\"token\": \"...\"}")
		}
		raw = strings.TrimSpace(wrapper.Token)
		form = "JSON wrapper"
	}
	if len(raw) > 7 && strings.EqualFold(raw[:7], "bearer ") {
		raw = strings.TrimSpace(raw[7:])
	}
	if raw == "" {
		return Token{}, errors.New("token is empty: paste the JWT from https://entrez.enphaseenergy.com or run 'telegraf-enphase token fetch'")
	}
	if strings.HasPrefix(raw, "<") {
		return Token{}, errors.New("token is an HTML page, not a JWT: the cloud answered with a login or error page")
	}
	if n := strings.Count(raw, ".") + 1; n != 3 {
		return Token{}, fmt.Errorf("token (%s) has %d segment(s), a JWT has 3 separated by '.': check that the whole token was copied", form, n)
	}
	if strings.ContainsAny(raw, " \t\r\n") {
		return Token{}, fmt.Errorf("token (%s) contains whitespace inside it: copy it again as one line", form)
	}

	var c claims
	parsed, _, err := jwt.NewParser().ParseUnverified(raw, &c)
	if err != nil {
		return Token{}, fmt.Errorf("token (%s) is not a valid JWT: %w", form, err)
	}
	t := Token{Raw: raw, Role: c.EnphaseUser, Username: c.Username, Header: parsed.Header}
	if len(c.Audience) > 0 {
		t.Serial = c.Audience[0]
	}
	if c.IssuedAt != nil {
		t.IssuedAt = c.IssuedAt.Time
	}
	if c.ExpiresAt == nil {
		return Token{}, fmt.Errorf("token (%s) has no exp claim: not an Enphase gateway token", form)
	}
	t.Expires = c.ExpiresAt.Time
	if t.Serial == "" {
		return Token{}, fmt.Errorf("token (%s) has no aud claim (the gateway serial): not an Enphase gateway token", form)
	}
	// Keep every claim for 'token show'; the first parse succeeded, so this one does.
	if mt, _, err := jwt.NewParser().ParseUnverified(raw, jwt.MapClaims{}); err == nil {
		t.Claims = mt.Claims.(jwt.MapClaims)
	}
	// An exp or iat beyond int64 seconds wraps in the JWT library: keep it
	// beyond (or before) any real date, as it was written (R17).
	t.Expires = clampClaim(t.Claims["exp"], t.Expires)
	t.IssuedAt = clampClaim(t.Claims["iat"], t.IssuedAt)
	return t, nil
}

// ReadFile parses the token stored in path.
func ReadFile(path string) (Token, error) {
	b, err := readTokenFile(path)
	if err != nil {
		return Token{}, fmt.Errorf("reading token file: %w", err)
	}
	t, err := Parse(string(b))
	if err != nil {
		return Token{}, fmt.Errorf("token file %s: %w", path, err)
	}
	return t, nil
}

// Remaining is the time left before expiry at now (negative once expired).
func (t Token) Remaining(now time.Time) time.Duration { return t.Expires.Sub(now) }

// Expired reports whether the token has expired at now.
func (t Token) Expired(now time.Time) bool { return !now.Before(t.Expires) }

// CheckSerial returns an error when the token was minted for another gateway
// (case E4): the gateway would answer 401 forever.
func (t Token) CheckSerial(serial string) error {
	if serial == "" || t.Serial == serial {
		return nil
	}
	return fmt.Errorf("token is for gateway %s but this gateway's serial is %s: get a token for serial %s", t.Serial, serial, serial)
}

// GoString keeps %#v from printing the token.
func (t Token) GoString() string { return t.String() }

// String never reveals the token itself.
func (t Token) String() string {
	return fmt.Sprintf("%s token for %s, expires %s", t.Role, t.Serial, FormatTime(t.Expires))
}

// FileSource reads the token from a file and re-reads it when the file
// changes, so a token renewed by cron or 'token fetch' is used without restart.
type FileSource struct {
	Path string

	mu     sync.Mutex
	seen   os.FileInfo // of the file last read
	cached Token
	err    error
}

// Token returns the file's current token.
func (f *FileSource) Token() (Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, err := os.Stat(f.Path)
	if err != nil {
		return Token{}, fmt.Errorf("token file: %w", err)
	}
	// A renewal replaces the file by rename, so a new inode means new content
	// even when size and a coarse mtime look the same.
	if f.seen != nil && os.SameFile(f.seen, st) && st.ModTime().Equal(f.seen.ModTime()) && st.Size() == f.seen.Size() {
		return f.cached, f.err
	}
	f.seen = st
	f.cached, f.err = ReadFile(f.Path)
	return f.cached, f.err
}

// Static is a token given in the configuration.
type Static struct{ T Token }

// Token returns the configured token.
func (s Static) Token() (Token, error) { return s.T, nil }
