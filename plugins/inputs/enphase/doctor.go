package enphase

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	common_tls "github.com/influxdata/telegraf/plugins/common/tls"

	"github.com/telegraf-enphase/telegraf-enphase/internal/certpin"
	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
	"github.com/telegraf-enphase/telegraf-enphase/internal/renew"
	"github.com/telegraf-enphase/telegraf-enphase/internal/tlsclient"
	"github.com/telegraf-enphase/telegraf-enphase/internal/token"
)

// Info reads the gateway's public /info (serial, firmware, clock): no token
// is sent. It checks nothing against the configuration.
func (s *Service) Info(ctx context.Context) (envoy.Info, error) {
	return s.e.gw.client().Info(ctx)
}

// FetchMissingToken does what the first gather's renewal does, and waits
// for it: with Enlighten credentials and no usable stored token (none, not
// a token, expired, or for another configured serial) it fetches one, checks
// it on the gateway and stores it, within renewTimeout. fetched is false
// when nothing needed fetching or nothing could fetch it (no credentials, a
// token file this user may not read: the gather says why).
func (s *Service) FetchMissingToken(ctx context.Context) (res renew.Result, fetched bool, err error) {
	m := s.e.tokens
	if m == nil || m.renewer == nil {
		return renew.Result{}, false, nil
	}
	tok, err := m.source.Token()
	switch {
	case errors.Is(err, fs.ErrPermission):
		return renew.Result{}, false, nil
	case err == nil && !tok.Expired(s.e.clock()) && (s.e.Serial == "" || tok.Serial == s.e.Serial):
		return renew.Result{}, false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, renewTimeout)
	defer cancel()
	res, err = s.RenewToken(ctx, false)
	return res, err == nil && res.Renewed, err
}

// FileNeed is a file the plugin uses, for 'doctor': what the user Telegraf
// runs as must be able to do with it.
type FileNeed struct {
	Key    string // the configuration key naming it
	Path   string
	Secret bool // holds a token, password or pin: no other user may read or change it
	// Write: the plugin replaces it (a renewed token, a pin taken on first
	// use), so its directory must be writable; Missing: it may not exist yet.
	Write, MayBeMissing bool
}

// Files lists the files the gateway's configuration names.
func (s *Service) Files() []FileNeed {
	e := s.e
	renews := e.tokens != nil && e.tokens.renewer != nil
	var out []FileNeed
	if e.TokenFile != "" {
		out = append(out, FileNeed{Key: "token_file", Path: e.TokenFile, Secret: true, Write: renews, MayBeMissing: renews})
	}
	if e.PasswordFile != "" {
		out = append(out, FileNeed{Key: "password_file", Path: e.PasswordFile, Secret: true})
	}
	if e.pin != nil && e.pin.File != "" {
		out = append(out, FileNeed{Key: "tls_pin_file", Path: e.pin.File, Secret: true, Write: true, MayBeMissing: true})
	}
	return out
}

// TokenState is the stored token as 'doctor' sees it; Err is why there is
// none usable (unreadable, not a token). It never holds the token's text.
type TokenState struct {
	Configured  bool // firmware 7 and later: token_file or token set
	Renews      bool // Enlighten credentials are configured
	File        string
	Token       token.Token
	Err         error
	Expired     bool
	DueForRenew bool
	Left        time.Duration
}

// StoredToken reads the stored token, for 'doctor'.
func (s *Service) StoredToken() TokenState {
	m := s.e.tokens
	if m == nil {
		return TokenState{}
	}
	st := TokenState{Configured: true, Renews: m.renewer != nil, File: m.file}
	st.Token, st.Err = m.source.Token()
	if st.Err == nil {
		now := s.e.clock()
		st.Expired = st.Token.Expired(now)
		st.Left = st.Token.Remaining(now)
		policy := renew.DefaultPolicy()
		if m.renewer != nil {
			policy = m.renewer.Policy
		}
		st.DueForRenew = policy.Due(st.Token, now)
	}
	return st
}

// CheckStoredToken asks the gateway (check_jwt) whether it accepts t.
func (s *Service) CheckStoredToken(ctx context.Context, t token.Token) error {
	return s.e.gw.client().CheckToken(ctx, t)
}

// CheckPassword reports whether the Enlighten password can be read and is
// not empty; the password itself never leaves this function.
func (s *Service) CheckPassword() error {
	e := s.e
	if e.tokens == nil || e.tokens.renewer == nil {
		return errors.New("no Enlighten credentials configured")
	}
	pw, err := e.tokens.renewer.Creds.Password()
	if err != nil {
		return fmt.Errorf("password_file: %w", err)
	}
	if pw == "" {
		return errors.New("the Enlighten password is empty")
	}
	return nil
}

// PingCloud checks that Enlighten is reachable at enlighten_url: one GET of
// its root, verified TLS, no redirect followed, nothing sent but the request
// line. Any HTTP answer counts as reachable.
func (s *Service) PingCloud(ctx context.Context) (string, error) {
	e := s.e
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if e.CloudTLSCA != "" {
		c, err := tlsclient.Config(&common_tls.ClientConfig{TLSCA: e.CloudTLSCA})
		if err != nil {
			return "", &ConfigError{Key: "cloud_tls_ca", Reason: err.Error()}
		}
		cfg.RootCAs = c.RootCAs
	}
	u, err := url.Parse(strings.TrimRight(e.EnlightenURL, "/") + "/")
	if err != nil || u.Scheme != "https" {
		return "", &ConfigError{Key: "enlighten_url", Reason: "is not an https:// url"}
	}
	client := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: cfg, Proxy: http.ProxyFromEnvironment, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       time.Duration(e.Timeout),
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(e.Timeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return u.Host, err
	}
	_ = resp.Body.Close()
	return u.Host, nil
}

// Hardware is what 'doctor' reports of the gateway's devices.
type Hardware struct {
	CTs, Batteries int
	CTErr, BatErr  error // why a count is unknown
}

// ReadHardware counts the enabled CTs (/ivp/meters) and the batteries
// (/ivp/ensemble/inventory, AC Batteries left out); a gateway without
// them answers 404, which counts as none.
func (s *Service) ReadHardware(ctx context.Context) Hardware {
	var hw Hardware
	c := s.e.gw.client()
	var meters []envoy.Meter
	hw.CTErr = getJSON(ctx, c, envoy.PathMeters, &meters)
	hw.CTs = len(enabledMeters(meters))
	var inv envoy.EnsembleInventory
	hw.BatErr = getJSON(ctx, c, envoy.PathEnsembleInventory, &inv)
	hw.Batteries = inv.BatteryCount()
	return hw
}

func getJSON(ctx context.Context, c *envoy.Client, path string, v any) error {
	r, err := c.Get(ctx, path)
	if err != nil {
		return err
	}
	if r.Status == http.StatusNotFound {
		return nil
	}
	return envoy.Decode(r, v)
}

// InsecureSkipVerify reports whether the configuration skips the gateway's
// certificate check without a pin.
func (s *Service) InsecureSkipVerify() bool { return s.e.InsecureSkipVerify }

// ConfiguredSerial is the serial setting, "" when not set.
func (s *Service) ConfiguredSerial() string { return s.e.Serial }

// Legacy reports whether the url is plain http (firmware before 7).
func (s *Service) Legacy() bool { return s.e.gw.base.URL.Scheme == "http" }

// PinForThisRun keeps doctor from pinning: with tls_pin = "tofu" and no pin
// file yet, its connections check the certificate it was just presented
// (fp) instead, and write nothing. The plugin's first gather, run as
// Telegraf's user, pins it; a pin file written by doctor run as root would
// be one Telegraf's user cannot read.
func (s *Service) PinForThisRun(fp certpin.Fingerprint) {
	e := s.e
	if e.pin == nil || e.pin.File == "" || fp.IsZero() {
		return
	}
	if _, err := os.Lstat(e.pin.File); !errors.Is(err, fs.ErrNotExist) {
		return
	}
	p := *e.pin
	p.File, p.Fixed, p.FirstUse = "", fp, nil
	cfg := e.gw.base.TLS.Clone()
	p.Apply(cfg)
	e.gw.base.TLS = cfg
	e.gw.setClient(envoy.New(e.gw.base))
}

// Command is the telegraf-enphase command line sub for this gateway, for
// the fixes messages suggest: "telegraf-enphase token fetch --config FILE".
func (s *Service) Command(sub string) string { return s.e.command(sub) }
