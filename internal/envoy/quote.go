package envoy

import (
	"strconv"
	"unicode/utf8"
)

// MaxQuoted is how much of a gateway-supplied string an error quotes.
const MaxQuoted = 200

// Quote is the one way an error or log line quotes text the gateway (or
// anything at its address) supplied: a firmware string, a number, an XML name,
// a redirect target, an error message. It is cut to MaxQuoted bytes at a rune
// boundary and Go-quoted, so that neither its length nor a newline in it can
// shape a log line (case R3).
func Quote(s string) string {
	if len(s) <= MaxQuoted {
		return strconv.Quote(s)
	}
	keep := MaxQuoted
	for keep > 0 && !utf8.RuneStart(s[keep]) {
		keep--
	}
	return strconv.Quote(s[:keep]) + "... (" + strconv.Itoa(len(s)) + " bytes)"
}
