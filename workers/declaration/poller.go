package declaration

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/passerelle-dev/passerelle/workers/pasrau"
	"github.com/passerelle-dev/passerelle/workers/runtime"
)

// cursor is where an account's poller is in the declarant's returns listing: the
// start of the next window (publication times), the page within it, and the
// constraints PASRAU last announced.
//
// A window is read in one listing whenever possible: a listing is a snapshot, but
// the pages of a listing are not one (a return overwritten between two page
// requests leaves the window, and the returns after it move up into a page already
// read, never to be seen). So a window with more than one page is narrowed (Span)
// until it fits in one; only a one-second window is paged, its end kept (To).
type cursor struct {
	From time.Time `json:"from"`
	Page int       `json:"page"`
	// Span narrows the windows while there are too many returns for one page.
	Span time.Duration `json:"span,omitempty"`
	// To is the end of the one-second window being paged.
	To       time.Time     `json:"to,omitzero"`
	NextPoll time.Time     `json:"nextPoll,omitzero"`
	MaxRange time.Duration `json:"maxRange,omitempty"`
	Listings int           `json:"listings"`
}

func cursorKey(account string) string { return runtime.Key("poll", account) }

// poller handles an account's due polls: one listing by declarant per message.
// There is one poll message per account, so one replica polls an account at a
// time; if it dies, the message is redelivered to another after the ack wait.
type poller struct{ f *Flow }

// EnsurePolls plans the first poll of every account that has none planned. Every
// replica calls it at start; the plan of an account is one message, replaced
// rather than duplicated.
func (f *Flow) EnsurePolls(ctx context.Context) error {
	for _, acct := range f.deps.Accounts.PASRAUAccounts() {
		planned, err := f.deps.Scheduler.Planned(ctx, pollKind, runtime.Key(acct.Name))
		if err != nil {
			return err
		}
		if !planned {
			if err := f.deps.Scheduler.At(ctx, pollKind, runtime.Key(acct.Name), f.now(), nil, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// Handle lists one window (or page) of the declarant's returns, publishes each new
// return or new version, moves the cursor, and plans the next poll: at once while
// catching up, else after AccountPoll, never before PASRAU's Expires.
func (h *poller) Handle(ctx context.Context, d *runtime.Delivery) error {
	f := h.f
	name, ok := runtime.DueKey(pollKind, d.Subject)
	if !ok {
		return runtime.Invalid(fmt.Errorf("subject %q is not an account poll", d.Subject))
	}
	acct, ok := f.deps.Accounts.PASRAU(name)
	if !ok {
		f.log.WarnContext(ctx, "poll of an account no longer configured; stopping its polls", "account", name)
		return nil
	}
	var c cursor
	rev, err := f.deps.Ledger.Get(ctx, cursorKey(name), &c)
	now := f.now()
	switch {
	case errors.Is(err, runtime.ErrNotFound):
		c = cursor{From: now.Add(-f.cfg.PollLookback), Page: 1}
	case err != nil:
		return runtime.Retry(err, 0)
	}
	if now.Before(c.NextPoll) {
		return f.schedulePoll(ctx, name, c.NextPoll)
	}
	window := c.MaxRange
	if window <= 0 {
		window = pasrau.DefaultSearchRange
	}
	fullWindow := window
	if c.Span > 0 && c.Span < window {
		window = c.Span
	}
	limit := now.Add(-f.cfg.PollLag).Truncate(time.Second)
	end := c.From.Add(window)
	if end.After(limit) {
		end = limit
	}
	if c.Page > 1 && !c.To.IsZero() {
		end = c.To
	}
	if !end.After(c.From) {
		return f.schedulePoll(ctx, name, now.Add(f.cfg.AccountPoll))
	}
	// One listing, not retried in-process: a 429 means "wait" (or "narrower"), and
	// the poll is planned again accordingly.
	res, err := acct.Client.ListByDeclarant(ctx, c.From, end, c.Page, f.cfg.PollPageIndex)
	f.watchAuth(name, err)
	if errors.Is(err, pasrau.ErrRateLimited) {
		by := "pasrau"
		if pe := (*pasrau.Error)(nil); errors.As(err, &pe) && pe.HTTPStatus == 0 {
			by = "passerelle" // held back before Expires, no request sent
		}
		f.deps.Metrics.RateLimited(ctx, name, by)
		maxRange, nextPoll := acct.Client.PollingLimits()
		if maxRange > 0 {
			c.MaxRange = maxRange
		}
		c.NextPoll = nextPoll
		if wait := now.Add(max(retryAfter(err), time.Second)); wait.After(c.NextPoll) {
			c.NextPoll = wait
		}
		f.log.WarnContext(ctx, "PASRAU asked to poll later", "account", name, "until", c.NextPoll, "max_range", c.MaxRange, "err", err)
		if err := f.saveCursor(ctx, name, c, rev); err != nil {
			return err
		}
		return f.schedulePoll(ctx, name, c.NextPoll)
	}
	if err != nil {
		f.deps.Metrics.Poll(ctx, name, "error")
		return f.deferral(err)
	}
	f.deps.Metrics.Poll(ctx, name, "ok")
	if err := f.publishListed(ctx, acct, &res.Listing); err != nil {
		return err
	}
	c.Listings++
	c.NextPoll = res.NextPoll
	if res.MaxRange > 0 {
		c.MaxRange = res.MaxRange
	}
	switch {
	case res.PagesTotal > 1 && c.Page == 1 && end.Sub(c.From) > time.Second:
		// More than a page: list a narrower window from the same start (what this
		// page held is published already, and is not published twice).
		c.Span = max((end.Sub(c.From) / time.Duration(res.PagesTotal+1)).Truncate(time.Second), time.Second)
	case res.PageCurrent < res.PagesTotal && c.Page < pasrau.MaxPage:
		if c.Page == 1 {
			f.log.WarnContext(ctx, "more returns in one second than a listing page holds; paging through them", "account", name, "from", c.From, "to", end, "pages", res.PagesTotal)
		}
		c.Page, c.To = c.Page+1, end
	default:
		if res.PageCurrent < res.PagesTotal {
			f.log.ErrorContext(ctx, "more than 99 pages of returns in one second; the rest is skipped", "account", name, "from", c.From, "to", end)
		}
		c.From, c.Page, c.To = end, 1, time.Time{}
		if c.Span > 0 {
			if c.Span *= 2; c.Span >= fullWindow {
				c.Span = 0
			}
		}
	}
	if err := f.saveCursor(ctx, name, c, rev); err != nil {
		return err
	}
	next := now.Add(f.cfg.AccountPoll)
	if c.Page > 1 || c.From.Before(limit) {
		next = now // catching up
	}
	if next.Before(c.NextPoll) {
		next = c.NextPoll
	}
	return f.schedulePoll(ctx, name, next)
}

// publishListed publishes the new returns and versions of a listing. A return
// waiting for another replica's claim on it does not hold back the others: they
// are published, then the claim's error is returned, for the poll to be retried
// from the same cursor (which publishes nothing twice). Only the first such
// return is waited for in-process.
func (f *Flow) publishListed(ctx context.Context, acct *Account, l *pasrau.Listing) error {
	var held error
	wait := returnClaimWait
	for _, fl := range l.Flux {
		for _, ret := range fl.Returns {
			_, err := f.emitReturnWithin(ctx, acct, fl.ID, ret, wait)
			switch {
			case errors.Is(err, errClaimHeld):
				held, wait = cmp.Or(held, err), 0
			case err != nil:
				return err
			}
		}
	}
	return held
}

// Answer is called when a poll panicked: nothing to publish; the poll is planned
// again so that the account is not left unpolled.
func (h *poller) Answer(ctx context.Context, d *runtime.Delivery, end runtime.End) error {
	name, _ := runtime.DueKey(pollKind, d.Subject)
	h.f.log.ErrorContext(ctx, "account poll dead-lettered; polling again later", "account", name, "err", end.Err)
	return h.f.schedulePoll(ctx, name, h.f.now().Add(h.f.cfg.AccountPoll))
}

func (f *Flow) schedulePoll(ctx context.Context, name string, at time.Time) error {
	if err := f.deps.Scheduler.At(ctx, pollKind, runtime.Key(name), at, nil, nil); err != nil {
		return runtime.Retry(err, 0)
	}
	return nil
}

func (f *Flow) saveCursor(ctx context.Context, name string, c cursor, rev uint64) error {
	var err error
	if rev == 0 {
		_, err = f.deps.Ledger.Create(ctx, cursorKey(name), c)
	} else {
		_, err = f.deps.Ledger.Update(ctx, cursorKey(name), c, rev)
	}
	if err != nil {
		return runtime.Retry(fmt.Errorf("poll cursor of %s: %w", name, err), 0)
	}
	return nil
}

func retryAfter(err error) time.Duration {
	var pe *pasrau.Error
	if errors.As(err, &pe) {
		return pe.RetryAfter()
	}
	return 0
}
