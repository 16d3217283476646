package envoy

import (
	"slices"
	"strings"
	"testing"

	"github.com/telegraf-enphase/telegraf-enphase/internal/fuzzseed"
)

// FuzzParseDigestChallenge reads any WWW-Authenticate value a firmware < 7
// gateway (or something pretending to be one, like the garbage header of
// capture 3.9.36_bad_auth) may send. It must not panic; an accepted
// challenge has what an answer needs; the answer built from it, and the
// challenge written back out, read back with the same values: quote and
// readQuoted agree on every byte.
func FuzzParseDigestChallenge(f *testing.F) {
	for _, h := range fuzzseed.Headers(f, "WWW-Authenticate") {
		f.Add(h)
	}
	for _, s := range []string{
		`Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"`,
		`Digest realm="say \"hi\" \\ there", nonce="n"`,
		`digest REALM=r, Nonce = abc/def=, algorithm=MD5, stale=TRUE`,
		`Basic realm="basic, realm", Digest realm="d", nonce="n1", qop="auth", Bearer`,
		`Digest realm="d", nonce="n0", algorithm=SHA-256, Digest realm="d", nonce="n1", algorithm=MD5-sess`,
		`Digest realm="r", nonce="abc`,
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		d, err := ParseDigestChallenge(value)
		if err != nil {
			return
		}
		if d.Nonce == "" {
			t.Fatalf("%q: accepted without a nonce", value)
		}
		if d.Algorithm != "" && !strings.EqualFold(d.Algorithm, "MD5") && !strings.EqualFold(d.Algorithm, "MD5-sess") {
			t.Fatalf("%q: accepted algorithm %q", value, d.Algorithm)
		}
		if len(d.QOP) > 0 && !d.offers("auth") {
			t.Fatalf("%q: accepted qop %q", value, d.QOP)
		}

		const user, uri = `en"voy\`, "/production.json?details=1"
		auth := d.Authorization(user, "123456", "GET", uri, 1, "0a4f113b")
		got := parseAuthChallenges(auth)
		if len(got) != 1 || got[0].scheme != "Digest" {
			t.Fatalf("%q: answer %q reads as %d challenges", value, auth, len(got))
		}
		p := got[0].params
		for k, want := range map[string]string{"username": user, "realm": d.Realm, "nonce": d.Nonce, "uri": uri, "opaque": d.Opaque} {
			if k == "opaque" && want == "" {
				continue
			}
			if p[k] != want {
				t.Fatalf("%q: answer %q has %s %q, want %q", value, auth, k, p[k], want)
			}
		}

		// The challenge written out again reads back the same.
		parts := []string{"realm=" + quote(d.Realm), "nonce=" + quote(d.Nonce)}
		if d.Opaque != "" {
			parts = append(parts, "opaque="+quote(d.Opaque))
		}
		if d.Algorithm != "" {
			parts = append(parts, "algorithm="+d.Algorithm)
		}
		if len(d.QOP) > 0 {
			parts = append(parts, "qop="+quote(strings.Join(d.QOP, ",")))
		}
		if d.Stale {
			parts = append(parts, "stale=true")
		}
		again, err := ParseDigestChallenge("Digest " + strings.Join(parts, ", "))
		if err != nil || again.Realm != d.Realm || again.Nonce != d.Nonce || again.Opaque != d.Opaque ||
			again.Algorithm != d.Algorithm || again.Stale != d.Stale || !slices.Equal(again.QOP, d.QOP) {
			t.Fatalf("%q: %+v written out reads back as %+v, %v", value, d, again, err)
		}
	})
}
