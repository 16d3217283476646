package configfile

import (
	"strconv"
	"strings"
)

// occurrence is a table header or a key assignment found in the file.
type occurrence struct {
	line   int
	path   []string // full key path: header path, or header context + key
	header bool
}

// scanLines finds the line of every table header and key assignment.
// BurntSushi's MetaData keeps one position per key string, so the keys of the
// second [[inputs.x]] table overwrite those of the first; this line-based scan
// gives each occurrence its own line. It understands bare and quoted keys,
// dotted keys and multi-line strings, which is enough for config files; a
// line it cannot classify is skipped, and callers fall back to the table line.
func scanLines(data []byte) []occurrence {
	var (
		occs    []occurrence
		context []string
		inMulti string // closing delimiter of an open multi-line string
	)
	for i, line := range strings.Split(string(data), "\n") {
		s := strings.TrimSpace(line)
		if inMulti != "" {
			if strings.Contains(s, inMulti) {
				inMulti = ""
			}
			continue
		}
		if s == "" || s[0] == '#' {
			continue
		}
		if s[0] == '[' {
			open, closing := "[", "]"
			if strings.HasPrefix(s, "[[") {
				open, closing = "[[", "]]"
			}
			path, rest, ok := parseKeyPath(s[len(open):])
			if !ok || !strings.HasPrefix(strings.TrimSpace(rest), closing) {
				continue
			}
			context = path
			occs = append(occs, occurrence{line: i + 1, path: path, header: true})
			continue
		}
		path, rest, ok := parseKeyPath(s)
		rest = strings.TrimSpace(rest)
		if !ok || !strings.HasPrefix(rest, "=") {
			continue
		}
		full := append(append([]string{}, context...), path...)
		occs = append(occs, occurrence{line: i + 1, path: full})
		value := strings.TrimSpace(rest[1:])
		for _, delim := range []string{`"""`, `'''`} {
			if strings.HasPrefix(value, delim) && !strings.Contains(value[3:], delim) {
				inMulti = delim
			}
		}
	}
	return occs
}

// parseKeyPath reads a dotted TOML key such as a."b c".'d' from the start of s.
func parseKeyPath(s string) (path []string, rest string, ok bool) {
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return nil, "", false
		}
		var part string
		switch s[0] {
		case '"':
			end := 1
			for end < len(s) && s[end] != '"' {
				if s[end] == '\\' {
					end++
				}
				end++
			}
			if end >= len(s) {
				return nil, "", false
			}
			unq, err := strconv.Unquote(s[:end+1])
			if err != nil {
				unq = s[1:end]
			}
			part, s = unq, s[end+1:]
		case '\'':
			end := strings.IndexByte(s[1:], '\'')
			if end < 0 {
				return nil, "", false
			}
			part, s = s[1:end+1], s[end+2:]
		default:
			end := 0
			for end < len(s) && isBareKeyChar(s[end]) {
				end++
			}
			if end == 0 {
				return nil, "", false
			}
			part, s = s[:end], s[end:]
		}
		path = append(path, part)
		s = strings.TrimLeft(s, " \t")
		if !strings.HasPrefix(s, ".") {
			return path, s, true
		}
		s = s[1:]
	}
}

func isBareKeyChar(c byte) bool {
	return c == '_' || c == '-' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

func hasPrefix(path, prefix []string) bool {
	if len(path) < len(prefix) {
		return false
	}
	for i := range prefix {
		if path[i] != prefix[i] {
			return false
		}
	}
	return true
}

func equalPath(a, b []string) bool { return len(a) == len(b) && hasPrefix(a, b) }

// firstLine returns the line of the first occurrence whose path starts with
// prefix and whose line is in [from, to); to <= 0 means end of file.
func firstLine(occs []occurrence, prefix []string, from, to int) int {
	for _, o := range occs {
		if o.line >= from && (to <= 0 || o.line < to) && hasPrefix(o.path, prefix) {
			return o.line
		}
	}
	return 0
}

// keyAt returns the path of the key assigned on line, or nil.
func keyAt(occs []occurrence, line int) []string {
	for _, o := range occs {
		if o.line == line && !o.header {
			return o.path
		}
	}
	return nil
}
