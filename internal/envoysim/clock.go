package envoysim

import (
	"sync"
	"time"
)

// The simulator's notion of time (Options.Now) drives token expiry, sessions
// and the fault scenario. Two clocks make days pass in seconds: a Clock that
// a test moves by hand, shared with the plugin under test, and FastClock for
// the envoy-sim command, where the client keeps the real time.

// Clock is a manual clock, safe for concurrent use; its zero value is not
// usable: use NewClock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock reading t until moved.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time; pass it as Options.Now.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// FastClock returns a clock that starts at start and runs speed times as
// fast as the real one: at speed 5760 a day passes in 15 s.
func FastClock(start time.Time, speed float64) func() time.Time {
	origin := time.Now()
	return func() time.Time {
		return start.Add(time.Duration(float64(time.Since(origin)) * speed))
	}
}
