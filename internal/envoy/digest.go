package envoy

// HTTP Digest authentication, client side (RFC 7616, RFC 2617 and the older
// RFC 2069 form without qop), for gateways on firmware before 7, which speak
// plain HTTP and challenge with
//
//	WWW-Authenticate: Digest qop="auth", realm="enphaseenergy.com", nonce="1694046744"
//
// Only what those gateways need is here: algorithm MD5 (or MD5-sess), qop
// "auth" or none. No third-party code: the scheme is small and the gateway's
// dialect is narrow.

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// DigestChallenge is one parsed "WWW-Authenticate: Digest ..." challenge.
type DigestChallenge struct {
	Realm     string
	Nonce     string
	Opaque    string   // echoed back as is; "" when absent
	Algorithm string   // as sent ("MD5", "MD5-sess"); "" when absent, which means MD5
	QOP       []string // offered qop values, e.g. ["auth", "auth-int"]; empty for the RFC 2069 form
	Stale     bool     // the previous nonce expired, the credentials were fine
}

// ErrNoDigestChallenge means a WWW-Authenticate value holds no Digest challenge.
var ErrNoDigestChallenge = errors.New("no Digest challenge")

// ParseDigestChallenge reads the Digest challenge in one WWW-Authenticate
// value, which may list other schemes too ("Basic realm=x, Digest ..."). It
// fails when there is none (ErrNoDigestChallenge), when nonce or realm is
// missing, or when the challenge needs what this client does not do (an
// algorithm other than MD5/MD5-sess, qop without "auth").
func ParseDigestChallenge(value string) (DigestChallenge, error) {
	var firstErr error
	for _, ch := range parseAuthChallenges(value) {
		if !strings.EqualFold(ch.scheme, "Digest") {
			continue
		}
		d, err := digestFromParams(ch.params)
		if err == nil {
			return d, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		return DigestChallenge{}, firstErr
	}
	return DigestChallenge{}, ErrNoDigestChallenge
}

// findDigestChallenge looks through every WWW-Authenticate header of a
// response for a Digest challenge this client can answer. It returns
// ErrNoDigestChallenge when the response offers none at all.
func findDigestChallenge(h http.Header) (DigestChallenge, error) {
	err := ErrNoDigestChallenge
	for _, v := range h.Values("WWW-Authenticate") {
		d, e := ParseDigestChallenge(v)
		if e == nil {
			return d, nil
		}
		if !errors.Is(e, ErrNoDigestChallenge) {
			err = e
		}
	}
	return DigestChallenge{}, err
}

func digestFromParams(p map[string]string) (DigestChallenge, error) {
	d := DigestChallenge{
		Realm:     p["realm"],
		Nonce:     p["nonce"],
		Opaque:    p["opaque"],
		Algorithm: p["algorithm"],
		Stale:     strings.EqualFold(p["stale"], "true"),
	}
	for _, q := range strings.Split(p["qop"], ",") {
		if q = strings.TrimSpace(q); q != "" {
			d.QOP = append(d.QOP, q)
		}
	}
	_, hasRealm := p["realm"]
	switch {
	case d.Nonce == "":
		return DigestChallenge{}, errors.New("digest challenge without a nonce")
	case !hasRealm:
		return DigestChallenge{}, errors.New("digest challenge without a realm")
	case d.Algorithm != "" && !strings.EqualFold(d.Algorithm, "MD5") && !strings.EqualFold(d.Algorithm, "MD5-sess"):
		return DigestChallenge{}, fmt.Errorf("digest algorithm %s is not supported (only MD5)", Quote(d.Algorithm))
	case len(d.QOP) > 0 && !d.offers("auth"):
		return DigestChallenge{}, fmt.Errorf("digest qop %s is not supported (only auth)", Quote(p["qop"]))
	}
	return d, nil
}

func (d DigestChallenge) offers(qop string) bool {
	for _, q := range d.QOP {
		if strings.EqualFold(q, qop) {
			return true
		}
	}
	return false
}

// Authorization is the value of the Authorization header answering d for one
// request: method and uri as on the request line (uri with its query), nc
// the count of requests sent with this nonce so far including this one,
// cnonce a fresh random string (NewCnonce). With qop "auth" offered the
// answer uses it; without qop it is the RFC 2069 form, where nc and cnonce
// are unused.
func (d DigestChallenge) Authorization(user, password, method, uri string, nc uint32, cnonce string) string {
	ha1 := md5hex(user + ":" + d.Realm + ":" + password)
	if strings.EqualFold(d.Algorithm, "MD5-sess") {
		ha1 = md5hex(ha1 + ":" + d.Nonce + ":" + cnonce)
	}
	ha2 := md5hex(method + ":" + uri)
	qop := len(d.QOP) > 0
	ncs := fmt.Sprintf("%08x", nc)
	var response string
	if qop {
		response = md5hex(ha1 + ":" + d.Nonce + ":" + ncs + ":" + cnonce + ":auth:" + ha2)
	} else {
		response = md5hex(ha1 + ":" + d.Nonce + ":" + ha2)
	}

	var b strings.Builder
	b.WriteString("Digest ")
	fmt.Fprintf(&b, "username=%s, realm=%s, nonce=%s, uri=%s", quote(user), quote(d.Realm), quote(d.Nonce), quote(uri))
	if d.Algorithm != "" {
		fmt.Fprintf(&b, ", algorithm=%s", d.Algorithm)
	}
	if qop {
		fmt.Fprintf(&b, ", qop=auth, nc=%s, cnonce=%s", ncs, quote(cnonce))
	}
	fmt.Fprintf(&b, ", response=%s", quote(response))
	if d.Opaque != "" {
		fmt.Fprintf(&b, ", opaque=%s", quote(d.Opaque))
	}
	return b.String()
}

// NewCnonce returns a random client nonce (16 hex digits).
func NewCnonce() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail (it panics instead)
	return hex.EncodeToString(b[:])
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// quote makes an RFC 7230 quoted-string.
func quote(s string) string {
	if !strings.ContainsAny(s, `"\`) {
		return `"` + s + `"`
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// authChallenge is one challenge of a WWW-Authenticate value: a scheme and
// its parameters (names lower-cased, first occurrence wins).
type authChallenge struct {
	scheme string
	params map[string]string
}

// parseAuthChallenges splits a WWW-Authenticate value (RFC 7235 section 4.1)
// into challenges. A token followed by "=" is a parameter of the current
// challenge, any other token starts a new one. Quoted strings may hold commas
// and backslash escapes. It is lenient: bytes that fit nowhere are skipped.
func parseAuthChallenges(s string) []authChallenge {
	var out []authChallenge
	i := 0
	skip := func(set string) {
		for i < len(s) && strings.IndexByte(set, s[i]) >= 0 {
			i++
		}
	}
	for {
		skip(" \t,")
		if i >= len(s) {
			return out
		}
		start := i
		for i < len(s) && isTokenChar(s[i]) {
			i++
		}
		tok := s[start:i]
		if tok == "" {
			i++ // not a token character: skip it
			continue
		}
		skip(" \t")
		if i >= len(s) || s[i] != '=' {
			out = append(out, authChallenge{scheme: tok, params: map[string]string{}})
			continue
		}
		i++ // '='
		skip(" \t")
		var val string
		if i < len(s) && s[i] == '"' {
			val, i = readQuoted(s, i)
		} else {
			start := i
			for i < len(s) && s[i] != ',' && s[i] != ' ' && s[i] != '\t' {
				i++
			}
			val = s[start:i]
		}
		if len(out) == 0 {
			continue // a parameter before any scheme
		}
		name := strings.ToLower(tok)
		if _, dup := out[len(out)-1].params[name]; !dup {
			out[len(out)-1].params[name] = val
		}
	}
}

// readQuoted reads the quoted-string starting at s[i] == '"' and returns its
// content and the index after the closing quote (or the end, if unclosed).
func readQuoted(s string, i int) (string, int) {
	var b strings.Builder
	for i++; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), i + 1
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), i
}

func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// LegacyPassword is the local password of a firmware < 7 gateway for user,
// derived from the gateway serial (/info <sn>): for "envoy" the last 6
// characters of the serial; for "installer" (and any other user) the
// algorithm of sarnau/EnphaseEnergy passwordCalc.py, which pyenphase uses
// (docs/envoy-api-notes.md section 4).
func LegacyPassword(serial, user string) string {
	serial = strings.TrimSpace(serial)
	if user == "envoy" {
		if len(serial) <= 6 {
			return serial
		}
		return serial[len(serial)-6:]
	}
	digest := md5hex("[e]" + user + "@enphaseenergy.com#" + serial + " EnPhAsE eNeRgY ")
	countZero := strings.Count(digest, "0")
	countOne := strings.Count(digest, "1")
	pw := make([]byte, 0, 8)
	// The last 8 hex digits, last first.
	for i := len(digest) - 1; i >= len(digest)-8; i-- {
		if countZero == 3 || countZero == 6 || countZero == 9 {
			countZero--
		}
		countZero = min(max(countZero, 0), 20)
		if countOne == 9 || countOne == 15 {
			countOne--
		}
		countOne = min(max(countOne, 0), 26)
		switch c := digest[i]; c {
		case '0':
			pw = append(pw, byte('f'+countZero))
			countZero--
		case '1':
			pw = append(pw, byte('@'+countOne))
			countOne--
		default:
			pw = append(pw, c)
		}
	}
	return string(pw)
}
