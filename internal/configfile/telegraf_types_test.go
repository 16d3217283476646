package configfile

import (
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/plugins/common/tls"
)

// realPlugin embeds telegraf's TLS config as plugins do; its flattened
// fields (including the *bool tls_enable) must count as known keys.
type realPlugin struct {
	URL             string          `toml:"url"`
	Password        config.Secret   `toml:"password"`
	Timeout         config.Duration `toml:"timeout"`
	IdleConnTimeout config.Duration `toml:"idle_conn_timeout"`
	tls.ClientConfig
}

func TestTelegrafEmbeddedConfig(t *testing.T) {
	conf := `[[inputs.enphase]]
  url = "https://envoy.local"
  password = "pa$$word"
  timeout = "4s"
  idle_conn_timeout = 30
  insecure_skip_verify = true
  tls_ca = "/etc/ca.pem"
  tls_enable = true
  tls_min_versoin = "TLS12"
`
	_, err := Parse("enphase.conf", []byte(conf), "enphase", func() *realPlugin { return &realPlugin{} })
	want := `enphase.conf:9: [[inputs.enphase]] #1: unknown key "tls_min_versoin" (did you mean "tls_min_version"?)`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}

	conf = strings.Replace(conf, "versoin", "version", 1)
	tables, err := Parse("enphase.conf", []byte(conf), "enphase", func() *realPlugin { return &realPlugin{} })
	if err != nil {
		t.Fatal(err)
	}
	v := tables[0].Value
	if time.Duration(v.Timeout) != 4*time.Second || time.Duration(v.IdleConnTimeout) != 30*time.Second ||
		!v.InsecureSkipVerify || v.TLSCA != "/etc/ca.pem" || v.TLSMinVersion != "TLS12" ||
		v.Enable == nil || !*v.Enable {
		t.Errorf("got %+v", v.ClientConfig)
	}
	pw, err := v.Password.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Destroy()
	if pw.String() != "pa$$word" {
		t.Errorf("password = %q", pw.String())
	}
}
