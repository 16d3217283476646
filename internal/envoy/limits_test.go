package envoy

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCountValuesR4: the value count that bounds decoding counts objects,
// arrays and members, never brackets or commas inside strings.
func TestCountValuesR4(t *testing.T) {
	tests := []struct {
		body string
		want int
	}{
		{`[]`, 1},
		{`[{},{},{}]`, 6},
		{`{"a":1,"b":[1,2]}`, 4},
		{`{"a":"[{,,}]"}`, 1},
		{`{"a":"\"[{,"}`, 1},
		{`{"a":"\\","b":[]}`, 3},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, countValues([]byte(tt.body), 1000), tt.body)
	}
	require.Equal(t, 11, countValues([]byte(strings.Repeat("[", 1<<20)), 10), "stops past the limit")

	r := Response{Path: PathMeters, Status: http.StatusOK, Body: []byte(`[{"eid":1},{"eid":2}]`)}
	var m []Meter
	require.NoError(t, DecodeLimit(r, &m, 4))
	err := DecodeLimit(r, &m, 3)
	require.EqualError(t, err, "/ivp/meters: more than 3 JSON values, the limit for /ivp/meters: not a real gateway answer")
}
