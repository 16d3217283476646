//go:generate go run github.com/influxdata/telegraf/tools/readme_config_includer@v1.37.2

// Package enphase is the Telegraf input for one Enphase Envoy / IQ Gateway,
// read over its local API. Gateways is the set of them that the execd binary
// runs in one process.
package enphase

import (
	"context"
	"crypto/tls"
	_ "embed"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	common_tls "github.com/influxdata/telegraf/plugins/common/tls"
	"github.com/influxdata/telegraf/plugins/inputs"

	"github.com/telegraf-enphase/telegraf-enphase/internal/certpin"
	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
	"github.com/telegraf-enphase/telegraf-enphase/internal/mail"
	"github.com/telegraf-enphase/telegraf-enphase/internal/renew"
	"github.com/telegraf-enphase/telegraf-enphase/internal/tlsclient"
)

//go:embed sample.conf
var sampleConfig string

// Defaults, chosen for a weak gateway polled every 15 s.
const (
	defaultTimeout           = 10 * time.Second
	defaultGatherTimeout     = 14 * time.Second
	defaultInvertersInterval = 5 * time.Minute
	defaultEnsembleInterval  = time.Minute
	defaultTariffInterval    = 15 * time.Minute
	defaultInfoInterval      = 4 * time.Hour
	defaultReprobeInterval   = 3 * time.Hour

	// Inverters report every 5 to 15 minutes; polling faster only loads the gateway.
	minInvertersInterval = 5 * time.Minute
)

// Enphase is the Telegraf input for one gateway: its settings (the TOML
// keys) and what Telegraf calls (Init, Gather, Stop). Init builds the poller
// that reads the gateway and the token manager that keeps its token; the
// command line's operations are Service's.
type Enphase struct {
	URL       string        `toml:"url"`
	TokenFile string        `toml:"token_file"`
	Token     config.Secret `toml:"token"`
	Serial    string        `toml:"serial"`
	// Telegraf's TLS settings: insecure_skip_verify, tls_ca, tls_server_name.
	common_tls.ClientConfig
	// Certificate pinning (pin.go): "tofu" or "sha256:<fingerprint>".
	TLSPin     string `toml:"tls_pin"`
	TLSPinFile string `toml:"tls_pin_file"`
	// Firmware before 7 (plain http, digest authentication).
	LegacyUser        string          `toml:"legacy_user"`
	LegacyPassword    config.Secret   `toml:"legacy_password"`
	Timeout           config.Duration `toml:"timeout"`
	GatherTimeout     config.Duration `toml:"gather_timeout"`
	InvertersInterval config.Duration `toml:"inverters_interval"`
	EnsembleInterval  config.Duration `toml:"ensemble_interval"`
	TariffInterval    config.Duration `toml:"tariff_interval"`
	InfoInterval      config.Duration `toml:"info_interval"`
	ReprobeInterval   config.Duration `toml:"reprobe_interval"`
	// StateFile keeps the lifetime counters' corrections across restarts
	// (counters.go); see stateFileFor for its default.
	StateFile string `toml:"state_file"`

	// Token renewal from Enphase's cloud.
	Username             string          `toml:"username"`
	Password             config.Secret   `toml:"password"`
	PasswordFile         string          `toml:"password_file"`
	EnlightenURL         string          `toml:"enlighten_url"`
	EntrezURL            string          `toml:"entrez_url"`
	CloudTLSCA           string          `toml:"cloud_tls_ca"`
	RenewOwnerBefore     config.Duration `toml:"renew_owner_before"`
	RenewInstallerBefore config.Duration `toml:"renew_installer_before"`
	Email                *mail.Config    `toml:"email"`

	Log telegraf.Logger `toml:"-"`

	// configFile and position (1, 2, ...; 0 when the file has no other
	// table) locate this table, for the commands messages suggest
	// (--config FILE --gateway N); set by LoadFile.
	configFile string
	position   int

	gw     *poller       // reads the gateway; built by Init
	tokens *tokenManager // nil without a token (an http:// url)
	pin    *certpin.Pin  // nil without tls_pin
	ctx    context.Context
	cancel context.CancelFunc

	running      sync.Mutex // held for the whole of a gather: overlapping gathers skip
	runningSince time.Time  // guarded by stateMu
	stateMu      sync.Mutex

	now func() time.Time
}

// New returns a plugin with its defaults, as the factory registered with Telegraf.
func New() *Enphase {
	return &Enphase{
		Timeout:           config.Duration(defaultTimeout),
		GatherTimeout:     config.Duration(defaultGatherTimeout),
		InvertersInterval: config.Duration(defaultInvertersInterval),
		EnsembleInterval:  config.Duration(defaultEnsembleInterval),
		TariffInterval:    config.Duration(defaultTariffInterval),
		InfoInterval:      config.Duration(defaultInfoInterval),
		ReprobeInterval:   config.Duration(defaultReprobeInterval),

		EnlightenURL:         "https://enlighten.enphaseenergy.com",
		EntrezURL:            "https://entrez.enphaseenergy.com",
		RenewOwnerBefore:     config.Duration(renew.DefaultPolicy().OwnerBefore),
		RenewInstallerBefore: config.Duration(renew.DefaultPolicy().InstallerBefore),
	}
}

func init() {
	inputs.Add("enphase", func() telegraf.Input { return New() })
}

// SampleConfig returns the documented configuration of one gateway.
func (*Enphase) SampleConfig() string { return sampleConfig }

// ConfigError is a configuration problem, naming the key to fix.
type ConfigError struct {
	Key    string
	Reason string
}

func (e *ConfigError) Error() string { return e.Key + ": " + e.Reason }

// Init validates the configuration and builds the client; it does no network I/O.
func (e *Enphase) Init() error {
	u, err := envoy.ParseURL(e.URL)
	if err != nil {
		return &ConfigError{Key: "url", Reason: err.Error()}
	}
	// Plain http is for firmware before 7, which has no token: with one, the
	// token (or the Enlighten account's) would cross the network in clear.
	if u.Scheme == "http" && (e.TokenFile != "" || !e.Token.Empty() || e.Username != "") {
		return &ConfigError{
			Key: "url",
			Reason: fmt.Sprintf(
				"%s is plain http, which would send the token in clear text: use url = %q "+
					"(firmware 7 and later speak only https; firmware before 7 takes no token_file, token or username)",
				u,
				httpsURL(u),
			),
		}
	}
	if e.Timeout <= 0 || time.Duration(e.Timeout) > 2*time.Minute {
		return &ConfigError{
			Key:    "timeout",
			Reason: fmt.Sprintf("%s is out of range: use a per-request timeout between 1s and 2m (default %s)", time.Duration(e.Timeout), defaultTimeout),
		}
	}
	if e.GatherTimeout < e.Timeout {
		return &ConfigError{
			Key: "gather_timeout",
			Reason: fmt.Sprintf(
				"%s is shorter than timeout (%s): a gather must fit at least one request",
				time.Duration(e.GatherTimeout),
				time.Duration(e.Timeout),
			),
		}
	}
	if time.Duration(e.InvertersInterval) < minInvertersInterval {
		return &ConfigError{
			Key: "inverters_interval",
			Reason: fmt.Sprintf(
				"%s is too short: inverters report every 5 to 15 minutes and faster polling loads the gateway; use %s or more",
				time.Duration(e.InvertersInterval),
				minInvertersInterval,
			),
		}
	}
	if e.EnsembleInterval <= 0 || e.TariffInterval <= 0 {
		return &ConfigError{Key: "ensemble_interval", Reason: "ensemble_interval and tariff_interval must be positive (defaults 1m and 15m)"}
	}
	if e.InfoInterval <= 0 {
		return &ConfigError{Key: "info_interval", Reason: "must be positive (default 4h)"}
	}
	if e.ReprobeInterval <= 0 {
		return &ConfigError{Key: "reprobe_interval", Reason: "must be positive (default 3h)"}
	}
	// The pin's conflicts first: with a pin, tls_ca is the mistake to name,
	// not a file tls_ca cannot read.
	if err := e.checkPinSettings(u); err != nil {
		return err
	}
	tlsCfg, err := e.tlsConfig()
	if err != nil {
		return err
	}
	if err := e.initPin(u, tlsCfg); err != nil {
		return err
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.Log == nil {
		return errors.New("enphase: no logger set")
	}
	if !e.LegacyPassword.Empty() {
		if _, err := secret(&e.LegacyPassword); err != nil {
			return &ConfigError{Key: "legacy_password", Reason: err.Error()}
		}
	}
	if e.LegacyUser != "" && e.LegacyUser != "envoy" && e.LegacyUser != "installer" {
		return &ConfigError{Key: "legacy_user", Reason: fmt.Sprintf("%q is not a gateway user: use envoy (the default) or installer", e.LegacyUser)}
	}
	stateFile, err := e.stateFileFor()
	if err != nil {
		return err
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	p := &poller{
		log: e.Log, now: e.now, ctx: e.ctx, host: u.Host, serial: e.Serial,
		every: intervals{
			info: e.InfoInterval, reprobe: e.ReprobeInterval, ensemble: e.EnsembleInterval,
			tariff: e.TariffInterval, inverters: e.InvertersInterval,
		},
		base:       envoy.Config{URL: u, TLS: tlsCfg, Timeout: time.Duration(e.Timeout)},
		legacyUser: e.LegacyUser, legacyPassword: &e.LegacyPassword,
		stateFile: stateFile,
	}
	// An http:// url without a token is a gateway before firmware 7, which
	// has none; gather says what to change if it is not.
	if u.Scheme != "http" || e.TokenFile != "" || !e.Token.Empty() || e.Username != "" {
		m, err := e.initTokens(p)
		if err != nil {
			e.cancel()
			return err
		}
		m.name, m.ctx = p.name, e.ctx
		p.tokens, e.tokens = m, m
		p.base.Auth = envoy.TokenAuth{Tokens: m.source}
	}
	p.setClient(envoy.New(p.base))
	e.gw = p
	e.warnAddress(u)
	e.warnPermissions()
	e.warnInlineSecrets()
	return nil
}

// tlsConfig is the gateway's TLS configuration, built by Telegraf's own
// TLS settings; an error names the key to fix.
func (e *Enphase) tlsConfig() (*tls.Config, error) {
	if e.Enable != nil && !*e.Enable {
		return nil, &ConfigError{Key: "tls_enable",
			Reason: "cannot be false: firmware 7 and later speak only https (an http:// url reads firmware before 7 without TLS): remove tls_enable"}
	}
	// Nothing set: the system's roots verify the certificate.
	cfg, err := tlsclient.Config(&e.ClientConfig)
	if err != nil {
		return nil, &ConfigError{Key: e.tlsKey(err), Reason: err.Error()}
	}
	return cfg, nil
}

// tlsKey names the TLS setting an error of Telegraf's TLSConfig is about.
func (e *Enphase) tlsKey(err error) string {
	msg := err.Error()
	switch {
	case e.TLSCA != "" && strings.Contains(msg, strconv.Quote(e.TLSCA)):
		return "tls_ca"
	case strings.Contains(msg, "renegotiation"):
		return "tls_renegotiation_method"
	case strings.Contains(msg, "min version"):
		return "tls_min_version"
	case strings.Contains(msg, "cipher"):
		return "tls_cipher_suites"
	}
	return "tls_cert"
}

// secret returns the value of a config.Secret, for the one use that needs
// it in clear; the protected copy stays where it was.
func secret(s *config.Secret) (string, error) {
	b, err := s.Get()
	if err != nil {
		return "", err
	}
	defer b.Destroy()
	return b.String(), nil
}

// httpsURL is the https:// form of an http:// url, for messages. A port
// other than http's 80 is kept (a forwarded port stays the way in); 80 becomes
// https's default.
func httpsURL(u *url.URL) string {
	if u.Port() == "80" {
		return "https://" + strings.TrimSuffix(u.Host, ":80")
	}
	return "https://" + u.Host
}

// Start satisfies telegraf.ServiceInput so that Stop can abort a gather in flight.
func (*Enphase) Start(telegraf.Accumulator) error { return nil }

// Stop cancels any request in flight and waits for the gather to end.
func (e *Enphase) Stop() {
	if e.cancel != nil {
		e.cancel()
	}
	e.running.Lock()
	defer e.running.Unlock()
	if e.tokens != nil {
		e.tokens.wait()
	}
	if e.gw != nil {
		e.gw.saveCounters(e.now(), true)
		e.gw.releaseGateway()
		e.gw.client().Close()
	}
}

// Name identifies the gateway in messages: its serial once known, else its address.
func (e *Enphase) Name() string {
	if e.gw != nil {
		return e.gw.name()
	}
	return "envoy at " + e.URL
}

// Gather reads the gateway once. A gather still running when the next one is
// due makes that one skip with a warning: queueing would pile load on a
// gateway that is already slow.
func (e *Enphase) Gather(acc telegraf.Accumulator) error {
	if !e.running.TryLock() {
		e.stateMu.Lock()
		since := e.runningSince
		e.stateMu.Unlock()
		e.Log.Warnf("%s: previous gather still running after %s; skipping this one", e.Name(), e.now().Sub(since).Round(time.Millisecond))
		return nil
	}
	defer e.running.Unlock()
	now := e.now()
	e.stateMu.Lock()
	e.runningSince = now
	e.stateMu.Unlock()
	ctx, cancel := envoy.WithBudget(e.ctx, time.Duration(e.GatherTimeout))
	defer cancel()
	return e.gw.gather(ctx, acc, now)
}
