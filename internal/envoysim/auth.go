package envoysim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	sessionCookie = "sessionId"
	demoUsername  = "demo@example.com"
)

func (s *Server) initKeys() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("envoysim: generating signing key: %w", err)
	}
	s.key = key
	s.kid = newUUID()
	return nil
}

// MintToken signs a token with this simulator's key; tests use it for tokens
// that must fail (another serial, expired).
func (s *Server) MintToken(aud, role string, iat, exp time.Time) string {
	return s.mint(aud, role, demoUsername, iat, exp)
}

// mint signs a token like Entrez's and records its jti for RevokeTokens.
func (s *Server) mint(aud, role, username string, iat, exp time.Time) string {
	jti := newUUID()
	t := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"aud":         aud,
		"iss":         "Entrez",
		"enphaseUser": role,
		"exp":         exp.Unix(),
		"iat":         iat.Unix(),
		"jti":         jti,
		"username":    username,
	})
	t.Header["kid"] = s.kid
	signed, err := t.SignedString(s.key)
	if err != nil {
		// Only fails if the key is unusable, which New rules out.
		panic(fmt.Sprintf("envoysim: signing token: %v", err))
	}
	s.mu.Lock()
	s.mintSeq++
	s.minted[jti] = s.mintSeq
	s.mu.Unlock()
	return signed
}

// validToken is the gateway's check: our signature, aud = serial, not
// expired, not revoked.
func (s *Server) validToken(raw string) bool {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(raw, claims,
		func(*jwt.Token) (any, error) { return &s.key.PublicKey, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodES256.Alg()}),
		jwt.WithAudience(s.serial),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(s.opts.Now),
	)
	if err != nil {
		return false
	}
	jti, _ := claims["jti"].(string)
	s.mu.Lock()
	defer s.mu.Unlock()
	// Every token our key signed went through mint, so its jti is known.
	seq, known := s.minted[jti]
	return known && seq > s.revokedThrough
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return "", false
	}
	tok := strings.TrimSpace(h[7:])
	return tok, tok != ""
}

// session is one sessionId issued by check_jwt.
type session struct {
	created time.Time // for SessionMaxAge
	last    time.Time // for the sliding SessionTTL
}

// newSession issues a sessionId and drops dead ones so the map stays small.
func (s *Server) newSession() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, ss := range s.sessions {
		if !s.live(ss, now) {
			delete(s.sessions, k)
		}
	}
	s.sessions[id] = session{created: now, last: now}
	return id
}

func (s *Server) live(ss session, now time.Time) bool {
	if s.opts.SessionMaxAge > 0 && !now.Before(ss.created.Add(s.opts.SessionMaxAge)) {
		return false
	}
	return now.Before(ss.last.Add(s.opts.SessionTTL))
}

// useSession reports whether the request carries a live sessionId, sliding
// its idle timeout.
func (s *Server) useSession(r *http.Request) bool {
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range r.Cookies() {
		if c.Name != sessionCookie {
			continue
		}
		ss, ok := s.sessions[c.Value]
		if !ok {
			continue
		}
		if !s.live(ss, now) {
			delete(s.sessions, c.Value)
			continue
		}
		ss.last = now
		s.sessions[c.Value] = ss
		return true
	}
	return false
}

// authorized: a live sessionId cookie or a valid Bearer token.
func (s *Server) authorized(r *http.Request) bool {
	if s.useSession(r) {
		return true
	}
	tok, ok := bearer(r)
	return ok && s.validToken(tok)
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// Accepts reports whether the gateway would take raw as a Bearer token now.
func (s *Server) Accepts(raw string) bool { return s.validToken(raw) }
