// Package certpin pins a gateway's self-signed TLS certificate by the SHA-256
// fingerprint of its DER encoding: a fixed fingerprint from the
// configuration, or the first certificate seen (trust on first use), kept in
// a pin file. The check runs inside the TLS handshake, so a connection to a
// host that fails it is closed before any request, and any token, is sent.
package certpin

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// TOFU is the tls_pin setting for trust on first use.
const TOFU = "tofu"

// Fingerprint is the SHA-256 of a certificate's DER encoding.
type Fingerprint [sha256.Size]byte

// Of returns the fingerprint of a DER-encoded certificate.
func Of(der []byte) Fingerprint { return sha256.Sum256(der) }

// String is the form browsers and openssl print: uppercase hex pairs joined by colons.
func (f Fingerprint) String() string {
	h := strings.ToUpper(hex.EncodeToString(f[:]))
	var b strings.Builder
	b.Grow(len(h) + len(h)/2)
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

// IsZero reports whether f is unset.
func (f Fingerprint) IsZero() bool { return f == Fingerprint{} }

// ParseFingerprint reads a SHA-256 fingerprint as people copy it: hex with or
// without colons (or spaces), any case, optionally prefixed "sha256:" (the
// tls_pin form), "SHA256 " (what 'telegraf-enphase pin' prints) or
// "sha256 Fingerprint=" (what openssl prints).
func ParseFingerprint(s string) (Fingerprint, error) {
	var f Fingerprint
	rest := strings.TrimSpace(s)
	lower := strings.ToLower(rest)
	for _, p := range []string{"sha256 fingerprint=", "sha256:", "sha256=", "sha256 "} {
		if strings.HasPrefix(lower, p) {
			rest = rest[len(p):]
			break
		}
	}
	if alg, _, ok := strings.Cut(rest, ":"); ok && len(alg) > 2 && !isHex(alg) {
		return f, fmt.Errorf("%s fingerprints are not supported: give the SHA-256 fingerprint", alg)
	}
	digits := strings.NewReplacer(":", "", " ", "").Replace(rest)
	if !isHex(digits) {
		return f, errors.New("not a hexadecimal fingerprint")
	}
	if len(digits) != 2*len(f) {
		return f, fmt.Errorf("has %d hex digits; a SHA-256 fingerprint has %d", len(digits), 2*len(f))
	}
	_, err := hex.Decode(f[:], []byte(digits))
	return f, err
}

func isHex(s string) bool {
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return s != ""
}

// Pin checks the certificates one gateway presents: against Fixed when set,
// else against the pin in File, which the first certificate seen creates.
type Pin struct {
	Host  string      // the gateway's address, recorded in the pin file
	Fixed Fingerprint // tls_pin = "sha256:..."; zero for trust on first use
	File  string      // the pin file (trust on first use)
	// Accept is the command that accepts a renewed certificate, for messages;
	// default "telegraf-enphase pin --accept --config FILE".
	Accept string
	Now    func() time.Time // default time.Now
	// FirstUse, when set, is told about a certificate pinned on first use.
	FirstUse func(Record)
}

// Apply makes cfg check the pin instead of the certificate chain and host
// name: a gateway's certificate is self-signed and names envoy-<serial>.
func (p *Pin) Apply(cfg *tls.Config) {
	cfg.InsecureSkipVerify = true // the pin is the check (VerifyConnection)
	cfg.VerifyConnection = p.Verify
}

// Verify is a tls.Config.VerifyConnection hook. It fails with a
// *MismatchError when the certificate differs from the pin, and with a
// *FileError when the pin file cannot be read or created.
func (p *Pin) Verify(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("the gateway presented no certificate")
	}
	leaf := cs.PeerCertificates[0]
	presented := Of(leaf.Raw)
	if !p.Fixed.IsZero() {
		if presented != p.Fixed {
			return &MismatchError{Host: p.Host, Pinned: p.Fixed, Presented: presented, Accept: p.accept()}
		}
		return nil
	}
	rec, err := ReadFile(p.File)
	if errors.Is(err, errNoPin) {
		rec, created, err := createFile(p.File, NewRecord(leaf, p.Host, p.now(), PinnedFirstUse))
		if err != nil {
			return err
		}
		if created && p.FirstUse != nil {
			p.FirstUse(rec)
		}
		// Another process may have pinned first: its pin is the one to check.
		return p.compare(rec, presented)
	}
	if err != nil {
		return err
	}
	return p.compare(rec, presented)
}

func (p *Pin) compare(rec Record, presented Fingerprint) error {
	if rec.Fingerprint != presented {
		return &MismatchError{Host: p.Host, Pinned: rec.Fingerprint, Presented: presented, File: p.File, Accept: p.accept()}
	}
	return nil
}

func (p *Pin) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Pin) accept() string {
	if p.Accept != "" {
		return p.Accept
	}
	return "telegraf-enphase pin --accept --config FILE"
}

// MismatchError is a certificate other than the pinned one. The connection
// was closed in the handshake: nothing was sent. It is not transient: it
// repeats until a person accepts the new certificate or finds the intruder.
type MismatchError struct {
	Host      string
	Pinned    Fingerprint
	Presented Fingerprint
	File      string // the pin file; "" for a fixed tls_pin
	Accept    string // the command that accepts the presented certificate
}

func (e *MismatchError) Error() string {
	const renewal = "Gateways renew their self-signed certificate about once a year; if that is what happened, "
	const otherwise = " Otherwise something is intercepting the connection."
	if e.File == "" {
		return fmt.Sprintf(
			"the gateway's certificate changed: pinned SHA256 %s (tls_pin), presented SHA256 %s. %saccept the new one with tls_pin = \"sha256:%s\" (check it with "+
				"`telegraf-enphase pin --config FILE`).%s",
			e.Pinned,
			e.Presented,
			renewal,
			e.Presented,
			otherwise,
		)
	}
	return fmt.Sprintf(
		"the gateway's certificate changed: pinned SHA256 %s, presented SHA256 %s (pin in %s). %saccept the new one with `%s` or delete the pin file.%s",
		e.Pinned,
		e.Presented,
		e.File,
		renewal,
		e.Accept,
		otherwise,
	)
}

// FileError is a pin file that cannot be read or written: the connection is
// refused rather than trusted unchecked.
type FileError struct {
	Path string
	Err  error
	Fix  string
}

func (e *FileError) Error() string {
	return fmt.Sprintf("pin file %s: %v: %s", e.Path, e.Err, e.Fix)
}

func (e *FileError) Unwrap() error { return e.Err }

// Refusal returns the *MismatchError or *FileError in err's chain, or nil:
// such a refusal is not a transient transport failure and says itself what to do.
func Refusal(err error) error {
	var m *MismatchError
	if errors.As(err, &m) {
		return m
	}
	var f *FileError
	if errors.As(err, &f) {
		return f
	}
	return nil
}

// Presented returns the certificate the server at addr (host:port) presents,
// without checking it and without sending a request: for a person to
// compare with the pin ('telegraf-enphase pin').
func Presented(ctx context.Context, addr, serverName string) (*x509.Certificate, error) {
	d := &tls.Dialer{Config: &tls.Config{
		InsecureSkipVerify: true, //nolint:gosec // only read, for a person to compare
		ServerName:         serverName,
		MinVersion:         tls.VersionTLS12,
	}}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("reading the certificate of %s: %w", addr, err)
	}
	defer conn.Close()
	certs := conn.(*tls.Conn).ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return nil, fmt.Errorf("reading the certificate of %s: none presented", addr)
	}
	return certs[0], nil
}
