// Package choruspro is a client for the Chorus Pro API, the French State's
// invoicing portal for the public sector (B2G).
//
// A Client speaks one of the two ways Chorus Pro authenticates callers:
//
//   - AuthPISTE, through the PISTE gateway: an OAuth2 client-credentials
//     token (cached, refreshed TokenEarlyRefresh before it expires, fetched by
//     one caller at a time) sent as a bearer token on every call, plus the
//     technical account in the cpro-account header;
//   - AuthDirect, the historical mode: HTTP basic authentication with the
//     technical account and a TLS client certificate loaded from a .p12.
//
// Every operation is a method taking a typed request whose JSON field names are
// Chorus Pro's own (French) names, and returning a typed answer. Amounts are
// json.Number so that decimals stay exact; files are []byte, sent as standard
// base64 without line breaks.
//
// Errors: every failure of a call is an *Error, which says whether the call may
// be retried (Retryable, RetryAfter) and whether its outcome is unknown
// (OutcomeUnknown: the request was written but no answer came, so a
// non-idempotent operation such as Soumettre may have been applied). The
// sentinels ErrAuth, ErrPasswordExpired, ErrForbidden, ErrBusiness,
// ErrInvalidDocument, ErrTooLarge and ErrConfig classify errors for errors.Is.
//
// The client never logs and never retries, with one exception: in PISTE mode a
// 401 answer invalidates the cached token, a new token is fetched and the call
// is issued once more. Retrying is the caller's policy.
//
// The package chorusprotest holds a stateful emulator of Chorus Pro to test
// against.
package choruspro
