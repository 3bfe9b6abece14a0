// Package retry is passerelle's in-process retry policy for calls to the
// administrations' APIs: exponential backoff with jitter (github.com/sethvargo/go-retry)
// within a budget well inside the consumer's ack wait, a retried call never sooner
// than the Retry-After its failure carried, and a per-account gate (gate.go) that
// rate-limits the account's calls and breaks the circuit while the upstream is
// down. Past the budget, the caller hands the message back to
// JetStream with a delay (runtime.Retry), so retries survive restarts.
package retry

import (
	"context"
	"errors"
	"fmt"
	"time"

	goretry "github.com/sethvargo/go-retry"
)

// Class is what the retry layer needs to know of a failed attempt.
type Class struct {
	// Retryable is true when trying again may succeed and cannot cause a second effect.
	Retryable bool
	// After is the earliest delay before the next attempt that the upstream asked for.
	After time.Duration
	// Unknown is true when the request was sent and no answer came: the effect may
	// have happened. Such an attempt is never retried blindly.
	Unknown bool
	// Cause names the failure for metrics and logs: "429", "503", "network"...
	Cause string
}

// The interfaces an upstream error implements to be classified.
type (
	retryable      interface{ Retryable() bool }
	retryAfter     interface{ RetryAfter() time.Duration }
	outcomeUnknown interface{ OutcomeUnknown() bool }
	retryCause     interface{ RetryCause() string }
)

// Classify reads the class of err from the methods it implements: Retryable() bool,
// RetryAfter() time.Duration, OutcomeUnknown() bool and RetryCause() string. An error
// that implements none of them is not retryable.
func Classify(err error) Class {
	var c Class
	var r retryable
	if errors.As(err, &r) {
		c.Retryable = r.Retryable()
	}
	var ra retryAfter
	if errors.As(err, &ra) {
		c.After = ra.RetryAfter()
	}
	var u outcomeUnknown
	if errors.As(err, &u) {
		c.Unknown = u.OutcomeUnknown()
	}
	var rc retryCause
	if errors.As(err, &rc) {
		c.Cause = rc.RetryCause()
	}
	if c.Cause == "" {
		switch {
		case c.Unknown:
			c.Cause = "unknown_outcome"
		case c.Retryable:
			c.Cause = "transient"
		}
	}
	return c
}

// Exhausted is returned by Do when a retryable failure outlasted the budget. After
// is the earliest time the caller should try again (the last Retry-After, if any).
type Exhausted struct {
	Err      error
	After    time.Duration
	Attempts int
}

func (e *Exhausted) Error() string {
	return fmt.Sprintf("still failing after %d attempts: %v", e.Attempts, e.Err)
}

func (e *Exhausted) Unwrap() error { return e.Err }

// Policy is the in-process retry schedule.
type Policy struct {
	// Base is the first delay; it doubles up to Max, with ±20% jitter.
	Base time.Duration
	Max  time.Duration
	// Budget bounds the whole call, retries included; keep it well inside AckWait.
	Budget time.Duration
	// Classify classifies failures; nil means the package's Classify.
	Classify func(error) Class
	// OnRetry, when set, is called before each retry with the failure's cause, the
	// attempt that failed (1 = first) and the delay before the next one.
	OnRetry func(ctx context.Context, cause string, attempt int, delay time.Duration)
}

// DefaultPolicy is 200 ms doubling to 5 s, within 20 s.
func DefaultPolicy() Policy {
	return Policy{Base: 200 * time.Millisecond, Max: 5 * time.Second, Budget: 20 * time.Second}
}

// Do calls op until it succeeds, fails in a way that is not retryable, or the budget
// is spent. A failure with a Retry-After delays the next attempt of this call by at
// least that much; before each attempt Do also waits for gate (nil: no gate), which
// holds every call of an account while it is closed. When idempotent is false, a
// failure whose outcome is unknown is returned at once (never retried blindly). It
// returns op's last error, or *Exhausted when the budget ran out or the upstream
// asked to wait beyond it.
func (p Policy) Do(ctx context.Context, gate *Gate, idempotent bool, op func(ctx context.Context, attempt int) error) error {
	classify := p.Classify
	if classify == nil {
		classify = Classify
	}
	deadline := time.Now().Add(p.Budget)
	var (
		attempt   int
		lastErr   error
		lastAfter time.Duration
		lastCause string
		notBefore time.Time
		exhausted bool
	)
	backoff := goretry.NewExponential(p.Base)
	backoff = goretry.WithJitterPercent(20, backoff)
	backoff = goretry.WithCappedDuration(p.Max, backoff)
	err := goretry.Do(ctx, backoff, func(ctx context.Context) error {
		if err := sleepUntil(ctx, notBefore); err != nil {
			return err
		}
		if err := gate.Acquire(ctx, deadline); err != nil {
			var closed *ClosedError
			if errors.As(err, &closed) {
				exhausted = true
				lastAfter = closed.For
				if lastErr == nil {
					lastErr = closed
				}
				return lastErr
			}
			return err
		}
		attempt++
		err := op(withAttempt(ctx, attempt, lastCause), attempt)
		c := Class{}
		if err != nil {
			c = classify(err)
		}
		gate.Report(c, err == nil)
		if err == nil {
			return nil
		}
		lastErr = err
		lastCause = c.Cause
		retry := c.Retryable && !c.Unknown || c.Unknown && idempotent
		if !retry {
			return err
		}
		if c.After > 0 {
			lastAfter = c.After
			notBefore = time.Now().Add(c.After)
		}
		if time.Now().Add(c.After).After(deadline) {
			exhausted = true
			return err
		}
		if p.OnRetry != nil {
			p.OnRetry(ctx, c.Cause, attempt, c.After)
		}
		return goretry.RetryableError(err)
	})
	if err != nil && exhausted {
		return &Exhausted{Err: lastErr, After: lastAfter, Attempts: attempt}
	}
	return err
}

// sleepUntil waits until t, or returns ctx's error.
func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// attemptKey carries the attempt number and the reason of the retry in a call's context.
type attemptKey struct{}

type attemptInfo struct {
	n     int
	cause string
}

func withAttempt(ctx context.Context, n int, cause string) context.Context {
	return context.WithValue(ctx, attemptKey{}, attemptInfo{n: n, cause: cause})
}

// AttemptFrom returns the attempt number (1 for the first) of the call running
// under ctx and, from the second on, the cause of the failure that made it retry.
// It returns 0 outside Do.
func AttemptFrom(ctx context.Context) (attempt int, cause string) {
	a, _ := ctx.Value(attemptKey{}).(attemptInfo)
	return a.n, a.cause
}
