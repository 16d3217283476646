package envoysim

// Legacy mode: a capture whose /info firmware is before 7 (R3.9.36, M4.2.33,
// D5.0.62, ...) is served like such a gateway: plain HTTP, no
// /auth/check_jwt, and HTTP Digest (qop=auth, MD5) instead of tokens, for
// user "envoy" (last 6 digits of the serial) or "installer" (password derived
// from the serial). Challenges look like the captured ones:
//
//	WWW-Authenticate: Digest qop="auth", realm="enphaseenergy.com", nonce="..."
//
// Nonces live SessionTTL after their last use (ExpireSessions ends them all);
// an answer with the right password under a dead or replayed nonce gets a new
// challenge with stale=true. This code shares nothing with the client in
// internal/envoy, so the two check each other.

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

const (
	legacyRealm   = "enphaseenergy.com"
	legacy401Page = "<html><body><h2>401 Unauthorized</h2></body></html>" // 4.10.35, 5.0.62
)

// nonceState is one issued digest nonce.
type nonceState struct {
	last time.Time // issue or last use, for the sliding SessionTTL
	nc   uint64    // highest nonce count accepted so far
}

// legacyVersion matches a firmware string's major version: "R3.9.36",
// "M4.2.33", "D3.18.10 (f0855e)".
var legacyVersion = regexp.MustCompile(`^[A-Za-z]*\s*(\d+)`)

// legacyFirmware reports whether <software> is before 7. Unparsable or empty
// strings count as 7+ (the simulator's usual mode).
func legacyFirmware(software string) bool {
	m := legacyVersion.FindStringSubmatch(strings.TrimSpace(software))
	if m == nil {
		return false
	}
	major, err := strconv.Atoi(m[1])
	return err == nil && major < 7
}

// Legacy reports whether the capture's firmware is before 7, so the server
// speaks plain HTTP with digest authentication.
func (s *Server) Legacy() bool { return s.legacy }

// LegacyPassword is the digest password the simulated gateway accepts for
// user ("envoy" or "installer"); "" for other users.
func (s *Server) LegacyPassword(user string) string {
	switch user {
	case "envoy":
		if len(s.serial) <= 6 {
			return s.serial
		}
		return s.serial[len(s.serial)-6:]
	case "installer":
		return installerPassword(s.serial)
	}
	return ""
}

// installerPassword follows sarnau/EnphaseEnergy passwordCalc.py
// (emupwGetMobilePasswd), docs/envoy-api-notes.md section 4.
func installerPassword(serial string) string {
	sum := md5.Sum([]byte("[e]installer@" + legacyRealm + "#" + serial + " EnPhAsE eNeRgY "))
	digest := hex.EncodeToString(sum[:])
	zeros, ones := strings.Count(digest, "0"), strings.Count(digest, "1")
	var out strings.Builder
	for k := 0; k < 8; k++ {
		cc := digest[len(digest)-1-k]
		switch zeros {
		case 3, 6, 9:
			zeros--
		}
		if zeros > 20 {
			zeros = 20
		} else if zeros < 0 {
			zeros = 0
		}
		switch ones {
		case 9, 15:
			ones--
		}
		if ones > 26 {
			ones = 26
		} else if ones < 0 {
			ones = 0
		}
		switch cc {
		case '0':
			out.WriteRune(rune('f' + zeros))
			zeros--
		case '1':
			out.WriteRune(rune('@' + ones))
			ones--
		default:
			out.WriteByte(cc)
		}
	}
	return out.String()
}

// setChallenge adds a fresh digest challenge to a 401's headers.
func (s *Server) setChallenge(h http.Header, stale bool) {
	var b [20]byte
	_, _ = rand.Read(b[:])
	nonce := base64.StdEncoding.EncodeToString(b[:])
	now := s.opts.Now()
	s.mu.Lock()
	for n, st := range s.nonces {
		if !now.Before(st.last.Add(s.opts.SessionTTL)) {
			delete(s.nonces, n)
		}
	}
	s.nonces[nonce] = &nonceState{last: now}
	s.mu.Unlock()
	v := `Digest qop="auth", realm="` + legacyRealm + `", nonce="` + nonce + `"`
	if stale {
		v += ", stale=true"
	}
	h.Set("WWW-Authenticate", v)
}

// digestAuthorized checks the request's Digest answer. stale is true when the
// password was right but the nonce is unknown, expired or replayed.
func (s *Server) digestAuthorized(r *http.Request) (ok, stale bool) {
	p, found := digestParams(r.Header.Get("Authorization"))
	if !found {
		return false, false
	}
	user, nonce, qop := p["username"], p["nonce"], p["qop"]
	password := s.LegacyPassword(user)
	if password == "" || p["realm"] != legacyRealm || nonce == "" || p["uri"] != r.RequestURI {
		return false, false
	}
	if a := p["algorithm"]; a != "" && !strings.EqualFold(a, "MD5") {
		return false, false
	}
	h := func(s string) string { x := md5.Sum([]byte(s)); return hex.EncodeToString(x[:]) }
	ha1 := h(user + ":" + legacyRealm + ":" + password)
	ha2 := h(r.Method + ":" + p["uri"])
	var want string
	var nc uint64
	switch qop {
	case "auth":
		var err error
		if nc, err = strconv.ParseUint(p["nc"], 16, 32); err != nil || len(p["nc"]) != 8 || p["cnonce"] == "" {
			return false, false
		}
		want = h(ha1 + ":" + nonce + ":" + p["nc"] + ":" + p["cnonce"] + ":auth:" + ha2)
	case "": // RFC 2069: no replay protection
		want = h(ha1 + ":" + nonce + ":" + ha2)
	default:
		return false, false
	}
	if subtle.ConstantTimeCompare([]byte(strings.ToLower(p["response"])), []byte(want)) != 1 {
		return false, false
	}
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	st, known := s.nonces[nonce]
	if !known || !now.Before(st.last.Add(s.opts.SessionTTL)) {
		delete(s.nonces, nonce)
		return false, true
	}
	if qop != "" {
		if nc <= st.nc {
			return false, true // replayed
		}
		st.nc = nc
	}
	st.last = now
	return true, false
}

// digestParams parses "Digest k=v, k="v", ..." from an Authorization header.
func digestParams(h string) (map[string]string, bool) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if !strings.EqualFold(scheme, "Digest") {
		return nil, false
	}
	p := map[string]string{}
	for rest = strings.TrimLeft(rest, " \t,"); rest != ""; rest = strings.TrimLeft(rest, " \t,") {
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return nil, false
		}
		key := strings.ToLower(strings.TrimSpace(rest[:eq]))
		rest = strings.TrimLeft(rest[eq+1:], " \t")
		var val strings.Builder
		if strings.HasPrefix(rest, `"`) {
			i, closed := 1, false
			for ; i < len(rest); i++ {
				if rest[i] == '\\' && i+1 < len(rest) {
					i++
				} else if rest[i] == '"' {
					closed = true
					break
				}
				val.WriteByte(rest[i])
			}
			if !closed {
				return nil, false
			}
			rest = rest[i+1:]
		} else {
			end := strings.IndexAny(rest, ", \t")
			if end < 0 {
				end = len(rest)
			}
			val.WriteString(rest[:end])
			rest = rest[end:]
		}
		if _, dup := p[key]; dup {
			return nil, false
		}
		p[key] = val.String()
	}
	return p, true
}

// legacyUnauthorized answers the simulator's own digest refusal.
func (s *Server) legacyUnauthorized(w http.ResponseWriter, stale bool) {
	s.mu.Lock()
	s.stats.Unauthorized++
	s.mu.Unlock()
	s.setChallenge(w.Header(), stale)
	write(w, http.StatusUnauthorized, "text/html", []byte(legacy401Page))
}
