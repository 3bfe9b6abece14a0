package pasrau

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
)

// DepositResult is a deposit PASRAU registered (200 and its AEE).
type DepositResult struct {
	// IDFlux is the flux id of the AEE (envoi/envoi_identification/idflux).
	IDFlux string
	// AEE is the parsed acknowledgement.
	AEE *Report
	// Raw is the acknowledgement as received (decompressed).
	Raw []byte
}

// Deposit sends one declaration file, already in ISO-8859-1 (see ToLatin1),
// gzip-compressed with Content-Type text/plain; charset=iso-8859-1. A
// deposit is not idempotent: the retry layer must honour OutcomeUnknown.
//
// It returns the registered flux, or an *Error:
//   - ErrInvalidArgument: empty file (no request made);
//   - ErrRejected (422): the rejection notice is in Error.Rejection;
//     permanent;
//   - ErrClientDefect (400, 406, 415): our request is malformed; permanent;
//   - ErrBadCredentials, ErrNotRegistered, ErrTokenRejected: see auth;
//   - ErrUnavailable: 404 or 503 (retryable), or 500, 502, 504
//     (OutcomeUnknown);
//   - ErrNoAnswer: retryable when the request was not fully written,
//     OutcomeUnknown otherwise (timeout or connection dropped after the
//     body was sent);
//   - ErrUnexpected: a 200 whose AEE cannot be read or names no flux
//     (OutcomeUnknown: PASRAU did register something), or another status.
func (c *Client) Deposit(ctx context.Context, latin1 []byte) (*DepositResult, error) {
	if len(latin1) == 0 {
		return nil, &Error{Op: OpDeposit, Kind: ErrInvalidArgument, Cause: fmt.Errorf("empty declaration file")}
	}
	gz, err := gzipBytes(latin1)
	if err != nil {
		return nil, &Error{Op: OpDeposit, Kind: ErrInvalidArgument, Cause: err}
	}
	ex, err := c.business(ctx, OpDeposit, func(ctx context.Context, _ string) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.DepositURL, bytes.NewReader(gz))
		if err != nil {
			return nil, fmt.Errorf("building the request: %w", err)
		}
		req.Header.Set("Content-Type", "text/plain; charset=iso-8859-1")
		req.Header.Set("Content-Encoding", "gzip")
		return req, nil
	})
	if err != nil {
		return nil, err
	}
	switch ex.status {
	case http.StatusOK:
		aee, err := ParseReport(ex.body, c.loc)
		if err == nil && aee.IDFlux == "" {
			err = fmt.Errorf("%w: the AEE names no idflux", ErrMalformed)
		}
		if err != nil {
			return nil, &Error{Op: OpDeposit, HTTPStatus: ex.status, Kind: ErrUnexpected, Cause: err, outcomeUnknown: true}
		}
		return &DepositResult{IDFlux: aee.IDFlux, AEE: aee, Raw: ex.body}, nil
	case http.StatusUnprocessableEntity:
		rej := &Rejection{Raw: ex.body}
		e := &Error{Op: OpDeposit, HTTPStatus: ex.status, Kind: ErrRejected, Rejection: rej}
		if are, err := ParseReport(ex.body, c.loc); err == nil {
			rej.Report = are
		} else {
			e.Cause = err
		}
		return nil, e
	default:
		return nil, c.statusError(OpDeposit, ex)
	}
}
