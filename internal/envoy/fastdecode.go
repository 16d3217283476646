package envoy

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// The hot bodies (production.json and the meter readings every gather, the
// inverter list and device_data every 5 minutes) are decoded by hand in one
// pass that validates the body, counts its values against maxValues and
// fills a fresh value. Through encoding/json the same work is three passes
// (countValues, its validity scan, reflection) with an unmarshaler call per
// number: most of a gather's CPU. The result is exactly encoding/json's for
// every body: the same bodies refused, the same values, the same count.
// Every other type keeps encoding/json, which is also the reference the
// tests compare this decoder with (decodeLimit without fast:
// TestFastDecodeCaptures, TestFastDecodeCases, FuzzFastDecode).

// decodeFast decodes b into v when v is one of the types decoded by hand,
// and reports whether it was. The error is errTooManyValues when b holds more
// than maxValues values, as countValues counts them (case R4).
func decodeFast(b []byte, v any, maxValues int) (bool, error) {
	switch p := v.(type) {
	case *Production:
		return p != nil, fastInto(b, maxValues, p, (*Production).decodeFast)
	case *[]MeterReading:
		return p != nil, fastInto(b, maxValues, p, func(p *[]MeterReading, d *fastDec) { fastList(d, p, "", (*MeterReading).decodeFast) })
	case *[]Inverter:
		return p != nil, fastInto(b, maxValues, p, func(p *[]Inverter, d *fastDec) { fastList(d, p, "", (*Inverter).decodeFast) })
	case *DeviceData:
		return p != nil, fastInto(b, maxValues, p, (*DeviceData).decodeFast)
	}
	return false, nil
}

// errTooManyValues is a body of more values than allowed (case R4).
var errTooManyValues = errors.New("too many JSON values")

// fastInto decodes b into a fresh T and sets *p only when the whole body is
// read without error (T4: never half-filled values). The errors come in
// encoding/json's order: too many values, a NUL byte, a syntax error
// anywhere, then a value of the wrong type.
func fastInto[T any](b []byte, maxValues int, p *T, decode func(*T, *fastDec)) error {
	if p == nil {
		return nil // not handled: encoding/json reports the misuse
	}
	d := fastDec{b: b, max: maxValues}
	var out T
	decode(&out, &d)
	if d.err == nil {
		if d.ws(); d.i < len(d.b) {
			d.syntax("the end of the body after the top-level value")
		}
	}
	if d.err != nil {
		if d.err == errTooManyValues {
			return d.err
		}
		// Where the pass stopped short, the values it did not reach count
		// too, as countValues counts them before anything is parsed.
		if countValues(b, maxValues) > maxValues {
			return errTooManyValues
		}
		if at := bytes.IndexByte(b, 0); at >= 0 {
			return fmt.Errorf("a NUL byte at byte %d (no JSON holds one)", at)
		}
		return d.err
	}
	if d.typeErr != nil {
		return d.typeErr
	}
	*p = out
	return nil
}

// maxDepth is encoding/json's bound on nesting.
const maxDepth = 10000

// fastDec is the state of one pass over a body. After the first syntax
// error (err) every read ends at once; a value of the wrong type (typeErr)
// is skipped and the pass goes on, as in encoding/json, whose error is the
// first one once the whole body is known to be valid.
type fastDec struct {
	b       []byte
	i       int // next byte
	n, max  int // values counted as countValues counts them: { [ and ,
	depth   int
	err     error
	typeErr error
	buf     []byte // unescaped keys and strings, reused
	fold    []byte // a folded key, reused
}

func (d *fastDec) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// peek skips whitespace and returns the next byte, 0 at the end or after an error.
func (d *fastDec) peek() byte {
	d.ws()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

// syntax records a syntax error at the current byte; want says what a valid
// body holds there.
func (d *fastDec) syntax(want string) {
	if d.err != nil {
		return
	}
	if d.i >= len(d.b) {
		d.err = fmt.Errorf("the body ends (at byte %d) where it should hold %s", len(d.b), want)
	} else {
		line := 1 + bytes.Count(d.b[:d.i], []byte{'\n'})
		d.err = fmt.Errorf("%s at byte %d (line %d) where it should hold %s", describeByte(d.b[d.i]), d.i, line, want)
	}
	d.i = len(d.b)
}

func describeByte(c byte) string {
	if c >= ' ' && c < utf8.RuneSelf {
		return "invalid character " + strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf("invalid byte 0x%02x", c)
}

// mismatch records a value of the wrong type for a field (encoding/json's
// UnmarshalTypeError) and skips it.
func (d *fastDec) mismatch(field, want string) {
	if d.typeErr == nil {
		kind := "a number"
		switch d.peek() {
		case '"':
			kind = "a string"
		case '{':
			kind = "an object"
		case '[':
			kind = "a list"
		case 't', 'f':
			kind = "true or false"
		}
		where := "the body"
		if field != "" {
			where = strconv.Quote(field)
		}
		d.typeErr = fmt.Errorf("%s at byte %d where %s should hold %s", kind, d.i, where, want)
	}
	d.skip()
}

// count counts one value, and ends the pass past the bound.
func (d *fastDec) count() {
	if d.n++; d.n > d.max && d.err == nil {
		d.err = errTooManyValues
		d.i = len(d.b)
	}
}

// open consumes the { or [ at d.i.
func (d *fastDec) open() {
	d.i++
	d.count()
	if d.depth++; d.depth > maxDepth && d.err == nil {
		d.err = fmt.Errorf("more than %d nested objects and lists, at byte %d", maxDepth, d.i-1)
		d.i = len(d.b)
	}
}

// member reads the next key of the object opened last and the colon after
// it; false at the closing brace (consumed) or an error. first is true
// before the first member.
func (d *fastDec) member(first *bool) ([]byte, bool) {
	c := d.peek()
	switch {
	case c == '}':
		d.i++
		d.depth--
		return nil, false
	case !*first && c == ',':
		d.i++
		d.count()
		c = d.peek()
	case !*first:
		d.syntax("',' or '}' after an object member")
		return nil, false
	}
	*first = false
	if c != '"' {
		d.syntax("a string key")
		return nil, false
	}
	key := d.str()
	if d.peek() != ':' {
		d.syntax("':' after an object key")
		return nil, false
	}
	d.i++
	return key, d.err == nil
}

// elem reports whether another element of the list opened last follows;
// false at the closing bracket (consumed) or an error.
func (d *fastDec) elem(first *bool) bool {
	c := d.peek()
	switch {
	case c == ']':
		d.i++
		d.depth--
		return false
	case !*first && c == ',':
		d.i++
		d.count()
	case !*first:
		d.syntax("',' or ']' after a list element")
		return false
	}
	*first = false
	return d.err == nil
}

// skip validates and counts any value.
func (d *fastDec) skip() {
	switch c := d.peek(); {
	case c == '{':
		d.open()
		for first := true; ; {
			if _, ok := d.member(&first); !ok {
				return
			}
			d.skip()
		}
	case c == '[':
		d.open()
		for first := true; d.elem(&first); {
			d.skip()
		}
	case c == '"':
		d.str()
	case c == '-' || c >= '0' && c <= '9':
		d.number()
	case c == 't':
		d.literal("true")
	case c == 'f':
		d.literal("false")
	case c == 'n':
		d.literal("null")
	default:
		d.syntax("a value")
	}
}

func (d *fastDec) literal(s string) {
	if !bytes.HasPrefix(d.b[d.i:], []byte(s)) {
		// Point at the first wrong byte.
		for j := 0; d.i < len(d.b) && d.b[d.i] == s[j]; j++ {
			d.i++
		}
		d.syntax(strconv.Quote(s))
		return
	}
	d.i += len(s)
}

// number reads a number, -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?,
// and returns its bytes (nil on error).
func (d *fastDec) number() []byte {
	b, start := d.b, d.i
	digits := func(what string) bool {
		if d.i >= len(b) || b[d.i] < '0' || b[d.i] > '9' {
			d.syntax(what)
			return false
		}
		for d.i < len(b) && b[d.i] >= '0' && b[d.i] <= '9' {
			d.i++
		}
		return true
	}
	if b[d.i] == '-' {
		d.i++
	}
	if d.i < len(b) && b[d.i] == '0' {
		d.i++
	} else if !digits("a digit") {
		return nil
	}
	if d.i < len(b) && b[d.i] == '.' {
		d.i++
		if !digits("a digit after the decimal point") {
			return nil
		}
	}
	if d.i < len(b) && (b[d.i] == 'e' || b[d.i] == 'E') {
		d.i++
		if d.i < len(b) && (b[d.i] == '+' || b[d.i] == '-') {
			d.i++
		}
		if !digits("a digit in the exponent") {
			return nil
		}
	}
	return b[start:d.i]
}

// str reads a string and returns it unescaped as encoding/json does (invalid
// UTF-8 and lone surrogates become U+FFFD). The bytes are the body's or
// d.buf's: valid until the next call.
func (d *fastDec) str() []byte {
	b := d.b
	d.i++ // the opening quote
	start := d.i
	plain := true // no escape, no invalid UTF-8: the body's own bytes
	for {
		for d.i < len(b) && plainByte[b[d.i]] {
			d.i++
		}
		if d.i >= len(b) {
			d.syntax("the closing quote of a string")
			return nil
		}
		c := b[d.i]
		switch {
		case c == '"':
			s := b[start:d.i]
			d.i++
			if plain {
				return s
			}
			return d.unescape(s)
		case c < ' ':
			d.syntax("no control character inside a string (escape it)")
			return nil
		case c == '\\':
			plain = false
			d.i++
			if d.i >= len(b) {
				d.syntax("an escape")
				return nil
			}
			switch b[d.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				d.i++
			case 'u':
				d.i++
				for range 4 {
					if d.i >= len(b) || unhex(b[d.i]) < 0 {
						d.syntax("four hexadecimal digits after \\u")
						return nil
					}
					d.i++
				}
			default:
				d.syntax(`an escape (\" \\ \/ \b \f \n \r \t or \uXXXX)`)
				return nil
			}
		case c < utf8.RuneSelf:
			d.i++
		default:
			r, size := utf8.DecodeRune(b[d.i:])
			if r == utf8.RuneError && size == 1 {
				plain = false
			}
			d.i += size
		}
	}
}

// plainByte marks the bytes a string holds as they are: printable ASCII
// but the quote and the backslash.
var plainByte = func() (t [256]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func unhex(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

// u4 reads \uXXXX at s, -1 if s does not start with one.
func u4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		r = r<<4 | unhex(c)
	}
	return r
}

// unescape decodes the inside of a valid string with escapes or invalid UTF-8.
func (d *fastDec) unescape(s []byte) []byte {
	out := d.buf[:0]
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			switch s[i+1] {
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r := u4(s[i:])
				i += 6
				if utf16.IsSurrogate(r) {
					if pair := utf16.DecodeRune(r, u4(s[i:])); pair != unicode.ReplacementChar {
						r = pair
						i += 6
					} else {
						r = unicode.ReplacementChar
					}
				}
				out = utf8.AppendRune(out, r)
				continue
			default: // " \ /
				out = append(out, s[i+1])
			}
			i += 2
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			out = utf8.AppendRune(out, r)
			i += size
		}
	}
	d.buf = out
	return out
}

// num reads any value as a Num: a number, or absent (Num.UnmarshalJSON).
func (d *fastDec) num() Num {
	if c := d.peek(); c == '-' || c >= '0' && c <= '9' {
		return parseNum(d.number())
	}
	d.skip()
	return Num{}
}

// parseNum reads a valid JSON number as Num.UnmarshalJSON does.
func parseNum(tok []byte) Num {
	if len(tok) == 0 {
		return Num{}
	}
	// Up to 15 digits without an exponent, m/10^k with m and 10^k exact in a
	// float64 is the correctly rounded value, which ParseFloat computes the
	// same way (its exact path): the common case, read without it.
	neg := tok[0] == '-'
	digits := tok
	if neg {
		digits = tok[1:]
	}
	if len(digits) <= 16 {
		var m int64
		n, frac := 0, -1 // digits, and digits after the point (-1: no point)
		for _, c := range digits {
			switch {
			case c >= '0' && c <= '9':
				m = m*10 + int64(c-'0')
				n++
				if frac >= 0 {
					frac++
				}
			case c == '.':
				frac = 0
			default:
				goto float // an exponent
			}
		}
		if n <= 15 {
			f := float64(m)
			if neg {
				f = -f // -0 stays negative zero, as ParseFloat makes it
			}
			if frac > 0 {
				f /= pow10[frac]
			}
			return Num{V: f, Valid: true}
		}
	}
float:
	v, err := strconv.ParseFloat(string(tok), 64)
	if err != nil {
		return Num{} // beyond float64's range: absent
	}
	return Num{V: v, Valid: true}
}

var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

func (d *fastDec) epoch() Epoch { return d.num().epoch() }

// text reads a string field: a string, or null (no change).
func (d *fastDec) text(dst *string, field string) {
	switch d.peek() {
	case '"':
		if s := d.str(); d.err == nil {
			*dst = string(s)
		}
	case 'n':
		d.literal("null")
	default:
		d.mismatch(field, "a string")
	}
}

// int reads an int64 field: an integer, or null (no change).
func (d *fastDec) int(dst *int64, field string) {
	switch c := d.peek(); {
	case c == '-' || c >= '0' && c <= '9':
		at := d.i
		tok := d.number()
		if d.err != nil {
			return
		}
		v, err := strconv.ParseInt(string(tok), 10, 64)
		if err != nil {
			if d.typeErr == nil {
				d.typeErr = fmt.Errorf("the number %s at byte %d where %q should hold an integer", Quote(string(tok)), at, field)
			}
			return
		}
		*dst = v
	case c == 'n':
		d.literal("null")
	default:
		d.mismatch(field, "an integer")
	}
}

// object opens an object for a struct: false, after reading the value, for
// null (no change) or a value of another type (an error).
func (d *fastDec) object(field string) bool {
	switch d.peek() {
	case '{':
		d.open()
		return d.err == nil
	case 'n':
		d.literal("null")
	default:
		d.mismatch(field, "an object")
	}
	return false
}

// fastList reads a list into *s as encoding/json does: null sets it nil, []
// to empty; elements are decoded over those already there (a repeated key).
func fastList[T any](d *fastDec, s *[]T, field string, decode func(*T, *fastDec)) {
	switch d.peek() {
	case '[':
	case 'n':
		d.literal("null")
		*s = nil
		return
	default:
		d.mismatch(field, "a list")
		return
	}
	d.open()
	i := 0
	for first := true; d.elem(&first); i++ {
		if i >= cap(*s) {
			// Room for four at first: the lists of a steady gather (phases,
			// meters, production entries) hold two to four, and growing
			// one at a time allocated each three times.
			*s = slices.Grow(*s, max(1, 4-i))
		}
		if i >= len(*s) {
			*s = (*s)[:i+1]
		}
		decode(&(*s)[i], d)
	}
	*s = (*s)[:min(i, len(*s))]
	if i == 0 {
		*s = []T{}
	}
}

// fields iterates over an object's members, for a struct whose field
// switch is set: a key that set does not know exactly is matched as
// encoding/json matches it (case-insensitively, by foldKey), else skipped.
func (d *fastDec) fields(folded map[string]string, set func(key []byte) bool) {
	for first := true; ; {
		key, ok := d.member(&first)
		if !ok {
			return
		}
		if set(key) {
			continue
		}
		// A name set does not take (a tagged field missing from its switch)
		// is skipped like an unknown key: the value stays valid JSON, and
		// TestFastDecodeCaptures then reports the field, not a syntax error.
		if name, ok := folded[string(d.foldKey(key))]; ok && set([]byte(name)) {
			continue
		}
		d.skip()
	}
}

// foldKey is encoding/json's foldName: ASCII letters upper-cased, other
// runes the smallest of their fold set.
func (d *fastDec) foldKey(key []byte) []byte {
	out := d.fold[:0]
	for i := 0; i < len(key); {
		if c := key[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(key[i:])
		out = utf8.AppendRune(out, foldRune(r))
		i += n
	}
	d.fold = out
	return out
}

func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}

// foldedNames maps the folded JSON name of each field of a struct
// (embedded ones included) to the name, read from the json tags, so the
// fold tables cannot drift from the types.
func foldedNames(v any) map[string]string {
	m := map[string]string{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for f := range t.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if f.Anonymous && name == "" {
				walk(f.Type)
				continue
			}
			if name != "" && name != "-" {
				m[string(new(fastDec).foldKey([]byte(name)))] = name
			}
		}
	}
	walk(reflect.TypeOf(v))
	return m
}

var (
	productionNames   = foldedNames(Production{})
	readingNames      = foldedNames(Reading{})
	storageNames      = foldedNames(Storage{})
	valuesNames       = foldedNames(Values{})
	meterReadingNames = foldedNames(MeterReading{})
	meterValuesNames  = foldedNames(MeterValues{})
	inverterNames     = foldedNames(Inverter{})
	deviceNames       = foldedNames(Device{})
	channelNames      = foldedNames(Channel{})
	wattHoursNames    = foldedNames(WattHours{})
	wattsNames        = foldedNames(Watts{})
	lastReadingNames  = foldedNames(LastReading{})
	lifetimeNames     = foldedNames(Lifetime{})
)

func (p *Production) decodeFast(d *fastDec) {
	if !d.object("") {
		return
	}
	d.fields(productionNames, func(key []byte) bool {
		switch string(key) {
		case "production":
			fastList(d, &p.Production, "production", (*Reading).decodeFast)
		case "consumption":
			fastList(d, &p.Consumption, "consumption", (*Reading).decodeFast)
		case "storage":
			fastList(d, &p.Storage, "storage", (*Storage).decodeFast)
		default:
			return false
		}
		return true
	})
}

func (r *Reading) decodeFast(d *fastDec) {
	if !d.object("production") {
		return
	}
	d.fields(readingNames, func(key []byte) bool {
		switch string(key) {
		case "type":
			d.text(&r.Type, "type")
		case "activeCount":
			r.ActiveCount = d.num()
		case "measurementType":
			d.text(&r.MeasurementType, "measurementType")
		case "readingTime":
			r.ReadingTime = d.epoch()
		case "lines":
			fastList(d, &r.Lines, "lines", (*Values).decodeFast)
		default:
			return r.Values.set(d, key)
		}
		return true
	})
}

func (v *Values) decodeFast(d *fastDec) {
	if d.object("lines") {
		d.fields(valuesNames, func(key []byte) bool { return v.set(d, key) })
	}
}

func (v *Values) set(d *fastDec, key []byte) bool {
	switch string(key) {
	case "wNow":
		v.WNow = d.num()
	case "whLifetime":
		v.WhLifetime = d.num()
	case "whToday":
		v.WhToday = d.num()
	case "whLastSevenDays":
		v.WhLastSevenDays = d.num()
	case "varhLeadLifetime":
		v.VarhLeadLifetime = d.num()
	case "varhLagLifetime":
		v.VarhLagLifetime = d.num()
	case "vahLifetime":
		v.VahLifetime = d.num()
	case "rmsCurrent":
		v.RmsCurrent = d.num()
	case "rmsVoltage":
		v.RmsVoltage = d.num()
	case "reactPwr":
		v.ReactPwr = d.num()
	case "apprntPwr":
		v.ApprntPwr = d.num()
	case "pwrFactor":
		v.PwrFactor = d.num()
	default:
		return false
	}
	return true
}

func (s *Storage) decodeFast(d *fastDec) {
	if !d.object("storage") {
		return
	}
	d.fields(storageNames, func(key []byte) bool {
		switch string(key) {
		case "type":
			d.text(&s.Type, "type")
		case "activeCount":
			s.ActiveCount = d.num()
		case "readingTime":
			s.ReadingTime = d.epoch()
		case "wNow":
			s.WNow = d.num()
		case "whNow":
			s.WhNow = d.num()
		case "state":
			d.text(&s.State, "state")
		case "percentFull":
			s.PercentFull = d.num()
		default:
			return false
		}
		return true
	})
}

func (m *MeterReading) decodeFast(d *fastDec) {
	if !d.object("meter reading") {
		return
	}
	d.fields(meterReadingNames, func(key []byte) bool {
		switch string(key) {
		case "eid":
			d.int(&m.EID, "eid")
		case "timestamp":
			m.Timestamp = d.epoch()
		case "channels":
			fastList(d, &m.Channels, "channels", (*MeterValues).decodeFast)
		default:
			return m.MeterValues.set(d, key)
		}
		return true
	})
}

func (v *MeterValues) decodeFast(d *fastDec) {
	if d.object("channels") {
		d.fields(meterValuesNames, func(key []byte) bool { return v.set(d, key) })
	}
}

func (v *MeterValues) set(d *fastDec, key []byte) bool {
	switch string(key) {
	case "actEnergyDlvd":
		v.ActEnergyDlvd = d.num()
	case "actEnergyRcvd":
		v.ActEnergyRcvd = d.num()
	case "apparentEnergy":
		v.ApparentEnergy = d.num()
	case "reactEnergyLagg":
		v.ReactEnergyLagg = d.num()
	case "reactEnergyLead":
		v.ReactEnergyLead = d.num()
	case "activePower":
		v.ActivePower = d.num()
	case "apparentPower":
		v.ApparentPower = d.num()
	case "reactivePower":
		v.ReactivePower = d.num()
	case "pwrFactor":
		v.PwrFactor = d.num()
	case "voltage":
		v.Voltage = d.num()
	case "current":
		v.Current = d.num()
	case "freq":
		v.Freq = d.num()
	default:
		return false
	}
	return true
}

func (v *Inverter) decodeFast(d *fastDec) {
	if !d.object("inverter") {
		return
	}
	d.fields(inverterNames, func(key []byte) bool {
		switch string(key) {
		case "serialNumber":
			d.text(&v.SerialNumber, "serialNumber")
		case "lastReportDate":
			v.LastReportDate = d.epoch()
		case "devType":
			v.DevType = d.num()
		case "lastReportWatts":
			v.LastReportWatts = d.num()
		case "maxReportWatts":
			v.MaxReportWatts = d.num()
		default:
			return false
		}
		return true
	})
}

// bool reads a bool field: true, false, or null (no change).
func (d *fastDec) bool(dst *bool, field string) {
	switch d.peek() {
	case 't':
		d.literal("true")
		*dst = true
	case 'f':
		d.literal("false")
		*dst = false
	case 'n':
		d.literal("null")
	default:
		d.mismatch(field, "true or false")
	}
}

// decodeFast reads device_data as DeviceData.UnmarshalJSON does: the last of
// a repeated key wins, entries that are not objects are left out, and so is
// a device with a value of the wrong type (only that device: typeErr is
// its own while it is read); devices are sorted by id.
func (dd *DeviceData) decodeFast(d *fastDec) {
	if d.peek() != '{' {
		if d.typeErr == nil {
			d.typeErr = errors.New("device_data is not a JSON object")
		}
		d.skip()
		return
	}
	type entry struct {
		dev Device
		ok  bool // an object, read without error
	}
	var out DeviceData
	var entries []entry
	d.open()
	for first := true; ; {
		key, ok := d.member(&first)
		if !ok {
			break
		}
		switch string(key) {
		case "deviceCount":
			out.DeviceCount = d.num()
		case "deviceDataLimit":
			out.DeviceDataLimit = d.num()
		default:
			e := entry{dev: Device{ID: string(key)}}
			if d.peek() == '{' {
				outer := d.typeErr
				d.typeErr = nil
				e.dev.decodeFast(d)
				e.ok = d.typeErr == nil
				d.typeErr = outer
			} else {
				d.skip()
			}
			entries = append(entries, e)
		}
	}
	// Sorted by id, the body's order kept among equal ids: the last wins.
	slices.SortStableFunc(entries, func(a, b entry) int { return strings.Compare(a.dev.ID, b.dev.ID) })
	for i, e := range entries {
		if e.ok && (i+1 == len(entries) || entries[i+1].dev.ID != e.dev.ID) {
			out.Devices = append(out.Devices, e.dev)
		}
	}
	*dd = out
}

func (v *Device) decodeFast(d *fastDec) {
	d.open()
	d.fields(deviceNames, func(key []byte) bool {
		switch string(key) {
		case "devName":
			d.text(&v.DevName, "devName")
		case "sn":
			d.text(&v.SN, "sn")
		case "active":
			d.bool(&v.Active, "active")
		case "modGone":
			d.bool(&v.ModGone, "modGone")
		case "channels":
			fastList(d, &v.Channels, "channels", (*Channel).decodeFast)
		default:
			return false
		}
		return true
	})
}

func (c *Channel) decodeFast(d *fastDec) {
	if !d.object("channels") {
		return
	}
	d.fields(channelNames, func(key []byte) bool {
		switch string(key) {
		case "chanEid":
			c.ChanEID = d.num()
		case "created":
			c.Created = d.epoch()
		case "wattHours":
			c.WattHours = WattHours{}
			d.numObject(wattHoursNames, func(key []byte) bool {
				switch string(key) {
				case "today":
					c.WattHours.Today = d.num()
				case "yesterday":
					c.WattHours.Yesterday = d.num()
				case "week":
					c.WattHours.Week = d.num()
				default:
					return false
				}
				return true
			})
		case "watts":
			c.Watts = Watts{}
			d.numObject(wattsNames, func(key []byte) bool {
				switch string(key) {
				case "now":
					c.Watts.Now = d.num()
				case "nowUsed":
					c.Watts.NowUsed = d.num()
				case "max":
					c.Watts.Max = d.num()
				default:
					return false
				}
				return true
			})
		case "lastReading":
			c.LastReading = LastReading{}
			d.numObject(lastReadingNames, c.LastReading.set(d))
		case "lifetime":
			c.Lifetime = Lifetime{}
			d.numObject(lifetimeNames, func(key []byte) bool {
				switch string(key) {
				case "createdTime":
					c.Lifetime.CreatedTime = d.epoch()
				case "duration":
					c.Lifetime.Duration = d.num()
				case "joulesProduced":
					c.Lifetime.JoulesProduced = d.num()
				case "joulesUsed":
					c.Lifetime.JoulesUsed = d.num()
				default:
					return false
				}
				return true
			})
		default:
			return false
		}
		return true
	})
}

// numObject reads an object of numbers (WattHours, Watts, LastReading,
// Lifetime, whose UnmarshalJSON read an object and take anything else as
// empty); the caller has zeroed it.
func (d *fastDec) numObject(folded map[string]string, set func(key []byte) bool) {
	if d.peek() != '{' {
		d.skip()
		return
	}
	d.open()
	d.fields(folded, set)
}

func (r *LastReading) set(d *fastDec) func(key []byte) bool {
	return func(key []byte) bool {
		switch string(key) {
		case "eid":
			r.EID = d.num()
		case "interval_type":
			r.IntervalType = d.num()
		case "endDate":
			r.EndDate = d.epoch()
		case "duration":
			r.Duration = d.num()
		case "flags":
			r.Flags = d.num()
		case "joulesProduced":
			r.JoulesProduced = d.num()
		case "joulesUsed":
			r.JoulesUsed = d.num()
		case "acVoltageINmV":
			r.ACVoltageINmV = d.num()
		case "acFrequencyINmHz":
			r.ACFrequencyINmHz = d.num()
		case "dcVoltageINmV":
			r.DCVoltageINmV = d.num()
		case "dcCurrentINmA":
			r.DCCurrentINmA = d.num()
		case "acCurrentInmA":
			r.ACCurrentInmA = d.num()
		case "channelTemp":
			r.ChannelTemp = d.num()
		case "pwrConvErrSecs":
			r.PwrConvErrSecs = d.num()
		case "pwrConvMaxErrCycles":
			r.PwrConvMaxErrCycles = d.num()
		case "leadingVArs":
			r.LeadingVArs = d.num()
		case "laggingVArs":
			r.LaggingVArs = d.num()
		case "rssi":
			r.RSSI = d.num()
		case "issi":
			r.ISSI = d.num()
		case "SOH":
			r.SOH = d.num()
		case "minCellTemp":
			r.MinCellTemp = d.num()
		default:
			return false
		}
		return true
	}
}

// epoch is the Epoch a Num reads as: zero past the year 9999.
func (n Num) epoch() Epoch {
	if n.Valid && math.Abs(n.V) < maxEpoch {
		return Epoch(n.V)
	}
	return 0
}
