package retry_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/passerelle-dev/passerelle/workers/retry"
)

// TestBreakerBoundsCallsDuringAnOutage runs 20 callers against an upstream that is
// down for a while: the circuit opens after the threshold, one probe at a time
// goes out while it is open, and everyone succeeds once the upstream is back.
func TestBreakerBoundsCallsDuringAnOutage(t *testing.T) {
	t.Parallel()
	var gs retry.Gates
	var opened, closed atomic.Int32
	gs.Configure(retry.Breaker{Threshold: 3, MinOpen: 50 * time.Millisecond, MaxOpen: 200 * time.Millisecond}, func(_ string, open bool) {
		if open {
			opened.Add(1)
		} else {
			closed.Add(1)
		}
	})
	gate := gs.For("choruspro/acme")
	var down atomic.Bool
	down.Store(true)
	var calls atomic.Int32
	op := func(context.Context, int) error {
		calls.Add(1)
		if down.Load() {
			return &upstreamErr{retryable: true}
		}
		return nil
	}
	p := retry.Policy{Base: 10 * time.Millisecond, Max: 50 * time.Millisecond, Budget: 5 * time.Second}
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.Do(context.Background(), gate, false, op)
		}()
	}
	time.Sleep(time.Second) // the outage
	duringOutage := calls.Load()
	down.Store(false)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("caller %d: %v, want success once the upstream is back", i, err)
		}
	}
	// Without a breaker, 20 callers retrying every ~50 ms would make hundreds of
	// calls in a second; with it: the first failures, then one probe per interval.
	if duringOutage > 40 {
		t.Errorf("%d calls during a 1 s outage, want them bounded by the breaker", duringOutage)
	}
	if opened.Load() != 1 || closed.Load() != 1 || gate.Open() {
		t.Errorf("circuit opened %d and closed %d times (open now: %v), want once each", opened.Load(), closed.Load(), gate.Open())
	}
}

func TestClosedGateBeyondBudget(t *testing.T) {
	t.Parallel()
	var gs retry.Gates
	gs.Configure(retry.Breaker{Threshold: 1, MinOpen: time.Hour, MaxOpen: time.Hour}, nil)
	gate := gs.For("pasrau/acme")
	p := retry.Policy{Base: time.Millisecond, Max: time.Millisecond, Budget: 100 * time.Millisecond}
	_ = p.Do(context.Background(), gate, false, func(context.Context, int) error { return &upstreamErr{retryable: true} })
	calls := 0
	err := p.Do(context.Background(), gate, false, func(context.Context, int) error { calls++; return nil })
	var ex *retry.Exhausted
	var closedErr *retry.ClosedError
	if calls != 0 || !errors.As(err, &ex) || !errors.As(err, &closedErr) || ex.After < 59*time.Minute {
		t.Fatalf("Do through an open circuit = %v after %d calls, want Exhausted with the hour to wait, no call", err, calls)
	}
}

func TestRateLimitPerAccount(t *testing.T) {
	t.Parallel()
	var gs retry.Gates
	gs.SetLimit(rate.Limit(2), 1)
	a, b := gs.For("choruspro/a"), gs.For("choruspro/b")
	p := retry.Policy{Base: time.Millisecond, Max: time.Millisecond, Budget: 5 * time.Second}
	call := func(g *retry.Gate) time.Duration {
		start := time.Now()
		if err := p.Do(context.Background(), g, false, func(context.Context, int) error { return nil }); err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	}
	call(a)
	if took := call(a); took < 450*time.Millisecond {
		t.Errorf("a second call at 2/s came after %v, want at least 500 ms", took)
	}
	// Account b has its own budget: its first call does not wait for a's.
	if took := call(b); took > 250*time.Millisecond {
		t.Errorf("another account waited %v: limits are per account", took)
	}
}
