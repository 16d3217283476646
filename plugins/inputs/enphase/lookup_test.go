package enphase

import (
	"testing"

	"github.com/influxdata/telegraf"
	"github.com/stretchr/testify/require"
)

// Lookups of gathered metrics, shared by the tests.

// findMetric returns the first metric named name with all of tags, or nil.
func findMetric(ms []telegraf.Metric, name string, tags map[string]string) telegraf.Metric {
next:
	for _, m := range ms {
		if m.Name() != name {
			continue
		}
		for k, v := range tags {
			if got, _ := m.GetTag(k); got != v {
				continue next
			}
		}
		return m
	}
	return nil
}

// field returns a float field of the first metric matching name and tags.
func field(ms []telegraf.Metric, name string, tags map[string]string, key string) (float64, bool) {
	m := findMetric(ms, name, tags)
	if m == nil {
		return 0, false
	}
	v, ok := m.GetField(key)
	if !ok {
		return 0, false
	}
	f, ok := v.(float64)
	return f, ok
}

func field2(ms []telegraf.Metric, name, key string) (any, bool) {
	for _, m := range ms {
		if m.Name() == name {
			return m.GetField(key)
		}
	}
	return nil, false
}

// value returns field of the first metric named name with all of tags.
func value(t *testing.T, ms []telegraf.Metric, name string, tags map[string]string, field string) any {
	t.Helper()
	m := findMetric(ms, name, tags)
	if m == nil {
		t.Fatalf("no %s %v", name, tags)
	}
	v, ok := m.GetField(field)
	require.True(t, ok, "%s %v has no %s", name, tags, field)
	return v
}

// measurements counts the metrics of each name.
func measurements(ms []telegraf.Metric) map[string]int {
	out := map[string]int{}
	for _, m := range ms {
		out[m.Name()]++
	}
	return out
}
