package mail

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/influxdata/telegraf/config"
)

const (
	testUser = "envoy@example.com"
	testPass = "pa$$w0rd$HOME${PATH}$1"
)

// ---- a real SMTP server (go-smtp) with a recording backend ----

type received struct {
	from  string
	rcpts []string
	data  []byte
	tls   bool // the transaction ran over TLS
	user  string
}

type authAttempt struct {
	mech string
	tls  bool
}

type backend struct {
	mechs      []string // AUTH mechanisms offered; nil: PLAIN
	requireTLS bool
	reject     map[string]bool // RCPT addresses to refuse

	mu    sync.Mutex
	msgs  []received
	auths []authAttempt
	helos []string
}

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	b.mu.Lock()
	b.helos = append(b.helos, c.Hostname())
	b.mu.Unlock()
	return &srvSession{b: b, c: c}, nil
}

func (b *backend) messages() []received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]received(nil), b.msgs...)
}

func (b *backend) authAttempts() []authAttempt {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]authAttempt(nil), b.auths...)
}

type srvSession struct {
	b    *backend
	c    *smtp.Conn
	user string
	cur  received
}

func (s *srvSession) isTLS() bool { _, ok := s.c.TLSConnectionState(); return ok }

func (s *srvSession) AuthMechanisms() []string {
	if s.b.mechs != nil {
		return s.b.mechs
	}
	return []string{sasl.Plain}
}

func (s *srvSession) Auth(mech string) (sasl.Server, error) {
	s.b.mu.Lock()
	s.b.auths = append(s.b.auths, authAttempt{mech: mech, tls: s.isTLS()})
	s.b.mu.Unlock()
	check := func(user, pass string) error {
		if user != testUser || pass != testPass {
			return smtp.ErrAuthFailed
		}
		s.user = user
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, user, pass string) error {
			if identity != "" && identity != user {
				return smtp.ErrAuthFailed
			}
			return check(user, pass)
		}), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (s *srvSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.b.requireTLS && !s.isTLS() {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Must issue STARTTLS first"}
	}
	s.cur = received{from: from, tls: s.isTLS(), user: s.user}
	return nil
}

func (s *srvSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.b.reject[to] {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
	}
	s.cur.rcpts = append(s.cur.rcpts, to)
	return nil
}

func (s *srvSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = b
	s.b.mu.Lock()
	s.b.msgs = append(s.b.msgs, s.cur)
	s.b.mu.Unlock()
	return nil
}

func (s *srvSession) Reset()        { s.cur = received{} }
func (s *srvSession) Logout() error { return nil }

// loginServer is the server side of AUTH LOGIN (go-sasl has only a client).
// Like Postfix and Dovecot it takes the user name from the initial response
// ("AUTH LOGIN <user>", what go-sasl's client sends) or asks for it.
type loginServer struct {
	step  int
	user  string
	check func(user, pass string) error
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	l.step++
	if l.step == 1 && len(resp) > 0 {
		l.step++
	}
	switch l.step {
	case 1:
		return []byte("Username:"), false, nil
	case 2:
		l.user = string(resp)
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.user, string(resp))
	}
}

type serverOpts struct {
	noTLS       bool // do not offer STARTTLS
	implicitTLS bool // TLS from the first byte (SMTPS)
	insecure    bool // allow AUTH without TLS
	mechs       []string
	reject      []string
	cert        *testCert
}

type testServer struct {
	addr string
	be   *backend
	cert *testCert
}

func startServer(t *testing.T, o serverOpts) *testServer {
	t.Helper()
	cert := o.cert
	if cert == nil {
		cert = newCert(t, []string{"localhost"}, []net.IP{net.ParseIP("127.0.0.1")})
	}
	be := &backend{mechs: o.mechs, requireTLS: !o.noTLS && !o.insecure, reject: map[string]bool{}}
	for _, r := range o.reject {
		be.reject[r] = true
	}
	srv := smtp.NewServer(be)
	srv.Domain = "mx.test"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.MaxMessageBytes = 1 << 20
	srv.AllowInsecureAuth = o.insecure
	srv.ErrorLog = log.New(io.Discard, "", 0)
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert.pair}, MinVersion: tls.VersionTLS12}
	if !o.noTLS {
		srv.TLSConfig = tlsCfg
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var sl net.Listener = l
	if o.implicitTLS {
		srv.TLSConfig = tlsCfg
		sl = tls.NewListener(l, tlsCfg)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(sl) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return &testServer{addr: l.Addr().String(), be: be, cert: cert}
}

type testCert struct {
	pair    tls.Certificate
	pemFile string
}

// newCert makes a self-signed ECDSA certificate and writes it as PEM.
func newCert(t *testing.T, dns []string, ips []net.IP) *testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "test SMTP relay"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              dns,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "relay-ca.pem")
	if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &testCert{pair: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pemFile: f}
}

func boolp(b bool) *bool { return &b }

// baseConfig is a valid configuration for srv: STARTTLS, AUTH, trusted CA.
func baseConfig(srv *testServer) Config {
	return Config{
		Server:   srv.addr,
		Username: testUser,
		Password: testPass,
		From:     "Enphase monitor <" + testUser + ">",
		To:       []string{"owner@example.org"},
		TLSCA:    srv.cert.pemFile,
		Timeout:  config.Duration(10 * time.Second),
	}
}

func noSecret(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), testPass) {
		t.Fatalf("error contains the password: %v", err)
	}
}

func parse(t *testing.T, data []byte) (*netmail.Message, string) {
	t.Helper()
	msg, err := netmail.ReadMessage(strings.NewReader(string(data)))
	if err != nil {
		t.Fatalf("received message does not parse: %v\n%s", err, data)
	}
	for i, line := range strings.Split(string(data), "\r\n") {
		if len(line) > 78 {
			t.Errorf("line %d longer than 78: %q", i, line)
		}
	}
	if msg.Header.Get("Content-Transfer-Encoding") != "quoted-printable" {
		t.Fatalf("Content-Transfer-Encoding = %q", msg.Header.Get("Content-Transfer-Encoding"))
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	return msg, string(body)
}

// ---- cases ----

const longSubject = "Enphase token renewal failed for gateway 122212345678 (Envoy-S metered, firmware D8.2.4382): HTTP 401"

func TestSendSTARTTLSAuth(t *testing.T) {
	srv := startServer(t, serverOpts{})
	c := baseConfig(srv)
	body := "Token renewal for gateway 122212345678 failed:\n" +
		"HTTP 401 from entrez.\n" +
		".\n" + // a lone dot must not end DATA
		".leading dot kept\n" +
		"line with trailing space \n" +
		strings.Repeat("long line ", 20) + "= sign\n"
	if err := Send(context.Background(), c, Message{Subject: longSubject, Body: body}); err != nil {
		t.Fatal(err)
	}

	msgs := srv.be.messages()
	if len(msgs) != 1 {
		t.Fatalf("got %d messages", len(msgs))
	}
	got := msgs[0]
	if got.from != testUser || len(got.rcpts) != 1 || got.rcpts[0] != "owner@example.org" {
		t.Errorf("envelope = %q -> %q", got.from, got.rcpts)
	}
	if !got.tls || got.user != testUser {
		t.Errorf("tls = %v, authenticated user = %q", got.tls, got.user)
	}
	auths := srv.be.authAttempts()
	if len(auths) != 1 || auths[0].mech != sasl.Plain || !auths[0].tls {
		t.Errorf("auth attempts = %+v, want one PLAIN over TLS", auths)
	}

	msg, gotBody := parse(t, got.data)
	h := msg.Header
	from, err := h.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Address != testUser || from[0].Name != "Enphase monitor" {
		t.Errorf("From = %v (%v)", from, err)
	}
	to, err := h.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Address != "owner@example.org" {
		t.Errorf("To = %v (%v)", to, err)
	}
	if s := h.Get("Subject"); s != longSubject {
		t.Errorf("Subject = %q", s)
	}
	if d, err := h.Date(); err != nil || time.Since(d) > time.Minute || time.Since(d) < -time.Minute {
		t.Errorf("Date = %v (%v)", d, err)
	}
	if id := h.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@example.com>") {
		t.Errorf("Message-ID = %q", id)
	}
	if h.Get("MIME-Version") != "1.0" {
		t.Errorf("MIME-Version = %q", h.Get("MIME-Version"))
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "text/plain" || params["charset"] != "utf-8" {
		t.Errorf("Content-Type = %q", h.Get("Content-Type"))
	}
	want := strings.ReplaceAll(body, "\n", "\r\n")
	if gotBody != want {
		t.Errorf("body:\n%q\nwant\n%q", gotBody, want)
	}
	if helos := srv.be.helos; len(helos) == 0 || helos[0] == "" {
		t.Errorf("EHLO names = %q", helos)
	}
}

func TestPasswordWithDollarAndPasswordFile(t *testing.T) {
	srv := startServer(t, serverOpts{})

	c := baseConfig(srv)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := Send(context.Background(), c, Message{Subject: "inline", Body: "x"}); err != nil {
		t.Fatalf("password with $ inline: %v", err)
	}

	f := filepath.Join(t.TempDir(), "smtp.pass")
	if err := os.WriteFile(f, []byte("  "+testPass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.Password, c.PasswordFile = "", f
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := Send(context.Background(), c, Message{Subject: "file", Body: "x"}); err != nil {
		t.Fatalf("password_file: %v", err)
	}

	// Read at send time: a changed file is picked up, a missing one named.
	if err := os.WriteFile(f, []byte("other\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Send(context.Background(), c, Message{Subject: "changed", Body: "x"})
	if err == nil || !strings.Contains(err.Error(), "authentication") {
		t.Fatalf("changed password file: err = %v", err)
	}
	if strings.Contains(err.Error(), "other") {
		t.Errorf("error contains the password: %v", err)
	}
	os.Remove(f)
	err = Send(context.Background(), c, Message{Subject: "gone", Body: "x"})
	if err == nil || !strings.HasPrefix(err.Error(), "email.password_file: ") {
		t.Fatalf("missing password file: err = %v", err)
	}
	if err := c.Validate(); err == nil || !strings.HasPrefix(err.Error(), "email.password_file: ") {
		t.Fatalf("Validate with missing password file: %v", err)
	}

	if n := len(srv.be.messages()); n != 2 {
		t.Errorf("got %d messages, want 2", n)
	}
}

func TestWrongPassword(t *testing.T) {
	srv := startServer(t, serverOpts{})
	c := baseConfig(srv)
	c.Password = "wrong$secret"
	err := Send(context.Background(), c, Message{Subject: "s", Body: "b"})
	if err == nil {
		t.Fatal("no error")
	}
	t.Log(err)
	for _, want := range []string{"authentication", testUser, "535", "email.password"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "wrong$secret") {
		t.Errorf("error contains the password: %v", err)
	}
	if n := len(srv.be.messages()); n != 0 {
		t.Errorf("got %d messages", n)
	}
}

func TestNoSTARTTLSRefused(t *testing.T) {
	// The server offers AUTH in clear text, but no STARTTLS.
	srv := startServer(t, serverOpts{noTLS: true, insecure: true})
	c := baseConfig(srv)
	err := Send(context.Background(), c, Message{Subject: "s", Body: "b"})
	want := "SMTP server " + srv.addr + " does not offer STARTTLS; set starttls = false only for a local relay"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	if a := srv.be.authAttempts(); len(a) != 0 {
		t.Errorf("AUTH sent: %+v", a)
	}
	if n := len(srv.be.messages()); n != 0 {
		t.Errorf("got %d messages", n)
	}
}

func TestUntrustedCertificate(t *testing.T) {
	srv := startServer(t, serverOpts{})
	c := baseConfig(srv)
	c.TLSCA = ""
	err := Send(context.Background(), c, Message{Subject: "s", Body: "b"})
	if err == nil {
		t.Fatal("no error")
	}
	t.Log(err)
	for _, want := range []string{"TLS certificate of SMTP server " + srv.addr + " is not trusted", "email.tls_ca"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	noSecret(t, err)

	// A tls_ca that is not the server's CA.
	other := newCert(t, []string{"localhost"}, nil)
	c.TLSCA = other.pemFile
	err = Send(context.Background(), c, Message{Subject: "s", Body: "b"})
	if err == nil || !strings.Contains(err.Error(), "is not signed by the CA in email.tls_ca") {
		t.Errorf("other CA: err = %v", err)
	}

	if a := srv.be.authAttempts(); len(a) != 0 {
		t.Errorf("AUTH sent: %+v", a)
	}
	if n := len(srv.be.messages()); n != 0 {
		t.Errorf("got %d messages", n)
	}
}

func TestCertificateWrongHost(t *testing.T) {
	// Trusted certificate, but for "localhost" only while we dial 127.0.0.1.
	cert := newCert(t, []string{"localhost"}, nil)
	srv := startServer(t, serverOpts{cert: cert})
	c := baseConfig(srv)
	err := Send(context.Background(), c, Message{Subject: "s", Body: "b"})
	if err == nil || !strings.Contains(err.Error(), `is not valid for "127.0.0.1"`) || !strings.Contains(err.Error(), "email.server") {
		t.Fatalf("err = %v", err)
	}
	// With the name the certificate lists it works.
	_, port, _ := net.SplitHostPort(srv.addr)
	c.Server = "localhost:" + port
	if err := Send(context.Background(), c, Message{Subject: "s", Body: "b"}); err != nil {
		// localhost may resolve to ::1 first where nothing listens; the
		// dialer falls back to 127.0.0.1.
		t.Fatal(err)
	}
}

func TestImplicitTLS(t *testing.T) {
	srv := startServer(t, serverOpts{implicitTLS: true})
	c := baseConfig(srv)
	p, err := c.check()
	if err != nil {
		t.Fatal(err)
	}
	if p.implicitTLS {
		t.Fatal("implicit TLS for a port other than 465")
	}
	p.implicitTLS = true // as for port 465
	if err := send(context.Background(), &c, p, Message{Subject: "smtps", Body: "b"}); err != nil {
		t.Fatal(err)
	}
	msgs := srv.be.messages()
	if len(msgs) != 1 || !msgs[0].tls || msgs[0].user != testUser {
		t.Fatalf("messages = %+v", msgs)
	}

	// Port 465 selects it.
	c.Server = "smtp.example.com:465"
	if p, err := c.check(); err != nil || !p.implicitTLS {
		t.Fatalf("465: %+v, %v", p, err)
	}
}

func TestCleartextAuth(t *testing.T) {
	// The check itself.
	public := &net.TCPAddr{IP: net.ParseIP("192.0.2.10"), Port: 25}
	err := checkAuthTransport(false, "smtp.example.com:25", public)
	if err == nil || !strings.Contains(err.Error(), "refusing to send the SMTP password unencrypted to smtp.example.com:25") {
		t.Errorf("non-loopback clear text: %v", err)
	}
	if err := checkAuthTransport(true, "smtp.example.com:25", public); err != nil {
		t.Errorf("encrypted: %v", err)
	}
	for _, ip := range []string{"127.0.0.1", "127.3.2.1", "::1"} {
		if err := checkAuthTransport(false, "relay:25", &net.TCPAddr{IP: net.ParseIP(ip), Port: 25}); err != nil {
			t.Errorf("loopback %s: %v", ip, err)
		}
	}
	if err := checkAuthTransport(false, "relay:25", nil); err == nil {
		t.Error("unknown peer allowed")
	}

	// Validate refuses the configuration up front.
	c := Config{Server: "smtp.example.com:25", Username: "u", Password: testPass, From: "a@example.com",
		To: []string{"b@example.com"}, StartTLS: boolp(false)}
	err = c.Validate()
	if err == nil || !strings.HasPrefix(err.Error(), "email.starttls: ") {
		t.Errorf("Validate: %v", err)
	}
	noSecret(t, err)
	for _, host := range []string{"localhost:25", "127.0.0.1:25", "[::1]:25"} {
		c.Server = host
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}

	// A local relay without TLS, with AUTH, on loopback: allowed.
	srv := startServer(t, serverOpts{noTLS: true, insecure: true})
	c = baseConfig(srv)
	c.StartTLS = boolp(false)
	if err := Send(context.Background(), c, Message{Subject: "relay", Body: "b"}); err != nil {
		t.Fatal(err)
	}
	msgs := srv.be.messages()
	if len(msgs) != 1 || msgs[0].tls || msgs[0].user != testUser {
		t.Fatalf("messages = %+v", msgs)
	}

	// And without AUTH.
	c.Username, c.Password = "", ""
	if err := Send(context.Background(), c, Message{Subject: "relay, no auth", Body: "b"}); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.be.authAttempts()); n != 1 {
		t.Errorf("%d AUTH attempts, want 1 (from the first send)", n)
	}
}

func TestLoginOnly(t *testing.T) {
	srv := startServer(t, serverOpts{mechs: []string{sasl.Login}})
	c := baseConfig(srv)
	if err := Send(context.Background(), c, Message{Subject: "login", Body: "b"}); err != nil {
		t.Fatal(err)
	}
	if a := srv.be.authAttempts(); len(a) != 1 || a[0].mech != sasl.Login {
		t.Errorf("auth attempts = %+v", a)
	}
	c.Password = "bad"
	err := Send(context.Background(), c, Message{Subject: "login", Body: "b"})
	if err == nil || !strings.Contains(err.Error(), "authentication") {
		t.Errorf("wrong password with LOGIN: %v", err)
	}
}

func TestSeveralRecipients(t *testing.T) {
	srv := startServer(t, serverOpts{reject: []string{"nobody@example.org"}})
	c := baseConfig(srv)
	c.To = []string{"a@example.org", "Bé Two <b@example.org>", "c@example.net"}
	if err := Send(context.Background(), c, Message{Subject: "three", Body: "b"}); err != nil {
		t.Fatal(err)
	}
	msgs := srv.be.messages()
	if len(msgs) != 1 {
		t.Fatalf("got %d messages", len(msgs))
	}
	if got := strings.Join(msgs[0].rcpts, " "); got != "a@example.org b@example.org c@example.net" {
		t.Errorf("RCPT TO = %s", got)
	}
	msg, _ := parse(t, msgs[0].data)
	to, err := msg.Header.AddressList("To")
	if err != nil || len(to) != 3 || to[1].Name != "Bé Two" || to[2].Address != "c@example.net" {
		t.Errorf("To = %v (%v)", to, err)
	}

	// One rejected: the others still get it, the error names it.
	c.To = []string{"a@example.org", "nobody@example.org"}
	err = Send(context.Background(), c, Message{Subject: "partial", Body: "b"})
	if err == nil || !strings.Contains(err.Error(), "rejected recipient(s) nobody@example.org") ||
		!strings.Contains(err.Error(), "550") {
		t.Errorf("partial: %v", err)
	}
	msgs = srv.be.messages()
	if len(msgs) != 2 || len(msgs[1].rcpts) != 1 || msgs[1].rcpts[0] != "a@example.org" {
		t.Errorf("partial delivery = %+v", msgs)
	}

	// All rejected: nothing sent.
	c.To = []string{"nobody@example.org"}
	err = Send(context.Background(), c, Message{Subject: "none", Body: "b"})
	if err == nil || !strings.Contains(err.Error(), "rejected every recipient") {
		t.Errorf("all rejected: %v", err)
	}
	if n := len(srv.be.messages()); n != 2 {
		t.Errorf("got %d messages, want 2", n)
	}
}

func TestNonASCIISubject(t *testing.T) {
	srv := startServer(t, serverOpts{})
	c := baseConfig(srv)
	subject := "Jeton Enphase renouvelé ✓ — échec évité; très long sujet pour forcer plusieurs mots encodés"
	body := "Größe: 12 kWh ☀\nZeile zwei\n"
	if err := Send(context.Background(), c, Message{Subject: subject + "\r\nBcc: evil@example.com", Body: body}); err != nil {
		t.Fatal(err)
	}
	msgs := srv.be.messages()
	if len(msgs) != 1 {
		t.Fatalf("got %d messages", len(msgs))
	}
	for _, b := range msgs[0].data {
		if b >= 0x80 {
			t.Fatalf("raw message is not 7-bit:\n%s", msgs[0].data)
		}
	}
	msg, gotBody := parse(t, msgs[0].data)
	if msg.Header.Get("Bcc") != "" {
		t.Error("header injection through the subject")
	}
	dec, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	if want := subject + "  Bcc: evil@example.com"; dec != want {
		t.Errorf("Subject = %q, want %q", dec, want)
	}
	if gotBody != strings.ReplaceAll(body, "\n", "\r\n") {
		t.Errorf("body = %q", gotBody)
	}
}

func TestTimeoutServerNeverAnswers(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // hold it open, say nothing
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})

	c := Config{Server: l.Addr().String(), From: "a@example.com", To: []string{"b@example.com"},
		Timeout: config.Duration(300 * time.Millisecond)}
	start := time.Now()
	err = Send(context.Background(), c, Message{Subject: "s", Body: "b"})
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("took %s with a 300ms timeout", el)
	}
	if err == nil || !errors.Is(err, context.DeadlineExceeded) ||
		!strings.Contains(err.Error(), "did not answer in time") || !strings.Contains(err.Error(), "waiting for the greeting") {
		t.Fatalf("err = %v", err)
	}
	t.Log(err)

	// A cancelled context ends it long before the 30s timeout.
	c.Timeout = 0
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start = time.Now()
	err = Send(ctx, c, Message{Subject: "s", Body: "b"})
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("took %s after cancel", el)
	}
	if err == nil || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "canceled") {
		t.Fatalf("err = %v", err)
	}
	t.Log(err)

	// The caller's deadline counts as well.
	ctx, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	start = time.Now()
	err = Send(ctx, c, Message{Subject: "s", Body: "b"})
	if el := time.Since(start); el > 3*time.Second || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("caller deadline: %s, %v", el, err)
	}
}

func TestTimeoutAfterSTARTTLS(t *testing.T) {
	// A server that greets and answers EHLO, then stalls at STARTTLS.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.WriteString(c, "220 stall.test ESMTP\r\n")
		buf := make([]byte, 512)
		n, _ := c.Read(buf)
		if strings.HasPrefix(string(buf[:n]), "EHLO") {
			_, _ = io.WriteString(c, "250-stall.test\r\n250 STARTTLS\r\n")
		}
		_, _ = io.Copy(io.Discard, c)
	}()
	c := Config{Server: l.Addr().String(), From: "a@example.com", To: []string{"b@example.com"},
		Timeout: config.Duration(300 * time.Millisecond)}
	start := time.Now()
	err = Send(context.Background(), c, Message{Subject: "s", Body: "b"})
	if time.Since(start) > 3*time.Second || err == nil || !strings.Contains(err.Error(), "in STARTTLS") {
		t.Fatalf("%s: %v", time.Since(start), err)
	}
}

func TestConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := Config{Server: addr, From: "a@example.com", To: []string{"b@example.com"}}
	err = Send(context.Background(), c, Message{Subject: "s", Body: "b"})
	if err == nil || !strings.HasPrefix(err.Error(), "cannot connect to SMTP server "+addr) {
		t.Fatalf("err = %v", err)
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.pass")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := func() Config {
		return Config{Server: "smtp.example.com", Username: "u", Password: testPass,
			From: "a@example.com", To: []string{"b@example.com"}}
	}
	if c := good(); c.Validate() != nil {
		t.Fatal(c.Validate())
	}
	cases := []struct {
		name   string
		mod    func(*Config)
		prefix string
	}{
		{"no server", func(c *Config) { c.Server = "" }, "email.server: required"},
		{"url", func(c *Config) { c.Server = "smtp://smtp.example.com" }, "email.server: "},
		{"bad port", func(c *Config) { c.Server = "smtp.example.com:smtp" }, "email.server: "},
		{"port 0", func(c *Config) { c.Server = "smtp.example.com:0" }, "email.server: "},
		{"no host", func(c *Config) { c.Server = ":587" }, "email.server: "},
		{"no from", func(c *Config) { c.From = "" }, "email.from: required"},
		{"bad from", func(c *Config) { c.From = "not an address" }, "email.from: "},
		{"no to", func(c *Config) { c.To = nil }, "email.to: at least one address"},
		{"bad to", func(c *Config) { c.To = []string{"b@example.com", "nope"} }, "email.to[1]: "},
		{"both passwords", func(c *Config) { c.PasswordFile = "/x" }, "email.password and email.password_file are both set"},
		{"password no user", func(c *Config) { c.Username = "" }, "email.username: "},
		{"user no password", func(c *Config) { c.Password = "" }, "email.password: required"},
		{"missing password file", func(c *Config) { c.Password, c.PasswordFile = "", filepath.Join(dir, "nope") }, "email.password_file: "},
		{"empty password file", func(c *Config) { c.Password, c.PasswordFile = "", empty }, "email.password_file: "},
		{"clear text auth", func(c *Config) { c.StartTLS = boolp(false) }, "email.starttls: "},
		{"missing ca", func(c *Config) { c.TLSCA = filepath.Join(dir, "nope.pem") }, "email.tls_ca: "},
		{"ca not pem", func(c *Config) { c.TLSCA = notPEM }, "email.tls_ca: \"" + notPEM + "\" holds no PEM certificate"},
		{"negative timeout", func(c *Config) { c.Timeout = config.Duration(-time.Second) }, "email.timeout: "},
	}
	for _, tc := range cases {
		c := good()
		tc.mod(&c)
		err := c.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), tc.prefix) {
			t.Errorf("%s: err = %v, want prefix %q", tc.name, err, tc.prefix)
		}
		noSecret(t, err)
		// Send refuses the same configuration before connecting.
		if err := Send(context.Background(), c, Message{}); err == nil || !strings.HasPrefix(err.Error(), "email.") {
			t.Errorf("%s: Send err = %v", tc.name, err)
		}
	}

	for s, want := range map[string]string{
		"smtp.example.com":      "smtp.example.com:587",
		"smtp.example.com:25":   "smtp.example.com:25",
		"[2001:db8::1]:2525":    "[2001:db8::1]:2525",
		"2001:db8::1":           "[2001:db8::1]:587",
		"[2001:db8::1]":         "[2001:db8::1]:587",
		"192.0.2.1":             "192.0.2.1:587",
		"smtp.example.com:465":  "smtp.example.com:465",
		"relay.localhost.:2525": "relay.localhost.:2525",
	} {
		c := good()
		c.Server = s
		p, err := c.check()
		if err != nil || p.addr != want {
			t.Errorf("server %q: %v, %v; want %s", s, p, err, want)
		}
	}
}

func TestDecodeTOML(t *testing.T) {
	var file struct {
		Email Config `toml:"email"`
	}
	md, err := toml.Decode(`
[email]
server = "smtp.example.com:587"
username = "envoy@example.com"
password = 'pa$$w0rd$HOME${PATH}$1'
from = "Enphase <envoy@example.com>"
to = ["a@example.org", "b@example.org"]
starttls = true
tls_ca = ""
on_success = true
timeout = "10s"
`, &file)
	if err != nil {
		t.Fatal(err)
	}
	if u := md.Undecoded(); len(u) != 0 {
		t.Fatalf("undecoded keys %v", u)
	}
	c := file.Email
	if c.Password != testPass || len(c.To) != 2 || c.StartTLS == nil || !*c.StartTLS || !c.OnSuccess ||
		time.Duration(c.Timeout) != 10*time.Second {
		t.Errorf("decoded %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}

	// Defaults, and a timeout in plain seconds.
	if _, err := toml.Decode("[email]\ntimeout = 5\n", &file); err != nil {
		t.Fatal(err)
	}
	var d Config
	if !d.startTLS() || d.timeout() != DefaultTimeout {
		t.Errorf("defaults: starttls %v, timeout %s", d.startTLS(), d.timeout())
	}
	if time.Duration(file.Email.Timeout) != 5*time.Second {
		t.Errorf("timeout = 5 -> %s", time.Duration(file.Email.Timeout))
	}
}

func TestRedact(t *testing.T) {
	err := redact(errors.New("535 bad credentials for "+testPass), "u", testPass)
	if strings.Contains(err.Error(), testPass) || !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("redact: %v", err)
	}
	orig := context.Canceled
	if redact(orig, "u", testPass) != orig {
		t.Error("an error without secrets must be returned as is")
	}
}
