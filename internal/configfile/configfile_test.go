package configfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
)

// HTTPCommon mimics telegraf's embedded client configs, which BurntSushi flattens.
type HTTPCommon struct {
	Timeout            config.Duration `toml:"timeout"`
	InsecureSkipVerify bool            `toml:"insecure_skip_verify"`
}

type testPlugin struct {
	URL        string          `toml:"url"`
	Username   string          `toml:"username"`
	Password   string          `toml:"password"`
	Token      config.Secret   `toml:"token"`
	MaxRetries int             `toml:"max_retries"`
	Interval   config.Duration `toml:"interval"`
	HTTPCommon
}

func newPlugin() *testPlugin { return &testPlugin{} }

const unset = "<unset>" // env value meaning "make sure the variable is not set"

func TestParse(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		conf    string
		wantErr []string // substrings of the error; empty means success
		notErr  []string // substrings that must not appear
		check   func(t *testing.T, tables []Table[*testPlugin])
	}{
		{
			name: "two tables with lines, indexes and durations",
			conf: `# gateways
[[inputs.enphase]]
  url = "https://a"
  timeout = "10s"

[[inputs.enphase]]
  URL = "https://b"   # BurntSushi matches keys case-insensitively
  timeout = 7
  interval = 2.5
  insecure_skip_verify = true
`,
			check: func(t *testing.T, tables []Table[*testPlugin]) {
				if len(tables) != 2 {
					t.Fatalf("got %d tables, want 2", len(tables))
				}
				for i, want := range []struct {
					line     int
					url      string
					timeout  time.Duration
					interval time.Duration
					insecure bool
				}{
					{2, "https://a", 10 * time.Second, 0, false},
					{6, "https://b", 7 * time.Second, 2500 * time.Millisecond, true},
				} {
					got := tables[i]
					if got.Line != want.line || got.Index != i+1 {
						t.Errorf("table %d: Line=%d Index=%d, want %d %d", i, got.Line, got.Index, want.line, i+1)
					}
					v := got.Value
					if v.URL != want.url || time.Duration(v.Timeout) != want.timeout ||
						time.Duration(v.Interval) != want.interval || v.InsecureSkipVerify != want.insecure {
						t.Errorf("table %d: got %+v", i, v)
					}
				}
			},
		},
		{
			name: "literal dollars survive",
			env:  map[string]string{"word": "WRONG", "HOME": "/root"},
			conf: `[[inputs.enphase]]
  password = "pa$word$$x"
  username = "$HOME{x}$"
`,
			check: func(t *testing.T, tables []Table[*testPlugin]) {
				v := tables[0].Value
				if v.Password != "pa$word$$x" || v.Username != "$HOME{x}$" {
					t.Errorf("got password %q username %q", v.Password, v.Username)
				}
			},
		},
		{
			name: "env expansion with defaults and escaping",
			env: map[string]string{
				"ENVOY_PW":    `a"b\c$d`,
				"ENVOY_USER":  unset,
				"ENVOY_EMPTY": "",
				"ENVOY_HOST":  "envoy.local",
				"ENVOY_TOUT":  "3s",
			},
			conf: `[[inputs.enphase]]
  password = "${ENVOY_PW}"
  username = "${ENVOY_USER:-installer}"
  token = "${ENVOY_EMPTY:-d\e}"
  url = "https://${ENVOY_HOST}/x"
  timeout = "${ENVOY_TOUT:-5s}"
`,
			check: func(t *testing.T, tables []Table[*testPlugin]) {
				v := tables[0].Value
				if v.Password != `a"b\c$d` || v.Username != "installer" || v.URL != "https://envoy.local/x" ||
					time.Duration(v.Timeout) != 3*time.Second {
					t.Errorf("got %+v", v)
				}
				tok, err := v.Token.Get()
				if err != nil {
					t.Fatal(err)
				}
				defer tok.Destroy()
				if tok.String() != `d\e` {
					t.Errorf("token = %q, want %q", tok.String(), `d\e`)
				}
			},
		},
		{
			name: "unset variable",
			env:  map[string]string{"ENVOY_TOKEN": unset, "ENVOY_OTHER": unset},
			conf: `[[inputs.enphase]]
  url = "https://a"
  token = "${ENVOY_TOKEN}"
  password = "${ENVOY_OTHER}"
`,
			wantErr: []string{
				"enphase.conf:3: environment variable ENVOY_TOKEN is not set (export it, or use ${ENVOY_TOKEN:-default})",
				"enphase.conf:4: environment variable ENVOY_OTHER is not set",
			},
		},
		{
			name: "bad variable references",
			conf: `[[inputs.enphase]]
  password = "${1X}"
  username = "${FOO"
`,
			wantErr: []string{
				`enphase.conf:2: bad variable reference after "${": write ${NAME} or ${NAME:-default}`,
				`enphase.conf:3: a "${" has no closing "}" in its string: write ${NAME} or ${NAME:-default}`,
			},
		},
		{
			name: "comment lines are not expanded",
			env:  map[string]string{"ENVOY_UNSET": unset},
			conf: `# token = "${ENVOY_UNSET}"
[[inputs.enphase]]
    # token = "${ENVOY_UNSET}"
  url = "https://a"
`,
			check: func(t *testing.T, tables []Table[*testPlugin]) {
				if tables[0].Value.URL != "https://a" {
					t.Errorf("got %+v", tables[0].Value)
				}
			},
		},
		{
			name: "unknown key in second table with suggestion",
			conf: `[[inputs.enphase]]
  url = "https://a"
  timeout = "5s"

[[inputs.enphase]]
  url = "https://b"

  timout = "5s"
`,
			wantErr: []string{`enphase.conf:8: [[inputs.enphase]] #2: unknown key "timout" (did you mean "timeout"?)`},
			notErr:  []string{"#1"},
		},
		{
			name: "several unknown keys",
			conf: `[[inputs.enphase]]
  url = "https://a"
  usernme = "x"
  timout = 1
  colour = "blue"

[[inputs.enphase]]
  url = "https://b"
  timout = 2
`,
			wantErr: []string{
				`enphase.conf:3: [[inputs.enphase]] #1: unknown key "usernme" (did you mean "username"?)`,
				`enphase.conf:4: [[inputs.enphase]] #1: unknown key "timout" (did you mean "timeout"?)`,
				`enphase.conf:5: [[inputs.enphase]] #1: unknown key "colour"` + "\n",
				`enphase.conf:9: [[inputs.enphase]] #2: unknown key "timout" (did you mean "timeout"?)`,
			},
		},
		{
			name: "string for an int, in the first of two tables",
			conf: `[[inputs.enphase]]
  url = "https://a"
  max_retries = "3"

[[inputs.enphase]]
  max_retries = 3
`,
			wantErr: []string{`enphase.conf:3: [[inputs.enphase]] #1: key "max_retries": expected an integer, got a string`},
			notErr:  []string{"#2", "unknown key"},
		},
		{
			name: "int for a bool in an embedded struct",
			conf: `[[inputs.enphase]]
  url = "https://a"
  insecure_skip_verify = 1
`,
			wantErr: []string{`enphase.conf:3: [[inputs.enphase]] #1: key "insecure_skip_verify": expected a boolean, got an integer`},
		},
		{
			name: "bad duration",
			conf: `[[inputs.enphase]]
  timeout = "10s"
[[inputs.enphase]]
  url = "https://b"
  timeout = "10 seconds"
`,
			wantErr: []string{`enphase.conf:5: [[inputs.enphase]] #2: key "timeout": unknown unit in duration (value not shown)`},
		},
		{
			name: "syntax error",
			conf: `[[inputs.enphase]]
  url = "https://a"
  timeout = = 5
`,
			wantErr: []string{`enphase.conf:3: key "timeout": expected a value (a quoted string, a number, true/false, [array] or {table})`},
		},
		{
			name: "unknown top-level key and table",
			conf: `debug = true
[[inputs.enphase]]
  url = "https://a"

[agent]
  interval = "10s"
`,
			wantErr: []string{
				`enphase.conf:1: unknown key "debug": this file holds only [[inputs.enphase]] tables`,
				`enphase.conf:5: unknown key "agent": this file holds only [[inputs.enphase]] tables (telegraf settings belong in telegraf.conf)`,
			},
			notErr: []string{`"interval"`},
		},
		{
			name: "another input",
			conf: `[[inputs.enphase]]
  url = "https://a"

[[inputs.cpu]]
  percpu = true
`,
			wantErr: []string{`enphase.conf:4: [[inputs.cpu]]: this file is only for telegraf-enphase; [[inputs.cpu]] belongs in telegraf.conf`},
		},
		{
			// BurntSushi says line 1, or 0 on a one-line file (found by FuzzParse).
			name:    "syntax error at the end of a file without a final newline",
			conf:    "[[inputs.enphase]]\n  password = \"abc\\",
			wantErr: []string{`enphase.conf:2: key "password": invalid escape sequence in a double-quoted string`},
		},
		{
			name:    "one-line file ending in an open escape",
			conf:    `"\`,
			wantErr: []string{`enphase.conf:1: invalid escape sequence in a double-quoted string`},
		},
		{
			name:    "no table",
			conf:    "# nothing here yet\n",
			wantErr: []string{`enphase.conf: no [[inputs.enphase]] table: add one per gateway (see sample.conf)`},
		},
		{
			name: "single brackets",
			conf: `[inputs.enphase]
  url = "https://a"
`,
			wantErr: []string{`enphase.conf:1: [inputs.enphase] must be written [[inputs.enphase]] (double brackets, one table per gateway)`},
		},
		{
			name: "nested sub-table and dotted key",
			conf: `[[inputs.enphase]]
  url = "https://a"

  [inputs.enphase.tags]
    site = "home"
    roof = "south"

[[inputs.enphase]]
  url = "https://b"
  tags.site = "cabin"
`,
			wantErr: []string{
				`enphase.conf:4: [[inputs.enphase]] #1: unknown key "tags" (telegraf's per-plugin options do nothing here: set them on [[inputs.execd]] in telegraf.conf)`,
				`enphase.conf:10: [[inputs.enphase]] #2: unknown key "tags" (telegraf's`,
			},
			notErr: []string{"site", "roof"},
		},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				if v == unset {
					t.Setenv(k, "") // restores the old value after the test
					os.Unsetenv(k)
					continue
				}
				t.Setenv(k, v)
			}
			tables, err := Parse("enphase.conf", []byte(tc.conf), "enphase", newPlugin)
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				tc.check(t, tables)
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.wantErr)
			}
			msg := err.Error() + "\n"
			t.Logf("error:\n%s", msg)
			for _, want := range tc.wantErr {
				if !strings.Contains(msg, want) {
					t.Errorf("error\n%s\ndoes not contain\n%s", msg, want)
				}
			}
			for _, bad := range tc.notErr {
				if strings.Contains(msg, bad) {
					t.Errorf("error\n%s\nshould not contain %q", msg, bad)
				}
			}
			if tables != nil {
				t.Errorf("tables returned with an error: %v", tables)
			}
		})
	}
}

func TestTableErrorf(t *testing.T) {
	tables, err := Parse("enphase.conf", []byte("[[inputs.enphase]]\n\n[[inputs.enphase]]\n"), "enphase", newPlugin)
	if err != nil {
		t.Fatal(err)
	}
	got := tables[1].Errorf("enphase.conf", "enphase", "url is required")
	if want := "enphase.conf:3: [[inputs.enphase]] #2: url is required"; got.Error() != want {
		t.Errorf("got %q, want %q", got, want)
	}
	cause := errors.New("no scheme")
	got = tables[0].Errorf("enphase.conf", "enphase", "bad url %q: %w", "x", cause)
	if want := `enphase.conf:1: [[inputs.enphase]] #1: bad url "x": no scheme`; got.Error() != want || !errors.Is(got, cause) {
		t.Errorf("got %q (wraps cause: %v), want %q", got, errors.Is(got, cause), want)
	}
}

func TestParseNeedsPointer(t *testing.T) {
	_, err := Parse("enphase.conf", []byte("[[inputs.enphase]]\n"), "enphase", func() testPlugin { return testPlugin{} })
	if err == nil || !strings.Contains(err.Error(), "newValue must return a pointer") {
		t.Errorf("got %v", err)
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "telegraf-enphase.conf")
	if err := os.WriteFile(path, []byte("[[inputs.enphase]]\n  url = \"https://a\"\n  nope = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, "enphase", newPlugin)
	if want := path + `:3: [[inputs.enphase]] #1: unknown key "nope"`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want %q", err, want)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.conf"), "enphase", newPlugin); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: got %v", err)
	}
}

func TestScanLinesMultilineString(t *testing.T) {
	conf := "[[inputs.enphase]]\n  password = '''\n[[inputs.enphase]]\ntimout = 1\n'''\n  timout = 2\n"
	_, err := Parse("enphase.conf", []byte(conf), "enphase", newPlugin)
	if want := `enphase.conf:6: [[inputs.enphase]] #1: unknown key "timout"`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want %q", err, want)
	}
}
