package enphase

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/influxdata/telegraf"
	common_tls "github.com/influxdata/telegraf/plugins/common/tls"

	"github.com/telegraf-enphase/telegraf-enphase/internal/enlighten"
	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
	"github.com/telegraf-enphase/telegraf-enphase/internal/mail"
	"github.com/telegraf-enphase/telegraf-enphase/internal/renew"
	"github.com/telegraf-enphase/telegraf-enphase/internal/tlsclient"
	"github.com/telegraf-enphase/telegraf-enphase/internal/token"
)

const (
	mToken = "enphase_token"

	// renewTimeout bounds one renewal: two cloud calls and one check_jwt.
	renewTimeout = 2 * time.Minute
	// clockSkew is how far past its expiry (by our clock) a token is still tried.
	clockSkew = time.Hour
	// warnEvery spaces the "renew your token" warnings of pasted tokens.
	warnEvery = 24 * time.Hour
)

// tokenManager is the token lifecycle of one gateway: where the token is
// stored, its renewal in the background and the e-mail that reports it.
type tokenManager struct {
	source   envoy.TokenSource
	renewer  *renew.Renewer // nil without credentials
	file     string         // token_file, for messages; "" with token
	url      string         // the gateway's, for e-mails
	email    *mail.Config
	log      telegraf.Logger
	name     func() string // the gateway's name in messages
	now      func() time.Time
	ctx      context.Context
	renewing atomic.Bool
	lastWarn time.Time // guarded by the gather lock
	// mailedFailure is when the current failure episode was mailed; zero
	// when none is going on. Only the one renewal goroutine touches it.
	mailedFailure time.Time
	bg            sync.WaitGroup
}

// wait waits for a renewal in flight (Stop).
func (m *tokenManager) wait() { m.bg.Wait() }

// initTokens builds the token manager from the settings: where the token
// comes from and, with credentials, how it is renewed, each new token
// checked on the gateway by check.
func (e *Enphase) initTokens(check renew.Checker) (*tokenManager, error) {
	m := &tokenManager{file: e.TokenFile, url: e.URL, email: e.Email, log: e.Log, now: e.now}
	if err := e.configureTokens(m, check); err != nil {
		return nil, err
	}
	return m, nil
}

func (e *Enphase) configureTokens(m *tokenManager, check renew.Checker) error {
	creds := e.Username != ""
	switch {
	case e.TokenFile != "" && !e.Token.Empty():
		return &ConfigError{Key: "token", Reason: "set either token_file or token, not both"}
	case !e.Token.Empty() && creds:
		return &ConfigError{Key: "token", Reason: "a token in the configuration cannot be renewed: use token_file, where renewed tokens are stored"}
	case !e.Token.Empty():
		raw, err := secret(&e.Token)
		if err != nil {
			return &ConfigError{Key: "token", Reason: err.Error()}
		}
		t, err := token.Parse(raw)
		if err != nil {
			return &ConfigError{Key: "token", Reason: err.Error()}
		}
		m.source = token.Static{T: t}
		return nil
	case e.TokenFile == "":
		return &ConfigError{Key: "token_file", Reason: "required: the path of a file holding the gateway's JWT (or set token)"}
	}
	src := &token.FileSource{Path: e.TokenFile}
	m.source = src
	if _, err := src.Token(); err != nil && !creds {
		return &ConfigError{
			Key:    "token_file",
			Reason: err.Error() + " (paste a token from https://entrez.enphaseenergy.com, or set username and password to have one fetched)",
		}
	}
	if !creds {
		if !e.Password.Empty() || e.PasswordFile != "" {
			return &ConfigError{Key: "username", Reason: "required with password: the Enlighten account's e-mail"}
		}
		return nil
	}
	password, err := e.passwordSource()
	if err != nil {
		return err
	}
	cloudCfg := enlighten.Config{EnlightenURL: e.EnlightenURL, EntrezURL: e.EntrezURL, Now: e.now}
	if e.CloudTLSCA != "" {
		// Telegraf's loader, as for tls_ca.
		cfg, err := tlsclient.Config(&common_tls.ClientConfig{TLSCA: e.CloudTLSCA})
		if err != nil {
			return &ConfigError{Key: "cloud_tls_ca", Reason: err.Error()}
		}
		cloudCfg.RootCAs = cfg.RootCAs
	}
	cloud, err := enlighten.New(cloudCfg)
	if err != nil {
		return &ConfigError{Key: "enlighten_url", Reason: err.Error()}
	}
	policy := renew.Policy{OwnerBefore: time.Duration(e.RenewOwnerBefore), InstallerBefore: time.Duration(e.RenewInstallerBefore)}
	if key, err := policy.Validate(); err != nil {
		return &ConfigError{Key: key, Reason: err.Error()}
	}
	m.renewer = &renew.Renewer{
		Store:  token.Store{Path: e.TokenFile, Warn: func(w string) { e.Log.Warn(w) }},
		Creds:  renew.Credentials{Username: e.Username, Password: password},
		Mint:   cloud,
		Check:  check,
		Policy: policy,
		Now:    e.now,
		Warn:   func(w string) { e.Log.Warn(w) },
	}
	if err := m.renewer.Store.CheckWritable(); err != nil {
		e.Log.Warnf("%s: renewals will fail until this is fixed: %v", e.TokenFile, err)
	}
	if e.Email != nil {
		if err := e.Email.Validate(); err != nil {
			return &ConfigError{Key: "email", Reason: err.Error()}
		}
	}
	return nil
}

// passwordSource returns a function yielding the Enlighten password, read
// from the file at each use so a changed password needs no restart.
func (e *Enphase) passwordSource() (func() (string, error), error) {
	switch {
	case !e.Password.Empty() && e.PasswordFile != "":
		return nil, &ConfigError{Key: "password", Reason: "set either password or password_file, not both"}
	case !e.Password.Empty():
		// Kept protected; out of it only for the login.
		pw := &e.Password
		if _, err := secret(pw); err != nil {
			return nil, &ConfigError{Key: "password", Reason: err.Error()}
		}
		return func() (string, error) { return secret(pw) }, nil
	case e.PasswordFile != "":
		if _, err := os.Stat(e.PasswordFile); err != nil {
			return nil, &ConfigError{Key: "password_file", Reason: err.Error()}
		}
		path := e.PasswordFile
		return func() (string, error) {
			b, err := os.ReadFile(path)
			if err != nil {
				return "", err
			}
			return strings.TrimRight(string(b), "\r\n"), nil
		}, nil
	}
	return nil, &ConfigError{Key: "password", Reason: "required with username (or password_file); a password with '$' is safest in password_file"}
}

// current returns the usable token for serial, starting a renewal in
// the background when it is missing, for another gateway, expired or due.
// It returns an error only when no gather is possible with what is on disk.
func (m *tokenManager) current(acc telegraf.Accumulator, serial string, now time.Time) (token.Token, error) {
	tok, err := m.source.Token()
	if err == nil {
		err = tok.CheckSerial(serial)
	}
	// Host clocks drift (A10): a token that expired moments ago by our clock
	// is still offered; the gateway has the last word.
	if err == nil && tok.Expired(now.Add(-clockSkew)) {
		err = fmt.Errorf("the %s has expired", tok)
	}
	r := m.renewer
	switch {
	case r != nil && (err != nil || r.Policy.Due(tok, now) || tok.Expired(now)):
		m.startRenewal(serial, renew.Options{})
	case r == nil && err == nil && renew.DefaultPolicy().Due(tok, now) && now.Sub(m.lastWarn) >= warnEvery:
		m.lastWarn = now
		m.log.Warnf("%s: the %s (%s) and no Enlighten credentials are configured to renew it: paste a new token into %s", m.name(), tok, tok.Left(now), m.file)
	}
	if tok.Raw != "" {
		m.emitToken(acc, serial, tok, now)
	}
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return token.Token{}, err // it names the chown; no renewal can help
		}
		if r != nil {
			return token.Token{}, fmt.Errorf("%w (a renewal with the Enlighten credentials was asked for; the log tells its outcome)", err)
		}
		return token.Token{}, fmt.Errorf("%w: get a new one (see the README, 'Getting a token')", err)
	}
	return tok, nil
}

// onAuthRejected reacts to the gateway refusing the token on check_jwt.
func (m *tokenManager) onAuthRejected(serial string) {
	if m.renewer != nil {
		m.startRenewal(serial, renew.Options{Verify: true})
	}
}

// startRenewal renews in the background so that gathers go on with the old
// token meanwhile; at most one renewal runs per gateway.
func (m *tokenManager) startRenewal(serial string, o renew.Options) {
	if !m.renewing.CompareAndSwap(false, true) {
		return
	}
	m.bg.Add(1)
	go func() {
		defer m.bg.Done()
		defer m.renewing.Store(false)
		ctx, cancel := context.WithTimeout(m.ctx, renewTimeout)
		defer cancel()
		res, err := m.renewer.Renew(ctx, serial, o)
		switch {
		case errors.Is(err, renew.ErrBackingOff), errors.Is(err, token.ErrLocked):
			m.log.Debugf("%s: token renewal: %v", m.name(), err)
		case err != nil && ctx.Err() != nil && m.ctx.Err() != nil:
			// Stopping.
		case err != nil:
			m.log.Errorf("%s: %v", m.name(), err)
			// One e-mail per failure episode (R6), repeated daily while
			// it lasts: the log has every attempt.
			if now := m.now(); m.mailedFailure.IsZero() || now.Sub(m.mailedFailure) >= warnEvery {
				m.mailedFailure = now
				m.notifyRenewal(ctx, res, err)
			}
		case res.Renewed:
			m.mailedFailure = time.Time{}
			m.log.Infof("%s: token renewed (%s): %s", m.name(), res.Reason, res.Token)
			m.notifyRenewal(ctx, res, nil)
		}
	}()
}

// notifyRenewal mails the outcome of a renewal when e-mail is configured:
// failures always, successes with on_success. The message holds no secret.
func (m *tokenManager) notifyRenewal(ctx context.Context, res renew.Result, err error) {
	switch {
	case m.email == nil:
	case err != nil:
		m.notify(
			ctx,
			fmt.Sprintf("telegraf-enphase: token renewal failed for %s", m.name()),
			fmt.Sprintf(
				"Renewing the token of %s (%s) failed:\n\n  %v\n\nThe stored token was left as it was and stays in use while it is valid.\nToken file: %s\n",
				m.name(),
				m.url,
				err,
				m.file,
			),
		)
	case res.Renewed && m.email.OnSuccess:
		m.notify(ctx, fmt.Sprintf("telegraf-enphase: token renewed for %s", m.name()),
			fmt.Sprintf("The token of %s (%s) was renewed (%s): %s.\n", m.name(), m.url, res.Reason, res.Token))
	}
}

// notify sends an e-mail when configured; a mail failure is only logged.
func (m *tokenManager) notify(ctx context.Context, subject, body string) {
	if m.email == nil {
		return
	}
	if err := mail.Send(ctx, *m.email, mail.Message{Subject: subject, Body: body}); err != nil {
		m.log.Errorf("%s: sending e-mail: %v", m.name(), err)
	}
}

// emitToken writes enphase_token, so a dashboard can alert long before data stops.
func (m *tokenManager) emitToken(acc telegraf.Accumulator, serial string, tok token.Token, now time.Time) {
	f := borrowFields()
	defer f.giveBack()
	f.setFloat("expires_in_s", tok.Remaining(now).Round(time.Millisecond).Seconds()) // the clock's nanoseconds are noise here
	f.setInt("expires_at_unix_s", tok.Expires.Unix())
	f.setString("role", tok.Role)
	if !tok.IssuedAt.IsZero() {
		f.setInt("issued_at_unix_s", tok.IssuedAt.Unix())
	}
	if r := m.renewer; r != nil {
		st := r.Stats()
		f.setInt("renewals", st.Renewals)
		f.setInt("renewal_failures", st.Failures)
	}
	add(acc, mToken, tagsOf("serial", serial), *f, now)
}

var _ renew.Checker = (*poller)(nil)
