package choruspro

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
)

// maxAnswerBytes bounds an answer body; Chorus Pro answers are small JSON
// documents, the largest carry a base64 report.
const maxAnswerBytes = 32 << 20

// answer is a complete HTTP answer.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// roundTrip sends one HTTP request, bounded by Config.Timeout, and reads the
// whole answer. Failures without a complete answer are *Error saying whether
// the request had been fully written (OutcomeUnknown) or not (Retryable).
func (c *Client) roundTrip(ctx context.Context, op, method, target string, body []byte, hdr http.Header) (*answer, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()

	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) { wrote.Store(info.Err == nil) },
	})
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, &Error{Op: op, Err: fmt.Errorf("building the request: %w", err)}
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", c.cfg.UserAgent)

	resp, err := c.http.Do(req)
	if err != nil {
		return nil, networkError(op, err, wrote.Load())
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err != nil {
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			// The operation was accepted but its answer was lost.
			return nil, &Error{Op: op, HTTPStatus: resp.StatusCode, Err: fmt.Errorf("reading the answer: %w", err), unknown: true}
		}
		data = nil // classify by status alone
	}
	if len(data) > maxAnswerBytes {
		return nil, &Error{Op: op, HTTPStatus: resp.StatusCode, Err: fmt.Errorf("the answer exceeds %d bytes", maxAnswerBytes)}
	}
	return &answer{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// networkError classifies a failure to get an answer. Before the request was
// written it is retryable, except TLS verification failures which retrying
// cannot fix; after, the outcome is unknown.
func networkError(op string, err error, written bool) *Error {
	e := &Error{Op: op, Err: err}
	switch {
	case isTLSVerification(err):
		// The handshake failed: the server did not process the request,
		// and trying again cannot help.
	case written:
		e.unknown = true
	default:
		e.notSent = true
	}
	return e
}

// isTLSVerification reports whether err comes from the TLS handshake: our
// check of the server's certificate, or a TLS alert from the server (such as
// its refusal of our client certificate).
func isTLSVerification(err error) bool {
	var (
		verr      *tls.CertificateVerificationError
		alert     tls.AlertError
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		opErr     *net.OpError
	)
	if errors.As(err, &opErr) && opErr.Op == "remote error" {
		return true // crypto/tls reports the server's alerts this way
	}
	return errors.As(err, &verr) || errors.As(err, &alert) || errors.As(err, &unknownCA) ||
		errors.As(err, &hostname) || errors.As(err, &invalid)
}
