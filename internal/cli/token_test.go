package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoysim"
	"github.com/telegraf-enphase/telegraf-enphase/internal/token"
)

const (
	testAccount  = "owner@example.com"
	testPassword = "s3cret$with$dollars"
)

// mailbox is a real SMTP server (go-smtp) on loopback that keeps what it receives.
type mailbox struct {
	mu   sync.Mutex
	msgs []string
	addr string
}

func (b *mailbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &mailSession{b: b}, nil }

func (b *mailbox) received() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.msgs...)
}

type mailSession struct{ b *mailbox }

func (*mailSession) Mail(string, *smtp.MailOptions) error { return nil }
func (*mailSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.b.mu.Lock()
	s.b.msgs = append(s.b.msgs, string(b))
	s.b.mu.Unlock()
	return nil
}
func (*mailSession) Reset()        {}
func (*mailSession) Logout() error { return nil }

func startMailbox(t *testing.T) *mailbox {
	t.Helper()
	b := &mailbox{}
	srv := smtp.NewServer(b)
	srv.Domain = "localhost"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	b.addr = l.Addr().String()
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return b
}

type tokenRig struct {
	sim     *envoysim.Server
	url     string
	dir     string
	conf    string
	tokFile string
	mail    *mailbox
}

// startTokenRig runs a simulated gateway and cloud, a mailbox, and writes a
// config with credentials, a password file and e-mail on failure and success.
func startTokenRig(t *testing.T) *tokenRig {
	t.Helper()
	sim, err := envoysim.New(envoysim.Options{Accounts: map[string]string{testAccount: testPassword}})
	require.NoError(t, err)
	url, err := sim.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	r := &tokenRig{sim: sim, url: url, dir: t.TempDir(), mail: startMailbox(t)}
	ca := filepath.Join(r.dir, "sim.pem")
	require.NoError(t, os.WriteFile(ca, sim.CertificatePEM(), 0o600))
	pw := filepath.Join(r.dir, "password")
	require.NoError(t, os.WriteFile(pw, []byte(testPassword+"\n"), 0o600))
	r.tokFile = filepath.Join(r.dir, "tokens", "envoy.token")
	r.conf = filepath.Join(r.dir, "enphase.conf")
	conf := fmt.Sprintf(`[[inputs.enphase]]
  url = %q
  token_file = %q
  insecure_skip_verify = true
  username = %q
  password_file = %q
  enlighten_url = %q
  entrez_url = %q
  cloud_tls_ca = %q
  [inputs.enphase.email]
    server = %q
    starttls = false
    from = "envoy@example.com"
    to = ["me@example.com"]
    on_success = true
`, url, r.tokFile, testAccount, pw, url, url, ca, r.mail.addr)
	require.NoError(t, os.WriteFile(r.conf, []byte(conf), 0o600))
	return r
}

// run runs a command and asserts no secret reached its output.
func (r *tokenRig) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	code, out, stderr := runMain(args...)
	all := out + stderr
	require.NotContains(t, all, testPassword)
	if tok, err := token.ReadFile(r.tokFile); err == nil {
		require.NotContains(t, all, tok.Raw[strings.LastIndex(tok.Raw, ".")+1:])
	}
	for _, m := range r.mail.received() {
		require.NotContains(t, m, testPassword)
	}
	return code, out, stderr
}

func (r *tokenRig) write(t *testing.T, tok string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(r.tokFile), 0o700))
	require.NoError(t, os.WriteFile(r.tokFile, []byte(tok), 0o600))
}

// TestTokenFetch: the first token, minted with the account, validated on the
// gateway and stored 0600; 'token check' and 'token show' then read it.
func TestTokenFetch(t *testing.T) {
	r := startTokenRig(t)
	code, out, stderr := r.run(t, "token", "fetch", "--config", r.conf)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "stored a new owner token for "+r.sim.Serial())
	st, err := os.Stat(r.tokFile)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	require.Equal(t, 1, r.sim.Stats().CloudTokens)
	mails := r.mail.received()
	require.Len(t, mails, 1, "on_success mails a successful renewal")
	require.Contains(t, mails[0], "Subject: telegraf-enphase: token renewed")

	code, out, stderr = r.run(t, "token", "check", "--config", r.conf)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "valid (owner token for "+r.sim.Serial())

	code, out, stderr = r.run(t, "token", "show", "--config", r.conf)
	require.Equal(t, 0, code, stderr)
	var shown struct {
		Serial    string         `json:"serial"`
		Role      string         `json:"role"`
		Expired   bool           `json:"expired"`
		Claims    map[string]any `json:"claims"`
		Header    map[string]any `json:"header"`
		ExpiresAt struct {
			Unix  int64  `json:"unix"`
			UTC   string `json:"utc"`
			Local string `json:"local"`
		} `json:"expires_at"`
		IssuedAt struct{ UTC string } `json:"issued_at"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &shown))
	require.Equal(t, r.sim.Serial(), shown.Serial)
	require.Equal(t, "owner", shown.Role)
	require.False(t, shown.Expired)
	require.Equal(t, "ES256", shown.Header["alg"])
	require.Equal(t, "Entrez", shown.Claims["iss"])
	require.Equal(t, time.Unix(shown.ExpiresAt.Unix, 0).UTC().Format(time.RFC3339), shown.ExpiresAt.UTC)
	require.NotEmpty(t, shown.ExpiresAt.Local)
	require.NotEmpty(t, shown.IssuedAt.UTC)
}

// TestTokenRenewForCron: 'token renew' calls the cloud only when due (or
// forced) and exits 0 when the stored token is good afterwards.
func TestTokenRenewForCron(t *testing.T) {
	r := startTokenRig(t)
	now := time.Now()
	fresh := r.sim.MintToken(r.sim.Serial(), "owner", now, now.Add(300*24*time.Hour))
	r.write(t, fresh)

	code, out, stderr := r.run(t, "token", "renew", "--config", r.conf)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "not due")
	require.Zero(t, r.sim.Stats().CloudLogin)

	code, out, stderr = r.run(t, "token", "renew", "--config", r.conf, "--force")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "stored a new owner token")
	stored, err := token.ReadFile(r.tokFile)
	require.NoError(t, err)
	require.NotEqual(t, fresh, stored.Raw)

	// A6: a token the gateway refuses is renewed even though it is not due.
	r.sim.RevokeTokens()
	code, out, stderr = r.run(t, "token", "renew", "--config", r.conf)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "stored a new owner token")
	require.Equal(t, 2, r.sim.Stats().CloudTokens)
}

// TestTokenRenewFailureMails: when renewal fails, the old token is kept, an
// e-mail says why, and the exit status says whether the stored token still
// works.
func TestTokenRenewFailureMails(t *testing.T) {
	r := startTokenRig(t)
	now := time.Now()
	due := r.sim.MintToken(r.sim.Serial(), "owner", now.Add(-350*24*time.Hour), now.Add(15*24*time.Hour))
	r.write(t, due)
	r.sim.SetCloud(envoysim.Cloud{Login: "mfa"})

	code, out, stderr := r.run(t, "token", "renew", "--config", r.conf)
	require.Equal(t, 0, code, "the stored token still works: %s", stderr)
	require.Contains(t, stderr, "multi-factor")
	require.Contains(t, out, "renewal failed, the stored owner token")
	stored, err := token.ReadFile(r.tokFile)
	require.NoError(t, err)
	require.Equal(t, due, stored.Raw)
	mails := r.mail.received()
	require.Len(t, mails, 1)
	require.Contains(t, mails[0], "Subject: telegraf-enphase: token renewal failed")
	require.Contains(t, mails[0], "multi-factor")

	// 'token fetch' asked for a new token and did not get one: failure.
	code, _, _ = r.run(t, "token", "fetch", "--config", r.conf)
	require.Equal(t, 1, code)

	// Once the stored token is refused too, cron's renew fails.
	r.sim.RevokeTokens()
	code, _, stderr = r.run(t, "token", "renew", "--config", r.conf)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "multi-factor")
	code, _, stderr = r.run(t, "token", "check", "--config", r.conf)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "gateway rejected")
}

// TestTokenShowFileAndEpoch: the old JWT decoder and epoch converter.
func TestTokenShowFileAndEpoch(t *testing.T) {
	dir := t.TempDir()
	sim, err := envoysim.New(envoysim.Options{})
	require.NoError(t, err)
	exp := time.Date(2024, 7, 9, 7, 52, 41, 0, time.UTC)
	p := filepath.Join(dir, "t")
	require.NoError(t, os.WriteFile(p, []byte("  "+sim.MintToken("122000000000", "installer", exp.Add(-12*time.Hour), exp)+"\n"), 0o600))
	code, out, stderr := runMain("token", "show", p)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, `"utc": "2024-07-09T07:52:41Z"`)
	require.Contains(t, out, `"expired": true`)
	require.Contains(t, out, `"role": "installer"`)
	require.Contains(t, out, " ago")

	code, out, _ = runMain("token", "show", "--epoch", "1720511561")
	require.Equal(t, 0, code)
	var e map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &e))
	require.Equal(t, "2024-07-09T07:52:41Z", e["utc"])

	require.NoError(t, os.WriteFile(p, []byte("<html>login</html>"), 0o600))
	code, _, stderr = runMain("token", "show", p)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "HTML page")

	code, _, _ = runMain("token", "show", "--epoch", "yesterday")
	require.Equal(t, 2, code)
	code, _, _ = runMain("token", "frobnicate")
	require.Equal(t, 2, code)
}

// TestConfigNeedsPasswordWithUsername: credentials are validated at start.
func TestConfigNeedsPasswordWithUsername(t *testing.T) {
	p := filepath.Join(t.TempDir(), "enphase.conf")
	require.NoError(
		t,
		os.WriteFile(p, []byte("[[inputs.enphase]]\n  url = \"envoy.local\"\n  token_file = \"/nonexistent/t\"\n  username = \"me@example.com\"\n"), 0o600),
	)
	code, _, stderr := runMain("dump", "--config", p)
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "password: required with username")
}
