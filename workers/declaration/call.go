package declaration

import (
	"context"
	"errors"
	"time"

	"github.com/passerelle-dev/passerelle/workers/pasrau"
	"github.com/passerelle-dev/passerelle/workers/retry"
	"github.com/passerelle-dev/passerelle/workers/runtime"
)

// call runs one PASRAU operation under the retry policy and the account's gate.
// A deposit (idempotent false) is never retried once it may have been registered.
func (f *Flow) call(ctx context.Context, account string, idempotent bool, op func(ctx context.Context) error) error {
	p := f.cfg.Retry
	p.OnRetry = func(ctx context.Context, cause string, _ int, _ time.Duration) {
		f.deps.Metrics.Retry(ctx, upstream, cause)
	}
	err := p.Do(ctx, f.gate(account), idempotent, func(ctx context.Context, _ int) error { return op(ctx) })
	f.watchAuth(account, err)
	return err
}

// upstream names PASRAU in metrics and health.
const upstream = "pasrau"

// watchAuth tells the AuthWatch whether the account's credentials were refused.
func (f *Flow) watchAuth(account string, err error) {
	if f.deps.Auth == nil {
		return
	}
	switch {
	case errors.Is(err, pasrau.ErrBadCredentials), errors.Is(err, pasrau.ErrTokenRejected), errors.Is(err, pasrau.ErrForbidden), errors.Is(err, pasrau.ErrNotRegistered):
		f.deps.Auth.Refused(upstream, account, err)
	case err == nil:
		f.deps.Auth.Accepted(upstream, account)
	}
}

// outcomeUnknown reports whether a failed deposit may nevertheless have been registered.
func outcomeUnknown(err error) bool {
	var ex *retry.Exhausted
	if errors.As(err, &ex) {
		err = ex.Err
	}
	return retry.Classify(err).Unknown
}

// deferral turns a failed call into the runtime's retry: after PASRAU's wait,
// after a long delay when the credentials were refused, after the day's
// registration delay for a declarant not registered yet.
func (f *Flow) deferral(err error) error {
	var ex *retry.Exhausted
	switch {
	case errors.As(err, &ex):
		return runtime.Retry(err, ex.After)
	case errors.Is(err, pasrau.ErrNotRegistered):
		return runtime.Retry(err, retry.Classify(err).After)
	case errors.Is(err, pasrau.ErrBadCredentials), errors.Is(err, pasrau.ErrTokenRejected), errors.Is(err, pasrau.ErrForbidden):
		return runtime.Retry(err, f.cfg.AuthRetryDelay)
	}
	return runtime.Retry(err, retry.Classify(err).After)
}
