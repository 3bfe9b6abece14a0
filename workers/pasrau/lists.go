package pasrau

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Pagination bounds of the listings (guide 3.3.1).
const (
	MaxPage = 99
	// PerPage25 .. PerPage1000 are the retourspage indexes.
	PerPage25   = 1
	PerPage50   = 2
	PerPage100  = 3
	PerPage200  = 4
	PerPage500  = 5
	PerPage1000 = 6
)

// PerPageSize returns the number of returns per page of a retourspage index
// (1..6), 0 for another index.
func PerPageSize(index int) int {
	switch index {
	case PerPage25:
		return 25
	case PerPage50:
		return 50
	case PerPage100:
		return 100
	case PerPage200:
		return 200
	case PerPage500:
		return 500
	case PerPage1000:
		return 1000
	}
	return 0
}

// ListResult is a listing and the polling constraints its answer announced.
type ListResult struct {
	Listing
	// MaxRange is the widest range a listing by declarant may ask for
	// (Accept-Ranges: minutes=0-N); 0 when not announced.
	MaxRange time.Duration
	// NextPoll is the earliest time for the next listing (Expires, measured
	// against the answer's Date); zero when not announced.
	NextPoll time.Time
}

// ListByFlux lists the returns of one flux. page (1..99) and perPageIndex
// (1..6, see PerPageSize) are sent when not zero.
//
// It returns an *Error: ErrInvalidArgument for an id outside
// [0-9A-Za-z._-]{1,50} or bounds out of range (no request made);
// ErrUnknownFlux (404, also after purge); ErrForbidden (403, not the
// declarant's flux); ErrInvalidParameters (422); ErrRateLimited (429,
// retryable after RetryAfter); ErrUnavailable; ErrNoAnswer; ErrUnexpected
// (unreadable listing); and the authentication errors.
func (c *Client) ListByFlux(ctx context.Context, idflux string, page, perPageIndex int) (*ListResult, error) {
	if !ValidFluxID(idflux) {
		return nil, &Error{Op: OpListFlux, Kind: ErrInvalidArgument, Cause: fmt.Errorf("flux id is not [0-9A-Za-z._-]{1,50}")}
	}
	return c.list(ctx, OpListFlux, joinURL(c.cfg.ListFluxURL, idflux), page, perPageIndex)
}

// ListByDeclarant lists the declarant's returns published between start and
// end (zero end: up to now), formatted yyyyMMddHHmmss in the client's
// location. page and perPageIndex are as for ListByFlux. One listing by
// declarant goes out at a time per Client, and a new poll (page 1) never sooner
// than the last answer's Expires allowed: a poll asked for before is answered
// ErrRateLimited, with the wait as RetryAfter, without any request. Honour
// MaxRange (or the RetryAfter of a 429).
//
// It returns an *Error: ErrInvalidArgument for a zero start, an end before
// start, or bounds out of range (no request made); ErrUnknownDeclarant (404);
// ErrInvalidParameters (422); ErrRateLimited (429: poll too soon or range too
// wide; retryable after RetryAfter); ErrUnavailable; ErrNoAnswer;
// ErrUnexpected; and the authentication errors.
func (c *Client) ListByDeclarant(ctx context.Context, start, end time.Time, page, perPageIndex int) (*ListResult, error) {
	if start.IsZero() || (!end.IsZero() && end.Before(start)) {
		return nil, &Error{Op: OpListDeclarant, Kind: ErrInvalidArgument, Cause: fmt.Errorf("the range needs a start, and an end (if any) not before it")}
	}
	path := FormatTime(start, c.loc)
	if !end.IsZero() {
		path += "/" + FormatTime(end, c.loc)
	}
	select {
	case c.pollTurn <- struct{}{}:
	case <-ctx.Done():
		return nil, &Error{Op: OpListDeclarant, Kind: ErrNoAnswer, Cause: ctx.Err()}
	}
	defer func() { <-c.pollTurn }()
	if page <= 1 {
		c.mu.Lock()
		now := c.now()
		wait := c.earliestPoll().Sub(now)
		if wait <= 0 {
			c.lastPoll = now
		}
		c.mu.Unlock()
		if wait > 0 {
			return nil, &Error{Op: OpListDeclarant, Kind: ErrRateLimited, retryable: true, retryAfter: wait,
				Cause: fmt.Errorf("not sent: PASRAU's polling interval allows the next poll in %s", wait.Round(time.Second))}
		}
	}
	res, err := c.list(ctx, OpListDeclarant, joinURL(c.cfg.ListDeclarantURL, path), page, perPageIndex)
	if page <= 1 && errors.Is(err, ErrNoAnswer) {
		// PASRAU may have counted this poll at any moment until the answer
		// was given up on (a timed-out request can still be served): the
		// next poll waits a whole interval from now, not from the sending.
		c.mu.Lock()
		c.lastPoll = c.now()
		c.mu.Unlock()
	}
	return res, err
}

// list runs a listing request and reads its answer.
func (c *Client) list(ctx context.Context, op Op, target string, page, perPageIndex int) (*ListResult, error) {
	if page < 0 || page > MaxPage || (perPageIndex != 0 && PerPageSize(perPageIndex) == 0) {
		return nil, &Error{Op: op, Kind: ErrInvalidArgument, Cause: fmt.Errorf("page is 1..%d and retourspage 1..6", MaxPage)}
	}
	q := url.Values{}
	if page > 0 {
		q.Set("page", strconv.Itoa(page))
	}
	if perPageIndex > 0 {
		q.Set("retourspage", strconv.Itoa(perPageIndex))
	}
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	ex, err := c.business(ctx, op, func(ctx context.Context, _ string) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	})
	if err != nil {
		return nil, err
	}
	if ex.status != http.StatusOK {
		e := c.statusError(op, ex)
		if errors.Is(e.Kind, ErrInvalidParameters) || errors.Is(e.Kind, ErrRateLimited) {
			c.notePolling(ex)
		}
		return nil, e
	}
	l, err := ParseListing(ex.body, c.loc)
	if err != nil {
		return nil, &Error{Op: op, HTTPStatus: ex.status, Kind: ErrUnexpected, Cause: err}
	}
	maxRange, nextPoll := c.notePolling(ex)
	return &ListResult{Listing: *l, MaxRange: maxRange, NextPoll: nextPoll}, nil
}

// notePolling reads and remembers the polling constraints of an answer.
func (c *Client) notePolling(ex *exchange) (time.Duration, time.Time) {
	maxRange := parseAcceptRanges(ex.header.Get("Accept-Ranges"))
	var nextPoll time.Time
	if ex.header.Get("Expires") != "" {
		nextPoll = ex.at.Add(serverWait(ex, "Expires"))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if maxRange > 0 {
		c.maxRange = maxRange
	}
	if !nextPoll.IsZero() {
		c.nextPoll = nextPoll
		if interval := nextPoll.Sub(ex.at); interval > 0 {
			c.interval = interval
		}
	}
	return maxRange, nextPoll
}

// parseAcceptRanges reads "minutes=0-60" as 60 minutes; 0 otherwise.
func parseAcceptRanges(v string) time.Duration {
	unit, bounds, ok := strings.Cut(strings.TrimSpace(v), "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(unit), "minutes") {
		return 0
	}
	_, upper, ok := strings.Cut(bounds, "-")
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(upper))
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(n) * time.Minute
}

// joinURL appends a path segment to a base url, with exactly one slash.
func joinURL(base, segment string) string {
	return strings.TrimRight(base, "/") + "/" + segment
}
