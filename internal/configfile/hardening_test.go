package configfile

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// requireNoExcerpt fails when msg holds any 4-byte piece of secret.
func requireNoExcerpt(t *testing.T, msg, secret string) {
	t.Helper()
	for i := 0; i+4 <= len(secret); i++ {
		if piece := secret[i : i+4]; strings.Contains(msg, piece) {
			t.Errorf("error quotes %q of the secret %q:\n%s", piece, secret, msg)
		}
	}
}

// TestSyntaxErrorsQuoteNoValueR7 covers R7: a password holding any syntax
// error BurntSushi can find inside a string fails at start naming the file,
// the line and the key, with no piece of the password in the message
// (Telegraf logs it again at every restart).
func TestSyntaxErrorsQuoteNoValueR7(t *testing.T) {
	cases := []struct {
		name   string
		value  string // written after "password = "
		secret string // what must not appear
		line   int
		kind   string
	}{
		{"short \\u escape (the report)", `"Winter2024\us"` + "\n", `Winter2024\us`, 3, `\u escape needs four hexadecimal digits`},
		{"short \\U escape", `"Kp4Vb8\U12zzQy"` + "\n", `Kp4Vb8\U12zzQy`, 3, `\U escape needs eight`},
		{"short \\x escape", `"Mn5Bv\xZZ7tRe"` + "\n", `Mn5Bv\xZZ7tRe`, 3, `\x escape needs two`},
		{"unknown escape", `"Xq7!Zr9\qPw3Lk"` + "\n", `Xq7!Zr9\qPw3Lk`, 3, "invalid escape sequence"},
		{"surrogate \\u escape", `"Hj6Tq\uD800Lm2"` + "\n", `Hj6Tq\uD800Lm2`, 3, "no Unicode character"},
		{"\\U beyond Unicode", `"Gh2Jk\U00110000Po"` + "\n", `Gh2Jk\U00110000Po`, 3, "no Unicode character"},
		{"newline in a string", "\"Ty6UiVb3\nOp9AsDf1\"\n", "Ty6UiVb3\nOp9AsDf1", 3, "not closed on its line"},
		{"newline in a literal string", "'Ty6UiVb3\nOp9AsDf1'\n", "Ty6UiVb3\nOp9AsDf1", 3, "not closed on its line"},
		{"unterminated at the end of the file", `"Zx8Qw3Er5Ty`, `Zx8Qw3Er5Ty`, 3, "never closed"},
		{"unterminated literal at the end", `'Qa1Ws2Ed3Rf`, `Qa1Ws2Ed3Rf`, 3, "never closed"},
		{"unterminated multi-line string", "\"\"\"Rf5Tg6Yh7\nUj8Ik9", "Rf5Tg6Yh7\nUj8Ik9", 0, `""" string is never closed`},
		{"unterminated multi-line literal", "'''Rf5Tg6Yh7\nUj8Ik9", "Rf5Tg6Yh7\nUj8Ik9", 0, `''' string is never closed`},
		{"too many closing quotes", `"""Ik9Ol0Pz""""""` + "\n", `Ik9Ol0Pz`, 3, "too many quotes"},
		{"control character", "\"Df4Gh\x01Gh7Jk\"\n", "Df4Gh\x01Gh7Jk", 3, "control character"},
		{"DEL character", "\"Df4Gh\x7fGh7Jk\"\n", "Df4Gh\x7fGh7Jk", 3, "control character"},
		{"control character in a literal", "'Df4Gh\x1bGh7Jk'\n", "Df4Gh\x1bGh7Jk", 3, "control character"},
		{"invalid UTF-8", "\"Yh7Uj\xffUj8Nb\"\n", "Yh7Uj\xffUj8Nb", 3, "not UTF-8"},
		{"unquoted", "Sd3Fg4Hj5\n", "Sd3Fg4Hj5", 3, "expected a value"},
		{"text after the string", `"Sd3Fg4" Hj5Kl6Zx` + "\n", "Sd3Fg4 Hj5Kl6Zx", 3, "more text after a value"},
		{"half-quoted", `Sd3Fg4"Hj5Kl6"` + "\n", `Sd3Fg4"Hj5Kl6"`, 3, "expected a value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conf := "[[inputs.enphase]]\n  url = \"https://a\"\n  password = " + tc.value
			_, err := Parse("enphase.conf", []byte(conf), "enphase", newPlugin)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			t.Log(msg)
			want := "enphase.conf:"
			if tc.line > 0 {
				want += strconv.Itoa(tc.line) + `: key "password": `
			}
			if !strings.HasPrefix(msg, want) || !strings.Contains(msg, tc.kind) {
				t.Errorf("got %q, want %q...%q", msg, want, tc.kind)
			}
			requireNoExcerpt(t, msg, tc.secret)
		})
	}
}

// TestDecodeErrorsQuoteNoValueR7 covers R7 for values that parse but do not
// decode, written literally or coming from the environment: the key and the
// line are named, the value is not.
func TestDecodeErrorsQuoteNoValueR7(t *testing.T) {
	const secret = `Wq9Zk2024\us"x`
	t.Setenv("R7_SECRET", secret)
	for _, conf := range []string{
		"[[inputs.enphase]]\n  url = \"https://a\"\n  timeout = \"${R7_SECRET}\"\n",
		"[[inputs.enphase]]\n  url = \"https://a\"\n  timeout = 'Wq9Zk2024\\us\"x'\n",
		"[[inputs.enphase]]\n  url = \"https://a\"\n  interval = \"${R7_SECRET}\"\n",
	} {
		_, err := Parse("enphase.conf", []byte(conf), "enphase", newPlugin)
		if err == nil {
			t.Fatalf("%q: no error", conf)
		}
		msg := err.Error()
		t.Log(msg)
		if !strings.HasPrefix(msg, "enphase.conf:3: [[inputs.enphase]] #1: key ") {
			t.Errorf("error names no line and key: %q", msg)
		}
		requireNoExcerpt(t, msg, secret)
	}

	// A broken reference inside a password names the line, not the text.
	for _, conf := range []string{
		"[[inputs.enphase]]\n  password = \"Qw3${Er4Ty5Ui6\"\n",
		"[[inputs.enphase]]\n  password = \"Qw3${Er4-Ty5Ui6}\"\n",
	} {
		_, err := Parse("enphase.conf", []byte(conf), "enphase", newPlugin)
		if err == nil {
			t.Fatalf("%q: no error", conf)
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "enphase.conf:2: ") {
			t.Errorf("error names no line: %q", msg)
		}
		requireNoExcerpt(t, msg, "Qw3${Er4-Ty5Ui6}")
	}
}

// TestNestingAndSizeRefusedR13 covers R13: absurd nesting is refused before
// BurntSushi parses it (depth 20,000 took it over 8 GB), naming the line;
// a file over MaxSize is refused naming the file and the limit; brackets in
// strings and comments count for nothing.
func TestNestingAndSizeRefusedR13(t *testing.T) {
	const depth = 20000
	for name, conf := range map[string]string{
		"arrays":        "[[inputs.enphase]]\n  url = \"https://a\"\n  x = " + strings.Repeat("[", depth) + strings.Repeat("]", depth) + "\n",
		"inline tables": "[[inputs.enphase]]\n  url = \"https://a\"\n  x = " + strings.Repeat("{a=", depth) + "1" + strings.Repeat("}", depth) + "\n",
		"unclosed":      "[[inputs.enphase]]\n  url = \"https://a\"\n  x = " + strings.Repeat("[{a=", depth),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("enphase.conf", []byte(conf), "enphase", newPlugin)
			want := "enphase.conf:3: arrays or tables nested more than 32 deep"
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("got %v, want %q", err, want)
			}
		})
	}

	// Brackets in every kind of string and in comments are not nesting.
	deep := strings.Repeat("[{", 40) + strings.Repeat("}]", 40)
	conf := "# " + deep + "\n[[inputs.enphase]] # " + deep + "\n" +
		"  url = \"https://a/" + deep + "\"\n" +
		"  username = '" + deep + "'\n" +
		"  password = \"\"\"" + deep + "\n" + deep + "\\\"\"\"\"\"\n" +
		"  [inputs.enphase.\"" + deep + "\"]\n" +
		"[[inputs.enphase]]\n  url = '''" + deep + "\n" + deep + "'''\n"
	_, err := Parse("enphase.conf", []byte(conf), "enphase", newPlugin)
	if err == nil || strings.Contains(err.Error(), "nested") || !strings.Contains(err.Error(), "enphase.conf:7: [[inputs.enphase]] #1: unknown key") {
		t.Fatalf("brackets in strings or comments: got %v, want only the unknown table of line 7", err)
	}
	withoutTable := strings.Replace(conf, "  [inputs.enphase.\""+deep+"\"]\n", "", 1)
	tables, err := Parse("enphase.conf", []byte(withoutTable), "enphase", newPlugin)
	if err != nil {
		t.Fatalf("brackets in strings or comments: %v", err)
	}
	if p := tables[0].Value.Password; p != deep+"\n"+deep+`""` {
		t.Errorf("password = %q", p)
	}
	if u := tables[1].Value.URL; u != deep+"\n"+deep {
		t.Errorf("url = %q", u)
	}

	// 32 levels are allowed (and then fail as the unknown key they are).
	ok := "[[inputs.enphase]]\n  url = \"https://a\"\n  x = " + strings.Repeat("[", 32) + strings.Repeat("]", 32) + "\n"
	if _, err := Parse("enphase.conf", []byte(ok), "enphase", newPlugin); err == nil || strings.Contains(err.Error(), "nested") {
		t.Errorf("depth 32: got %v, want an unknown key", err)
	}

	big := "[[inputs.enphase]]\n  url = \"https://a\"\n" + strings.Repeat("# padding\n", 2<<20/10)
	want := "enphase.conf: larger than 1024 KiB, the limit for a config file"
	if _, err := Parse("enphase.conf", []byte(big), "enphase", newPlugin); err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("2 MiB: got %v, want %q", err, want)
	}
	path := filepath.Join(t.TempDir(), "big.conf")
	if err := os.WriteFile(path, []byte(big), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, "enphase", newPlugin); err == nil || !strings.HasPrefix(err.Error(), path+": larger than 1024 KiB") {
		t.Errorf("2 MiB file: got %v", err)
	}
}

// TestExpansionBeyondMaxSizeR13: a small file cannot grow past MaxSize by
// repeating a large environment variable.
func TestExpansionBeyondMaxSizeR13(t *testing.T) {
	t.Setenv("R13_BIG", strings.Repeat("x", 100<<10))
	conf := "[[inputs.enphase]]\n  url = \"" + strings.Repeat("${R13_BIG}", 20) + "\"\n"
	_, err := Parse("enphase.conf", []byte(conf), "enphase", newPlugin)
	want := "enphase.conf: larger than 1024 KiB after replacing environment variables"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("got %v, want %q", err, want)
	}
}

// TestConfigFileNotRegularR10 covers the config-file half of R10: a FIFO, a
// device, a directory, or a link to one, is refused at once with the path.
func TestConfigFileNotRegularR10(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.conf")
	if err := mkfifo(fifo); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "zero.conf")
	if err := os.Symlink("/dev/zero", link); err != nil {
		t.Fatal(err)
	}
	for path, kind := range map[string]string{fifo: "a FIFO", "/dev/zero": "a character device", link: "a character device", dir: "a directory"} {
		_, err := Load(path, "enphase", newPlugin)
		want := path + ": not a regular file (" + kind + "): give the path of the plugin's config file"
		if err == nil || err.Error() != want {
			t.Errorf("got %v, want %q", err, want)
		}
	}
}

// TestExpansionKeepsStructureR14 covers R14: ${VAR} is replaced inside
// double-quoted strings only, as the README says; whatever the value holds
// comes out verbatim in that string and never ends it, adds a key or
// changes another one. Single-quoted (literal) strings and comments are
// left as written.
func TestExpansionKeepsStructureR14(t *testing.T) {
	values := []string{
		`"`, `\`, `a"b\c`, `\u0041`, `\`, "line1\nline2", "cr\r\nlf", "tab\there", "\x01\x1b\x7f",
		`'''`, `"""`, `""""""`, `]]`, "]]\n[[inputs.enphase]]\n  url = \"https://evil\"",
		`", max_retries = 5, x = "`, "\"\nmax_retries = 5\n#", `#not a comment`, `${R14_OTHER}`, `$$`, "ünïcødé 🌞",
	}
	t.Setenv("R14_OTHER", "other")
	for _, v := range values {
		t.Run(strconv.Quote(v), func(t *testing.T) {
			t.Setenv("R14_VAL", v)
			conf := `[[inputs.enphase]]
  url = "https://a" # ${R14_UNSET} in a comment
  password = "${R14_VAL}"
  username = """pre ${R14_VAL} post"""
  token = '${R14_VAL}'
  "key ${R14_VAL}" = 1
`
			// The quoted key is unknown whatever its name: it must be
			// reported as one key on line 6, and nothing else.
			_, err := Parse("enphase.conf", []byte(conf), "enphase", newPlugin)
			if err == nil || strings.Count(err.Error(), "\n") != 0 || !strings.HasPrefix(err.Error(), "enphase.conf:6: [[inputs.enphase]] #1: unknown key ") {
				t.Errorf("quoted key: got %v, want one unknown key on line 6", err)
			}
			conf = strings.Replace(conf, "  \"key ${R14_VAL}\" = 1\n", "", 1)
			tables, err := Parse("enphase.conf", []byte(conf), "enphase", newPlugin)
			if err != nil {
				t.Fatal(err)
			}
			if len(tables) != 1 {
				t.Fatalf("%d tables", len(tables))
			}
			p := tables[0].Value
			if p.Password != v || p.Username != "pre "+v+" post" || p.URL != "https://a" || p.MaxRetries != 0 {
				t.Errorf("got url %q password %q username %q max_retries %d", p.URL, p.Password, p.Username, p.MaxRetries)
			}
			tok, err := p.Token.Get()
			if err != nil {
				t.Fatal(err)
			}
			defer tok.Destroy()
			if tok.String() != "${R14_VAL}" {
				t.Errorf("single-quoted: got %q, want it as written", tok.String())
			}
		})
	}
}

// TestExpansionRefusalsR14: a value TOML cannot hold, or a reference where
// nothing is replaced, is an error naming the variable and the line.
func TestExpansionRefusalsR14(t *testing.T) {
	t.Setenv("R14_BAD", "abc\xffdef")
	t.Setenv("R14_NUM", "5")
	for conf, want := range map[string]string{
		"[[inputs.enphase]]\n  password = \"${R14_BAD}\"\n": "enphase.conf:2: environment variable R14_BAD is not valid UTF-8",
		"[[inputs.enphase]]\n  max_retries = ${R14_NUM}\n": `enphase.conf:2: ${R14_NUM} is replaced only inside double-quoted strings: ` +
			`write "${R14_NUM}"`,
		"[[inputs.enphase]]\n  max_retries = [${R14_NUM:-1}]\n":              `enphase.conf:2: ${R14_NUM} is replaced only inside double-quoted strings`,
		"[[inputs.enphase]]\n  url = \"a\"\n  password = \"${R14_UNSET}\"\n": "enphase.conf:3: environment variable R14_UNSET is not set",
	} {
		t.Setenv("R14_UNSET", "")
		os.Unsetenv("R14_UNSET")
		_, err := Parse("enphase.conf", []byte(conf), "enphase", newPlugin)
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", conf, err, want)
		}
	}
}
