package envoy

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestParseURL covers the address forms users write in the config, E2 (an
// IPv6 literal without brackets) included.
func TestParseURLE2T6(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string   // exact u.String() when the input is accepted
		wantErr []string // substrings the error must contain when rejected
	}{
		{name: "T6 host only defaults to https", in: "envoy.local", want: "https://envoy.local"},
		{name: "T11 IPv4 address instead of envoy.local", in: "192.168.1.50", want: "https://192.168.1.50"},
		{name: "T6 https url", in: "https://envoy.local", want: "https://envoy.local"},
		{name: "T6 http url kept as http", in: "http://envoy.local", want: "http://envoy.local"},
		{name: "T6 scheme is case-insensitive", in: "HTTPS://192.168.1.50", want: "https://192.168.1.50"},
		{name: "A3 surrounding whitespace trimmed", in: "  envoy.local \n", want: "https://envoy.local"},
		{name: "trailing slash dropped", in: "https://envoy.local/", want: "https://envoy.local"},
		{name: "E2 IPv4 host with port", in: "192.168.1.50:8443", want: "https://192.168.1.50:8443"},
		{name: "E2 IPv6 literal without brackets", in: "fd50::1", want: "https://[fd50::1]"},
		{name: "E2 full IPv6 literal without brackets", in: "fd50:0:0:0:0:0:0:1", want: "https://[fd50:0:0:0:0:0:0:1]"},
		{name: "E2 bracketed IPv6 with port", in: "[fd50::1]:8443", want: "https://[fd50::1]:8443"},
		{name: "E2 https url with bracketed IPv6", in: "https://[fd50::1]", want: "https://[fd50::1]"},
		{name: "E2 http url with bracketed IPv6 and slash", in: "http://[fd50::1]/", want: "http://[fd50::1]"},

		{name: "path rejected", in: "https://envoy.local/production.json", wantErr: []string{`"https://envoy.local/production.json"`, "not a path"}},
		{name: "query rejected", in: "envoy.local?details=1", wantErr: []string{"not a path"}},
		{name: "T6 bad scheme rejected", in: "ftp://envoy.local", wantErr: []string{`scheme "ftp" is not supported`, "https://"}},
		{name: "empty", in: "", wantErr: []string{"gateway url is empty"}},
		{name: "whitespace only", in: " \t\n", wantErr: []string{"gateway url is empty"}},
		{name: "scheme without host", in: "https://", wantErr: []string{"has no host"}},
		{name: "port without host", in: "https://:443", wantErr: []string{"has no host"}},
		{name: "E2 garbage with colons rejected", in: "envoy:local:443", wantErr: []string{`"envoy:local:443" is neither a host name nor an IP address`}},
		{name: "E2 unclosed bracket", in: "[fd50::1", wantErr: []string{`"[fd50::1"`, "missing ']'"}},
		{name: "E2 port out of range", in: "envoy.local:99999", wantErr: []string{`bad port "99999"`}},
		{name: "E2 non-numeric port", in: "envoy.local:abc", wantErr: []string{`"envoy.local:abc"`, "invalid port"}},
		{name: "E2 bracketed IPv6 with port out of range", in: "[fd50::1]:70000", wantErr: []string{`bad port "70000"`}},
		{name: "E2 IPv6 zone that does not read back (found by FuzzParseURL)", in: "[::%25\x87]", wantErr: []string{"not a usable host"}},
		{name: "E2 IPv6 zone that decodes to a space (found by FuzzParseURL)", in: "[::%25%20]", wantErr: []string{"not a usable host"}},
		{name: "E2 IPv6 zone with a control character", in: "https://[fe80::1%25%07]:443", wantErr: []string{"invalid URL escape"}},
		{name: "E2 IPv6 zone still taken", in: "[fe80::1%25eth0]:443", want: "https://[fe80::1%25eth0]:443"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := ParseURL(tt.in)
			if tt.wantErr != nil {
				require.Error(t, err)
				require.Nil(t, u)
				for _, s := range tt.wantErr {
					require.Contains(t, err.Error(), s)
				}
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, u.String())
			require.Empty(t, u.Path, "the base URL must carry no path: request paths are appended to it")
		})
	}
}

// TestParseURLHostnameE2 checks that the bracketed form gives the bare IPv6
// address back as Hostname, so TLS server names and messages are right.
func TestParseURLHostnameE2(t *testing.T) {
	for _, in := range []string{"fd50::1", "[fd50::1]", "https://[fd50::1]", "[fd50::1]:443"} {
		t.Run(in, func(t *testing.T) {
			u, err := ParseURL(in)
			require.NoError(t, err)
			require.Equal(t, "fd50::1", u.Hostname())
		})
	}
}

// TestParseURLRejectsCredentialsAndPortZero: userinfo would be sent nowhere
// useful and kept in messages; port 0 cannot be dialled.
func TestParseURLRejectsCredentialsAndPortZero(t *testing.T) {
	for _, in := range []string{"https://user:secret@envoy.local", "envoy.local:0"} {
		_, err := ParseURL(in)
		require.Error(t, err, in)
		require.NotContains(t, err.Error(), "secret@", "the message must not echo a password")
	}
}
