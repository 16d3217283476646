package enphase

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoysim"
	"github.com/telegraf-enphase/telegraf-enphase/internal/hostile"
)

// TestDuplicateGatewaysRefusedR2R12: two tables sharing a token_file, a url
// or a serial fail at start, naming both tables.
func TestDuplicateGatewaysRefusedR2R12(t *testing.T) {
	dir := t.TempDir()
	g := hostile.New(t, "../../../internal/envoysim/demo", nil)
	table := g.PluginConfig(t, dir)
	tok := filepath.Join(dir, "hostile.token")
	other := filepath.Join(dir, "other.token")
	require.NoError(t, os.WriteFile(other, []byte(g.Token()+"\n"), 0o600))
	for _, tc := range []struct{ name, second, want string }{
		{"R2 same token_file", strings.Replace(table, g.URL, "https://127.0.0.2:1", 1),
			fmt.Sprintf("token_file %q is also the token_file of [[inputs.enphase]] #1 at ", tok)},
		{"R12 same url", strings.Replace(table, tok, other, 1), "url \"127.0.0.1:"},
		{"R12 same url, other case", strings.Replace(strings.Replace(table, tok, other, 1), "https://", "HTTPS://", 1), "is also the url of [[inputs.enphase]] #1"},
		{"R12 same serial", strings.Replace(strings.Replace(table, tok, other, 1), g.URL, "https://127.0.0.2:1", 1) + "  serial = \"" + g.Serial + "\"\n",
			"serial \"" + g.Serial + "\" is also the serial of [[inputs.enphase]] #1"},
		{"same state_file", strings.Replace(strings.Replace(table, tok, other, 1), g.URL, "https://127.0.0.2:1", 1) +
			"  state_file = \"" + filepath.Join(dir, "shared.state.json") + "\"\n",
			"state_file \"" + filepath.Join(dir, "shared.state.json") + "\" is also the state_file of [[inputs.enphase]] #1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first := table
			if strings.Contains(tc.name, "serial") {
				first += "  serial = \"" + g.Serial + "\"\n"
			}
			if strings.Contains(tc.name, "state_file") {
				first += "  state_file = \"" + filepath.Join(dir, "shared.state.json") + "\"\n"
			}
			conf := filepath.Join(t.TempDir(), "enphase.conf")
			require.NoError(t, os.WriteFile(conf, []byte(first+"\n"+tc.second), 0o600))
			_, err := LoadFile(conf, &testutil.CaptureLogger{})
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, "[[inputs.enphase]] #2")
			require.ErrorContains(t, err, conf+":1:")
		})
	}
}

// TestAlternatingSerialNeverRenewsR2: an address that answers as two
// gateways in turn (envoy.local on a two-gateway site): each gather that
// meets the other serial fails, and 20 gathers make no cloud login.
func TestAlternatingSerialNeverRenewsR2(t *testing.T) {
	const demo = "../../../internal/envoysim/demo"
	info := hostile.CaptureBody(t, demo, "/info")
	cloud, err := envoysim.New(envoysim.Options{Accounts: map[string]string{account: password}})
	require.NoError(t, err)
	cloudURL, err := cloud.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = cloud.Close() })

	var n atomic.Int64
	var g *hostile.Gateway
	g = hostile.New(t, demo, map[string]http.Handler{
		"/info": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body := string(info)
			if n.Add(1)%2 == 0 {
				body = strings.Replace(body, g.Serial, "999999999999", 1)
			}
			w.Header().Set("Content-Type", "application/xml")
			_, _ = w.Write([]byte(body))
		}),
	})
	dir := t.TempDir()
	ca := filepath.Join(dir, "cloud.pem")
	pw := filepath.Join(dir, "password")
	require.NoError(t, os.WriteFile(ca, cloud.CertificatePEM(), 0o600))
	require.NoError(t, os.WriteFile(pw, []byte(password+"\n"), 0o600))
	conf := filepath.Join(dir, "enphase.conf")
	require.NoError(t, os.WriteFile(conf, []byte(g.PluginConfig(t, dir,
		`info_interval = "1ns"`, `username = "`+account+`"`, fmt.Sprintf("password_file = %q", pw),
		fmt.Sprintf("enlighten_url = %q", cloudURL), fmt.Sprintf("entrez_url = %q", cloudURL), fmt.Sprintf("cloud_tls_ca = %q", ca))), 0o600))
	log := &testutil.CaptureLogger{}
	set, err := LoadFile(conf, log)
	require.NoError(t, err)
	t.Cleanup(set.Stop)
	e := set.List[0]
	failed := 0
	for range 20 {
		var acc testutil.Accumulator
		if err := e.Gather(&acc); err != nil {
			failed++
			require.ErrorContains(t, err, "but as")
		}
		e.tokens.wait()
	}
	require.NotZero(t, failed)
	require.Zero(t, cloud.Stats().CloudLogin, "cloud logins:\n%s", strings.Join(logLines(log), "\n"))
}
