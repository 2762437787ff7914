package wxsim

import "time"

// beijing is WeChat's time zone: daily quotas start at midnight there.
var beijing = time.FixedZone("CST", 8*3600)

// clock is the simulated clock: a base clock moved forward by Advance.
// It is guarded by the [Sim]'s mutex.
type clock struct {
	base   func() time.Time
	offset time.Duration
}

// now returns the simulated time.
func (c *clock) now() time.Time { return c.base().Add(c.offset) }

// advance moves the simulated time forward by d (never backward).
func (c *clock) advance(d time.Duration) {
	if d > 0 {
		c.offset += d
	}
}

// dayStart returns the start of t's day in Beijing time.
func dayStart(t time.Time) time.Time {
	y, m, d := t.In(beijing).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, beijing)
}

// counter counts calls in a fixed period (a minute or a Beijing day).
type counter struct {
	period time.Time // start of the counted period
	n      int
}

// take counts one call in the period starting at period, unless limit
// calls were counted there already (limit < 0: no limit). It reports
// whether the call was counted.
func (c *counter) take(period time.Time, limit int) bool {
	if !c.period.Equal(period) {
		c.period, c.n = period, 0
	}
	if limit >= 0 && c.n >= limit {
		return false
	}
	c.n++
	return true
}

// full reports whether limit calls were counted in the period starting at
// period already (limit < 0: never).
func (c *counter) full(period time.Time, limit int) bool {
	return limit >= 0 && c.period.Equal(period) && c.n >= limit
}
