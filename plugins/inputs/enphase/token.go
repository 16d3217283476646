package enphase

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/influxdata/telegraf"

	"github.com/telegraf-enphase/telegraf-enphase/internal/enlighten"
	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
	"github.com/telegraf-enphase/telegraf-enphase/internal/mail"
	"github.com/telegraf-enphase/telegraf-enphase/internal/renew"
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

// tokenState is the token lifecycle of one gateway.
type tokenState struct {
	renewer  *renew.Renewer // nil without credentials
	store    token.Store
	renewing atomic.Bool
	lastWarn time.Time // guarded by the gather lock
}

// initTokens sets up where the token comes from and, with credentials, how
// it is renewed.
func (e *Enphase) initTokens(tlsChecker renew.Checker) error {
	creds := e.Username != ""
	switch {
	case e.TokenFile != "" && e.Token != "":
		return &ConfigError{Key: "token", Reason: "set either token_file or token, not both"}
	case e.Token != "" && creds:
		return &ConfigError{Key: "token", Reason: "a token in the configuration cannot be renewed: use token_file, where renewed tokens are stored"}
	case e.Token != "":
		t, err := token.Parse(e.Token)
		if err != nil {
			return &ConfigError{Key: "token", Reason: err.Error()}
		}
		e.tokens = token.Static{T: t}
		return nil
	case e.TokenFile == "":
		return &ConfigError{Key: "token_file", Reason: "required: the path of a file holding the gateway's JWT (or set token)"}
	}
	src := &token.FileSource{Path: e.TokenFile}
	e.tokens = src
	e.tok.store = token.Store{Path: e.TokenFile, Warn: func(w string) { e.Log.Warn(w) }}
	if _, err := src.Token(); err != nil && !creds {
		return &ConfigError{Key: "token_file", Reason: err.Error() + " (paste a token from https://entrez.enphaseenergy.com, or set username and password to have one fetched)"}
	}
	if !creds {
		if e.Password != "" || e.PasswordFile != "" {
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
		pem, err := os.ReadFile(e.CloudTLSCA)
		if err != nil {
			return &ConfigError{Key: "cloud_tls_ca", Reason: err.Error()}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return &ConfigError{Key: "cloud_tls_ca", Reason: fmt.Sprintf("%s holds no PEM certificate", e.CloudTLSCA)}
		}
		cloudCfg.RootCAs = pool
	}
	cloud, err := enlighten.New(cloudCfg)
	if err != nil {
		return &ConfigError{Key: "enlighten_url", Reason: err.Error()}
	}
	if e.RenewOwnerBefore <= 0 || e.RenewInstallerBefore <= 0 {
		return &ConfigError{Key: "renew_owner_before", Reason: "renew_owner_before and renew_installer_before must be positive"}
	}
	e.tok.renewer = &renew.Renewer{
		Store:  e.tok.store,
		Creds:  renew.Credentials{Username: e.Username, Password: password},
		Mint:   cloud,
		Check:  tlsChecker,
		Policy: renew.Policy{OwnerBefore: time.Duration(e.RenewOwnerBefore), InstallerBefore: time.Duration(e.RenewInstallerBefore)},
		Now:    e.now,
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
	case e.Password != "" && e.PasswordFile != "":
		return nil, &ConfigError{Key: "password", Reason: "set either password or password_file, not both"}
	case e.Password != "":
		pw := e.Password
		return func() (string, error) { return pw, nil }, nil
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

// currentToken returns the usable token for serial, starting a renewal in
// the background when it is missing, for another gateway, expired or due.
// It returns an error only when no gather is possible with what is on disk.
func (e *Enphase) currentToken(acc telegraf.Accumulator, serial string, now time.Time) (token.Token, error) {
	tok, err := e.tokens.Token()
	if err == nil {
		err = tok.CheckSerial(serial)
	}
	// Host clocks drift (A10): a token that expired moments ago by our clock
	// is still offered; the gateway has the last word.
	if err == nil && tok.Expired(now.Add(-clockSkew)) {
		err = fmt.Errorf("the %s has expired", tok)
	}
	r := e.tok.renewer
	switch {
	case r != nil && (err != nil || r.Policy.Due(tok, now) || tok.Expired(now)):
		e.startRenewal(serial, renew.Options{})
	case r == nil && err == nil && renew.DefaultPolicy().Due(tok, now) && now.Sub(e.tok.lastWarn) >= warnEvery:
		e.tok.lastWarn = now
		e.Log.Warnf("%s: the %s expires in %s and no Enlighten credentials are configured to renew it: paste a new token into %s", e.Name(), tok, tok.Remaining(now).Round(time.Hour), e.TokenFile)
	}
	if tok.Raw != "" {
		e.emitToken(acc, serial, tok, now)
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
func (e *Enphase) onAuthRejected(serial string) {
	if e.tok.renewer != nil {
		e.startRenewal(serial, renew.Options{Verify: true})
	}
}

// startRenewal renews in the background so that gathers go on with the old
// token meanwhile; at most one renewal runs per gateway.
func (e *Enphase) startRenewal(serial string, o renew.Options) {
	if !e.tok.renewing.CompareAndSwap(false, true) {
		return
	}
	e.bg.Add(1)
	go func() {
		defer e.bg.Done()
		defer e.tok.renewing.Store(false)
		ctx, cancel := context.WithTimeout(e.ctx, renewTimeout)
		defer cancel()
		res, err := e.tok.renewer.Renew(ctx, serial, o)
		switch {
		case errors.Is(err, renew.ErrBackingOff), errors.Is(err, token.ErrLocked):
			e.Log.Debugf("%s: token renewal: %v", e.Name(), err)
		case err != nil && ctx.Err() != nil && e.ctx.Err() != nil:
			// Stopping.
		case err != nil:
			e.Log.Errorf("%s: %v", e.Name(), err)
			e.NotifyRenewal(ctx, res, err)
		case res.Renewed:
			e.Log.Infof("%s: token renewed (%s): %s", e.Name(), res.Reason, res.Token)
			e.NotifyRenewal(ctx, res, nil)
		}
	}()
}

// NotifyRenewal mails the outcome of a renewal when e-mail is configured:
// failures always, successes with on_success. The message holds no secret.
func (e *Enphase) NotifyRenewal(ctx context.Context, res renew.Result, err error) {
	switch {
	case e.Email == nil:
	case err != nil:
		e.notify(ctx, fmt.Sprintf("telegraf-enphase: token renewal failed for %s", e.Name()),
			fmt.Sprintf("Renewing the token of %s (%s) failed:\n\n  %v\n\nThe stored token was left as it was and stays in use while it is valid.\nToken file: %s\n", e.Name(), e.URL, err, e.TokenFile))
	case res.Renewed && e.Email.OnSuccess:
		e.notify(ctx, fmt.Sprintf("telegraf-enphase: token renewed for %s", e.Name()),
			fmt.Sprintf("The token of %s (%s) was renewed (%s): %s.\n", e.Name(), e.URL, res.Reason, res.Token))
	}
}

// notify sends an e-mail when configured; a mail failure is only logged.
func (e *Enphase) notify(ctx context.Context, subject, body string) {
	if e.Email == nil {
		return
	}
	if err := mail.Send(ctx, *e.Email, mail.Message{Subject: subject, Body: body}); err != nil {
		e.Log.Errorf("%s: sending e-mail: %v", e.Name(), err)
	}
}

// emitToken writes enphase_token, so a dashboard can alert long before data stops.
func (e *Enphase) emitToken(acc telegraf.Accumulator, serial string, tok token.Token, now time.Time) {
	f := fields{
		"expires_in_s":      tok.Remaining(now).Seconds(),
		"expires_at_unix_s": tok.Expires.Unix(),
		"role":              tok.Role,
	}
	if !tok.IssuedAt.IsZero() {
		f["issued_at_unix_s"] = tok.IssuedAt.Unix()
	}
	if r := e.tok.renewer; r != nil {
		st := r.Stats()
		f["renewals"] = st.Renewals
		f["renewal_failures"] = st.Failures
	}
	add(acc, mToken, map[string]string{"serial": serial}, f, now)
}

// RenewToken renews the stored token now if due (or forced), waiting for a
// renewal another process runs: 'token renew' and 'token fetch'.
func (e *Enphase) RenewToken(ctx context.Context, force bool) (renew.Result, error) {
	if e.tok.renewer == nil {
		return renew.Result{}, &ConfigError{Key: "username", Reason: "required to fetch tokens: the Enlighten account's e-mail, with password or password_file"}
	}
	info, err := e.client.Info(ctx)
	if err != nil {
		return renew.Result{}, err
	}
	if err := e.checkSerial(info); err != nil {
		return renew.Result{}, err
	}
	return e.tok.renewer.Renew(ctx, info.Serial, renew.Options{Force: force, Verify: true, Wait: true})
}

// CheckToken validates the current token on the gateway: 'token check'.
func (e *Enphase) CheckToken(ctx context.Context) (token.Token, error) {
	tok, err := e.tokens.Token()
	if err != nil {
		return token.Token{}, err
	}
	info, err := e.client.Info(ctx)
	if err != nil {
		return tok, err
	}
	if err := tok.CheckSerial(info.Serial); err != nil {
		return tok, err
	}
	return tok, e.client.CheckToken(ctx, tok)
}

var _ renew.Checker = (*envoy.Client)(nil)
