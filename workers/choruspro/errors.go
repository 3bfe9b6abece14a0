package choruspro

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sentinels classifying errors; match them with errors.Is.
var (
	// ErrConfig: New was given an invalid Config (a field is missing or
	// wrong, the .p12 does not open or its certificate is expired...).
	ErrConfig = errors.New("invalid configuration")
	// ErrAuth: credentials were refused: 401 from a call even after a fresh
	// token, or the token endpoint refused the client (invalid_client). The
	// *Error carries the WWW-Authenticate text. Not retryable.
	ErrAuth = errors.New("authentication refused")
	// ErrPasswordExpired: the technical account's password expired (a 401
	// whose description says so). Such errors also match ErrAuth. Renew the
	// password on the Chorus Pro portal; retrying cannot help.
	ErrPasswordExpired = errors.New("technical account password expired")
	// ErrForbidden: 403, the PISTE application is not subscribed to that API.
	// Not retryable.
	ErrForbidden = errors.New("forbidden: application not subscribed to this API")
	// ErrBusiness: Chorus Pro rejected the request (HTTP 400, or 200 with a
	// non-zero codeRetour). A permanent rejection; the *Error carries
	// codeRetour and libelle verbatim.
	ErrBusiness = errors.New("rejected by Chorus Pro")
	// ErrInvalidDocument: a document failed the checks made before any call
	// (see ValidateDocument). Not retryable.
	ErrInvalidDocument = errors.New("invalid document")
	// ErrTooLarge: a document exceeds MaxDocumentSize, or Chorus Pro answered
	// 413. Not retryable.
	ErrTooLarge = errors.New("document too large")
)

// Error is the error of a Chorus Pro operation. It never holds secrets,
// tokens, request bodies nor answer bodies.
type Error struct {
	// Op is the operation, named after the Client method ("Soumettre") or
	// "Token" for a token fetch.
	Op string
	// HTTPStatus is the answer's status, 0 when no answer came.
	HTTPStatus int
	// CodeRetour and Libelle are Chorus Pro's own error code and message,
	// verbatim, when the answer had them.
	CodeRetour int
	Libelle    string
	// WWWAuthenticate is the WWW-Authenticate header of a 401 (not secret).
	WWWAuthenticate string
	// RetryAfterDur is the Retry-After header's delay, 0 if absent.
	RetryAfterDur time.Duration
	// Err is the underlying cause (network error, decoding error, document
	// error), nil when the answer itself is the error.
	Err error

	kind      error // one of the sentinels, or nil
	notSent   bool  // failed before the request was fully written
	unknown   bool  // written, but no complete answer came
	retryable bool  // status-based retryability
}

// Error describes the failure: operation, status, codeRetour, libelle,
// WWW-Authenticate text and cause.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("choruspro: ")
	b.WriteString(e.Op)
	if e.kind != nil {
		b.WriteString(": ")
		if errors.Is(e.kind, ErrPasswordExpired) {
			b.WriteString(ErrPasswordExpired.Error())
		} else {
			b.WriteString(e.kind.Error())
		}
	}
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.HTTPStatus)
	}
	if e.CodeRetour != 0 {
		fmt.Fprintf(&b, ", codeRetour %d", e.CodeRetour)
	}
	if e.Libelle != "" {
		fmt.Fprintf(&b, ", libelle %q", e.Libelle)
	}
	if e.WWWAuthenticate != "" {
		fmt.Fprintf(&b, ", WWW-Authenticate: %s", e.WWWAuthenticate)
	}
	if e.RetryAfterDur > 0 {
		fmt.Fprintf(&b, ", Retry-After %s", e.RetryAfterDur)
	}
	if e.unknown {
		b.WriteString(", outcome unknown (request sent, no answer)")
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap exposes the sentinel and the cause to errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, 3)
	if e.kind != nil {
		errs = append(errs, e.kind)
		if errors.Is(e.kind, ErrPasswordExpired) {
			errs = append(errs, ErrAuth)
		}
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// Retryable reports whether the same call may be issued again: true for
// HTTP 429, 500, 502, 503 and 504, and for network failures that happened
// before the request was fully written (connection refused, DNS failure,
// timeout while connecting). TLS verification failures are not retryable.
func (e *Error) Retryable() bool {
	return e.retryable || e.notSent
}

// RetryAfter returns the delay the server asked for with Retry-After (in
// seconds or as an HTTP date), 0 if it gave none.
func (e *Error) RetryAfter() time.Duration { return e.RetryAfterDur }

// OutcomeUnknown reports whether the request was fully written but no
// complete answer came (timeout, connection dropped): the operation may have
// been applied. Before re-submitting an invoice, look it up.
func (e *Error) OutcomeUnknown() bool { return e.unknown }

// retryableStatus lists the statuses worth retrying with backoff.
func retryableStatus(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// parseRetryAfter reads a Retry-After header value, in seconds or as an HTTP
// date relative to now. It returns 0 when the value is absent, invalid or in
// the past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		const maxSecs = int64(365 * 24 * 3600)
		if secs > maxSecs {
			secs = maxSecs
		}
		return time.Duration(secs) * time.Second
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	if d := at.Sub(now); d > 0 {
		return d
	}
	return 0
}

// passwordExpired reports whether an authentication failure's text says the
// technical account's password expired.
func passwordExpired(texts ...string) bool {
	for _, t := range texts {
		t = strings.ToLower(t)
		if strings.Contains(t, "expir") && (strings.Contains(t, "password") || strings.Contains(t, "mot de passe")) {
			return true
		}
	}
	return false
}
