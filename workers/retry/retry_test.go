package retry_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/passerelle-dev/passerelle/workers/retry"
)

type upstreamErr struct {
	retryable bool
	after     time.Duration
	unknown   bool
}

func (e *upstreamErr) Error() string             { return "upstream failed" }
func (e *upstreamErr) Retryable() bool           { return e.retryable }
func (e *upstreamErr) RetryAfter() time.Duration { return e.after }
func (e *upstreamErr) OutcomeUnknown() bool      { return e.unknown }

func fast() retry.Policy {
	return retry.Policy{Base: 5 * time.Millisecond, Max: 20 * time.Millisecond, Budget: 2 * time.Second}
}

func TestDo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		failures   []error
		idempotent bool
		attempts   int
		wantErr    bool
		exhausted  bool
	}{
		{"success first", nil, false, 1, false, false},
		{"503 then success", []error{&upstreamErr{retryable: true}, &upstreamErr{retryable: true}}, false, 3, false, false},
		{"business error not retried", []error{&upstreamErr{}}, false, 1, true, false},
		{"plain error not retried", []error{errors.New("bug")}, false, 1, true, false},
		{"unknown outcome not resent", []error{&upstreamErr{unknown: true}}, false, 1, true, false},
		{"unknown outcome retried when idempotent", []error{&upstreamErr{unknown: true}}, true, 2, false, false},
		{"wait beyond budget", []error{&upstreamErr{retryable: true, after: time.Hour}}, false, 1, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			calls := 0
			err := fast().Do(context.Background(), &retry.Gate{}, tt.idempotent, func(context.Context, int) error {
				calls++
				if calls <= len(tt.failures) {
					return tt.failures[calls-1]
				}
				return nil
			})
			if calls != tt.attempts {
				t.Errorf("attempts = %d, want %d", calls, tt.attempts)
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("Do = %v, want error %v", err, tt.wantErr)
			}
			var ex *retry.Exhausted
			if errors.As(err, &ex) != tt.exhausted {
				t.Errorf("Do = %v, exhausted want %v", err, tt.exhausted)
			}
			if tt.exhausted && ex.After != time.Hour {
				t.Errorf("exhausted after = %v, want the Retry-After of 1h", ex.After)
			}
		})
	}
}

func TestDoBudget(t *testing.T) {
	t.Parallel()
	p := fast()
	p.Budget = 100 * time.Millisecond
	calls := 0
	err := p.Do(context.Background(), nil, false, func(context.Context, int) error {
		calls++
		return &upstreamErr{retryable: true}
	})
	var ex *retry.Exhausted
	if !errors.As(err, &ex) || ex.Attempts != calls || calls < 2 {
		t.Fatalf("Do = %v after %d calls, want *Exhausted after several attempts", err, calls)
	}
}

// TestRetryAfterDelaysTheRetry checks that a call refused with a Retry-After is not
// tried again before it, and that a closed gate holds every caller.
func TestRetryAfterDelaysTheRetry(t *testing.T) {
	t.Parallel()
	const ra = 300 * time.Millisecond
	var calls []time.Time
	err := fast().Do(context.Background(), &retry.Gate{}, false, func(context.Context, int) error {
		calls = append(calls, time.Now())
		if len(calls) == 1 {
			return &upstreamErr{retryable: true, after: ra}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 || calls[1].Sub(calls[0]) < ra {
		t.Fatalf("retry came %v after the 429, want at least %v", calls[1].Sub(calls[0]), ra)
	}
	gate := &retry.Gate{}
	gate.Defer(ra)
	start := time.Now()
	if err := fast().Do(context.Background(), gate, false, func(context.Context, int) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < ra-10*time.Millisecond {
		t.Errorf("caller waited %v behind a closed gate, want at least %v", waited, ra)
	}
}

func TestGatesPerKey(t *testing.T) {
	t.Parallel()
	var gs retry.Gates
	a, b := gs.For("choruspro/a"), gs.For("choruspro/b")
	if a == b || gs.For("choruspro/a") != a {
		t.Fatal("Gates.For must return one gate per key")
	}
	a.Defer(time.Hour)
	if b.Remaining() > 0 {
		t.Error("closing one account's gate closed another's")
	}
}

func TestAttemptInContext(t *testing.T) {
	t.Parallel()
	var seen []string
	err := fast().Do(context.Background(), nil, false, func(ctx context.Context, _ int) error {
		n, cause := retry.AttemptFrom(ctx)
		seen = append(seen, fmt.Sprintf("%d:%s", n, cause))
		if n < 3 {
			return &upstreamErr{retryable: true}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(seen, ","); got != "1:,2:transient,3:transient" {
		t.Errorf("attempts seen by the calls = %s", got)
	}
	if n, _ := retry.AttemptFrom(context.Background()); n != 0 {
		t.Errorf("AttemptFrom outside Do = %d, want 0", n)
	}
}
