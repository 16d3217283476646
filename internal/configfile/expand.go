package configfile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
)

// expandEnv replaces ${NAME} and ${NAME:-default} line by line. Unlike
// os.Expand it leaves every other "$" alone, so passwords containing "$" or
// "$$" survive. Whole-line comments are copied untouched so that commented-out
// examples never require their variables to be set.
func expandEnv(name string, data []byte) ([]byte, error) {
	var out bytes.Buffer
	out.Grow(len(data))
	var errs []error
	for i, line := range strings.SplitAfter(string(data), "\n") {
		if strings.HasPrefix(strings.TrimLeft(line, " \t"), "#") || !strings.Contains(line, "${") {
			out.WriteString(line)
			continue
		}
		if err := expandLine(&out, line, location(name, i+1)); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out.Bytes(), nil
}

func expandLine(out *bytes.Buffer, line, loc string) error {
	var errs []error
	for {
		i := strings.Index(line, "${")
		if i < 0 {
			out.WriteString(line)
			break
		}
		out.WriteString(line[:i])
		line = line[i:]
		end := strings.IndexByte(line, '}')
		if end < 0 {
			// A stray "${" is almost certainly a mistake; say so instead of
			// passing it on to TOML or silently keeping it.
			// The text after it is not quoted: it may be a password (R7).
			errs = append(errs, fmt.Errorf("%s: a \"${\" has no closing \"}\": write ${NAME} or ${NAME:-default}", loc))
			break
		}
		inner := line[2:end]
		line = line[end+1:]
		name, def, hasDef := strings.Cut(inner, ":-")
		if !isEnvName(name) {
			errs = append(errs, fmt.Errorf("%s: bad variable reference after \"${\": write ${NAME} or ${NAME:-default} (NAME: letters, digits and _)", loc))
			continue
		}
		val, ok := os.LookupEnv(name)
		switch {
		case hasDef && val == "":
			val = def
		case !ok:
			errs = append(errs, fmt.Errorf("%s: environment variable %s is not set (export it, or use ${%s:-default})", loc, name, name))
			continue
		}
		out.WriteString(escapeTOML(val))
	}
	return errors.Join(errs...)
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
