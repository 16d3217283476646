package certpin

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// gatewayCert is a self-signed certificate like a gateway's (T7: CN=envoy-<serial>, 1 year).
func gatewayCert(t *testing.T) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		Subject:      pkix.Name{CommonName: "envoy-122301234567"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return cert
}

func state(c *x509.Certificate) tls.ConnectionState {
	return tls.ConnectionState{PeerCertificates: []*x509.Certificate{c}}
}

func TestFingerprintFormatAndParse(t *testing.T) {
	der := []byte("a certificate")
	fp := Of(der)
	sum := sha256.Sum256(der)
	require.Equal(t, Fingerprint(sum), fp)
	s := fp.String()
	require.Len(t, s, 64+31)
	require.Equal(t, strings.ToUpper(s), s)
	require.Equal(t, 31, strings.Count(s, ":"))
	bare := strings.ReplaceAll(s, ":", "")

	tests := []struct {
		name, in, wantErr string
	}{
		{name: "colons uppercase", in: s},
		{name: "tls_pin form", in: "sha256:" + s},
		{name: "prefix any case", in: "SHA256:" + strings.ToLower(s)},
		{name: "no colons lowercase", in: strings.ToLower(bare)},
		{name: "as pin prints it", in: "SHA256 " + s},
		{name: "as openssl prints it", in: "sha256 Fingerprint=" + s},
		{name: "spaces around", in: "  " + s + "\n"},
		{name: "too short", in: bare[:40], wantErr: "has 40 hex digits; a SHA-256 fingerprint has 64"},
		{name: "not hex", in: strings.Repeat("zz", 32), wantErr: "not a hexadecimal fingerprint"},
		{name: "sha1", in: "sha1:" + bare[:40], wantErr: "sha1 fingerprints are not supported"},
		{name: "empty", in: "", wantErr: "not a hexadecimal fingerprint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFingerprint(tt.in)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, fp, got)
		})
	}
}

// TestPinFile: the file is readable text with the fingerprint, host,
// subject and dates, mode 0600, and reads back as written.
func TestPinFile(t *testing.T) {
	cert := gatewayCert(t)
	path := filepath.Join(t.TempDir(), "envoy.token.pin")
	seen := time.Date(2026, 8, 1, 18, 0, 0, 0, time.UTC)
	rec := NewRecord(cert, "192.168.1.5", seen, PinnedFirstUse)
	require.NoError(t, WriteFile(path, rec))

	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	for _, want := range []string{
		"sha256 = " + Of(cert.Raw).String(), `host = "192.168.1.5"`, `subject = "CN=envoy-122301234567"`,
		"first_seen = 2026-08-01T18:00:00Z", "not_after = ", `pinned = "trusted on first use"`, "pin --accept",
	} {
		require.Contains(t, string(b), want)
	}
	got, err := ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, rec, got)

	_, err = ReadFile(filepath.Join(t.TempDir(), "missing.pin"))
	require.ErrorIs(t, err, fs.ErrNotExist)

	require.NoError(t, os.WriteFile(path, []byte("sha256 = nonsense\n"), 0o600))
	_, err = ReadFile(path)
	var fe *FileError
	require.ErrorAs(t, err, &fe)
	require.Contains(t, err.Error(), path)
	require.Contains(t, err.Error(), "fix or delete it")
}

// TestVerifyT7 covers T7: a fixed pin and trust on first use accept the
// pinned certificate and refuse another, naming both fingerprints.
func TestVerifyT7(t *testing.T) {
	first, renewed := gatewayCert(t), gatewayCert(t)
	tests := []struct {
		name string
		pin  func(dir string) *Pin
		// seen is what the gateway presents, in order; wantErr per connection ("" = accepted).
		seen    []*x509.Certificate
		wantErr []string
	}{
		{
			name:    "T7 fixed pin",
			pin:     func(string) *Pin { return &Pin{Host: "192.168.1.5", Fixed: Of(first.Raw)} },
			seen:    []*x509.Certificate{first, renewed},
			wantErr: []string{"", "pinned SHA256 " + Of(first.Raw).String() + " (tls_pin), presented SHA256 " + Of(renewed.Raw).String()},
		},
		{
			name: "T7 trust on first use",
			pin: func(dir string) *Pin {
				return &Pin{
					Host:   "192.168.1.5",
					File:   filepath.Join(dir, "envoy.token.pin"),
					Accept: "telegraf-enphase pin --accept --config /etc/telegraf/enphase.conf",
				}
			},
			seen: []*x509.Certificate{first, first, renewed},
			wantErr: []string{"", "", "pinned SHA256 " + Of(first.Raw).String() + ", presented SHA256 " + Of(renewed.Raw).String() +
				" (pin in DIR/envoy.token.pin). Gateways renew their self-signed certificate about once a year; if that is what happened, accept the new one with " +
				"`telegraf-enphase pin --accept --config /etc/telegraf/enphase.conf` or delete the pin file. Otherwise something is intercepting the connection."},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := tt.pin(dir)
			var firstUse []Record
			p.FirstUse = func(r Record) { firstUse = append(firstUse, r) }
			for i, c := range tt.seen {
				err := p.Verify(state(c))
				if tt.wantErr[i] == "" {
					require.NoError(t, err, "connection %d", i)
					continue
				}
				var m *MismatchError
				require.ErrorAs(t, err, &m)
				require.Equal(t, Of(c.Raw), m.Presented)
				require.Same(t, m, Refusal(err))
				require.Contains(t, err.Error(), strings.ReplaceAll(tt.wantErr[i], "DIR", dir))
			}
			if p.File != "" {
				require.Len(t, firstUse, 1, "told once, at the first use")
				require.Equal(t, Of(first.Raw), firstUse[0].Fingerprint)
			}
		})
	}
}

// TestFirstUseRace: two first uses at once pin one certificate; the other
// is checked against it.
func TestFirstUseRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "envoy.pin")
	a, b := gatewayCert(t), gatewayCert(t)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, c := range []*x509.Certificate{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = (&Pin{Host: "h", File: path}).Verify(state(c))
		}()
	}
	wg.Wait()
	rec, err := ReadFile(path)
	require.NoError(t, err)
	winner := 0
	if rec.Fingerprint == Of(b.Raw) {
		winner = 1
	}
	require.NoError(t, errs[winner])
	var m *MismatchError
	require.ErrorAs(t, errs[1-winner], &m)
}

// TestVerifyPinFileProblems: a pin that cannot be read or stored refuses
// the connection (a *FileError naming the file), never trusts it unchecked.
func TestVerifyPinFileProblems(t *testing.T) {
	cert := gatewayCert(t)
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string) string
		wantErr string
	}{
		{name: "damaged", setup: func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "envoy.pin")
			require.NoError(t, os.WriteFile(p, []byte("garbage\n"), 0o600))
			return p
		}, wantErr: "line 1 is not key = value: fix or delete it"},
		{name: "directory not writable", setup: func(t *testing.T, dir string) string {
			if os.Geteuid() == 0 {
				t.Skip("root writes anywhere")
			}
			ro := filepath.Join(dir, "ro")
			require.NoError(t, os.Mkdir(ro, 0o500))
			return filepath.Join(ro, "envoy.pin")
		}, wantErr: "permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.setup(t, t.TempDir())
			err := (&Pin{Host: "h", File: path}).Verify(state(cert))
			var fe *FileError
			require.ErrorAs(t, err, &fe)
			require.NotNil(t, Refusal(err))
			require.Contains(t, err.Error(), path)
			require.Contains(t, err.Error(), tt.wantErr)
		})
	}
	require.Nil(t, Refusal(errors.New("connection refused")))
}

// certWithSubject is a self-signed certificate with the given subject.
func certWithSubject(t *testing.T, subject pkix.Name) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		Subject:      subject,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return cert
}

// TestPinFileSubjectInjectionR11 covers R11: a certificate pinned on first
// use whose subject holds newlines, carriage returns, quotes, '=', '#' and a
// fake "sha256 = ..." line (the fingerprint of another certificate) cannot
// add a line or a key to the pin file: the pin stays the certificate's own,
// and the other certificate is refused.
func TestPinFileSubjectInjectionR11(t *testing.T) {
	intruder := gatewayCert(t)
	fake := "sha256 = " + Of(intruder.Raw).String()
	for name, subject := range map[string]pkix.Name{
		"CN newline":   {CommonName: "envoy-1\n" + fake + "\npinned = x"},
		"CN CR":        {CommonName: "envoy-1\r" + fake + "\r\n# \"quoted\" = #"},
		"O lines":      {CommonName: "envoy-1", Organization: []string{"x\n" + fake, "\"\n#\n=\n" + fake + "\n"}},
		"first line":   {CommonName: "\n" + fake},
		"U+2028 break": {CommonName: "envoy-1\u2028" + fake + "\u0085" + fake},
	} {
		t.Run(name, func(t *testing.T) {
			cert := certWithSubject(t, subject)
			path := filepath.Join(t.TempDir(), "envoy.token.pin")
			var pinned []Record
			p := &Pin{Host: "192.168.1.5\n" + fake, File: path, FirstUse: func(r Record) { pinned = append(pinned, r) }}
			require.NoError(t, p.Verify(state(cert)))
			require.Len(t, pinned, 1)

			b, err := os.ReadFile(path)
			require.NoError(t, err)
			lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
			require.Len(t, lines, 10, "4 comment lines and 6 keys:\n%s", b)
			require.Equal(t, 1, strings.Count(string(b), "\nsha256 ="), "%s", b)
			for _, l := range lines[4:] {
				k, _, ok := strings.Cut(l, " = ")
				require.True(t, ok, "line %q", l)
				require.Contains(t, []string{"sha256", "host", "subject", "not_after", "first_seen", "pinned"}, k)
			}

			rec, err := ReadFile(path)
			require.NoError(t, err)
			require.Equal(t, Of(cert.Raw), rec.Fingerprint)
			require.Equal(t, cert.Subject.String(), rec.Subject)
			require.Equal(t, p.Host, rec.Host)
			require.Equal(t, PinnedFirstUse, rec.Pinned)

			require.NoError(t, p.Verify(state(cert)))
			var m *MismatchError
			require.ErrorAs(t, p.Verify(state(intruder)), &m)
		})
	}
}

// TestPinFileOldFormatR11: pin files of earlier releases (bare text values)
// still read, and one into which a certificate smuggled a second sha256 line
// is refused rather than trusted.
func TestPinFileOldFormatR11(t *testing.T) {
	fp := Of([]byte("pinned"))
	old := "# comment\nsha256 = " + fp.String() + "\nhost = 192.168.1.5\nsubject = CN=envoy-122301234567\n" +
		"not_after = 2027-01-02T03:04:05Z\nfirst_seen = 2026-01-02T03:04:05Z\npinned = trusted on first use\n"
	path := filepath.Join(t.TempDir(), "envoy.token.pin")
	require.NoError(t, os.WriteFile(path, []byte(old), 0o600))
	rec, err := ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, Record{
		Fingerprint: fp, Host: "192.168.1.5", Subject: "CN=envoy-122301234567",
		NotAfter:  time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC),
		FirstSeen: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Pinned: PinnedFirstUse,
	}, rec)

	injected := strings.Replace(old, "subject = CN=envoy-122301234567\n",
		"subject = CN=envoy-1\nsha256 = "+Of([]byte("intruder")).String()+"\n", 1)
	require.NoError(t, os.WriteFile(path, []byte(injected), 0o600))
	_, err = ReadFile(path)
	var fe *FileError
	require.ErrorAs(t, err, &fe)
	require.ErrorContains(t, err, "line 5: sha256 given twice")

	for _, bad := range []string{`subject = "unterminated`, `host = "a\q"`} {
		require.NoError(t, os.WriteFile(path, []byte("sha256 = "+fp.String()+"\n"+bad+"\n"), 0o600))
		_, err = ReadFile(path)
		require.ErrorContains(t, err, "line 2")
	}

	// Not a regular file: refused at once.
	require.NoError(t, os.Remove(path))
	require.NoError(t, mkfifo(path))
	_, err = ReadFile(path)
	require.ErrorAs(t, err, &fe)
	require.ErrorContains(t, err, "not a regular file")
}
