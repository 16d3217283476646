package enphase

import "unicode/utf8"

// Caps of text from the gateway in a metric (case R15): a firmware string of
// 15 MiB would be written on every gather, and InfluxDB refuses string
// fields over 64 KiB. Real values are a few dozen bytes.
const (
	maxTagValue   = 256
	maxFieldValue = 1024
)

// capText cuts every string field and tag value to its cap, at a rune
// boundary; add calls it for every metric, so no mapper can forget. The
// tags map is copied before a change: mappers share tag maps.
func capText(tags map[string]string, f fields) map[string]string {
	for k, v := range f {
		if s, ok := v.(string); ok && len(s) > maxFieldValue {
			f[k] = cutText(s, maxFieldValue)
		}
	}
	for _, v := range tags {
		if len(v) <= maxTagValue {
			continue
		}
		out := make(map[string]string, len(tags))
		for k2, v2 := range tags {
			out[k2] = cutText(v2, maxTagValue)
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
