// Package configfile loads the plugin's own config file strictly.
//
// Telegraf's shim loader (plugins/common/shim) ignores unknown keys, uses only
// the first [[inputs.x]] table and expands variables with os.Expand, which
// eats every "$" in passwords. This loader instead expands only ${NAME} and
// ${NAME:-default}, decodes every table, and reports typos, wrong types and
// misplaced telegraf settings as "FILE:LINE: ..." errors.
package configfile

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/telegraf-enphase/telegraf-enphase/internal/smallfile"
)

// Table is one decoded [[inputs.<name>]] table.
type Table[T any] struct {
	Value T   // the decoded value (T is a pointer to a struct with toml tags)
	Line  int // 1-based line of the table header "[[inputs.<name>]]"; 0 if unknown
	Index int // 1-based position among the tables of that name
}

// Errorf formats an error about one table, for validation done by the caller
// after decoding: "FILE:LINE: [[inputs.enphase]] #2: url is required".
// %w in format wraps as with fmt.Errorf.
func (t Table[T]) Errorf(file, input, format string, args ...any) error {
	prefix := fmt.Sprintf("%s: [[inputs.%s]] #%d: ", location(file, t.Line), input, t.Index)
	return fmt.Errorf("%s"+format, append([]any{prefix}, args...)...)
}

// Load reads path and decodes every [[inputs.<input>]] table into a fresh
// value made by newValue.
func Load[T any](path, input string, newValue func() T) ([]Table[T], error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data, input, newValue)
}

// readFile reads a config file of at most MaxSize bytes. Anything but a
// regular file (a FIFO, /dev/zero, a directory) is refused before a byte is
// read, so a wrong path can never block the start or read forever (R10).
func readFile(path string) ([]byte, error) {
	data, err := smallfile.Read(path, MaxSize)
	var notRegular *smallfile.NotRegularError
	var tooBig *smallfile.TooLargeError
	switch {
	case errors.As(err, &notRegular):
		return nil, fmt.Errorf("%s: not a regular file (%s): give the path of the plugin's config file", path, notRegular.Kind)
	case errors.As(err, &tooBig):
		return nil, tooLarge(path, "")
	}
	return data, err
}

// Parse is Load on bytes; name is used in messages.
func Parse[T any](name string, data []byte, input string, newValue func() T) ([]Table[T], error) {
	// A non-pointer would make BurntSushi panic on the first field it sets.
	if k := reflect.TypeOf(newValue()); k == nil || k.Kind() != reflect.Pointer {
		return nil, fmt.Errorf("configfile: newValue must return a pointer, not %v", k)
	}
	data, err := prepare(name, data)
	if err != nil {
		return nil, err
	}

	var top struct {
		Inputs map[string][]toml.Primitive `toml:"inputs"`
	}
	md, decErr := toml.Decode(string(data), &top)
	var pe toml.ParseError
	if errors.As(decErr, &pe) {
		line := parseErrorLine(pe, data)
		return nil, fmt.Errorf("%s: %s", location(name, line), syntaxMessage(pe, input, keyAt(scanLines(data), line)))
	}
	occs := scanLines(data)
	if err := checkTopLevel(name, input, &md, occs, decErr); err != nil {
		return nil, err
	}

	prims := top.Inputs[input]
	if len(prims) == 0 {
		return nil, fmt.Errorf("%s: no [[inputs.%s]] table: add one per gateway (see sample.conf)", name, input)
	}

	tablePath := []string{"inputs", input}
	var headers []int
	for _, o := range occs {
		if o.header && equalPath(o.path, tablePath) {
			headers = append(headers, o.line)
		}
	}
	// span returns the lines [from, to) of table i; to == 0 means end of file.
	span := func(i int) (int, int) {
		from, to := 0, 0
		if i < len(headers) {
			from = headers[i]
		}
		if i+1 < len(headers) {
			to = headers[i+1]
		}
		return from, to
	}
	// keyLine finds the line of rel inside table i, falling back to its
	// first component, then to the table header.
	keyLine := func(i int, rel []string) int {
		from, to := span(i)
		for _, part := range [][]string{rel, rel[:1]} {
			if l := firstLine(occs, append(append([]string{}, tablePath...), part...), from, to); l > 0 {
				return l
			}
		}
		return from
	}

	tables := make([]Table[T], len(prims))
	var errs []error
	for i, prim := range prims {
		from, _ := span(i)
		tables[i] = Table[T]{Value: newValue(), Line: from, Index: i + 1}
		if err := md.PrimitiveDecode(prim, tables[i].Value); err != nil {
			key, reason := splitDecodeError(err)
			rel := strings.TrimPrefix(key, strings.Join(tablePath, ".")+".")
			line := from
			if key != "" && rel != key {
				line = keyLine(i, strings.Split(rel, "."))
				reason = fmt.Sprintf("key %q: %s", rel, reason)
			}
			errs = append(errs, fmt.Errorf("%s: [[inputs.%s]] #%d: %s", location(name, line), input, i+1, reason))
		}
	}
	errs = append(errs, unknownKeys(name, input, &md, reflect.TypeOf(tables[0].Value), keyLine)...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return tables, nil
}

// parseErrorLine is the line of a TOML syntax error, counted from its byte
// offset: at the end of a file without a final newline BurntSushi's line is
// one short (0 on a one-line file; found by FuzzParse).
func parseErrorLine(pe toml.ParseError, data []byte) int {
	if s := pe.Position.Start; s >= 0 && s <= len(data) {
		return 1 + bytes.Count(data[:s], []byte("\n"))
	}
	return pe.Position.Line
}

// syntaxMessage is a TOML syntax error as the key it is at and the kind of
// mistake, without BurntSushi's excerpt of the file (R7).
// The key is the one assigned on the error's line when there is one (after
// a value, BurntSushi no longer knows it), else BurntSushi's last key.
func syntaxMessage(pe toml.ParseError, input string, lineKey []string) string {
	kind := syntaxKind(pe.Message)
	full := pe.LastKey
	if lineKey != nil {
		full = strings.Join(lineKey, ".")
	}
	key := strings.TrimPrefix(full, "inputs."+input+".")
	if key == "" || key == full && strings.HasPrefix(key, "inputs.") {
		return kind
	}
	return fmt.Sprintf("key %q: %s", key, kind)
}

// checkTopLevel rejects anything but [[inputs.<input>]]: other top-level keys
// or tables, and other plugins, which belong in telegraf.conf.
func checkTopLevel(name, input string, md *toml.MetaData, occs []occurrence, decErr error) error {
	var errs []error
	seen := map[string]bool{}
	for _, k := range md.Keys() {
		switch {
		case k[0] != "inputs":
			if seen[k[0]] {
				continue
			}
			seen[k[0]] = true
			line := firstLine(occs, k[:1], 0, 0)
			errs = append(errs, fmt.Errorf("%s: unknown key %q: this file holds only [[inputs.%s]] tables (telegraf settings belong in telegraf.conf)",
				location(name, line), k[0], input))
		case len(k) >= 2 && k[1] != input:
			if seen["inputs."+k[1]] {
				continue
			}
			seen["inputs."+k[1]] = true
			line := firstLine(occs, k[:2], 0, 0)
			errs = append(errs, fmt.Errorf("%s: [[inputs.%s]]: this file is only for telegraf-%s; [[inputs.%s]] belongs in telegraf.conf",
				location(name, line), k[1], input, k[1]))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if decErr == nil {
		return nil
	}
	// The remaining decode errors come from the shape of the inputs table.
	if md.Type("inputs", input) == "Hash" {
		line := firstLine(occs, []string{"inputs", input}, 0, 0)
		return fmt.Errorf("%s: [inputs.%s] must be written [[inputs.%s]] (double brackets, one table per gateway)",
			location(name, line), input, input)
	}
	key, reason := splitDecodeError(decErr)
	line := 0
	if key != "" {
		line = firstLine(occs, strings.Split(key, "."), 0, 0)
		reason = fmt.Sprintf("key %q: %s", key, reason)
	}
	return fmt.Errorf("%s: %s", location(name, line), reason)
}

// unknownKeys reports every key of the input tables that nothing decoded and
// that matches no field of t, one error per key and table, in file order.
func unknownKeys(name, input string, md *toml.MetaData, t reflect.Type, keyLine func(int, []string) int) []error {
	undecoded := map[string]bool{}
	for _, k := range md.Undecoded() {
		undecoded[k.String()] = true
	}
	var errs []error
	table := -1
	seen := map[string]bool{}
	for _, k := range md.Keys() {
		if len(k) < 2 || k[0] != "inputs" || k[1] != input {
			continue
		}
		if len(k) == 2 {
			// MetaData.Keys lists each [[inputs.x]] header in order, which
			// tells the tables apart although all share one key string.
			table++
			continue
		}
		if !undecoded[k.String()] || table < 0 {
			continue
		}
		// Undecoded also holds known keys of a table whose decoding stopped
		// at a type error; the field lookup filters those out.
		rel := []string(k[2:])
		bad, known := unknownPrefix(t, rel)
		if bad < 0 {
			continue
		}
		key := strings.Join(rel[:bad+1], ".")
		id := strconv.Itoa(table) + "\x00" + key
		if seen[id] {
			continue
		}
		seen[id] = true
		msg := fmt.Sprintf("%s: [[inputs.%s]] #%d: unknown key %q", location(name, keyLine(table, rel[:bad+1])), input, table+1, key)
		if s := suggest(rel[bad], known); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", strings.Join(append(append([]string{}, rel[:bad]...), s), "."))
		} else if bad == 0 && isTelegrafOption(rel[0]) {
			msg += " (telegraf's per-plugin options do nothing here: set them on [[inputs.execd]] in telegraf.conf)"
		}
		errs = append(errs, errors.New(msg))
	}
	return errs
}

// decodeErrRe matches BurntSushi's non-ParseError decode errors:
// `toml: line 3 (last key "inputs.x.timeout"): incompatible types: ...`.
var decodeErrRe = regexp.MustCompile(`(?s)^toml: (?:line \d+ )?\(last key ("(?:[^"\\]|\\.)*")\): (.*)$`)

// incompatibleRe matches BurntSushi's type mismatch message.
var incompatibleRe = regexp.MustCompile(`^incompatible types: TOML value has type (.+); destination has type (.+)$`)

// splitDecodeError extracts the full key path and a short reason from a
// decode error. BurntSushi's line numbers are not used: with several tables
// they point at the last occurrence of the key, not the failing one.
func splitDecodeError(err error) (key, reason string) {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		key, reason = pe.LastKey, pe.Message
	} else if m := decodeErrRe.FindStringSubmatch(err.Error()); m != nil {
		key, reason = m[1], m[2]
		if k, uerr := strconv.Unquote(key); uerr == nil {
			key = k
		}
	} else {
		reason = strings.TrimPrefix(err.Error(), "toml: ")
	}
	if m := incompatibleRe.FindStringSubmatch(reason); m != nil {
		return key, fmt.Sprintf("expected %s, got %s", tomlTypeName(m[2]), tomlTypeName(m[1]))
	}
	// Anything else may quote the value (time: invalid duration "..."),
	// which can be a secret (R7).
	return key, valueFree(strings.TrimPrefix(reason, "time: "))
}

// tomlTypeName turns BurntSushi's Go type names into TOML words.
func tomlTypeName(s string) string {
	switch s {
	case "int64", "integer":
		return "an integer"
	case "float64", "float":
		return "a float"
	case "string":
		return "a string"
	case "bool", "boolean":
		return "a boolean"
	case "map[string]any", "map":
		return "a table"
	case "[]map[string]any":
		return "an array of tables"
	case "[]any", "slice":
		return "an array"
	case "time.Time", "toml.LocalDate", "toml.LocalTime", "toml.LocalDatetime":
		return "a date/time"
	case "primitive (string-like)":
		return "a string or number"
	}
	return s
}

// isTelegrafOption reports whether key is one of telegraf's per-plugin
// options, which the shim never applies (they act on [[inputs.execd]]).
func isTelegrafOption(key string) bool {
	switch key {
	case "interval", "precision", "collection_jitter", "collection_offset", "alias", "log_level",
		"name_override", "name_prefix", "name_suffix", "tags",
		"namepass", "namedrop", "fieldpass", "fielddrop", "fieldinclude", "fieldexclude",
		"tagpass", "tagdrop", "taginclude", "tagexclude", "metricpass", "startup_error_behavior":
		return true
	}
	return false
}
