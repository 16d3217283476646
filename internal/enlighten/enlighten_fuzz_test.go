package enlighten

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/telegraf-enphase/telegraf-enphase/internal/token"
)

// What the seeds' account and gateway are.
const (
	fuzzEmail   = "owner@example.com"
	fuzzSerial  = "122301234567"
	fuzzSession = "SESSION-SECRET-4711-0123456789abcdef"
)

// fuzzJWT signs an Entrez-like token for the seeds.
func fuzzJWT(f *testing.F) string {
	f.Helper()
	raw, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"aud": fuzzSerial, "iss": "Entrez", "enphaseUser": "owner", "username": fuzzEmail,
		"iat": int64(1725364800), "exp": int64(1756900800), "jti": "00000000-0000-4000-8000-000000000000",
	}).SignedString([]byte("fuzz-key"))
	if err != nil {
		f.Fatal(err)
	}
	return raw
}

// echoes reports a run of 24 or more bytes of body (between JSON
// punctuation and whitespace) that msg repeats: a token, a session_id.
func echoes(msg, body string) string {
	for _, seg := range strings.FieldsFunc(body, func(r rune) bool { return strings.ContainsRune(".\" \t\r\n{}[]:,<>=", r) }) {
		if len(seg) >= 24 && strings.Contains(msg, seg) {
			return seg
		}
	}
	return ""
}

// FuzzParseToken covers A2: a 200 from Entrez /tokens may hold a raw JWT, a
// quoted one, the JSON wrapper, an HTML page or an error text. parseToken
// must not panic, must never repeat the body in its error, and what it
// accepts is exactly what token.Parse accepts from the unwrapped body.
func FuzzParseToken(f *testing.F) {
	good := fuzzJWT(f)
	for _, s := range []string{
		good, good + "\r\n", `"` + good + `"`, `{"token":"` + good + `","expires_at":1756900800}`, `{"token":null}`,
		`{"token":123}`, `{"generation_time":1}`, "<!DOCTYPE html><html><body>Sign in</body></html>", "Error: invalid session",
		"", `{"token":"`, good[:len(good)-5] + "!!!!!", "[]", `"\u00e9"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		tok, err := parseToken(reply{status: http.StatusOK, body: body})
		if err != nil {
			if !reflect.DeepEqual(tok, token.Token{}) {
				t.Fatalf("error %v with a token", err)
			}
			if seg := echoes(err.Error(), string(body)); seg != "" {
				t.Fatalf("the error %q repeats %q from the body", err, seg)
			}
			return
		}
		if tok.Raw == "" || tok.Serial == "" {
			t.Fatalf("accepted %+v", tok)
		}
		again, err := token.Parse(tok.Raw)
		if err != nil || !reflect.DeepEqual(again, tok) {
			t.Fatalf("Raw parses to %+v, %v; want %+v", again, err, tok)
		}
	})
}

// FuzzLoginReply covers A4 and A5: any status and body from login.json.
// loginSession must not panic; it returns a session only from a 200 JSON
// object with a session_id, exactly that one; it classifies 401 as bad
// credentials, 403/405/429 as throttling and 5xx as unavailable; and no
// message repeats the body (the session_id, a token).
func FuzzLoginReply(f *testing.F) {
	good := fuzzJWT(f)
	for _, c := range []struct {
		status int
		body   string
		otp    bool
	}{
		{200, `{"message":"success","session_id":"` + fuzzSession + `","manager_token":"` + good + `","is_consumer":true}`, false},
		{200, `{"success":true,"isBlocked":false}`, false},
		{200, `{"success":true,"isBlocked":false}`, true},
		{200, `{"isBlocked":true}`, false},
		{200, `{"mfa_required":true}`, false},
		{200, `{"session_id":null}`, false},
		{200, `[]`, false},
		{200, "<html><body>Sign in</body></html>", false},
		{200, "", false},
		{401, `{"message":"Invalid email or password"}`, false},
		{403, "", false}, {405, "", false}, {429, "", false}, {503, "<html>Service Unavailable</html>", false},
		{302, "", false}, {418, "", false},
	} {
		f.Add(c.status, []byte(c.body), c.otp)
	}
	f.Fuzz(func(t *testing.T, status int, body []byte, otp bool) {
		rep := reply{status: status, body: body}
		if otp {
			rep.cookies = []*http.Cookie{{Name: otpCookie, Value: "x"}}
		}
		session, err := loginSession("Enlighten login for "+fuzzEmail, fuzzEmail, rep)
		if err != nil {
			if session != "" {
				t.Fatalf("error %v with a session", err)
			}
			if seg := echoes(err.Error(), string(body)); seg != "" {
				t.Fatalf("the error %q repeats %q from the body", err, seg)
			}
			var want error
			switch {
			case status == http.StatusUnauthorized:
				want = ErrBadCredentials
			case status == http.StatusForbidden || status == http.StatusMethodNotAllowed || status == http.StatusTooManyRequests:
				want = ErrThrottled
			case status >= 500:
				want = ErrUnavailable
			}
			if want != nil && !errors.Is(err, want) {
				t.Fatalf("status %d: error %v is not %v", status, err, want)
			}
			return
		}
		var reply struct {
			SessionID string `json:"session_id"`
		}
		if status != http.StatusOK || json.Unmarshal(body, &reply) != nil || reply.SessionID == "" || session != reply.SessionID {
			t.Fatalf("status %d body %q: session %q", status, body, session)
		}
	})
}
