//go:build !unix

package enphase

import "testing"

// cpuClock reports nothing where getrusage is missing: ns/op stands alone.
type cpuClock struct{}

func startCPU(b *testing.B) cpuClock { b.ResetTimer(); return cpuClock{} }

func (cpuClock) report(*testing.B) {}
