package enphase

import (
	"bytes"
	"os"
	"sort"
	"testing"

	"github.com/influxdata/telegraf"
	parsers_influx "github.com/influxdata/telegraf/plugins/parsers/influx"
	serializers_influx "github.com/influxdata/telegraf/plugins/serializers/influx"
)

// The golden files' format: sorted line protocol.

// serialize writes metrics as sorted line protocol.
func serialize(tb testing.TB, metrics []telegraf.Metric) []byte {
	tb.Helper()
	s := &serializers_influx.Serializer{SortFields: true}
	if err := s.Init(); err != nil {
		tb.Fatal(err)
	}
	lines := make([]string, 0, len(metrics))
	for _, m := range metrics {
		b, err := s.Serialize(m)
		if err != nil {
			tb.Fatal(err)
		}
		lines = append(lines, string(b))
	}
	sort.Strings(lines)
	var buf bytes.Buffer
	for _, l := range lines {
		buf.WriteString(l)
	}
	return buf.Bytes()
}

// parseLines reads a golden file's line protocol.
func parseLines(tb testing.TB, path string) []telegraf.Metric {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	p := &parsers_influx.Parser{}
	if err := p.Init(); err != nil {
		tb.Fatal(err)
	}
	ms, err := p.Parse(b)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return ms
}
