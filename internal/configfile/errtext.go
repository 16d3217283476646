package configfile

import (
	"regexp"
	"strings"
)

// backslashHint ends the messages about escapes in double-quoted strings.
const backslashHint = " (in double quotes write \\\\ for a backslash, or use single quotes)"

// syntaxKinds says what kind of mistake a BurntSushi syntax error is, in
// words that hold no text of the file: BurntSushi quotes the token it choked
// on, and inside a string that token is most of the value (a password with a
// "\u" in it came out as `but got "Winter2024\\us"`), which Telegraf then
// logs at every restart (R7). The first entry whose prefix matches wins.
var syntaxKinds = []struct{ prefix, kind string }{
	{`expected two hexadecimal digits after '\x'`, `a \x escape needs two hexadecimal digits` + backslashHint},
	{`expected four hexadecimal digits after '\u'`, `a \u escape needs four hexadecimal digits` + backslashHint},
	{`expected eight hexadecimal digits after '\U'`, `a \U escape needs eight hexadecimal digits` + backslashHint},
	{`invalid escape in string`, `invalid escape sequence in a double-quoted string (write \\ for a backslash, or use single quotes)`},
	{`Escaped character`, `a \u or \U escape that is no Unicode character`},
	{`strings cannot contain newlines`, `a string not closed on its line (close the quote, or use """ or ''' for text over several lines)`},
	{`unexpected EOF; expected '"""'`, `a """ string is never closed`},
	{`unexpected EOF; expected "'''"`, `a ''' string is never closed`},
	{`unexpected EOF; expected '"'`, `a string is never closed`},
	{`unexpected EOF; expected "'"`, `a string is never closed`},
	{`unexpected '""""""'`, `too many quotes after a """ string`},
	{`unexpected "''''''"`, `too many quotes after a ''' string`},
	{`TOML files cannot contain control characters`,
		`a control character, which TOML does not allow (in double quotes write it as an escape such as \t or \u0001)`},
	{`invalid UTF-8 byte`, `bytes that are not UTF-8 (save the file as UTF-8)`},
	{`files cannot contain NULL bytes`, `a NUL byte (save the file as UTF-8, not UTF-16)`},
	{`newlines not allowed within inline tables`, `a line break inside an inline table { ... } (keep it on one line, or use a [table])`},
	{`invalid datetime`, `an invalid date/time`},
	{`invalid float`, `an invalid number`},
	{`not a binary number`, `an invalid number`},
	{`not an octal number`, `an invalid number`},
	{`not a hexadecimal number`, `an invalid number`},
	{`cannot use sign with non-decimal numbers`, `an invalid number`},
	{`expected a digit but got`, `an invalid number`},
	{`floats must start with a digit`, `an invalid number (a float must start with a digit)`},
	{`unexpected EOF; expected value`, `a key with no value`},
	{`expected value but found`, `expected a value (a quoted string, a number, true/false, [array] or {table})`},
	{`expected a top-level item to end with a newline`, `more text after a value (one key = value per line; quote strings)`},
	{`expected a comma (',') or array terminator`, `expected ',' or ']' in an array`},
	{`expected a comma or an inline table terminator`, `expected ',' or '}' in an inline table`},
	{`unexpected comma`, `an unexpected comma`},
	{`expected end of table array name delimiter`, `expected ']]' to end the table header`},
	{`expected '.' or ']' to end table name`, `expected ']' to end the table header`},
	{`unexpected end of table name`, `an empty table name`},
	{`unexpected table separator`, `an empty table name`},
	{`unexpected '=': key name appears blank`, `a blank key before '='`},
	{`unexpected '.': keys cannot start with a '.'`, `a key starting with '.'`},
	{`unexpected EOF; expected key separator`, `a key without '=' and value`},
	{`expected '.' or '='`, `expected '=' after the key (quote strings)`},
	{`unexpected '='`, `an unexpected '='`},
	{`unexpected '.'`, `an unexpected '.'`},
	{`is out of range for`, `a number out of range`},
	{`is out of the safe`, `a number out of the safe range`},
	{`is not a table`, `a key used as a table that is not one`},
	{`was already created as a hash`, `a key defined twice (once as a table)`},
	{`cannot be used as an array`, `a table defined twice ([table] and [[table]])`},
	{`has already been defined`, `a key defined twice`},
	{`unexpected EOF`, `the file ends in the middle of an item`},
}

// syntaxKind returns the words for BurntSushi's message msg; a message it
// does not know becomes "a TOML syntax error" rather than being passed on.
func syntaxKind(msg string) string {
	for _, k := range syntaxKinds {
		if strings.HasPrefix(msg, k.prefix) || (len(k.prefix) > 12 && strings.Contains(msg, k.prefix)) {
			return k.kind
		}
	}
	return "a TOML syntax error"
}

// quotedRe matches a quoted excerpt in a decode error: "...", '...' or `...`.
var quotedRe = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'[^']*'|`[^`]*`")

// valueFree removes quoted excerpts from the reason of a decode error, such
// as the value in `invalid duration "10 seconds"`: the key and line are
// named, and the value may be a secret that belongs in no log (R7).
func valueFree(reason string) string {
	out := quotedRe.ReplaceAllString(reason, "")
	out = strings.Join(strings.Fields(out), " ")
	out = strings.TrimRight(out, " :")
	if out != reason {
		out += " (value not shown)"
	}
	return out
}
