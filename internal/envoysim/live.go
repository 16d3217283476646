package envoysim

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io/fs"
	"regexp"
	"strconv"
	"time"
)

// A capture is a moment in the past. In live mode the simulator moves every
// epoch timestamp in its JSON bodies (and /info's <time>) by the same offset,
// so the capture looks taken now: inverter reports stamped with their own
// lastReportDate then land in today's graphs, not months ago.

// epochKeys are the JSON keys that hold Unix times in seconds on the gateway.
var epochKeys = map[string]bool{
	"readingTime": true, "lastReportDate": true, "timestamp": true, "endDate": true,
	"last_rpt_date": true, "createdAt": true, "created": true, "createdTime": true,
	"generation_time": true, "expires_at": true, "time": true,
}

// liveOffset is how far to move the capture's clock: from the /info <time>
// it was taken at to now. It is 0 when info has no usable time.
func liveOffset(fsys fs.FS, now time.Time) time.Duration {
	b, err := fs.ReadFile(fsys, "info")
	if err != nil {
		return 0
	}
	var x struct {
		Time int64 `xml:"time"`
	}
	if xml.Unmarshal(b, &x) != nil || x.Time < minEpoch {
		return 0
	}
	return now.Sub(time.Unix(x.Time, 0)).Truncate(time.Second)
}

// minEpoch (2000-01-01) separates real times from counters and unset clocks.
const minEpoch = 946684800

var infoTime = regexp.MustCompile(`<time>(\d+)</time>`)

// shiftTimes returns body with its timestamps moved by off; a body that is
// not JSON (or /info's XML) is returned as it is.
func shiftTimes(name string, body []byte, off time.Duration) []byte {
	if off == 0 {
		return body
	}
	secs := int64(off / time.Second)
	if name == "info" {
		return infoTime.ReplaceAllFunc(body, func(m []byte) []byte {
			n, _ := strconv.ParseInt(string(infoTime.FindSubmatch(m)[1]), 10, 64)
			return []byte("<time>" + strconv.FormatInt(n+secs, 10) + "</time>")
		})
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || (trimmed[0] != '{' && trimmed[0] != '[') {
		return body
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber() // keep every other number exactly as captured
	var v any
	if dec.Decode(&v) != nil {
		return body // broken JSON is served broken, as captured
	}
	v = shiftValue(v, secs)
	out, err := json.Marshal(v)
	if err != nil {
		return body
	}
	return out
}

func shiftValue(v any, secs int64) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if n, ok := x.(json.Number); ok && epochKeys[k] {
				if i, err := n.Int64(); err == nil && i >= minEpoch {
					t[k] = json.Number(strconv.FormatInt(i+secs, 10))
					continue
				}
			}
			t[k] = shiftValue(x, secs)
		}
	case []any:
		for i, x := range t {
			t[i] = shiftValue(x, secs)
		}
	}
	return v
}
