package token

import (
	"fmt"
	"time"
)

// Times outside these years are no real expiry or issue time (R17): an exp
// of 1e300 must not read "expired 2562047h ago", the saturated duration.
var (
	firstReal = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	lastReal  = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// RealTime reports whether t is a date a token can really carry.
func RealTime(t time.Time) bool { return !t.Before(firstReal) && t.Before(lastReal) }

// FormatTime is t in RFC 3339, or what it is when it is no real date.
func FormatTime(t time.Time) string {
	switch {
	case t.Before(firstReal):
		return "before 1970 (not a real time)"
	case !t.Before(lastReal):
		return "beyond any real date (not a real time)"
	}
	return t.UTC().Format(time.RFC3339)
}

// Relative says how far t is from now in words: "in 3h0m0s", "5m0s ago",
// or that it is no real time.
func Relative(t, now time.Time) string {
	if !RealTime(t) {
		return FormatTime(t)
	}
	d := t.Sub(now).Round(time.Second)
	if d < 0 {
		return (-d).String() + " ago"
	}
	return "in " + d.String()
}

// Left says how the token stands at now: "expired 5m0s ago", "3h0m0s
// left", or that its expiry is no real date.
func (t Token) Left(now time.Time) string {
	switch {
	case !RealTime(t.Expires):
		return "expiry " + FormatTime(t.Expires)
	case t.Expired(now):
		return fmt.Sprintf("expired %s ago", now.Sub(t.Expires).Round(time.Second))
	}
	return fmt.Sprintf("%s left", t.Remaining(now).Round(time.Second))
}

// clampClaim is parsed, or lastReal / firstReal less a second when the
// claim v is a number past them, which the JWT library wraps around.
func clampClaim(v any, parsed time.Time) time.Time {
	f, ok := v.(float64)
	switch {
	case !ok:
		return parsed
	case f >= float64(lastReal.Unix()):
		return lastReal
	case f < float64(firstReal.Unix()):
		return firstReal.Add(-time.Second)
	}
	return parsed
}
