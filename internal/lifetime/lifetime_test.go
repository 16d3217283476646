package lifetime

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// TestNext plays series of raw readings through a Set and checks what is
// written and what each reading was taken for (cases V7, V13, V14).
func TestNext(t *testing.T) {
	for _, tc := range []struct {
		name  string
		raw   []float64
		want  []float64
		kinds []Kind
	}{
		{
			name:  "growth passes through",
			raw:   []float64{1000, 1500, 1500, 2000},
			want:  []float64{1000, 1500, 1500, 2000},
			kinds: []Kind{Steady, Steady, Steady, Steady},
		},
		{
			name:  "V7 a wrap adds 2^32 J to what follows",
			raw:   []float64{1_500_000, 1_502_000 - WrapWh, 410_000},
			want:  []float64{1_500_000, 1_502_000, 410_000 + WrapWh},
			kinds: []Kind{Steady, Wrapped, Steady},
		},
		{
			name:  "V7 two wraps between two readings",
			raw:   []float64{3_000_000, 3_001_000 - 2*WrapWh},
			want:  []float64{3_000_000, 3_001_000},
			kinds: []Kind{Steady, Wrapped},
		},
		{
			name:  "V13 a wrap the gateway repairs later is taken away again",
			raw:   []float64{1_500_000, 1_500_100 - WrapWh, 1_500_200 - WrapWh, 1_500_300, 1_500_400},
			want:  []float64{1_500_000, 1_500_100, 1_500_200, 1_500_300, 1_500_400},
			kinds: []Kind{Steady, Wrapped, Steady, Repaired, Steady},
		},
		{
			name:  "a rise of a wrap with no wrap added is growth",
			raw:   []float64{100, 100 + WrapWh},
			want:  []float64{100, 100 + WrapWh},
			kinds: []Kind{Steady, Steady},
		},
		{
			name:  "V14 a reset goes on from the last value written",
			raw:   []float64{410_000, 1_000, 1_200},
			want:  []float64{410_000, 410_000, 410_200},
			kinds: []Kind{Steady, Reset, Steady},
		},
		{
			name:  "V14 a reset after a wrap drops the wrap",
			raw:   []float64{2_000_000, 2_000_100 - WrapWh, 50, 60 + WrapWh},
			want:  []float64{2_000_000, 2_000_100, 2_000_100, 2_000_110 + WrapWh},
			kinds: []Kind{Steady, Wrapped, Reset, Steady},
		},
		{
			name:  "a small step back is held until it is passed",
			raw:   []float64{1_000_000, 999_990, 999_995, 1_000_020},
			want:  []float64{1_000_000, 1_000_000, 1_000_000, 1_000_020},
			kinds: []Kind{Steady, Held, Held, Steady},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New()
			now := t0
			for i, raw := range tc.raw {
				got, ev := s.Next("k", raw, now)
				require.InDelta(t, tc.want[i], got, 1e-6, "reading %d", i)
				require.Equal(t, tc.kinds[i], ev.Kind, "reading %d: %s", i, ev)
				now = now.Add(5 * time.Minute)
			}
		})
	}
}

// TestRestart is case V15: the state saved between two readings and
// restored in a new Set gives the same series as one Set that never stopped,
// whatever happens while the process is down.
func TestRestart(t *testing.T) {
	raw := []float64{1_500_000, 1_550_000 - WrapWh, 1_600_000 - WrapWh, 1_650_000 - 2*WrapWh, 2_000, 3_000, 3_100 + WrapWh}
	cont := New()
	var want []float64
	for i, r := range raw {
		v, _ := cont.Next("k", r, t0.Add(time.Duration(i)*time.Minute))
		want = append(want, v)
	}
	for stop := 1; stop < len(raw); stop++ {
		s := New()
		var got []float64
		for i, r := range raw {
			if i == stop {
				b, err := s.Marshal()
				require.NoError(t, err)
				s, err = Unmarshal(b)
				require.NoError(t, err)
			}
			v, _ := s.Next("k", r, t0.Add(time.Duration(i)*time.Minute))
			got = append(got, v)
		}
		require.InDeltaSlice(t, want, got, 1e-6, "restart before reading %d", stop)
	}
}

// TestNeverDecreases feeds random walks of growth, wraps, repairs, resets
// and noise, with restarts, and checks no written value is below the one
// before it.
func TestNeverDecreases(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for run := 0; run < 200; run++ {
		s := New()
		raw := rng.Float64() * 5e6
		last := -1.0
		for i := 0; i < 300; i++ {
			switch r := rng.Intn(20); {
			case r == 0 && raw > 2*WrapWh:
				raw -= WrapWh * float64(1+rng.Intn(2))
			case r == 1:
				raw += WrapWh
			case r == 2:
				raw = rng.Float64() * 1000
			case r == 3 && raw > 500:
				raw -= rng.Float64() * 500
			case r == 4:
				b, err := s.Marshal()
				require.NoError(t, err)
				s, err = Unmarshal(b)
				require.NoError(t, err)
			default:
				raw += rng.Float64() * 2000
			}
			v, ev := s.Next("k", raw, t0)
			require.GreaterOrEqual(t, v, last, "run %d reading %d: %s", run, i, ev)
			last = v
		}
	}
}

// TestAnchor is case V15 on a first start: a non-metered gateway's 32-bit
// inverter total is short by whole wraps against the 64-bit lifetime the
// gateway keeps itself (7 wraps on one real gateway, 1 on another), and the
// anchor adds them before the first value is written.
func TestAnchor(t *testing.T) {
	for _, tc := range []struct {
		name      string
		raw, ref  float64
		anchored  bool
		wantFirst float64
	}{
		{"seven wraps", 366_148, 8_717_473, true, 366_148 + 7*WrapWh},
		{"one wrap", 351_236, 1_544_282, true, 351_236 + WrapWh},
		{"no wrap", 351_236, 352_000, false, 351_236},
		{"not whole wraps", 351_236, 900_000, false, 351_236},
		{"reference below", 351_236, 1_000, false, 351_236},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New()
			require.Equal(t, tc.anchored, s.Anchor("k", tc.raw, tc.ref, t0))
			v, _ := s.Next("k", tc.raw, t0)
			require.InDelta(t, tc.wantFirst, v, 1e-3)
			// Anchoring again with the same numbers changes nothing.
			require.False(t, s.Anchor("k", tc.raw, tc.ref, t0))
		})
	}
	// A reference never takes wraps away that the series has seen.
	s := New()
	s.Next("k", 1_500_000, t0)
	s.Next("k", 1_500_100-WrapWh, t0)
	require.False(t, s.Anchor("k", 1_500_100-WrapWh, 1_500_100-WrapWh+10, t0))
	v, _ := s.Next("k", 1_500_200-WrapWh, t0)
	require.InDelta(t, 1_500_200, v, 1e-6)
}

// TestForget is case R9's bound: series not seen for a while are dropped.
func TestForget(t *testing.T) {
	s := New()
	s.Next("old", 1, t0)
	s.Next("new", 1, t0.Add(48*time.Hour))
	require.Equal(t, 1, s.Forget(t0.Add(24*time.Hour)))
	require.Equal(t, 1, s.Len())
}

func TestUnmarshalRefuses(t *testing.T) {
	for name, body := range map[string]string{
		"not json":      "{",
		"other version": `{"version":2,"counters":{}}`,
		"negative wrap": `{"version":1,"counters":{"k":{"last_raw":1,"wraps":-1}}}`,
		"null series":   `{"version":1,"counters":{"k":null}}`,
		"huge wraps":    `{"version":1,"counters":{"k":{"last_raw":1,"wraps":9999999999}}}`,
	} {
		_, err := Unmarshal([]byte(body))
		require.Error(t, err, name)
	}
}

func TestChanged(t *testing.T) {
	s := New()
	require.False(t, s.Changed())
	s.Next("k", 1, t0)
	require.True(t, s.Changed())
	_, err := s.Marshal()
	require.NoError(t, err)
	require.False(t, s.Changed())
	s.Next("k", 1, t0)
	require.False(t, s.Changed(), "the same reading again moves nothing worth saving")
	s.Next("k", 2, t0)
	require.True(t, s.Changed())
}

// TestNotANumberLeavesTheState: a NaN or infinite reading (never written,
// V9) does not poison the series or its saved state.
func TestNotANumberLeavesTheState(t *testing.T) {
	s := New()
	s.Next("k", 1000, t0)
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		v, _ := s.Next("k", bad, t0)
		require.False(t, finite(v))
	}
	v, ev := s.Next("k", 1100, t0)
	require.Equal(t, 1100.0, v)
	require.Equal(t, Steady, ev.Kind)
	_, err := s.Marshal()
	require.NoError(t, err)
}

// TestSetIsBounded is case R9's bound for the counters: a gateway inventing
// a new device on every read cannot grow the set past maxSeries, and what is
// kept still loads back (a larger state file would be refused).
func TestSetIsBounded(t *testing.T) {
	s := New()
	for i := 0; i < maxSeries+50; i++ {
		s.Next(fmt.Sprintf("inverter %d", i), 1000, t0.Add(time.Duration(i)*time.Second))
	}
	require.Equal(t, maxSeries, s.Len())
	_, stalestKept := s.counters["inverter 0"]
	require.False(t, stalestKept, "the series seen longest ago goes first")
	_, newestKept := s.counters[fmt.Sprintf("inverter %d", maxSeries+49)]
	require.True(t, newestKept)
	b, err := s.Marshal()
	require.NoError(t, err)
	_, err = Unmarshal(b)
	require.NoError(t, err)
}

// NextKey keeps a copy of a new series' key: the caller reuses its buffer
// for the next series, which must not rename the first.
func TestNextKeyCopiesTheKey(t *testing.T) {
	s := New()
	now := time.Unix(1785607200, 0)
	buf := []byte("m,serial=1 a_lifetime_wh")
	s.NextKey(buf, 1000, now)
	copy(buf, "m,serial=2")
	s.NextKey(buf, 5000, now)
	require.Equal(t, 2, s.Len())
	out, ev := s.Next("m,serial=1 a_lifetime_wh", 1001, now)
	require.Equal(t, 1001.0, out)
	require.Equal(t, 1000.0, ev.LastRaw, "the first series kept its own reading")
	out, ev = s.Next("m,serial=2 a_lifetime_wh", 5001, now)
	require.Equal(t, 5001.0, out)
	require.Equal(t, 5000.0, ev.LastRaw)
}
