package enphase

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/mail"
)

// smtpCounter is a real SMTP server on loopback that counts the messages it receives.
type smtpCounter struct{ n atomic.Int64 }

func (c *smtpCounter) NewSession(*smtp.Conn) (smtp.Session, error) { return smtpSession{c}, nil }

type smtpSession struct{ c *smtpCounter }

func (smtpSession) Mail(string, *smtp.MailOptions) error { return nil }
func (smtpSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s smtpSession) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	s.c.n.Add(1)
	return err
}
func (smtpSession) Reset()        {}
func (smtpSession) Logout() error { return nil }

func startSMTP(t *testing.T) (string, *smtpCounter) {
	t.Helper()
	c := &smtpCounter{}
	srv := smtp.NewServer(c)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String(), c
}

// TestUnwritableTokenDirectoryR6: the lock file cannot be created (here a
// directory stands where it goes, which stops root too). Start warns; the
// renewal backs off like any failure instead of running, logging and
// mailing on every gather; one e-mail for the whole episode.
func TestUnwritableTokenDirectoryR6(t *testing.T) {
	r := startCloudRig(t)
	addr, mails := startSMTP(t)
	old := r.mint("owner", 345*24*time.Hour, 20*24*time.Hour) // due
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "envoy.token.lock"), 0o700))
	off := false
	e, log, err := r.pluginWith(t, dir, old, func(e *Enphase) {
		e.Email = &mail.Config{Server: addr, From: "plugin@example.com", To: []string{"me@example.com"}, StartTLS: &off}
	})
	require.NoError(t, err)
	require.Contains(t, strings.Join(logLines(log), "\n"), "renewals will fail until this is fixed: token lock:")

	gathers := 0
	for range 4 * 60 { // four hours, one gather a minute
		gatherOK(t, e) // the stored token keeps working
		waitRenewal(t, e)
		gathers++
		r.clk.Advance(time.Minute)
	}
	var lockErrors int
	for _, l := range logLines(log) {
		if strings.HasPrefix(l, "E!") && strings.Contains(l, "token lock") {
			lockErrors++
		}
	}
	// Backoff: attempts at 0, 5, 15, 35, 75, 155 minutes.
	require.Equal(t, 6, lockErrors, "lock failures logged in %d gathers:\n%s", gathers, strings.Join(logLines(log), "\n"))
	require.Equal(t, int64(1), mails.n.Load(), "e-mails in the episode")
	require.Zero(t, r.sim.Stats().CloudLogin)
}
