package envoy

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"unicode"
)

// ParseURL turns what users write for the gateway address into a base URL.
// It accepts "envoy.local", "192.168.1.50", "https://envoy.local",
// "fd50::1", "[fd50::1]:443" and "https://[fd50::1]" (case E2: an IPv6 literal
// without brackets), and defaults to https because firmware 7+ only speaks it.
func ParseURL(s string) (*url.URL, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("gateway url is empty: set url = \"https://envoy.local\" (or the gateway's IP address)")
	}
	if strings.Contains(s, "@") {
		// Not echoed: it may hold a password.
		return nil, fmt.Errorf("gateway url: a user or password does not belong in the url; the gateway wants a token (token_file)")
	}
	scheme := "https"
	rest := s
	if i := strings.Index(s, "://"); i >= 0 {
		scheme = strings.ToLower(s[:i])
		rest = s[i+3:]
	}
	if scheme != "https" && scheme != "http" {
		return nil, fmt.Errorf("gateway url %q: scheme %q is not supported, use https://", s, scheme)
	}
	path := ""
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		path = rest[i:]
		rest = rest[:i]
	}
	if strings.Trim(path, "/") != "" {
		return nil, fmt.Errorf("gateway url %q: give only the address (e.g. https://envoy.local), not a path", s)
	}
	host := rest
	if strings.Count(host, ":") > 1 && !strings.HasPrefix(host, "[") {
		// A bare IPv6 literal: it cannot carry a port without brackets.
		if net.ParseIP(host) == nil {
			return nil, fmt.Errorf("gateway url %q: %q is neither a host name nor an IP address", s, host)
		}
		host = "[" + host + "]"
	}
	if host == "" || host == "[]" {
		return nil, fmt.Errorf("gateway url %q has no host", s)
	}
	u, err := url.Parse(scheme + "://" + host)
	if err != nil {
		return nil, fmt.Errorf("gateway url %q: %w", s, err)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("gateway url %q has no host", s)
	}
	// Requests go to u.String() + path: a host that does not read back from
	// its written form (a non-ASCII IPv6 zone) would fail every request, and
	// one that decodes to a space or a control character ("[::%25%20]") is
	// no address at all.
	if again, err := url.Parse(u.String()); err != nil || again.Host != u.Host || strings.ContainsFunc(u.Host, badHostRune) {
		return nil, fmt.Errorf("gateway url %q: %q is not a usable host", s, u.Host)
	}
	if p := u.Port(); p != "" {
		if n, err := net.LookupPort("tcp", p); err != nil || n == 0 {
			return nil, fmt.Errorf("gateway url %q: bad port %q", s, p)
		}
	}
	return u, nil
}

func badHostRune(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }
