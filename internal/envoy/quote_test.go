package envoy

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// R3: gateway text is quoted whole when short, cut when long, and never
// carries a raw newline into a log line.
func TestQuoteR3(t *testing.T) {
	tests := []struct {
		name, in string
		want     string
	}{
		{"short", "D8.2.4345", `"D8.2.4345"`},
		{"newline escaped", "a\nE! forged", `"a\nE! forged"`},
		{"long cut", strings.Repeat("9", 100_000), `"` + strings.Repeat("9", MaxQuoted) + `"... (100000 bytes)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, Quote(tt.in))
		})
	}
	got := Quote(strings.Repeat("é", 1000))
	require.True(t, utf8.ValidString(got))
	require.Less(t, len(got), MaxQuoted+40)
}
