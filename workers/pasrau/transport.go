package pasrau

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// exchange is an answer read in full and decompressed.
type exchange struct {
	status int
	header http.Header
	body   []byte
	at     time.Time // local time the answer came
}

// send runs one HTTP exchange within the attempt timeout and reads the whole
// answer. It returns an *Error (ErrNoAnswer, or ErrUnexpected for a body that
// cannot be decompressed) when there is no complete answer; OutcomeUnknown is
// set for a deposit whose request was fully written.
func (c *Client) send(ctx context.Context, op Op, req *http.Request) (*exchange, error) {
	attemptCtx, cancel := context.WithTimeout(req.Context(), c.cfg.AttemptTimeout)
	defer cancel()
	var wrote atomic.Bool
	attemptCtx = httptrace.WithClientTrace(attemptCtx, &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				wrote.Store(true)
			}
		},
	})
	resp, err := c.http.Do(req.WithContext(attemptCtx))
	if err != nil {
		return nil, c.noAnswer(ctx, op, err, wrote.Load())
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxDocumentSize+1))
	if err != nil {
		e := c.noAnswer(ctx, op, fmt.Errorf("reading the HTTP %d answer: %w", resp.StatusCode, err), true)
		e.HTTPStatus = resp.StatusCode
		return nil, e
	}
	ex := &exchange{status: resp.StatusCode, header: resp.Header, at: c.now()}
	if ex.body, err = decompress(resp.Header.Get("Content-Encoding"), raw); err != nil {
		return nil, &Error{Op: op, HTTPStatus: resp.StatusCode, Kind: ErrUnexpected, Cause: err,
			outcomeUnknown: op == OpDeposit && resp.StatusCode == http.StatusOK}
	}
	return ex, nil
}

// noAnswer builds the error of an exchange that got no complete answer.
func (c *Client) noAnswer(ctx context.Context, op Op, err error, wrote bool) *Error {
	e := &Error{Op: op, Kind: ErrNoAnswer, Cause: err, retryable: true}
	if op == OpDeposit && wrote {
		e.outcomeUnknown = true
	}
	var certErr *tls.CertificateVerificationError
	if ctx.Err() != nil || errors.As(err, &certErr) {
		e.retryable = false // the caller gave up, or TLS trust is misconfigured
	}
	return e
}

// decompress gunzips a gzip body; it accepts an uncompressed one too
// (recognised by the absence of the gzip magic number when no
// Content-Encoding is given). It refuses other encodings and bodies over
// MaxDocumentSize.
func decompress(encoding string, raw []byte) ([]byte, error) {
	if len(raw) > MaxDocumentSize {
		return nil, fmt.Errorf("answer over %d bytes", MaxDocumentSize)
	}
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "gzip", "x-gzip":
	case "", "identity":
		if len(raw) < 2 || raw[0] != 0x1f || raw[1] != 0x8b {
			return raw, nil
		}
	default:
		return nil, fmt.Errorf("unsupported Content-Encoding %q", encoding)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("gunzip: %w", err)
	}
	body, err := io.ReadAll(io.LimitReader(zr, MaxDocumentSize+1))
	if err != nil {
		return nil, fmt.Errorf("gunzip: %w", err)
	}
	if len(body) > MaxDocumentSize {
		return nil, fmt.Errorf("decompressed answer over %d bytes", MaxDocumentSize)
	}
	return body, nil
}

// gzipBytes compresses b.
func gzipBytes(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	return buf.Bytes(), nil
}

// statusError classifies an answer the caller did not expect, by service.
func (c *Client) statusError(op Op, ex *exchange) *Error {
	e := &Error{Op: op, HTTPStatus: ex.status, Kind: ErrUnexpected}
	if ex.status == http.StatusUnauthorized {
		_, e.Realm = parseChallenge(ex.header.Get("WWW-Authenticate"))
	}
	switch ex.status {
	case http.StatusBadRequest, http.StatusNotAcceptable, http.StatusUnsupportedMediaType:
		e.Kind = ErrClientDefect
	case http.StatusUnauthorized:
		e.Kind = ErrTokenRejected
		if realmNotRegistered(e.Realm) {
			e.Kind, e.retryable, e.retryAfter = ErrNotRegistered, true, NotRegisteredRetryAfter
		}
	case http.StatusForbidden:
		e.Kind = ErrForbidden
	case http.StatusNotFound:
		switch op {
		case OpListFlux:
			e.Kind = ErrUnknownFlux
		case OpListDeclarant:
			e.Kind = ErrUnknownDeclarant
		case OpDownload:
			e.Kind = ErrPurged
		default: // authentication and deposit: an incident (guide 8.4)
			e.Kind, e.retryable = ErrUnavailable, true
		}
	case http.StatusUnprocessableEntity:
		e.Kind = ErrInvalidParameters
	case http.StatusTooManyRequests:
		e.Kind, e.retryable = ErrRateLimited, true
		e.retryAfter = serverWait(ex, "Retry-After")
		if e.retryAfter == 0 {
			e.retryAfter = serverWait(ex, "Expires")
		}
		if e.retryAfter == 0 {
			e.retryAfter = DefaultRateLimitWait
		}
	case http.StatusServiceUnavailable, http.StatusRequestTimeout:
		e.Kind, e.retryable = ErrUnavailable, true
		e.retryAfter = serverWait(ex, "Retry-After")
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusGatewayTimeout:
		e.Kind, e.retryable = ErrUnavailable, true
		e.retryAfter = serverWait(ex, "Retry-After")
		// The server (or the server behind the gateway) may have registered
		// the deposit before failing.
		e.outcomeUnknown = op == OpDeposit
	}
	return e
}

// serverWait returns how long from now a Retry-After or Expires header asks
// to wait, measured against the answer's Date header when present (so that a
// skewed local clock does not matter), 0 when absent, unreadable or past.
func serverWait(ex *exchange, field string) time.Duration {
	v := strings.TrimSpace(ex.header.Get(field))
	if v == "" {
		return 0
	}
	if field == "Retry-After" {
		if secs, err := strconv.Atoi(v); err == nil {
			if secs <= 0 {
				return 0
			}
			return time.Duration(secs) * time.Second
		}
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	ref := ex.at
	if d, err := http.ParseTime(ex.header.Get("Date")); err == nil {
		ref = d
	}
	if wait := t.Sub(ref); wait > 0 {
		return wait
	}
	return 0
}

// parseChallenge splits a WWW-Authenticate value such as
// `PASRAULogin realm="Jeton manquant ou invalide"` into scheme and realm.
func parseChallenge(h string) (scheme, realm string) {
	h = strings.TrimSpace(h)
	scheme, rest, _ := strings.Cut(h, " ")
	i := strings.Index(strings.ToLower(rest), "realm=")
	if i < 0 {
		return scheme, ""
	}
	realm = strings.TrimSpace(rest[i+len("realm="):])
	realm = strings.Trim(realm, "\"«» ")
	if j := strings.IndexAny(realm, "\"»"); j >= 0 {
		realm = realm[:j]
	}
	return scheme, strings.TrimSpace(realm)
}

// realmNotRegistered reports whether a realm says the declarant is not
// registered for the service.
func realmNotRegistered(realm string) bool {
	return strings.Contains(strings.ToLower(realm), "non-inscrit") ||
		strings.Contains(strings.ToLower(realm), "non inscrit")
}
