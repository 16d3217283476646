//go:build unix

package enphase

import (
	"syscall"
	"testing"
	"time"
)

// cpuClock reports the process's CPU time per op (user + system, GC and
// every thread included): on a shared machine ns/op counts the time other
// processes held the cores, CPU time does not.
type cpuClock struct{ start time.Duration }

func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU(b *testing.B) cpuClock {
	b.ResetTimer()
	return cpuClock{processCPU(b)}
}

func (c cpuClock) report(b *testing.B) {
	b.ReportMetric(float64(processCPU(b)-c.start)/1e6/float64(b.N), "cpu-ms/op")
}
