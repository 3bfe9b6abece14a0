// Package clocktest provides a clock that tests move by hand, to give the
// emulators and the clients one injectable notion of "now". It is meant for
// tests only.
package clocktest

import (
	"sync"
	"time"
)

// Clock is a clock that stands still until Advance moves it. It is safe for
// concurrent use; pass its Now method wherever a func() time.Time clock is
// wanted.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a Clock reading start.
func New(start time.Time) *Clock {
	return &Clock{now: start}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d (backward when d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
