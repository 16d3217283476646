package enphase

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/telegraf-enphase/telegraf-enphase/internal/certpin"
)

// checkPinSettings refuses the settings a pin cannot be combined with.
func (e *Enphase) checkPinSettings(u *url.URL) error {
	setting := strings.TrimSpace(e.TLSPin)
	if setting == "" {
		if e.TLSPinFile != "" {
			return &ConfigError{Key: "tls_pin_file", Reason: "only used with tls_pin = \"tofu\": set tls_pin too, or remove tls_pin_file"}
		}
		return nil
	}
	switch {
	case u.Scheme == "http":
		return &ConfigError{
			Key: "tls_pin",
			Reason: fmt.Sprintf(
				"pins the certificate of an https:// url, and url is plain http (firmware before 7 has no certificate): use url = %q or remove tls_pin",
				httpsURL(u),
			),
		}
	case e.InsecureSkipVerify:
		return &ConfigError{
			Key:    "insecure_skip_verify",
			Reason: "cannot be combined with tls_pin, which replaces it (the certificate is checked against the pin instead): remove insecure_skip_verify",
		}
	case e.TLSCA != "":
		return &ConfigError{
			Key:    "tls_ca",
			Reason: "cannot be combined with tls_pin, which replaces it (the certificate is checked against the pin instead): remove tls_ca",
		}
	}
	return nil
}

// initPin validates tls_pin and tls_pin_file and, with a pin, makes tlsCfg
// (the one Telegraf's TLS settings built) check it in the handshake in
// place of the certificate chain (case T7).
func (e *Enphase) initPin(u *url.URL, tlsCfg *tls.Config) error {
	setting := strings.TrimSpace(e.TLSPin)
	if setting == "" {
		return nil
	}
	p := &certpin.Pin{Host: u.Host, Accept: e.command("pin --accept"), Now: e.clock}
	if strings.EqualFold(setting, certpin.TOFU) {
		p.File = e.TLSPinFile
		if p.File == "" && e.TokenFile == "" {
			return &ConfigError{
				Key: "tls_pin_file",
				Reason: "required with tls_pin = \"tofu\" when there is no token_file (the pin is kept beside the token by default): " +
					"set tls_pin_file = \"/etc/telegraf/enphase/envoy.pin\"",
			}
		}
		if p.File == "" {
			p.File = e.TokenFile + ".pin"
		}
		p.FirstUse = func(r certpin.Record) {
			e.Log.Infof("envoy at %s: trusting the gateway's certificate on first use: SHA256 %s (%s, valid until %s), pinned in %s",
				r.Host, r.Fingerprint, r.Subject, r.NotAfter.Format("2006-01-02"), p.File)
		}
	} else {
		fp, err := certpin.ParseFingerprint(setting)
		if err != nil {
			return &ConfigError{Key: "tls_pin", Reason: fmt.Sprintf(
				"%q is neither \"tofu\" nor a SHA-256 fingerprint (%v): use tls_pin = \"tofu\", "+
					"or \"sha256:\" and the fingerprint `telegraf-enphase pin --config FILE` prints",
				setting, err)}
		}
		if e.TLSPinFile != "" {
			return &ConfigError{Key: "tls_pin_file", Reason: "only used with tls_pin = \"tofu\"; a fixed fingerprint needs no file: remove tls_pin_file"}
		}
		p.Fixed = fp
	}
	p.Apply(tlsCfg)
	e.pin = p
	return nil
}

// clock is e.now once Init has set it; the pin is built before.
func (e *Enphase) clock() time.Time {
	if e.now != nil {
		return e.now()
	}
	return time.Now()
}

// command is a telegraf-enphase command line for this gateway, for messages.
func (e *Enphase) command(sub string) string {
	cfg := e.configFile
	if cfg == "" {
		cfg = "FILE"
	}
	cmd := "telegraf-enphase " + sub + " --config " + cfg
	switch {
	case e.position == 0:
	case e.Serial != "":
		cmd += " --gateway " + e.Serial
	default:
		cmd += fmt.Sprintf(" --gateway %d", e.position)
	}
	return cmd
}

// PinState is what 'telegraf-enphase pin' shows for one gateway.
type PinState struct {
	Setting   string // tls_pin as configured; "" when not set
	File      string // the pin file (tls_pin = "tofu")
	Presented certpin.Record
	Pinned    *certpin.Record // nil when nothing is pinned (yet)
	Accepted  bool            // the presented certificate was just stored
}

// Match reports whether the presented certificate is the pinned one.
func (s PinState) Match() bool {
	return s.Pinned != nil && s.Pinned.Fingerprint == s.Presented.Fingerprint
}

// CheckPin reads the certificate the gateway presents (a handshake only: no
// request, no token) and compares it with the pin. With accept, it stores
// the presented certificate as the pin: a person's decision after the
// gateway renewed its certificate.
func (s *Service) CheckPin(ctx context.Context, accept bool) (PinState, error) {
	return s.e.checkPin(ctx, accept)
}

func (e *Enphase) checkPin(ctx context.Context, accept bool) (PinState, error) {
	u := e.gw.base.URL
	if u.Scheme != "https" {
		return PinState{}, &ConfigError{Key: "url", Reason: "is plain http: there is no certificate to pin"}
	}
	st := PinState{Setting: strings.TrimSpace(e.TLSPin)}
	port := u.Port()
	if port == "" {
		port = "443"
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(e.Timeout))
	defer cancel()
	cert, err := certpin.Presented(ctx, net.JoinHostPort(u.Hostname(), port), e.ServerName)
	if err != nil {
		return st, err
	}
	now := e.clock()
	st.Presented = certpin.NewRecord(cert, u.Host, now, certpin.PinnedAccepted)
	switch {
	case e.pin == nil:
		if accept {
			return st, &ConfigError{
				Key: "tls_pin",
				Reason: fmt.Sprintf(
					"not set, so there is nothing to accept: set tls_pin = \"tofu\" (the certificate is then pinned at the first connection) or tls_pin = \"sha256:%s\"",
					st.Presented.Fingerprint,
				),
			}
		}
		return st, nil
	case !e.pin.Fixed.IsZero():
		st.Pinned = &certpin.Record{Fingerprint: e.pin.Fixed}
		if accept && !st.Match() {
			return st, &ConfigError{
				Key: "tls_pin",
				Reason: fmt.Sprintf(
					"is a fixed fingerprint in the configuration: to accept the presented certificate, set tls_pin = \"sha256:%s\"",
					st.Presented.Fingerprint,
				),
			}
		}
		return st, nil
	}
	st.File = e.pin.File
	rec, err := certpin.ReadFile(st.File)
	switch {
	case err == nil:
		st.Pinned = &rec
	case !errors.Is(err, fs.ErrNotExist) && !accept:
		// A damaged pin file: --accept replaces it.
		return st, err
	}
	if accept && !st.Match() {
		if err := certpin.WriteFile(st.File, st.Presented); err != nil {
			return st, err
		}
		e.Log.Infof("envoy at %s: accepted the gateway's certificate SHA256 %s, pinned in %s", u.Host, st.Presented.Fingerprint, st.File)
		p := st.Presented
		st.Pinned, st.Accepted = &p, true
	}
	return st, nil
}
