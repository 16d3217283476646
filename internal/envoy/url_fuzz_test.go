package envoy

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzParseURL covers E2 and T6: whatever a user writes for url, ParseURL
// does not panic, and what it accepts is an http(s) base URL with a host and
// nothing else (no user, path, query or fragment), that reads back the same
// and that the request paths can be appended to.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"envoy.local", "192.168.1.50", "https://envoy.local", "http://envoy.local/", "HTTPS://192.168.1.50",
		"fd50::1", "[fd50::1]:443", "https://[fd50::1]", "[fe80::1%25eth0]:443", "192.168.1.50:8443",
		"https://user:secret@envoy.local", "envoy.local:0", "envoy.local:99999", "envoy.local:https",
		"envoy:local:443", "[fd50::1", "ftp://envoy.local", "https://envoy.local/production.json", " \t\n",
		"envoy.local?details=1", "https://:443", "https://", "envoy.local#x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURL(s)
		if err != nil {
			if u != nil {
				t.Fatalf("error %v with a URL %v", err, u)
			}
			return
		}
		if u.Scheme != "https" && u.Scheme != "http" {
			t.Fatalf("%q: scheme %q", s, u.Scheme)
		}
		if u.Hostname() == "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
			t.Fatalf("%q: accepted as %#v", s, u)
		}
		again, err := ParseURL(u.String())
		if err != nil || again.String() != u.String() {
			t.Fatalf("%q gave %q, which reads back as %v, %v", s, u, again, err)
		}
		// The client requests base.String() + path.
		req, err := url.Parse(u.String() + PathMeterReadings)
		if err != nil || req.Host != u.Host || req.Path != PathMeterReadings {
			t.Fatalf("%q: %q + %s parses as %#v, %v", s, u, PathMeterReadings, req, err)
		}
		if strings.ContainsAny(u.Host, " \t\r\n") {
			t.Fatalf("%q: host %q has whitespace", s, u.Host)
		}
	})
}
