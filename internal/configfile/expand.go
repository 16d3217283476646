package configfile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"
)

// Limits checked before TOML parsing (R13): BurntSushi's parser is quadratic
// in nesting depth (20,000 nested inline tables took over 8 GB), and nothing
// in a config file needs more than a few levels or a few KiB.
const (
	MaxSize  = 1 << 20 // bytes of a config file, before and after expansion
	MaxDepth = 32      // nested [ and { outside strings and comments
)

// lexState is where prepare is in the TOML text.
type lexState int

const (
	outside      lexState = iota
	comment               // # to the end of the line
	basic                 // "..."
	multiBasic            // """..."""
	literal               // '...'
	multiLiteral          // '''...'''
)

// prepare checks the size and nesting of a config file and replaces ${NAME}
// and ${NAME:-default} inside double-quoted strings, which is where the
// README says they are replaced (R14). It follows the file at the level of
// TOML's tokens: comments, the four kinds of string, brackets outside them.
// So a reference in a comment or a single-quoted (literal) string stays as
// written, and brackets in strings or comments never count as nesting.
//
// A value is escaped for the double-quoted string it lands in, so whatever
// it holds (quotes, backslashes, newlines, triple quotes, ]]) comes out verbatim in
// that string's value and cannot end the string, add a key or shift a line.
// A default is taken literally, as a value is (${X:-C:\dir} is C:\dir).
// Any other "$" is left alone, so passwords with "$" or "$$" survive.
func prepare(name string, data []byte) ([]byte, error) {
	if len(data) > MaxSize {
		return nil, tooLarge(name, "")
	}
	var (
		out   bytes.Buffer
		errs  []error
		st    = outside
		line  = 1
		depth = 0
	)
	out.Grow(len(data))
	for i := 0; i < len(data); {
		c := data[i]
		if c == '\n' {
			line++
			if st == comment || st == basic || st == literal {
				st = outside // a single-line string left open: TOML says so
			}
			out.WriteByte(c)
			i++
			continue
		}
		switch st {
		case outside:
			switch {
			case c == '#':
				st = comment
			case c == '"' || c == '\'':
				q := string([]byte{c, c, c})
				if bytes.HasPrefix(data[i:], []byte(q)) {
					out.WriteString(q)
					i += 3
					st = map[byte]lexState{'"': multiBasic, '\'': multiLiteral}[c]
					continue
				}
				st = map[byte]lexState{'"': basic, '\'': literal}[c]
			case c == '[' || c == '{':
				if depth++; depth > MaxDepth {
					return nil, fmt.Errorf("%s: arrays or tables nested more than %d deep: a config file needs a few levels", location(name, line), MaxDepth)
				}
			case c == ']' || c == '}':
				depth = max(depth-1, 0)
			case c == '$' && i+1 < len(data) && data[i+1] == '{':
				errs = append(errs, unquotedRef(location(name, line), data[i:]))
			}
		case basic, multiBasic:
			switch {
			case c == '\\' && i+1 < len(data):
				if data[i+1] == '\n' {
					line++ // a line-ending backslash in """
				}
				out.Write(data[i : i+2])
				i += 2
				continue
			case c == '"' && st == basic:
				st = outside
			case c == '"':
				n := run(data[i:], '"')
				out.Write(data[i : i+n])
				i += n
				if n >= 3 {
					st = outside
				}
				continue
			case c == '$' && i+1 < len(data) && data[i+1] == '{':
				n, err := expandRef(&out, data[i:], location(name, line))
				if err != nil {
					errs = append(errs, err)
				}
				if out.Len() > MaxSize {
					return nil, tooLarge(name, " after replacing environment variables")
				}
				i += n
				continue
			}
		case literal:
			if c == '\'' {
				st = outside
			}
		case multiLiteral:
			if c == '\'' {
				n := run(data[i:], '\'')
				out.Write(data[i : i+n])
				i += n
				if n >= 3 {
					st = outside
				}
				continue
			}
		}
		out.WriteByte(c)
		i++
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out.Bytes(), nil
}

func tooLarge(name, when string) error {
	return fmt.Errorf("%s: larger than %d KiB%s, the limit for a config file: it holds one small table per gateway", name, MaxSize>>10, when)
}

// run counts the bytes c at the start of b.
func run(b []byte, c byte) int {
	n := 0
	for n < len(b) && b[n] == c {
		n++
	}
	return n
}

// expandRef replaces the reference at the start of ref (which starts with
// "${", inside a double-quoted string) and returns how many bytes it used.
// Errors name the variable but quote no other text: a broken reference may
// be part of a password (R7).
func expandRef(out *bytes.Buffer, ref []byte, loc string) (int, error) {
	end := -1
	for j := 2; j < len(ref) && end < 0; j++ {
		switch ref[j] {
		case '}':
			end = j
		case '\\':
			j++
		case '"', '\n':
			j = len(ref)
		}
	}
	if end < 0 {
		out.WriteString("${")
		return 2, fmt.Errorf("%s: a \"${\" has no closing \"}\" in its string: write ${NAME} or ${NAME:-default}", loc)
	}
	name, def, hasDef := strings.Cut(string(ref[2:end]), ":-")
	if !isEnvName(name) {
		return end + 1, fmt.Errorf("%s: bad variable reference after \"${\": write ${NAME} or ${NAME:-default} (NAME: letters, digits and _)", loc)
	}
	val, ok := os.LookupEnv(name)
	switch {
	case hasDef && val == "":
		out.WriteString(escapeTOML(def))
	case !ok:
		return end + 1, fmt.Errorf("%s: environment variable %s is not set (export it, or use ${%s:-default})", loc, name, name)
	case !utf8.ValidString(val):
		return end + 1, fmt.Errorf("%s: environment variable %s is not valid UTF-8, which TOML strings must be", loc, name)
	default:
		out.WriteString(escapeTOML(val))
	}
	return end + 1, nil
}

// unquotedRef is the error for "${" outside any string: TOML has no place
// for it there, and the README promises replacement in double quotes only.
func unquotedRef(loc string, ref []byte) error {
	if end := bytes.IndexAny(ref, "}\n"); end > 2 && ref[end] == '}' {
		if name, _, _ := strings.Cut(string(ref[2:end]), ":-"); isEnvName(name) {
			return fmt.Errorf("%s: ${%s} is replaced only inside double-quoted strings: write \"${%s}\"", loc, name, name)
		}
	}
	return fmt.Errorf("%s: ${NAME} is replaced only inside double-quoted strings: write \"${NAME}\"", loc)
}

// isEnvName reports whether s is a shell-style variable name.
func isEnvName(s string) bool {
	for i, r := range s {
		if r != '_' && !('A' <= r && r <= 'Z') && !('a' <= r && r <= 'z') && (i == 0 || !('0' <= r && r <= '9')) {
			return false
		}
	}
	return s != ""
}

// escapeTOML makes a value safe inside a TOML basic string. Control
// characters are escaped too, so a multi-line value cannot break the string
// or shift the line numbers used in later messages.
func escapeTOML(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '"':
			b.WriteString(`\"`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// location formats "FILE:LINE", or just "FILE" when the line is unknown.
func location(name string, line int) string {
	if line <= 0 {
		return name
	}
	return fmt.Sprintf("%s:%d", name, line)
}
