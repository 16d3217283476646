package configfile

import (
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
