package tlsclient

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"

	common_tls "github.com/influxdata/telegraf/plugins/common/tls"
	"github.com/stretchr/testify/require"
)

func TestConfig(t *testing.T) {
	cfg, err := Config(&common_tls.ClientConfig{})
	require.NoError(t, err)
	require.NotNil(t, cfg, "nothing set is a default configuration, not none")
	require.Equal(t, uint16(tls.VersionTLS12), cfg.MinVersion)

	notPEM := filepath.Join(t.TempDir(), "ca.txt")
	require.NoError(t, os.WriteFile(notPEM, []byte("not a certificate"), 0o600))
	_, err = Config(&common_tls.ClientConfig{TLSCA: notPEM})
	require.EqualError(t, err, `"`+notPEM+`"`+" holds no PEM certificate: give a file with the certificate in PEM form (-----BEGIN CERTIFICATE-----)")
	require.False(t, strings.Contains(err.Error(), "%!"), "no formatting debris")

	_, err = Config(&common_tls.ClientConfig{TLSCA: filepath.Join(t.TempDir(), "missing.pem")})
	require.ErrorContains(t, err, "missing.pem")
}
