package retry

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Breaker configures a gate's circuit breaker: after Threshold calls in a row
// failed because the upstream was unavailable (5xx, network, timeouts), the gate
// stays closed for an interval starting at MinOpen and doubling up to MaxOpen while
// the upstream stays down; once the interval is over, one call (the probe) goes
// through, and its outcome closes the circuit or opens it again. A Threshold of 0
// disables the breaker.
type Breaker struct {
	Threshold int
	MinOpen   time.Duration
	MaxOpen   time.Duration
}

// DefaultBreaker opens after 5 failures for 5 s, up to a minute.
func DefaultBreaker() Breaker {
	return Breaker{Threshold: 5, MinOpen: 5 * time.Second, MaxOpen: time.Minute}
}

// ClosedError is returned when a gate stays closed past the caller's deadline.
type ClosedError struct {
	// For is how long the gate stays closed, at least.
	For    time.Duration
	Reason string
}

func (e *ClosedError) Error() string {
	return fmt.Sprintf("upstream %s: no call for another %s", e.Reason, e.For.Round(time.Millisecond))
}

// Gate decides when a call to one upstream for one account may go: not while the
// circuit is open (or the gate closed by Defer), and not faster than the account's
// rate limit. The zero value is open, unlimited and has no breaker; a nil *Gate
// never waits.
type Gate struct {
	mu        sync.Mutex
	notBefore time.Time
	limiter   *rate.Limiter
	breaker   Breaker
	failures  int
	openFor   time.Duration
	openUntil time.Time
	probing   bool
	onChange  func(open bool)
}

// Defer closes the gate for d from now, unless it is already closed for longer.
func (g *Gate) Defer(d time.Duration) {
	if g == nil || d <= 0 {
		return
	}
	until := time.Now().Add(d)
	g.mu.Lock()
	if until.After(g.notBefore) {
		g.notBefore = until
	}
	g.mu.Unlock()
}

// Remaining is how long the gate stays closed (by Defer or an open circuit).
func (g *Gate) Remaining() time.Duration {
	if g == nil {
		return 0
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	d, _ := g.closedLocked(time.Now())
	return d
}

// Open reports whether the circuit is open or probing.
func (g *Gate) Open() bool {
	if g == nil {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.breaker.Threshold > 0 && g.failures >= g.breaker.Threshold
}

// closedLocked returns how long the gate stays closed and why.
func (g *Gate) closedLocked(now time.Time) (time.Duration, string) {
	d, why := g.notBefore.Sub(now), "asked to wait"
	if open := g.openUntil.Sub(now); open > d {
		d, why = open, "unavailable (circuit open)"
	}
	return d, why
}

// Acquire waits until a call may go: the gate open, the circuit closed (or this
// call chosen as the probe), and the rate limit's token taken. It returns a
// *ClosedError at once when the gate stays closed past deadline, or ctx's error.
func (g *Gate) Acquire(ctx context.Context, deadline time.Time) error {
	if g == nil {
		return nil
	}
	for {
		now := time.Now()
		g.mu.Lock()
		d, why := g.closedLocked(now)
		probe := false
		if d <= 0 && g.probing {
			// Another call probes the upstream: wait for its outcome.
			d, why = 100*time.Millisecond, "being probed"
		} else if d <= 0 && g.breaker.Threshold > 0 && g.failures >= g.breaker.Threshold {
			g.probing, probe = true, true // this call is the probe
		}
		limiter := g.limiter
		g.mu.Unlock()
		if d <= 0 {
			if limiter == nil {
				return nil
			}
			lctx, cancel := context.WithDeadline(ctx, deadline)
			err := limiter.Wait(lctx)
			cancel()
			if err != nil && probe {
				g.mu.Lock()
				g.probing = false
				g.mu.Unlock()
			}
			if err != nil && ctx.Err() == nil {
				return &ClosedError{For: time.Until(deadline) + time.Second, Reason: "rate-limited for this account"}
			}
			return err
		}
		if now.Add(d).After(deadline) {
			return &ClosedError{For: d, Reason: why}
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Report tells the gate how a call went: ok, or failed with class c. Failures
// that show the upstream unavailable count towards opening the circuit; any other
// answer shows it is up.
func (g *Gate) Report(c Class, ok bool) {
	if g == nil {
		return
	}
	unavailable := !ok && (c.Retryable || c.Unknown) && c.Cause != "429"
	g.mu.Lock()
	defer g.mu.Unlock()
	wasOpen := g.breaker.Threshold > 0 && g.failures >= g.breaker.Threshold
	probe := g.probing
	g.probing = false
	if !unavailable {
		g.failures, g.openFor, g.openUntil = 0, 0, time.Time{}
		if wasOpen && g.onChange != nil {
			g.onChange(false)
		}
		return
	}
	g.failures++
	if g.breaker.Threshold == 0 || g.failures < g.breaker.Threshold {
		return
	}
	switch {
	case probe:
		g.openFor = min(2*g.openFor, g.breaker.MaxOpen)
	case g.openFor == 0:
		g.openFor = g.breaker.MinOpen
	default:
		return // a call that was already under way when the circuit opened
	}
	g.openUntil = time.Now().Add(g.openFor)
	if !wasOpen && g.onChange != nil {
		g.onChange(true)
	}
}

// Gates hands out one Gate per key (upstream and account), all with the same
// breaker and rate limit.
type Gates struct {
	mu       sync.Mutex
	gates    map[string]*Gate
	breaker  Breaker
	limit    rate.Limit
	burst    int
	onChange func(key string, open bool)
}

// Configure sets the breaker and the hook told when a gate's circuit opens or
// closes, for the gates to come and those that exist.
func (gs *Gates) Configure(b Breaker, onChange func(key string, open bool)) {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	gs.breaker, gs.onChange = b, onChange
	for key, g := range gs.gates {
		g.mu.Lock()
		g.breaker, g.onChange = b, gs.hook(key)
		g.mu.Unlock()
	}
}

func (gs *Gates) hook(key string) func(bool) {
	if gs.onChange == nil {
		return nil
	}
	return func(open bool) { gs.onChange(key, open) }
}

// SetRate sets the calls per second allowed to each key, with a burst of one
// second's worth (0 or less: no limit).
func (gs *Gates) SetRate(perSecond float64) {
	if perSecond <= 0 {
		gs.SetLimit(rate.Inf, 1)
		return
	}
	gs.SetLimit(rate.Limit(perSecond), int(math.Ceil(perSecond)))
}

// SetLimit sets the calls per second allowed to each key (rate.Inf: no limit).
func (gs *Gates) SetLimit(l rate.Limit, burst int) {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	gs.limit, gs.burst = l, max(burst, 1)
	for _, g := range gs.gates {
		g.mu.Lock()
		g.limiter = gs.newLimiter(g.limiter)
		g.mu.Unlock()
	}
}

func (gs *Gates) newLimiter(old *rate.Limiter) *rate.Limiter {
	if gs.limit == 0 || gs.limit == rate.Inf {
		return nil
	}
	if old != nil {
		old.SetLimit(gs.limit)
		old.SetBurst(gs.burst)
		return old
	}
	return rate.NewLimiter(gs.limit, gs.burst)
}

// For returns the gate of key, creating it open.
func (gs *Gates) For(key string) *Gate {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	if gs.gates == nil {
		gs.gates = map[string]*Gate{}
	}
	g, ok := gs.gates[key]
	if !ok {
		g = &Gate{breaker: gs.breaker, limiter: gs.newLimiter(nil), onChange: gs.hook(key)}
		gs.gates[key] = g
	}
	return g
}
