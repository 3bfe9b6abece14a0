package pasrau_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/passerelle-dev/passerelle/workers/pasrau"
	"github.com/passerelle-dev/passerelle/workers/pasrau/pasrautest"
)

// natures returns the returns of a flux as nature -> statut.
func natures(t *testing.T, l *pasrau.ListResult, fluxID string) map[string]pasrau.Return {
	t.Helper()
	out := map[string]pasrau.Return{}
	for _, f := range l.Flux {
		if f.ID != fluxID {
			continue
		}
		for _, r := range f.Returns {
			out[r.Nature] = r
		}
	}
	return out
}

func TestReturnsAppearOverTime(t *testing.T) {
	t.Parallel()
	h := newHarness(t, pasrautest.Config{}, false)
	c := h.client(h.config(alice()))
	ctx := context.Background()
	res, err := c.Deposit(ctx, latin1File(t, "valid-declaration.txt", "", ""))
	if err != nil {
		t.Fatal(err)
	}
	want := []map[string]pasrau.Status{
		{"10": "OK"},
		{"10": "OK", "11": "EN_COURS"},
		{"10": "OK", "11": "OK", "20": "EN_COURS"},
		{"10": "OK", "11": "OK", "20": "OK", "92": "OK", "94": "EN_COURS"},
		{"10": "OK", "11": "OK", "20": "OK", "92": "OK", "94": "OK"},
	}
	for step, w := range want {
		l, err := c.ListByFlux(ctx, res.IDFlux, 0, 0)
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		got := natures(t, l, res.IDFlux)
		if len(got) != len(w) {
			t.Errorf("step %d: returns %v, want %v", step, got, w)
		}
		for nature, statut := range w {
			r, ok := got[nature]
			switch {
			case !ok || r.Statut != statut:
				t.Errorf("step %d: nature %s = %+v, want statut %s", step, nature, r, statut)
			case statut == pasrau.StatusInProgress && (!r.Publication.IsZero() || r.ID != "" || r.URL != ""):
				t.Errorf("step %d: EN_COURS return %s has fields: %+v", step, nature, r)
			case nature == "20" && statut == pasrau.StatusOK && r.URL != "":
				t.Errorf("step %d: a BIS OK has no document, got url %q", step, r.URL)
			}
		}
		h.advance(1)
	}
	for _, r := range h.requests("list-flux") {
		if r.Status != 200 {
			t.Errorf("listing answered %d", r.Status)
		}
	}
}

func TestTestDeclarationStopsAtConformity(t *testing.T) {
	t.Parallel()
	h := newHarness(t, pasrautest.Config{}, false)
	c := h.client(h.config(alice()))
	ctx := context.Background()
	res, err := c.Deposit(ctx, latin1File(t, "valid-declaration.txt", "", ""))
	if err != nil {
		t.Fatal(err)
	}
	test := latin1File(t, "valid-declaration.txt", "", "")
	test = []byte(strings.Replace(string(test), "S10.G00.00.005,'02'", "S10.G00.00.005,'01'", 1))
	res2, err := c.Deposit(ctx, test)
	if err != nil {
		t.Fatal(err)
	}
	h.advance(10)
	l, err := c.ListByFlux(ctx, res2.IDFlux, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := natures(t, l, res2.IDFlux); len(got) != 2 || got["11"].Statut != pasrau.StatusOK {
		t.Errorf("test declaration returns = %v, want 10 and 11 only", got)
	}
	l, err = c.ListByFlux(ctx, res.IDFlux, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := natures(t, l, res.IDFlux); len(got) != 5 {
		t.Errorf("real declaration returns = %v, want 10, 11, 20, 92, 94", got)
	}
}

func TestListByDeclarantPaginationAndConstraints(t *testing.T) {
	t.Parallel()
	h := newHarness(t, pasrautest.Config{MinInterval: 30 * time.Second, MaxRangeMinutes: 60}, false)
	c := h.client(h.config(alice()))
	ctx := context.Background()
	start := h.clock.Now()
	for range 30 { // 30 flux, each with its nature 10 at once
		if _, err := c.Deposit(ctx, latin1File(t, "guide-sample.txt", "", "")); !errors.Is(err, pasrau.ErrRejected) {
			t.Fatalf("Deposit: %v", err)
		}
	}
	end := h.clock.Now().Add(time.Minute)
	page1, err := c.ListByDeclarant(ctx, start, end, 1, pasrau.PerPage25)
	if err != nil {
		t.Fatalf("page 1: %v", err)
	}
	if page1.PageCurrent != 1 || page1.PagesTotal != 2 || len(page1.Flux) != 25 {
		t.Errorf("page 1: current %d total %d flux %d, want 1, 2, 25", page1.PageCurrent, page1.PagesTotal, len(page1.Flux))
	}
	if page1.MaxRange != time.Hour {
		t.Errorf("MaxRange = %v, want 1h from Accept-Ranges", page1.MaxRange)
	}
	if wait := page1.NextPoll.Sub(h.clock.Now()); wait < 30*time.Second || wait > 31*time.Second {
		t.Errorf("NextPoll in %v, want 30s from Expires", wait)
	}
	page2, err := c.ListByDeclarant(ctx, start, end, 2, pasrau.PerPage25)
	if err != nil {
		t.Fatalf("page 2 (same poll): %v", err)
	}
	if page2.PageCurrent != 2 || len(page2.Flux) != 5 {
		t.Errorf("page 2: current %d flux %d, want 2 and 5", page2.PageCurrent, len(page2.Flux))
	}

	// A new poll before Expires is refused by the client itself: PASRAU never sees it.
	before := len(h.requests("list-declarant"))
	_, err = c.ListByDeclarant(ctx, start, end, 1, pasrau.PerPage25)
	e := asError(t, err)
	if !errors.Is(err, pasrau.ErrRateLimited) || !e.Retryable() || e.RetryAfter() < 29*time.Second || e.RetryAfter() > 31*time.Second {
		t.Errorf("poll too soon: %v (retryable %v, after %v), want ErrRateLimited after about 30s", err, e.Retryable(), e.RetryAfter())
	}
	if after := len(h.requests("list-declarant")); after != before {
		t.Errorf("a poll before Expires reached PASRAU (%d requests, want %d)", after, before)
	}
	// Another client of the same declarant (another replica) does not know the
	// Expires: PASRAU answers 429 with the interval.
	if _, err := h.client(h.config(alice())).ListByDeclarant(ctx, start, end, 1, pasrau.PerPage25); !errors.Is(err, pasrau.ErrRateLimited) {
		t.Errorf("poll too soon from another client: %v, want ErrRateLimited", err)
	}
	h.clock.Advance(30 * time.Second)
	_, err = c.ListByDeclarant(ctx, start.Add(-2*time.Hour), end, 1, 0)
	if !errors.Is(err, pasrau.ErrRateLimited) {
		t.Errorf("range of 2h: %v, want ErrRateLimited", err)
	}
	h.clock.Advance(asError(t, err).RetryAfter()) // the 429's own Expires
	if _, err := c.ListByDeclarant(ctx, start, time.Time{}, 1, 0); err != nil {
		t.Errorf("open range after the interval: %v", err)
	}
	var reasons []string
	for _, r := range h.requests("list-declarant") {
		if r.Status == http.StatusTooManyRequests {
			reasons = append(reasons, r.Reason429)
		}
	}
	if len(reasons) != 2 || reasons[0] != "interval" || reasons[1] != "range" {
		t.Errorf("429 reasons = %v, want [interval range] (the first from the other client)", reasons)
	}
	if max, _ := c.PollingLimits(); max != time.Hour {
		t.Errorf("PollingLimits max range = %v, want 1h", max)
	}
}

func TestListArgumentsCheckedBeforeAnyCall(t *testing.T) {
	t.Parallel()
	h := newHarness(t, pasrautest.Config{}, false)
	c := h.client(h.config(alice()))
	ctx := context.Background()
	now := h.clock.Now()
	calls := []struct {
		name string
		call func() error
	}{
		{"flux id with a slash", func() error { _, err := c.ListByFlux(ctx, "a/b", 0, 0); return err }},
		{"flux id of 51 characters", func() error {
			_, err := c.ListByFlux(ctx, "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijk", 0, 0)
			return err
		}},
		{"page 100", func() error { _, err := c.ListByFlux(ctx, "abc", 100, 0); return err }},
		{"retourspage 7", func() error { _, err := c.ListByFlux(ctx, "abc", 1, 7); return err }},
		{"no start", func() error { _, err := c.ListByDeclarant(ctx, time.Time{}, now, 0, 0); return err }},
		{"end before start", func() error { _, err := c.ListByDeclarant(ctx, now, now.Add(-time.Minute), 0, 0); return err }},
	}
	for _, tt := range calls {
		if err := tt.call(); !errors.Is(err, pasrau.ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", tt.name, err)
		}
	}
	if n := len(h.requests("")); n != 0 {
		t.Errorf("%d requests, want none", n)
	}
}

func TestListByFluxErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t, pasrautest.Config{}, false)
	ctx := context.Background()
	ca, cb := h.client(h.config(alice())), h.client(h.config(bob()))
	res, err := ca.Deposit(ctx, latin1File(t, "valid-declaration.txt", "", ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cb.ListByFlux(ctx, res.IDFlux, 0, 0); !errors.Is(err, pasrau.ErrForbidden) || asError(t, err).HTTPStatus != 403 {
		t.Errorf("another declarant's flux: %v, want ErrForbidden (403)", err)
	}
	if _, err := ca.ListByFlux(ctx, "UnknownFluxId0000000000", 0, 0); !errors.Is(err, pasrau.ErrUnknownFlux) || asError(t, err).Retryable() {
		t.Errorf("unknown flux: %v, want a permanent ErrUnknownFlux", err)
	}
}

func TestInjectedListingFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		faults pasrautest.Faults
		kind   error
	}{
		{"503", pasrautest.Faults{UnavailableProbability: 1, RetryAfterSeconds: 3}, pasrau.ErrUnavailable},
		{"429", pasrautest.Faults{RateLimitProbability: 1, RetryAfterSeconds: 3}, pasrau.ErrRateLimited},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, pasrautest.Config{Faults: tt.faults}, false)
			c := h.client(h.config(alice()))
			_, err := c.ListByDeclarant(context.Background(), h.clock.Now().Add(-time.Minute), time.Time{}, 0, 0)
			e := asError(t, err)
			if !errors.Is(err, tt.kind) || !e.Retryable() || e.RetryAfter() != 3*time.Second {
				t.Errorf("got %v (retryable %v, after %v), want retryable %v after 3s", err, e.Retryable(), e.RetryAfter(), tt.kind)
			}
		})
	}
}

// TestPollWithoutAnswerCountsUntilGivenUp checks that a poll whose answer never
// came holds the next one back a whole interval from the moment it was given
// up on, not from its sending: PASRAU may serve a timed-out request late, and
// then counts it from then.
func TestPollWithoutAnswerCountsUntilGivenUp(t *testing.T) {
	t.Parallel()
	h := newHarness(t, pasrautest.Config{MinInterval: 30 * time.Second}, false)
	// A server slow on one poll: the fake clock moves 20 s while it holds the
	// request, and it serves the poll only once the client has given up.
	var slow atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, pasrautest.PathListDeclarant) && slow.CompareAndSwap(true, false) {
			h.clock.Advance(20 * time.Second)
			<-r.Context().Done()
		}
		h.emu.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	cfg := h.config(alice())
	cfg.AuthURL = srv.URL + pasrautest.PathAuth
	cfg.ListDeclarantURL = srv.URL + pasrautest.PathListDeclarant
	cfg.AttemptTimeout = 200 * time.Millisecond
	c := h.client(cfg)
	ctx := context.Background()
	start := h.clock.Now().Add(-time.Minute)
	if _, err := c.ListByDeclarant(ctx, start, time.Time{}, 1, 0); err != nil {
		t.Fatalf("first poll: %v", err)
	}
	h.clock.Advance(31 * time.Second)
	slow.Store(true)
	if _, err := c.ListByDeclarant(ctx, start, time.Time{}, 1, 0); !errors.Is(err, pasrau.ErrNoAnswer) {
		t.Fatalf("poll held by the server: %v, want ErrNoAnswer", err)
	}
	// The server serves the abandoned poll as soon as the client has gone.
	for deadline := time.Now().Add(10 * time.Second); len(h.requests("list-declarant")) < 2; {
		if time.Now().After(deadline) {
			t.Fatal("the abandoned poll was never served")
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.clock.Advance(15 * time.Second) // 35 s after the sending, 15 s after giving up
	before := len(h.requests("list-declarant"))
	_, err := c.ListByDeclarant(ctx, start, time.Time{}, 1, 0)
	if e := asError(t, err); !errors.Is(err, pasrau.ErrRateLimited) || e.RetryAfter() < 14*time.Second || e.RetryAfter() > 16*time.Second {
		t.Errorf("poll 15 s after the unanswered one: %v (after %v), want ErrRateLimited after about 15s", err, e.RetryAfter())
	}
	if after := len(h.requests("list-declarant")); after != before {
		t.Errorf("the poll reached PASRAU (%d requests, want %d)", after, before)
	}
	h.clock.Advance(15 * time.Second)
	if _, err := c.ListByDeclarant(ctx, start, time.Time{}, 1, 0); err != nil {
		t.Errorf("poll a whole interval after the unanswered one: %v", err)
	}
	for _, r := range h.requests("list-declarant") {
		if r.Status == http.StatusTooManyRequests {
			t.Errorf("PASRAU refused a poll: %+v", r)
		}
	}
}
