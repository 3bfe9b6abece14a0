package invoice

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/passerelle-dev/passerelle/workers/choruspro"
	"github.com/passerelle-dev/passerelle/workers/retry"
	"github.com/passerelle-dev/passerelle/workers/runtime"
)

// call runs one Chorus Pro operation under the retry policy and the account's gate.
// A non-idempotent operation (a deposit) is never retried once its request may have
// been processed: a timeout or a 500/502/504 answer leaves its outcome unknown.
func (f *Flow) call(ctx context.Context, account string, idempotent bool, op func(ctx context.Context) error) error {
	p := f.cfg.Retry
	p.Classify = func(err error) retry.Class { return classify(err, idempotent) }
	p.OnRetry = func(ctx context.Context, cause string, _ int, _ time.Duration) {
		f.deps.Metrics.Retry(ctx, upstream, cause)
	}
	err := p.Do(ctx, f.gate(account), idempotent, func(ctx context.Context, _ int) error { return op(ctx) })
	if f.deps.Auth != nil {
		switch {
		case errors.Is(err, choruspro.ErrAuth), errors.Is(err, choruspro.ErrForbidden):
			f.deps.Auth.Refused(upstream, account, err)
		case err == nil:
			f.deps.Auth.Accepted(upstream, account)
		}
	}
	return err
}

// upstream names Chorus Pro in metrics and health.
const upstream = "choruspro"

// classify reads a Chorus Pro error for the retry layer.
func classify(err error, idempotent bool) retry.Class {
	c := retry.Classify(err)
	var ce *choruspro.Error
	if !errors.As(err, &ce) {
		return c
	}
	switch ce.HTTPStatus {
	case 0:
		c.Cause = "network"
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusGatewayTimeout:
		c.Cause = strconv.Itoa(ce.HTTPStatus)
		if !idempotent {
			// A gateway error does not say whether the backend applied the deposit.
			c.Retryable, c.Unknown = false, true
		}
	default:
		c.Cause = strconv.Itoa(ce.HTTPStatus)
	}
	return c
}

// outcomeUnknown reports whether a failed deposit may nevertheless have happened.
func outcomeUnknown(err error, idempotent bool) bool {
	var ex *retry.Exhausted
	if errors.As(err, &ex) {
		err = ex.Err
	}
	return classify(err, idempotent).Unknown
}

// deferral turns a failed call into the runtime's retry: after the upstream's wait,
// or after a long delay when the account's credentials were refused.
func (f *Flow) deferral(err error) error {
	var ex *retry.Exhausted
	switch {
	case errors.As(err, &ex):
		return runtime.Retry(err, ex.After)
	case errors.Is(err, choruspro.ErrAuth), errors.Is(err, choruspro.ErrForbidden):
		return runtime.Retry(err, f.cfg.AuthRetryDelay)
	}
	return runtime.Retry(err, 0)
}
