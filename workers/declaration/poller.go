package declaration

import (
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
type cursor struct {
	From     time.Time     `json:"from"`
	Page     int           `json:"page"`
	NextPoll time.Time     `json:"nextPoll,omitzero"`
	MaxRange time.Duration `json:"maxRange,omitempty"`
	Listings int           `json:"listings"`
}

func cursorKey(account string) string { return runtime.Key("poll", account) }

// perPageIndex asks for 100 returns per page (index 3, PASRAU's default).
const perPageIndex = 3

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
	limit := now.Add(-f.cfg.PollLag).Truncate(time.Second)
	end := c.From.Add(window)
	if end.After(limit) {
		end = limit
	}
	if !end.After(c.From) {
		return f.schedulePoll(ctx, name, now.Add(f.cfg.AccountPoll))
	}
	// One listing, not retried in-process: a 429 means "wait" (or "narrower"), and
	// the poll is planned again accordingly.
	res, err := acct.Client.ListByDeclarant(ctx, c.From, end, c.Page, perPageIndex)
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
	for _, fl := range res.Flux {
		for _, ret := range fl.Returns {
			if _, err := f.emitReturn(ctx, acct, fl.ID, ret); err != nil {
				return err
			}
		}
	}
	c.Listings++
	c.NextPoll = res.NextPoll
	if res.MaxRange > 0 {
		c.MaxRange = res.MaxRange
	}
	if res.PageCurrent < res.PagesTotal && c.Page < pasrau.MaxPage {
		c.Page++
	} else {
		if res.PageCurrent < res.PagesTotal {
			f.log.WarnContext(ctx, "more than 99 pages of returns in one window; the rest is skipped", "account", name, "from", c.From, "to", end)
		}
		c.From, c.Page = end, 1
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
