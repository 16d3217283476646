package enphase

import (
	"unicode/utf8"

	"github.com/telegraf-enphase/telegraf-enphase/internal/lineproto"
)

// Caps of text from the gateway in a metric (case R15): a firmware string of
// 15 MiB would be written on every gather, and InfluxDB refuses string
// fields over 64 KiB. Real values are a few dozen bytes.
const (
	maxTagValue   = 256
	maxFieldValue = 1024
)

// capText cuts every string field and tag value to its cap, at a rune
// boundary; add calls it for every metric, so no mapper can forget. The
// tags are copied before a change: mappers share a point's tags.
func capText(tags []lineproto.Tag, f fields) []lineproto.Tag {
	for i := range f {
		if f[i].Kind == lineproto.String && len(f[i].Str) > maxFieldValue {
			f[i].Str = cutText(f[i].Str, maxFieldValue)
		}
	}
	for _, t := range tags {
		if len(t.Value) <= maxTagValue {
			continue
		}
		out := make([]lineproto.Tag, len(tags))
		for i, t2 := range tags {
			out[i] = lineproto.Tag{Key: t2.Key, Value: cutText(t2.Value, maxTagValue)}
		}
		return out
	}
	return tags
}

// cutText is s cut to at most n bytes, at a rune boundary.
func cutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
