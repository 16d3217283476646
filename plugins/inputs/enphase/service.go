package enphase

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/influxdata/telegraf"

	"github.com/telegraf-enphase/telegraf-enphase/internal/configfile"
	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
	"github.com/telegraf-enphase/telegraf-enphase/internal/renew"
	"github.com/telegraf-enphase/telegraf-enphase/internal/token"
)

// Service is what the command line does with one configured gateway beside
// gathering: fetch an endpoint ('get'), renew or check the token ('token'),
// check the certificate pin ('pin'). The plugin itself exports only what
// Telegraf calls.
type Service struct {
	e *Enphase
}

// LoadFile reads the gateways of a configuration file and initialises
// them, for the command line; every problem names the file, line and key.
// Each gateway knows the file and its position in it, for the commands its
// messages suggest (--config FILE --gateway N).
func LoadFile(path string, log telegraf.Logger) (*Gateways, error) {
	tables, err := configfile.Load(path, "enphase", New)
	if err != nil {
		return nil, err
	}
	set := &Gateways{Log: log}
	// Messages name the file in commands to run, from wherever Telegraf runs.
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	for i, t := range tables {
		e := t.Value
		e.Log = log
		e.configFile = abs
		if len(tables) > 1 {
			e.position = i + 1
		}
		if err := e.Init(); err != nil {
			return nil, t.Errorf(path, "enphase", "%v", err)
		}
		set.List = append(set.List, e)
	}
	// After each table's own checks, which name the key to fix.
	if err := checkDuplicates(path, tables); err != nil {
		set.Stop()
		return nil, err
	}
	return set, nil
}

// NewService serves the gateway of e, which Init has set up.
func NewService(e *Enphase) *Service { return &Service{e: e} }

// Name identifies the gateway in messages.
func (s *Service) Name() string { return s.e.Name() }

// Get fetches one endpoint with authentication, for 'telegraf-enphase get'.
func (s *Service) Get(ctx context.Context, path string) (envoy.Response, error) {
	c := s.e.gw.client()
	if path == envoy.PathInfo || path == "/info.xml" {
		return c.GetPublic(ctx, path)
	}
	return c.Get(ctx, path)
}

// RenewToken renews the stored token now if due (or forced), waiting for a
// renewal another process runs: 'token renew' and 'token fetch'.
func (s *Service) RenewToken(ctx context.Context, force bool) (renew.Result, error) {
	m := s.e.tokens
	if m != nil && m.renewer == nil && !force {
		// Nothing due is no failure, credentials or not (issue 14 item 8).
		if tok, err := s.CheckToken(ctx); err == nil && !renew.DefaultPolicy().Due(tok, time.Now()) {
			return renew.Result{
				Token:  tok,
				Reason: fmt.Sprintf("not due (%s); no Enlighten credentials are configured to renew it when it is", tok.Left(time.Now())),
			}, nil
		}
	}
	if m == nil || m.renewer == nil {
		return renew.Result{}, &ConfigError{Key: "username", Reason: "required to fetch tokens: the Enlighten account's e-mail, with password or password_file"}
	}
	p := s.e.gw
	info, err := p.client().Info(ctx)
	if err != nil {
		return renew.Result{}, err
	}
	if err := p.checkSerial(info); err != nil {
		return renew.Result{}, err
	}
	return m.renewer.Renew(ctx, info.Serial, renew.Options{Force: force, Verify: true, Wait: true, OneShot: true})
}

// NotifyRenewal mails the outcome of a renewal when e-mail is configured:
// failures always, successes with on_success. The message holds no secret.
func (s *Service) NotifyRenewal(ctx context.Context, res renew.Result, err error) {
	if s.e.tokens != nil {
		s.e.tokens.notifyRenewal(ctx, res, err)
	}
}

// CheckToken validates the current token on the gateway: 'token check'.
func (s *Service) CheckToken(ctx context.Context) (token.Token, error) {
	if s.e.tokens == nil {
		return token.Token{}, errors.New("no token configured: firmware 7 and later need token_file and an https:// url")
	}
	tok, err := s.e.tokens.source.Token()
	if err != nil {
		return token.Token{}, err
	}
	c := s.e.gw.client()
	info, err := c.Info(ctx)
	if err != nil {
		return tok, err
	}
	if err := tok.CheckSerial(info.Serial); err != nil {
		return tok, err
	}
	return tok, c.CheckToken(ctx, tok)
}
