package envoysim

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzParseScenario: any input is refused with an error or yields a
// scenario whose wire form reads back the same and whose schedule can be
// evaluated at any time without panicking.
func FuzzParseScenario(f *testing.F) {
	for _, name := range BuiltinScenarios() {
		b, err := builtinScenarios.ReadFile("scenarios/" + name + ".json")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"timezone":"Europe/Paris","faults":[{"kind":"hang","daily":"23:59","for":"23h59m"}]}`))
	f.Add([]byte(`{"faults":[{"kind":"reset","at":"1ns","every":"2ns","for":"1ns"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := ParseScenario(data)
		if err != nil {
			return
		}
		b, err := json.Marshal(sc)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		again, err := ParseScenario(b)
		if err != nil {
			t.Fatalf("own wire form refused: %v\n%s", err, b)
		}
		if b2, _ := json.Marshal(again); string(b2) != string(b) {
			t.Fatalf("round trip changed it:\n%s\n%s", b, b2)
		}
		start := time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC)
		sc.Start = start
		for i := range sc.Faults {
			for _, at := range []time.Time{start.Add(-time.Hour), start, start.Add(90 * time.Minute), start.Add(400 * 24 * time.Hour)} {
				sc.Active(&sc.Faults[i], at)
				sc.fired(&sc.Faults[i], at.Add(-time.Minute), at)
			}
		}
	})
}
