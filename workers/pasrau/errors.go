package pasrau

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Op names the PASRAU service a request went to.
type Op string

// The services of the API.
const (
	OpAuth          Op = "auth"
	OpDeposit       Op = "deposit"
	OpListFlux      Op = "list-flux"
	OpListDeclarant Op = "list-declarant"
	OpDownload      Op = "download"
)

// The kinds of failure. Every *Error matches exactly one of them with
// errors.Is; the list says what each means and how the *Error classifies it.
var (
	// ErrInvalidConfig: New refused the configuration (no request made).
	ErrInvalidConfig = errors.New("pasrau: invalid configuration")
	// ErrInvalidArgument: a method argument is out of the guide's bounds
	// (page, retourspage, flux id, dates, empty deposit); no request made.
	// Permanent.
	ErrInvalidArgument = errors.New("pasrau: invalid argument")
	// ErrBadCredentials: the authentication service refused the credentials
	// (401 Basic realm="net-entreprises.fr"). Permanent: the Client never
	// sends them again, since repeated failures can lock the account.
	ErrBadCredentials = errors.New("pasrau: credentials refused")
	// ErrNotRegistered: the declarant is not registered for PASRAU (401
	// realm "Utilisateur non-inscrit au service", on authentication or on a
	// business call). Retryable after NotRegisteredRetryAfter: registration
	// takes effect the next day.
	ErrNotRegistered = errors.New("pasrau: declarant not registered for PASRAU")
	// ErrTokenRejected: a business call got 401 again after the one
	// re-authentication the client does. Permanent for this call.
	ErrTokenRejected = errors.New("pasrau: token refused after re-authentication")
	// ErrInvalidParameters: 422 on authentication or on a listing: the
	// service found the parameters invalid. Permanent.
	ErrInvalidParameters = errors.New("pasrau: parameters refused")
	// ErrRejected: the deposit got 422 and a rejection notice (avis de rejet);
	// *Error.Rejection holds it. Permanent: the same file is rejected again.
	ErrRejected = errors.New("pasrau: declaration rejected")
	// ErrClientDefect: 400, 406 or 415: PASRAU found the request itself
	// malformed (compression, encoding headers). A bug on our side, reported
	// as such. Permanent.
	ErrClientDefect = errors.New("pasrau: request malformed (client defect)")
	// ErrUnknownFlux: 404 on a listing by flux: unknown flux id (also after
	// the flux is purged). Permanent.
	ErrUnknownFlux = errors.New("pasrau: unknown flux")
	// ErrUnknownDeclarant: 404 on a listing by declarant: declarant unknown to
	// PASRAU. Permanent.
	ErrUnknownDeclarant = errors.New("pasrau: unknown declarant")
	// ErrForbidden: 403: the flux or return belongs to another declarant
	// (or, on authentication, the account is locked). Permanent.
	ErrForbidden = errors.New("pasrau: forbidden")
	// ErrPurged: 404 on a download: the return is unknown, purged (after 3
	// months) or overwritten by a newer version (guide 5.1). A known state,
	// not a failure of the service. Permanent.
	ErrPurged = errors.New("pasrau: return purged or overwritten")
	// ErrHostNotAllowed: a download url names a host outside
	// Config.AllowedDownloadHosts (or plain http on a host not allowed to use
	// it); no request made. Permanent.
	ErrHostNotAllowed = errors.New("pasrau: download host not allowed")
	// ErrInvalidURL: a download url is malformed or longer than 256
	// characters; no request made. Permanent.
	ErrInvalidURL = errors.New("pasrau: invalid download url")
	// ErrRateLimited: 429: polling constraints not honoured (interval or
	// range). Retryable after RetryAfter.
	ErrRateLimited = errors.New("pasrau: polling limits exceeded")
	// ErrUnavailable: 503, 502, 504, 500, 408, or 404 on authentication or
	// deposit (the guide says incidents answer 404 or 503). Retryable, except
	// a deposit answered 500, 502 or 504, whose outcome is unknown.
	ErrUnavailable = errors.New("pasrau: service unavailable")
	// ErrNoAnswer: no HTTP answer (connection refused or dropped, timeout,
	// TLS failure). Retryable unless the request was fully written on a
	// deposit (OutcomeUnknown) or the caller's context ended.
	ErrNoAnswer = errors.New("pasrau: no answer")
	// ErrUnexpected: an answer the guide does not describe (another status,
	// or a 200 whose body cannot be read). Permanent, except on a deposit
	// where a 200 whose AEE cannot be read has an unknown outcome.
	ErrUnexpected = errors.New("pasrau: unexpected answer")
)

// NotRegisteredRetryAfter is how long to wait after ErrNotRegistered:
// registration to PASRAU takes effect the next day.
const NotRegisteredRetryAfter = 6 * time.Hour

// DefaultRateLimitWait is the wait after a 429 that says neither Retry-After
// nor Expires.
const DefaultRateLimitWait = time.Minute

// Rejection is the rejection notice (avis de rejet, ARE) of a deposit
// answered 422.
type Rejection struct {
	// Report is the parsed notice; nil when the body could not be parsed
	// (Raw then holds what came).
	Report *Report
	// Raw is the notice as received (decompressed).
	Raw []byte
}

// Error is every failure of a Client call. It never holds the password nor
// the token. The retry layer reads Retryable, RetryAfter and OutcomeUnknown;
// errors.Is(err, ErrX) says which kind of failure it is.
type Error struct {
	// Op is the service called.
	Op Op
	// HTTPStatus is the status answered, 0 when there was no answer.
	HTTPStatus int
	// Realm is the realm of the WWW-Authenticate header of a 401, if any.
	Realm string
	// Kind is one of the package's Err variables.
	Kind error
	// Cause is the underlying error (transport, parsing), if any.
	Cause error
	// Rejection is set for ErrRejected.
	Rejection *Rejection

	retryable      bool
	retryAfter     time.Duration
	outcomeUnknown bool
}

// Error describes the failure: kind, service, status, realm, first anomaly of
// a rejection, cause.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Kind != nil {
		b.WriteString(e.Kind.Error())
	} else {
		b.WriteString("pasrau: error")
	}
	fmt.Fprintf(&b, " (%s", e.Op)
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, ", HTTP %d", e.HTTPStatus)
	}
	if e.Realm != "" {
		fmt.Fprintf(&b, ", realm %q", e.Realm)
	}
	b.WriteString(")")
	if e.Rejection != nil && e.Rejection.Report != nil && len(e.Rejection.Report.Anomalies) > 0 {
		a := e.Rejection.Report.Anomalies[0]
		fmt.Fprintf(&b, ": %s %s", a.Code, a.Message)
		if n := len(e.Rejection.Report.Anomalies); n > 1 {
			fmt.Fprintf(&b, " (and %d more)", n-1)
		}
	}
	if e.Cause != nil {
		b.WriteString(": " + e.Cause.Error())
	}
	if e.outcomeUnknown {
		b.WriteString("; outcome unknown: the request was sent and may have been processed")
	}
	return b.String()
}

// Unwrap returns the kind and the cause, for errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, 2)
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Cause != nil {
		errs = append(errs, e.Cause)
	}
	return errs
}

// Retryable reports whether the same call may succeed later: 429, 503, 502,
// 504, 500, 408, 404 on authentication or deposit, no answer before the
// request was fully written (or on an idempotent call), and ErrNotRegistered.
// It is false when the outcome is unknown: a deposit must be reconciled, not
// resent.
func (e *Error) Retryable() bool { return e.retryable && !e.outcomeUnknown }

// RetryAfter is the wait PASRAU asked for (Retry-After, or Expires on a 429,
// measured against the answer's Date), NotRegisteredRetryAfter for
// ErrNotRegistered, and 0 when nothing says.
func (e *Error) RetryAfter() time.Duration { return e.retryAfter }

// OutcomeUnknown reports whether a non-idempotent request (a deposit) may have
// been processed: it was fully written and no answer came (timeout, dropped
// connection), or the answer was 500, 502 or 504, or a 200 whose body could
// not be read. The deposit must then be reconciled (FindDeposit) before any
// new attempt.
func (e *Error) OutcomeUnknown() bool { return e.outcomeUnknown }

// RetryCause names the failure for metrics and logs: the HTTP status
// ("429", "503", "422"...), "timeout" or "network" when no answer came,
// "not_registered", or "refused" for a call refused before any request.
func (e *Error) RetryCause() string {
	switch {
	case errors.Is(e.Kind, ErrNotRegistered):
		return "not_registered"
	case e.HTTPStatus != 0:
		return strconv.Itoa(e.HTTPStatus)
	case errors.Is(e.Kind, ErrNoAnswer) && errors.Is(e.Cause, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(e.Kind, ErrNoAnswer):
		return "network"
	}
	return "refused"
}
