package runtime

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// The outcome policy, in one place:
//
//	handler result                     what happens to the message
//	nil                                acked (double ack: the server confirms)
//	Invalid(err)                       dead-lettered with the reason, answered as rejected, terminated
//	Retry(err, after) or another error nak with delay max(after, backoff(deliveries)), until
//	                                   MaxDeliveries: then dead-lettered, answered as failed, terminated
//	panic                              dead-lettered, answered as failed, terminated
//	any result while shutting down     handed back at once (nak) unless it succeeded
//
// A message whose dead letter or answer cannot be published is nak'ed with delay, so
// nothing is terminated before its fate is recorded.

// invalidError marks input that can never succeed.
type invalidError struct{ err error }

func (e *invalidError) Error() string { return e.err.Error() }
func (e *invalidError) Unwrap() error { return e.err }

// Invalid marks err as a permanent problem with the message itself (not a CloudEvent,
// schema violation, unknown account, conflict...): the runtime dead-letters it with
// err's text as the reason, asks the handler to answer it as rejected, and terminates it.
func Invalid(err error) error {
	if err == nil {
		return nil
	}
	return &invalidError{err: err}
}

// IsInvalid reports whether err was marked by Invalid.
func IsInvalid(err error) bool {
	var ie *invalidError
	return errors.As(err, &ie)
}

// retryError is a transient failure with the earliest time to try again.
type retryError struct {
	err   error
	after time.Duration
}

func (e *retryError) Error() string { return e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }

// Retry marks err as transient: the runtime naks the message so that it comes back no
// sooner than after (and no sooner than the backoff for its delivery count).
func Retry(err error, after time.Duration) error {
	if err == nil {
		return nil
	}
	return &retryError{err: err, after: after}
}

// Policy is the redelivery schedule of a consumer.
type Policy struct {
	// MaxDeliveries is how many deliveries a message gets before it is given up
	// (dead-lettered and answered as failed).
	MaxDeliveries int
	// BackoffBase is the delay before the second delivery; it doubles with each
	// delivery up to BackoffMax, with ±20% jitter.
	BackoffBase time.Duration
	BackoffMax  time.Duration
}

// DefaultPolicy is 10 deliveries, 5 s doubling up to 10 minutes (about 45 minutes in all).
func DefaultPolicy() Policy {
	return Policy{MaxDeliveries: 10, BackoffBase: 5 * time.Second, BackoffMax: 10 * time.Minute}
}

// Backoff returns the delay before the delivery after the given one (1 = first).
func (p Policy) Backoff(delivered uint64) time.Duration {
	d := p.BackoffBase
	for i := uint64(1); i < delivered && d < p.BackoffMax; i++ {
		d *= 2
	}
	if d > p.BackoffMax {
		d = p.BackoffMax
	}
	if d <= 0 {
		return 0
	}
	jitter := time.Duration(rand.Int64N(int64(d)/5+1)) - d/10
	return d + jitter
}

// action is what the runtime does with a message.
type action int

const (
	actAck action = iota + 1
	actNak
	actReject // dead letter, answer rejected, term
	actFail   // dead letter, answer failed, term
	actHandBack
)

// decision is the result of the outcome policy for one handled message.
type decision struct {
	act   action
	delay time.Duration
	err   error
}

// decide applies the outcome policy to err, the handler's result for a message
// delivered for the delivered-th time. shuttingDown is true when the worker is draining.
func (p Policy) decide(err error, delivered uint64, shuttingDown bool) decision {
	switch {
	case err == nil:
		return decision{act: actAck}
	case IsInvalid(err):
		return decision{act: actReject, err: err}
	case shuttingDown:
		return decision{act: actHandBack, err: err}
	}
	if p.MaxDeliveries > 0 && delivered >= uint64(p.MaxDeliveries) {
		return decision{act: actFail, err: fmt.Errorf("gave up after %d deliveries: %w", delivered, err)}
	}
	delay := p.Backoff(delivered)
	var re *retryError
	if errors.As(err, &re) && re.after > delay {
		delay = re.after
	}
	return decision{act: actNak, delay: delay, err: err}
}
