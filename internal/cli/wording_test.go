package cli

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/hostile"
)

const demoCapture = "../envoysim/demo"

// TestDumpCheckJWT500LoggedOnceR17: a check_jwt answering 500 is one line
// in dump's output, not two.
func TestDumpCheckJWT500LoggedOnceR17(t *testing.T) {
	g := hostile.New(t, demoCapture, map[string]http.Handler{"/auth/check_jwt": hostile.Status(500)})
	dir := t.TempDir()
	conf := filepath.Join(dir, "enphase.conf")
	require.NoError(t, os.WriteFile(conf, []byte(g.PluginConfig(t, dir)), 0o600))
	code, _, stderr := runMain("dump", "--config", conf)
	require.Equal(t, 1, code, stderr)
	require.Equal(t, 1, strings.Count(stderr, "500"), stderr)
}

// TestHelpIsNotAnError: --help prints the usage on stdout with status 0, for
// every command, and no "E! flag: help requested".
func TestHelpIsNotAnError(t *testing.T) {
	for _, args := range [][]string{{"dump", "--help"}, {"get", "-h"}, {"token", "check", "--help"}, {"pin", "--help"}, {"doctor", "--help"}} {
		code, out, stderr := runMain(args...)
		require.Equal(t, 0, code, "%v: %s", args, stderr)
		require.Contains(t, out, "Usage:", args)
		require.Empty(t, stderr, args)
	}
}

// TestGatewaySerialFromInfo: --gateway SERIAL finds a gateway whose file
// sets no serial by the serial its /info reports.
func TestGatewaySerialFromInfo(t *testing.T) {
	demo := startGateway(t, "")
	other := startGateway(t, filepath.Join("..", "..", "plugins", "inputs", "enphase", "testcases", "p1-p6-p9-non-metered", "capture"))
	require.NotEqual(t, demo.sim.Serial(), other.sim.Serial())
	conf := writeConfig(t, demo, other)
	for _, g := range []gateway{demo, other} {
		code, out, stderr := runMain("get", "--config", conf, "--gateway", g.sim.Serial(), "/info")
		require.Equal(t, 0, code, stderr)
		require.Contains(t, out, "<sn>"+g.sim.Serial()+"</sn>")
	}
	code, _, stderr := runMain("get", "--config", conf, "--gateway", "999999999999", "/info")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, `--gateway "999999999999": no [[inputs.enphase]] has serial "999999999999", set in the file or read from the gateway's /info`)
	require.Contains(t, stderr, "has serial "+demo.sim.Serial())
	require.Contains(t, stderr, "has serial "+other.sim.Serial())
}

// TestInlineSecretInReadableConfigWarns: a password or token written in a
// configuration file every user can read is warned about with the chmod;
// a private file, or a value from the environment, is not.
func TestInlineSecretInReadableConfigWarns(t *testing.T) {
	g := startGateway(t, "")
	t.Setenv("ENPHASE_TEST_PASSWORD", "from-the-environment")
	tests := []struct {
		name, extra string
		mode        os.FileMode
		warn        bool
	}{
		{"inline password, 0644", `password = "inline-pw"`, 0o644, true},
		{"inline password, 0640", `password = "inline-pw"`, 0o640, false},
		{"password from the environment, 0644", `password = "${ENPHASE_TEST_PASSWORD}"`, 0o644, false},
		{"password_file, 0644", "", 0o644, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tok := filepath.Join(dir, "envoy.token")
			require.NoError(t, os.WriteFile(tok, []byte(g.sim.Token()), 0o600))
			pw := tt.extra
			if pw == "" {
				pf := filepath.Join(dir, "password")
				require.NoError(t, os.WriteFile(pf, []byte("pw"), 0o600))
				pw = "password_file = \"" + pf + "\""
			}
			conf := filepath.Join(dir, "enphase.conf")
			body := "[[inputs.enphase]]\n  url = \"" + g.url + "\"\n  token_file = \"" + tok + "\"\n" +
				"  insecure_skip_verify = true\n  username = \"a@example.com\"\n  " + pw + "\n"
			require.NoError(t, os.WriteFile(conf, []byte(body), 0o600))
			require.NoError(t, os.Chmod(conf, tt.mode))
			code, _, stderr := runMain("token", "show", "--config", conf)
			require.Equal(t, 0, code, stderr)
			const want = "every user on this host can read the password it holds; fix: chmod 640 "
			if tt.warn {
				require.Contains(t, stderr, conf+" has mode 0644: "+want+conf)
			} else {
				require.NotContains(t, stderr, "every user on this host can read")
			}
		})
	}
}
