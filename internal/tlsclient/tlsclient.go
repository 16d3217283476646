// Package tlsclient builds the TLS configuration of every client of the
// plugin (the gateway, Enphase's cloud, the mail server) with Telegraf's own
// loader (plugins/common/tls), so that tls_ca and its neighbours mean what
// they mean in every Telegraf plugin; it only makes the loader's errors
// readable and sets the floor of TLS 1.2.
package tlsclient

import (
	"crypto/tls"
	"fmt"
	"strings"

	common_tls "github.com/influxdata/telegraf/plugins/common/tls"
)

// Config returns c's TLS configuration, never nil.
func Config(c *common_tls.ClientConfig) (*tls.Config, error) {
	cfg, err := c.TLSConfig()
	if err != nil {
		// Telegraf's loader wraps a nil error here ("%!w(<nil>)").
		if strings.Contains(err.Error(), "could not parse any PEM certificates") {
			return nil, fmt.Errorf("%q holds no PEM certificate: give a file with the certificate in PEM form (-----BEGIN CERTIFICATE-----)", c.TLSCA)
		}
		return nil, err
	}
	if cfg == nil {
		cfg = &tls.Config{}
	}
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	return cfg, nil
}
