// Package mail sends plain-text e-mail notifications over SMTP (submission
// with STARTTLS and AUTH, or a local relay), so that users need no ssmtp or
// sendmail. It is used to report gateway token renewals.
//
// The connection is always verified when encrypted: against the system
// roots, or only against the CA in tls_ca when that is set. The password is
// never sent unencrypted except to a relay on a loopback address, and never
// appears in an error.
package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"net/smtp"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/influxdata/telegraf/config"
	common_tls "github.com/influxdata/telegraf/plugins/common/tls"

	"github.com/telegraf-enphase/telegraf-enphase/internal/tlsclient"
)

// DefaultTimeout bounds one whole Send (connect, TLS, AUTH, transfer) when
// Config.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// DefaultPort is the port used when Config.Server names no port (message
// submission, RFC 6409).
const DefaultPort = "587"

// smtpsPort is the port of SMTP over implicit TLS (RFC 8314): on it TLS starts
// with the connection, before the greeting, instead of through STARTTLS.
const smtpsPort = "465"

// keyPrefix is the TOML table the caller embeds Config under; error messages
// name keys with it.
const keyPrefix = "email."

// Config is the [email] table of the caller's configuration file.
type Config struct {
	// Server is "host:port" or "host" (port 587). Port 465 means implicit
	// TLS (SMTPS); any other port starts in clear text and upgrades with
	// STARTTLS unless StartTLS is false.
	Server string `toml:"server"`
	// Username enables AUTH (PLAIN, or LOGIN when that is all the server
	// offers); empty means no AUTH.
	Username string `toml:"username"`
	// Password is used as is (no expansion: '$' is kept).
	Password string `toml:"password"`
	// PasswordFile is read at each Send and trimmed of surrounding
	// whitespace; it is the alternative to Password.
	PasswordFile string `toml:"password_file"`
	// From is the sender, "addr@example.com" or "Name <addr@example.com>".
	From string `toml:"from"`
	// To lists the recipients, at least one.
	To []string `toml:"to"`
	// StartTLS (default true) requires STARTTLS: Send fails when the server
	// does not offer it. false sends in clear text, meant for a local relay
	// on port 25 only; AUTH is then refused unless the server is on a
	// loopback address.
	StartTLS *bool `toml:"starttls"`
	// TLSCA is an optional PEM file of the CA (or self-signed certificate)
	// to trust instead of the system roots. Certificates are always verified.
	TLSCA string `toml:"tls_ca"`
	// OnSuccess asks for mail on successful renewals too, not only failures.
	// Send does not look at it: it is for the caller.
	OnSuccess bool `toml:"on_success"`
	// Timeout bounds one whole Send; 0 means DefaultTimeout.
	Timeout config.Duration `toml:"timeout"`
}

// Message is one notification: a subject line and a plain-text body.
type Message struct {
	Subject string
	Body    string
}

// Validate checks the configuration and reports the first problem, naming
// the key ("email.to: at least one address is required"). It also checks
// that password_file and tls_ca can be read now, so that a mistake shows at
// start rather than when the first notification is due.
func (c *Config) Validate() error {
	if _, err := c.check(); err != nil {
		return err
	}
	if c.PasswordFile != "" {
		if _, err := c.password(); err != nil {
			return err
		}
	}
	if c.TLSCA != "" {
		if _, err := c.tlsConfig("localhost"); err != nil {
			return err
		}
	}
	return nil
}

// target is where and how Send connects, as derived from Config.Server.
type target struct {
	host        string // no brackets; TLS ServerName
	addr        string // host:port to dial
	implicitTLS bool   // TLS from the first byte (port 465)
}

// parsed holds what check derives from a valid Config.
type parsed struct {
	target
	from *netmail.Address
	to   []*netmail.Address
}

// check validates the fields without touching files.
func (c *Config) check() (*parsed, error) {
	var p parsed
	host, port, err := splitServer(c.Server)
	if err != nil {
		return nil, err
	}
	p.host = host
	p.addr = net.JoinHostPort(host, port)
	p.implicitTLS = port == smtpsPort

	if strings.TrimSpace(c.From) == "" {
		return nil, errors.New(keyPrefix + `from: required (the sender address, e.g. "envoy@example.com")`)
	}
	if p.from, err = netmail.ParseAddress(c.From); err != nil {
		return nil, fmt.Errorf(keyPrefix+"from: %q is not an e-mail address (%v)", c.From, err)
	}
	if len(c.To) == 0 {
		return nil, errors.New(keyPrefix + `to: at least one address is required (e.g. to = ["you@example.com"])`)
	}
	for i, s := range c.To {
		a, err := netmail.ParseAddress(s)
		if err != nil {
			return nil, fmt.Errorf(keyPrefix+"to[%d]: %q is not an e-mail address (%v)", i, s, err)
		}
		p.to = append(p.to, a)
	}

	if c.Password != "" && c.PasswordFile != "" {
		return nil, errors.New(keyPrefix + "password and " + keyPrefix + "password_file are both set; set only one")
	}
	if c.Username == "" && (c.Password != "" || c.PasswordFile != "") {
		return nil, errors.New(keyPrefix + "username: required when a password is set (AUTH is done only with a username)")
	}
	if c.Username != "" && c.Password == "" && c.PasswordFile == "" {
		return nil, errors.New(keyPrefix + "password: required when " + keyPrefix + "username is set (or set " + keyPrefix + "password_file)")
	}
	if strings.ContainsAny(c.Username, "\x00\r\n") {
		return nil, errors.New(keyPrefix + "username: must not contain control characters")
	}
	if strings.ContainsAny(c.Password, "\x00\r\n") {
		return nil, errors.New(keyPrefix + "password: must not contain NUL or line breaks")
	}
	if c.Username != "" && !c.startTLS() && !p.implicitTLS && !isLoopbackName(host) {
		return nil, fmt.Errorf(keyPrefix+"starttls: false with "+keyPrefix+"username set would send the password unencrypted to %s; "+
			"keep starttls = true (the default) or use a relay on localhost", p.addr)
	}
	if c.Timeout < 0 {
		return nil, fmt.Errorf(keyPrefix+"timeout: must not be negative (got %s)", time.Duration(c.Timeout))
	}
	return &p, nil
}

// splitServer parses "host", "host:port", "[v6]:port" or a bare IPv6
// address, defaulting the port to 587.
func splitServer(s string) (host, port string, err error) {
	bad := func(why string) error {
		return fmt.Errorf(keyPrefix+"server: %q %s; give host:port, e.g. \"smtp.example.com:587\"", s, why)
	}
	if s == "" {
		return "", "", errors.New(keyPrefix + `server: required (host:port of the SMTP server, e.g. "smtp.example.com:587")`)
	}
	if strings.Contains(s, "://") {
		return "", "", bad("is a URL")
	}
	if strings.ContainsAny(s, " \t\r\n/@") {
		return "", "", bad("is not a host name")
	}
	host, port, err = net.SplitHostPort(s)
	if err != nil {
		switch {
		case net.ParseIP(s) != nil: // bare IPv6 address
			host, port = s, DefaultPort
		case strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") && net.ParseIP(s[1:len(s)-1]) != nil:
			host, port = s[1:len(s)-1], DefaultPort
		case !strings.Contains(s, ":"):
			host, port = s, DefaultPort
		default:
			return "", "", bad("is not host:port")
		}
	}
	if host == "" {
		return "", "", bad("has no host")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", "", bad("has an invalid port")
	}
	return host, port, nil
}

func (c *Config) startTLS() bool { return c.StartTLS == nil || *c.StartTLS }

func (c *Config) timeout() time.Duration {
	if c.Timeout <= 0 {
		return DefaultTimeout
	}
	return time.Duration(c.Timeout)
}

// password returns Password, or the trimmed content of PasswordFile.
func (c *Config) password() (string, error) {
	if c.PasswordFile == "" {
		return c.Password, nil
	}
	b, err := os.ReadFile(c.PasswordFile)
	if err != nil {
		return "", fmt.Errorf(keyPrefix+"password_file: %w", err)
	}
	pw := strings.TrimSpace(string(b))
	if pw == "" {
		return "", fmt.Errorf(keyPrefix+"password_file: %s is empty", c.PasswordFile)
	}
	if strings.ContainsAny(pw, "\x00\r\n") {
		return "", fmt.Errorf(keyPrefix+"password_file: %s holds more than one line; put only the password in it", c.PasswordFile)
	}
	return pw, nil
}

// tlsConfig is the TLS to the mail server: Telegraf's own loader reads
// tls_ca, as it does for the gateway's and the cloud's.
func (c *Config) tlsConfig(host string) (*tls.Config, error) {
	cfg, err := tlsclient.Config(&common_tls.ClientConfig{TLSCA: c.TLSCA, ServerName: host})
	if err != nil {
		return nil, fmt.Errorf(keyPrefix+"tls_ca: %w", err)
	}
	return cfg, nil
}

// isLoopbackName reports whether a configured host is a loopback address or
// the name localhost (RFC 6761).
func isLoopbackName(host string) bool {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkAuthTransport decides whether credentials may be sent on a
// connection: always when it is encrypted, otherwise only when the peer
// actually connected to is on a loopback address.
func checkAuthTransport(encrypted bool, addr string, remote net.Addr) error {
	if encrypted {
		return nil
	}
	if tcp, ok := remote.(*net.TCPAddr); ok && tcp.IP.IsLoopback() {
		return nil
	}
	return fmt.Errorf("refusing to send the SMTP password unencrypted to %s (connected to %v, not a loopback address); "+
		"keep starttls = true (the default) or use a relay on localhost", addr, remote)
}

// Send delivers m to every address in c.To. The whole exchange is bounded by
// c.Timeout (default 30s) and by ctx. When some recipients are rejected, the
// message still goes to the others and the error names the rejected ones.
func Send(ctx context.Context, c Config, m Message) error {
	p, err := c.check()
	if err != nil {
		return err
	}
	return send(ctx, &c, p, m)
}

func send(ctx context.Context, c *Config, p *parsed, m Message) (err error) {
	var pw string
	if c.Username != "" {
		if pw, err = c.password(); err != nil {
			return err
		}
		defer func() { err = redact(err, c.Username, pw) }()
	}
	tlsCfg, err := c.tlsConfig(p.host)
	if err != nil {
		return err
	}
	msg, err := buildMessage(p.from, p.to, m, time.Now())
	if err != nil {
		return err
	}

	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	s := &session{cfg: c, p: p, parent: parent, ctx: ctx, start: time.Now()}

	s.stage = "connecting"
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return s.fail(err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	// Unblock any read or write as soon as ctx is cancelled.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	remote := conn.RemoteAddr()
	encrypted := false
	if p.implicitTLS {
		s.stage = "TLS handshake"
		tc := tls.Client(conn, tlsCfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return s.fail(err)
		}
		conn, encrypted = tc, true
	}

	s.stage = "waiting for the greeting"
	cl, err := smtp.NewClient(conn, p.host)
	if err != nil {
		return s.fail(err)
	}
	defer cl.Close()

	s.stage = "EHLO"
	if err := cl.Hello(localName()); err != nil {
		return s.fail(err)
	}
	if !encrypted && c.startTLS() {
		ok, _ := cl.Extension("STARTTLS")
		if !ok {
			_ = cl.Quit()
			return fmt.Errorf("SMTP server %s does not offer STARTTLS; set starttls = false only for a local relay", p.addr)
		}
		s.stage = "STARTTLS"
		if err := cl.StartTLS(tlsCfg); err != nil {
			return s.fail(err)
		}
		encrypted = true
	}

	if c.Username != "" {
		s.stage = "AUTH"
		if err := checkAuthTransport(encrypted, p.addr, remote); err != nil {
			_ = cl.Quit()
			return err
		}
		auth, err := chooseAuth(cl, c.Username, pw)
		if err != nil {
			_ = cl.Quit()
			return fmt.Errorf("SMTP server %s: %w", p.addr, err)
		}
		if err := cl.Auth(auth); err != nil {
			return s.fail(err)
		}
	}

	s.stage = "MAIL FROM"
	if err := cl.Mail(p.from.Address); err != nil {
		return s.fail(err)
	}
	var rejected []string
	var firstReject error
	for _, a := range p.to {
		s.stage = "RCPT TO"
		if err := cl.Rcpt(a.Address); err != nil {
			var te *textproto.Error
			if !errors.As(err, &te) {
				return s.fail(err)
			}
			rejected = append(rejected, a.Address)
			if firstReject == nil {
				firstReject = err
			}
		}
	}
	if len(rejected) == len(p.to) {
		_ = cl.Quit()
		return fmt.Errorf("SMTP server %s rejected every recipient (%s): %v; check %sto",
			p.addr, strings.Join(rejected, ", "), firstReject, keyPrefix)
	}

	s.stage = "DATA"
	w, err := cl.Data()
	if err != nil {
		return s.fail(err)
	}
	if _, err := w.Write(msg); err != nil {
		return s.fail(err)
	}
	if err := w.Close(); err != nil {
		return s.fail(err)
	}
	// The message is accepted; a failing QUIT changes nothing.
	_ = cl.Quit()

	if len(rejected) > 0 {
		return fmt.Errorf("SMTP server %s rejected recipient(s) %s: %v; the message went to the other %d; check %sto",
			p.addr, strings.Join(rejected, ", "), firstReject, len(p.to)-len(rejected), keyPrefix)
	}
	return nil
}

// session carries what error messages need.
type session struct {
	cfg    *Config
	p      *parsed
	parent context.Context
	ctx    context.Context
	start  time.Time
	stage  string
}

// fail turns an error of the current stage into a message that says what
// failed and what to do about it.
func (s *session) fail(err error) error {
	addr := s.p.addr
	if s.ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded) {
		if perr := s.parent.Err(); errors.Is(perr, context.Canceled) {
			return fmt.Errorf("sending e-mail via %s canceled while %s: %w", addr, s.stageText(), perr)
		}
		elapsed := time.Since(s.start).Round(time.Millisecond)
		return fmt.Errorf("SMTP server %s did not answer in time (gave up after %s while %s; timeout = %s): %w; "+
			"check %sserver, that the port is reachable, or raise %stimeout",
			addr, elapsed, s.stageText(), s.cfg.timeout(), context.DeadlineExceeded, keyPrefix, keyPrefix)
	}

	if s.stage == "STARTTLS" || s.stage == "TLS handshake" {
		if e := certError(addr, s.p.host, s.cfg.TLSCA, err); e != nil {
			return e
		}
	}

	var te *textproto.Error
	if errors.As(err, &te) {
		reply := fmt.Sprintf("%d %s", te.Code, te.Msg)
		switch s.stage {
		case "AUTH":
			return fmt.Errorf("SMTP authentication as %q failed at %s: %s; check %susername and %spassword (or %spassword_file)",
				s.cfg.Username, addr, reply, keyPrefix, keyPrefix, keyPrefix)
		case "MAIL FROM":
			return fmt.Errorf("SMTP server %s rejected sender %s: %s; check %sfrom (many servers accept only the address of the authenticated user)",
				addr, s.p.from.Address, reply, keyPrefix)
		case "waiting for the greeting":
			return fmt.Errorf("SMTP server %s refused the connection: %s", addr, reply)
		case "DATA":
			return fmt.Errorf("SMTP server %s did not accept the message: %s", addr, reply)
		default:
			return fmt.Errorf("SMTP server %s answered %s to %s", addr, reply, s.stage)
		}
	}

	switch s.stage {
	case "connecting":
		return fmt.Errorf("cannot connect to SMTP server %s: %v; check %sserver", addr, err, keyPrefix)
	case "waiting for the greeting":
		return fmt.Errorf("SMTP server %s sent no valid greeting: %v; check that %sserver names an SMTP port", addr, err, keyPrefix)
	}
	return fmt.Errorf("SMTP with %s failed during %s: %w", addr, s.stage, err)
}

func (s *session) stageText() string {
	switch s.stage {
	case "connecting", "waiting for the greeting":
		return s.stage
	}
	return "in " + s.stage
}

// certError explains a certificate verification failure, or returns nil
// when err is not one.
func certError(addr, host, caFile string, err error) error {
	var unknown x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknown):
		if caFile != "" {
			return fmt.Errorf("TLS certificate of SMTP server %s is not signed by the CA in %stls_ca (%s): %v",
				addr, keyPrefix, caFile, unknown)
		}
		return fmt.Errorf("TLS certificate of SMTP server %s is not trusted: %v; "+
			"if the server uses a self-signed or private certificate, set %stls_ca to its CA certificate (PEM file)",
			addr, unknown, keyPrefix)
	case errors.As(err, &hostErr):
		return fmt.Errorf("TLS certificate of SMTP server %s is not valid for %q: %v; set %sserver to a name the certificate lists",
			addr, host, hostErr, keyPrefix)
	case errors.As(err, &invalid):
		return fmt.Errorf("TLS certificate of SMTP server %s is invalid: %v", addr, invalid)
	}
	var verr *tls.CertificateVerificationError
	if errors.As(err, &verr) {
		return fmt.Errorf("TLS certificate of SMTP server %s could not be verified: %v", addr, verr.Err)
	}
	return nil
}

// chooseAuth picks PLAIN, or LOGIN when that is all the server offers.
// go-sasl's clients send the credentials; whether the connection is safe for
// them was decided by checkAuthTransport (net/smtp's PlainAuth would refuse
// a loopback relay without TLS).
func chooseAuth(cl *smtp.Client, user, pass string) (smtp.Auth, error) {
	ok, list := cl.Extension("AUTH")
	if !ok {
		return nil, fmt.Errorf("server does not offer AUTH; remove %susername and the password if it needs no authentication", keyPrefix)
	}
	mechs := strings.Fields(strings.ToUpper(list))
	for _, m := range mechs {
		if m == sasl.Plain {
			return saslAuth{sasl.NewPlainClient("", user, pass)}, nil
		}
	}
	for _, m := range mechs {
		if m == sasl.Login {
			return saslAuth{sasl.NewLoginClient(user, pass)}, nil
		}
	}
	return nil, fmt.Errorf("server offers AUTH %s but neither PLAIN nor LOGIN", list)
}

// saslAuth lets net/smtp drive a go-sasl client.
type saslAuth struct{ c sasl.Client }

func (a saslAuth) Start(*smtp.ServerInfo) (string, []byte, error) { return a.c.Start() }

func (a saslAuth) Next(challenge []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	return a.c.Next(challenge)
}

// redact removes secrets (and their base64 forms as sent in AUTH) from an
// error's text, in case a server echoed them.
func redact(err error, user, pass string) error {
	if err == nil || pass == "" {
		return err
	}
	secrets := []string{
		base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass)),
		base64.StdEncoding.EncodeToString([]byte(pass)),
		pass,
	}
	msg := err.Error()
	out := msg
	for _, s := range secrets {
		out = strings.ReplaceAll(out, s, "[redacted]")
	}
	if out == msg {
		return err
	}
	return errors.New(out)
}

// localName is the EHLO argument: this host's name when it is a plausible
// domain, else "localhost".
func localName() string {
	h, err := os.Hostname()
	if err != nil || h == "" || len(h) > 253 {
		return "localhost"
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return "localhost"
		}
	}
	return h
}

// buildMessage renders the RFC 5322 message with CRLF line endings; the
// body is quoted-printable UTF-8 so that any server accepts it.
func buildMessage(from *netmail.Address, to []*netmail.Address, m Message, now time.Time) ([]byte, error) {
	id, err := messageID(from.Address)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }

	header("From", from.String())
	tos := make([]string, len(to))
	for i, a := range to {
		tos[i] = a.String()
	}
	header("To", strings.Join(tos, ",\r\n "))
	if subject := encodeSubject(m.Subject); strings.HasPrefix(subject, "=?") {
		// An encoded-word may be 75 characters and its line at most 76:
		// it starts on a line of its own.
		b.WriteString("Subject:\r\n " + fold(1, subject) + "\r\n")
	} else {
		header("Subject", fold(len("Subject: "), subject))
	}
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", id)
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")

	body := strings.ToValidUTF8(m.Body, "\uFFFD")
	body = strings.ReplaceAll(body, "\r\n", "\n")
	if !strings.HasSuffix(body, "\n") {
		body += "\n"
	}
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(body)); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// encodeSubject makes the subject one header line: control characters
// become spaces, and non-ASCII text is RFC 2047 "Q" encoded (in words of at
// most 75 characters, split between runes).
func encodeSubject(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	return mime.QEncoding.Encode("utf-8", strings.TrimSpace(s))
}

// fold breaks a header value at spaces so that lines stay within 78
// characters where a space allows it; start is the length of "Name: ".
// Spaces between RFC 2047 encoded-words are not part of the text, and
// unfolding turns the line break back into one space, so nothing changes.
func fold(start int, v string) string {
	const limit = 78
	words := strings.Split(v, " ")
	var b strings.Builder
	n := start
	for i, w := range words {
		if i > 0 {
			if n+1+len(w) > limit && n > 1 {
				b.WriteString("\r\n")
				n = 0
			}
			b.WriteByte(' ')
			n++
		}
		b.WriteString(w)
		n += len(w)
	}
	return b.String()
}

func messageID(from string) (string, error) {
	domain := "localhost"
	if i := strings.LastIndexByte(from, '@'); i >= 0 && i < len(from)-1 {
		domain = from[i+1:]
	}
	var r [12]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", err
	}
	return fmt.Sprintf("<%d.%s@%s>", time.Now().UnixNano(), hex.EncodeToString(r[:]), domain), nil
}
