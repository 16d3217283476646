//go:build linux

package main

import (
	"os"
	"path/filepath"
	"testing"
)

// The floor program writes the last whole gather of contender 1's output:
// what follows the last but one enphase_gateway line, up to the last.
func TestSteadyLines(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "fields.out")
	lp := "a x=1 1\nenphase_gateway,serial=1 n=1i 1\n" +
		"b x=2 2\nc x=3 2\nenphase_gateway,serial=1 n=2i 2\n" +
		"d x=4 3\nenphase_gateway,serial=1 n=3i 3\ne x=5 4\n"
	if err := os.WriteFile(out, []byte(lp), 0o600); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "steady.lp")
	if err := steadyLines(out, dst); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	if want := "d x=4 3\nenphase_gateway,serial=1 n=3i 3\n"; string(got) != want {
		t.Fatalf("steady lines %q, want %q", got, want)
	}
	if err := os.WriteFile(out, []byte("enphase_gateway,serial=1 n=1i 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := steadyLines(out, dst); err == nil {
		t.Fatal("one gather: want an error, there is no steady gather")
	}
}

func TestSpreadIsMinMedianMax(t *testing.T) {
	if got, want := spread([]float64{3, 1, 2}, "×"), "1.00 / 2.00 / 3.00×"; got != want {
		t.Fatalf("spread = %q, want %q", got, want)
	}
}
