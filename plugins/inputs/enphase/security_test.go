package enphase

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/certpin"
	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
	"github.com/telegraf-enphase/telegraf-enphase/internal/envoysim"
)

// TestSecurityConfigErrors: pinning and plain http settings that cannot work
// fail at start naming the key and the fix (T6, T7).
func TestSecurityConfigErrors(t *testing.T) {
	sim, err := envoysim.New(envoysim.Options{})
	require.NoError(t, err)
	tok := writeToken(t, sim.Token())
	fp := certpin.Of([]byte("x")).String()
	tests := []struct {
		name       string
		set        func(e *Enphase)
		wantKey    string
		wantReason string
	}{
		{
			name:       "T7 tls_pin neither tofu nor a fingerprint",
			set:        func(e *Enphase) { e.TLSPin = "md5:00:11" },
			wantKey:    "tls_pin",
			wantReason: `is neither "tofu" nor a SHA-256 fingerprint (md5 fingerprints are not supported`,
		},
		{name: "T7 tls_pin too short", set: func(e *Enphase) { e.TLSPin = "sha256:AB:CD" }, wantKey: "tls_pin", wantReason: "has 4 hex digits"},
		{
			name:       "T7 tls_pin with insecure_skip_verify",
			set:        func(e *Enphase) { e.TLSPin, e.InsecureSkipVerify = "tofu", true },
			wantKey:    "insecure_skip_verify",
			wantReason: "cannot be combined with tls_pin",
		},
		{
			name:       "T7 tls_pin with tls_ca",
			set:        func(e *Enphase) { e.TLSPin, e.TLSCA = "sha256:"+fp, "/etc/ssl/envoy.pem" },
			wantKey:    "tls_ca",
			wantReason: "remove tls_ca",
		},
		{
			name:       "T7 tofu without token_file",
			set:        func(e *Enphase) { e.TLSPin, e.TokenFile, e.Token = "tofu", "", config.NewSecret([]byte(sim.Token())) },
			wantKey:    "tls_pin_file",
			wantReason: `required with tls_pin = "tofu" when there is no token_file`,
		},
		{
			name:       "T7 tls_pin_file with a fixed pin",
			set:        func(e *Enphase) { e.TLSPin, e.TLSPinFile = "sha256:"+fp, "/x.pin" },
			wantKey:    "tls_pin_file",
			wantReason: "a fixed fingerprint needs no file",
		},
		{
			name:       "T7 tls_pin_file without tls_pin",
			set:        func(e *Enphase) { e.TLSPinFile = "/x.pin" },
			wantKey:    "tls_pin_file",
			wantReason: `only used with tls_pin = "tofu"`,
		},
		{
			name:       "T7 tls_pin with an http url",
			set:        func(e *Enphase) { e.URL, e.TokenFile, e.TLSPin = "http://192.168.1.5", "", "tofu" },
			wantKey:    "tls_pin",
			wantReason: `use url = "https://192.168.1.5"`,
		},
		{
			name:       "T6 http url with token_file",
			set:        func(e *Enphase) { e.URL = "http://192.168.1.5" },
			wantKey:    "url",
			wantReason: `http://192.168.1.5 is plain http, which would send the token in clear text: use url = "https://192.168.1.5"`,
		},
		{
			name:       "T6 http url with port 80 and token_file",
			set:        func(e *Enphase) { e.URL = "http://[fd50::1]:80" },
			wantKey:    "url",
			wantReason: `use url = "https://[fd50::1]"`,
		},
		{
			name:       "T6 http url with another port keeps it",
			set:        func(e *Enphase) { e.URL = "http://192.168.1.5:8080" },
			wantKey:    "url",
			wantReason: `use url = "https://192.168.1.5:8080"`,
		},
		{name: "T6 http url with token", set: func(e *Enphase) {
			e.URL, e.TokenFile, e.Token = "http://192.168.1.5", "", config.NewSecret([]byte(sim.Token()))
		}, wantKey: "url", wantReason: "clear text"},
		{name: "T6 http url with username", set: func(e *Enphase) {
			e.URL, e.TokenFile, e.Username, e.Password = "http://envoy.local", "", account, config.NewSecret([]byte(password))
		}, wantKey: "url", wantReason: `use url = "https://envoy.local"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := New()
			e.URL = "https://192.168.1.5"
			e.TokenFile = tok
			e.Log = testutil.Logger{}
			tt.set(e)
			err := e.Init()
			var ce *ConfigError
			require.ErrorAs(t, err, &ce)
			require.Equal(t, tt.wantKey, ce.Key)
			require.Contains(t, ce.Reason, tt.wantReason)
			require.NotContains(t, err.Error(), sim.Token())
		})
	}
}

// TestFirmware7OverHTTP covers T6: a gateway that /info shows on firmware 7
// or later, configured with an http:// url (so without a token), fails
// every gather naming the firmware and the fix; no token is asked for over http.
func TestFirmware7OverHTTP(t *testing.T) {
	sim, err := envoysim.New(envoysim.Options{})
	require.NoError(t, err)
	// The firmware 8 gateway answering on plain http.
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	e := New()
	e.URL = srv.URL
	e.Log = testutil.Logger{}
	require.NoError(t, e.Init())
	t.Cleanup(e.Stop)
	for i := range 2 {
		var acc testutil.Accumulator
		err := e.Gather(&acc)
		require.ErrorIs(t, err, ErrUnreadable, "gather %d", i)
		require.ErrorContains(
			t,
			err,
			`the gateway runs firmware "D8.2.4345", which needs a token over https: set url = "https://`+srv.Listener.Addr().String()+`" and token_file`,
		)
		fw, ok := field2(acc.GetTelegrafMetrics(), "enphase_gateway", "firmware")
		require.True(t, ok, "gather %d: enphase_gateway shows the firmware", i)
		require.Equal(t, "D8.2.4345", fw)
	}
	st := sim.Stats()
	require.Equal(t, st.Requests[envoy.PathInfo], st.Total, "only /info, which needs no token")
	require.Zero(t, st.CheckJWT)
}

// TestLinkLocalAddressWarnsE1 covers E1: mDNS can give a link-local address,
// which the gateway changes when it restarts; Init warns and suggests a
// stable address. (Series are keyed by serial either way: E3.)
func TestLinkLocalAddressWarnsE1(t *testing.T) {
	sim, err := envoysim.New(envoysim.Options{})
	require.NoError(t, err)
	tok := writeToken(t, sim.Token())
	tests := []struct {
		url  string
		warn bool
	}{
		{url: "169.254.10.20", warn: true},
		{url: "https://169.254.1.1:443", warn: true},
		{url: "fe80::1c2:3ff:fe04:506", warn: true},
		{url: "https://[fe80::1%25eth0]", warn: true},
		{url: "192.168.1.5"},
		{url: "fd50::1"}, // a unique local address is stable
		{url: "envoy.local"},
	}
	for _, tt := range tests {
		t.Run("E1 "+tt.url, func(t *testing.T) {
			e := New()
			e.URL = tt.url
			e.TokenFile = tok
			e.InsecureSkipVerify = true
			log := &testutil.CaptureLogger{}
			e.Log = log
			require.NoError(t, e.Init())
			t.Cleanup(e.Stop)
			w := strings.Join(log.Warnings(), "\n")
			if !tt.warn {
				require.Empty(t, w)
				return
			}
			require.Contains(t, w, "is a link-local address")
			require.Contains(t, w, "use the address your router reserves for it by DHCP, or envoy.local")
		})
	}
}

// TestSecretFilePermissionWarnings: files holding the token, the password or
// the pin that other users can read or change, and a directory any user can
// write, are warned about at start with the fix; 0600 files in a 0700
// directory are not.
func TestSecretFilePermissionWarnings(t *testing.T) {
	sim, err := envoysim.New(envoysim.Options{})
	require.NoError(t, err)
	tests := []struct {
		name    string
		dirMode os.FileMode
		token   os.FileMode
		pw      os.FileMode // 0: no password_file
		pin     os.FileMode // 0: no pin file yet
		want    []string    // substrings, one per expected warning; DIR is the directory
	}{
		{name: "0600 in a 0700 directory", dirMode: 0o700, token: 0o600, pw: 0o600, pin: 0o600},
		{name: "token readable by others", dirMode: 0o700, token: 0o644,
			want: []string{
				"token_file DIR/envoy.token has mode 0644: users in its group and other users on this host can read it; fix: chmod 600 DIR/envoy.token",
			}},
		{name: "password_file readable by the group", dirMode: 0o700, token: 0o600, pw: 0o640,
			want: []string{"password_file DIR/password has mode 0640: users in its group can read it; fix: chmod 600 DIR/password"}},
		{name: "pin file writable by others", dirMode: 0o700, token: 0o600, pin: 0o666,
			want: []string{"tls_pin_file DIR/envoy.token.pin has mode 0666: users in its group and other users on this host can read and change it"}},
		{name: "world-writable directory", dirMode: 0o777, token: 0o600,
			want: []string{"the directory DIR holding token_file and tls_pin_file is writable by every user (mode 0777)"}},
		{name: "sticky directory like /tmp", dirMode: 0o777 | os.ModeSticky, token: 0o600,
			want: []string{"(mode 1777): another user can put a file of their own there"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "enphase")
			require.NoError(t, os.Mkdir(dir, 0o700))
			e := New()
			e.URL = "https://192.168.1.5"
			e.TLSPin = "tofu"
			e.TokenFile = filepath.Join(dir, "envoy.token")
			require.NoError(t, os.WriteFile(e.TokenFile, []byte(sim.Token()), 0o600))
			require.NoError(t, os.Chmod(e.TokenFile, tt.token))
			if tt.pw != 0 {
				e.Username, e.PasswordFile = account, filepath.Join(dir, "password")
				require.NoError(t, os.WriteFile(e.PasswordFile, []byte(password), 0o600))
				require.NoError(t, os.Chmod(e.PasswordFile, tt.pw))
			}
			if tt.pin != 0 {
				p := e.TokenFile + ".pin"
				require.NoError(t, certpin.WriteFile(p, certpin.Record{Fingerprint: certpin.Of([]byte("x"))}))
				require.NoError(t, os.Chmod(p, tt.pin))
			}
			require.NoError(t, os.Chmod(dir, tt.dirMode))
			t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
			log := &testutil.CaptureLogger{}
			e.Log = log
			require.NoError(t, e.Init(), "a warning, not a failure")
			t.Cleanup(e.Stop)
			got := log.Warnings()
			require.Len(t, got, len(tt.want), "%q", got)
			for i, w := range tt.want {
				require.Contains(t, got[i], strings.ReplaceAll(w, "DIR", dir))
			}
			require.NotContains(t, strings.Join(got, "\n"), password)
		})
	}
}
