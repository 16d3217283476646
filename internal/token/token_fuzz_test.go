package token

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// fuzzToken signs claims for the seeds; the signature is never checked.
func fuzzToken(f *testing.F, c jwt.MapClaims) string {
	f.Helper()
	raw, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte("fuzz-key"))
	if err != nil {
		f.Fatal(err)
	}
	return raw
}

// FuzzParse covers A2 and A3: whatever a token file or the cloud holds (a
// raw JWT, the JSON wrapper, whitespace, a Bearer prefix, HTML, an error
// string), Parse does not panic; a failure returns the zero Token and its
// message never echoes a segment of the token; a success has a compact,
// trimmed Raw that parses again to the same claims.
func FuzzParse(f *testing.F) {
	iat := time.Date(2024, 9, 3, 12, 0, 0, 0, time.UTC)
	owner := jwt.MapClaims{"aud": serial, "iss": "Entrez", "enphaseUser": "owner", "username": "owner@example.com",
		"iat": iat.Unix(), "exp": iat.AddDate(1, 0, 0).Unix(), "jti": "3f7a4b52-0000-4c3b-9a54-5b2d6c1e7f10"}
	installer := jwt.MapClaims{"aud": []string{"122309999999"}, "enphaseUser": "installer", "exp": iat.Add(12 * time.Hour).Unix()}
	noAud := jwt.MapClaims{"exp": 1}
	for _, raw := range []string{fuzzToken(f, owner), fuzzToken(f, installer), fuzzToken(f, noAud)} {
		for _, s := range []string{
			raw, "  " + raw + "\r\n", "Bearer " + raw, "bearer   " + raw + "\n",
			`{"generation_time":1725364800,"token":"` + raw + `","expires_at":1756900800}`,
			`{"token":" ` + raw + `\n"}`, `"` + raw + `"`, raw[:len(raw)-10], raw + ".x", raw[:20] + " " + raw[20:],
		} {
			f.Add(s)
		}
	}
	for _, s := range []string{"", `{"token":""}`, `{"token":`, "<html><body>Sign in</body></html>", "Error: 401 Unauthorized", "not.a.jwt", "e30.e30."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := Parse(s)
		if err != nil {
			if !reflect.DeepEqual(tok, Token{}) {
				t.Fatalf("error %v with a token %+v", err, tok)
			}
			// A JWT's payload or signature segment in the message would
			// put the token in Telegraf's log.
			for _, seg := range strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(".\" \t\r\n{}:,", r) }) {
				if len(seg) >= 24 && strings.Contains(err.Error(), seg) {
					t.Fatalf("the error %q echoes %q", err, seg)
				}
			}
			return
		}
		if tok.Raw == "" || tok.Raw != strings.TrimSpace(tok.Raw) || strings.Count(tok.Raw, ".") != 2 || strings.ContainsAny(tok.Raw, " \t\r\n") {
			t.Fatalf("accepted Raw %q", tok.Raw)
		}
		if tok.Serial == "" {
			t.Fatalf("accepted a token without a serial: %+v", tok)
		}
		again, err := Parse(tok.Raw)
		if err != nil {
			t.Fatalf("Raw of an accepted token does not parse: %v", err)
		}
		if !reflect.DeepEqual(again, tok) {
			t.Fatalf("Raw parses to %+v, not %+v", again, tok)
		}
		if strings.Contains(tok.String(), tok.Raw) {
			t.Fatalf("String() shows the token")
		}
	})
}
