package enphase

import (
	"math"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
)

// Values we compute (sums of phases, net + production, wraps added to a
// counter, unit conversions) are rounded here, to the precision of what they
// were computed from: binary floats turn 212.025 + 212.026 into
// 424.05100000000004, noise that no gateway reported.

// maxDecimals bounds the precision looked for in an input: a gateway's
// values have at most a few decimals, and a value with more is kept as is.
const maxDecimals = 9

// pow10 are the powers of ten roundTo scales by, each exact, as math.Pow
// gives them: a lifetime counter is rounded every gather.
var pow10 = [maxDecimals + 1]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}

// decimals is the number of decimal places x is written with (its shortest
// form), maxDecimals+1 when it has more.
func decimals(x float64) int {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	p := 1.0
	for d := 0; d <= maxDecimals; d++ {
		if math.Abs(x*p) >= 1<<53 {
			return d // beyond float64's integers: no finer digit exists
		}
		if math.Round(x*p)/p == x {
			return d
		}
		p *= 10
	}
	return maxDecimals + 1
}

// roundTo rounds v to d decimal places; beyond maxDecimals it is v.
func roundTo(v float64, d int) float64 {
	if d > maxDecimals || math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	var p float64
	if d >= 0 {
		p = pow10[d]
	} else {
		p = math.Pow(10, float64(d)) // a divisor under 1: not one the plugin uses
	}
	if math.Abs(v*p) >= 1<<53 {
		return v
	}
	return math.Round(v*p) / p
}

// roundAs rounds a value computed from inputs to the finest precision
// among them.
func roundAs(v float64, inputs ...float64) float64 {
	d := 0
	for _, x := range inputs {
		d = max(d, decimals(x))
	}
	return roundTo(v, d)
}

// sumOf is a + b at the precision of the two.
func sumOf(a, b float64) float64 { return roundAs(a+b, a, b) }

// divided is n / div for a unit conversion (mV to V, J to Wh), rounded to
// the precision of n in the new unit: digits finer than the input's unit
// are kept (log10(div) more places), the binary noise is not.
func divided(n envoy.Num, div float64) envoy.Num {
	if !n.Valid {
		return n
	}
	return envoy.Num{V: roundTo(n.V/div, decimals(n.V)+int(math.Ceil(math.Log10(div)))), Valid: true}
}
