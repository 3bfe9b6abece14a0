package choruspro_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/passerelle-dev/passerelle/workers/choruspro"
	"github.com/passerelle-dev/passerelle/workers/choruspro/chorusprotest"
	"github.com/passerelle-dev/passerelle/workers/clocktest"
)

func TestTokenFetchedOnceForConcurrentCalls(t *testing.T) {
	t.Parallel()
	e := startEmulator(t, chorusprotest.Config{})
	var observed atomic.Int32
	c := newClient(t, e.pisteConfig(), choruspro.WithTokenObserver(func(_ context.Context, took time.Duration, err error) {
		if err != nil || took < 0 {
			t.Errorf("observer: got took %s err %v, want a success", took, err)
		}
		observed.Add(1)
	}))
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() { errs <- c.HealthCheck(context.Background()) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("HealthCheck: %v", err)
		}
	}
	if got := e.count("token"); got != 1 {
		t.Errorf("got %d token fetches for %d concurrent calls, want 1", got, n)
	}
	if got := observed.Load(); got != 1 {
		t.Errorf("got %d observer calls, want 1", got)
	}
	if got := e.count("healthCheck"); got != n {
		t.Errorf("got %d health checks, want %d", got, n)
	}
}

func TestTokenRefreshedEarly(t *testing.T) {
	t.Parallel()
	e := startEmulator(t, chorusprotest.Config{TokenLifetime: 10 * time.Minute})
	clock := clocktest.New(time.Now())
	c := newClient(t, e.pisteConfig(), choruspro.WithClock(clock.Now)) // early refresh: 240 s by default
	ctx := context.Background()
	for _, tc := range []struct {
		advance    time.Duration
		wantTokens int
	}{
		{0, 1},
		{5 * time.Minute, 1},             // 5 min left, more than 4 min: reused
		{time.Minute + time.Second, 2},   // 3 min 59 s left: replaced before expiry
		{5*time.Minute + time.Second, 2}, // the new token is reused
	} {
		clock.Advance(tc.advance)
		if err := c.HealthCheck(ctx); err != nil {
			t.Fatalf("HealthCheck: %v", err)
		}
		if got := e.count("token"); got != tc.wantTokens {
			t.Errorf("after +%s: got %d token fetches, want %d", tc.advance, got, tc.wantTokens)
		}
	}
}

func TestTokenRefreshedOnceOn401(t *testing.T) {
	t.Parallel()

	t.Run("forced expiry", func(t *testing.T) {
		t.Parallel()
		e := startEmulator(t, chorusprotest.Config{Faults: chorusprotest.Faults{Queue: []string{"expire-token"}}})
		c := newClient(t, e.pisteConfig())
		res, err := c.Soumettre(context.Background(), invoice("R-1"))
		if err != nil || res.IdentifiantFactureCPP == 0 {
			t.Fatalf("Soumettre: got %+v, %v; want success after one refresh", res, err)
		}
		var statuses []int
		for _, r := range e.emu.Requests(0) {
			if r.Operation == "soumettre" {
				statuses = append(statuses, r.Status)
			}
		}
		if fmt.Sprint(statuses) != "[401 200]" || e.count("token") != 2 {
			t.Errorf("got soumettre statuses %v and %d token fetches, want [401 200] and 2", statuses, e.count("token"))
		}
	})

	t.Run("expiry every N calls", func(t *testing.T) {
		t.Parallel()
		e := startEmulator(t, chorusprotest.Config{Faults: chorusprotest.Faults{TokenExpiryEvery: 3}})
		c := newClient(t, e.pisteConfig())
		for i := range 10 {
			if _, err := c.Soumettre(context.Background(), invoice(fmt.Sprintf("N-%d", i))); err != nil {
				t.Fatalf("Soumettre %d: %v", i, err)
			}
		}
		if got := e.count("token"); got != 4 {
			t.Errorf("got %d token fetches for 10 calls, 3 per token, want 4", got)
		}
	})

	t.Run("second 401", func(t *testing.T) {
		t.Parallel()
		e := startEmulator(t, chorusprotest.Config{Faults: chorusprotest.Faults{Queue: []string{"expire-token", "expire-token"}}})
		c := newClient(t, e.pisteConfig())
		_, err := c.Soumettre(context.Background(), invoice("R-2"))
		var ce *choruspro.Error
		if !errors.As(err, &ce) || !errors.Is(err, choruspro.ErrAuth) || ce.HTTPStatus != 401 || ce.Retryable() {
			t.Fatalf("got %v, want a non-retryable ErrAuth 401", err)
		}
		if !strings.Contains(ce.WWWAuthenticate, `error="invalid_token"`) || !strings.Contains(err.Error(), `error="invalid_token"`) {
			t.Errorf("got %q, want the WWW-Authenticate text in the error", err)
		}
		if got := e.count("soumettre"); got != 2 {
			t.Errorf("got %d soumettre calls, want 2 (no retry loop)", got)
		}
	})

	t.Run("concurrent 401s share one refresh", func(t *testing.T) {
		t.Parallel()
		e := startEmulator(t, chorusprotest.Config{})
		c := newClient(t, e.pisteConfig())
		if err := c.HealthCheck(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := e.emu.SetFaults(chorusprotest.Faults{TokenExpiryEvery: 1}); err != nil {
			t.Fatal(err)
		}
		// The token has made one call: the next call with it gets 401.
		// Later tokens serve one call each, so calls keep refreshing, but
		// never loop: each call makes at most two attempts.
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() { _ = c.HealthCheck(context.Background()) })
		}
		wg.Wait()
		if got := e.count("healthCheck"); got > 1+2*8 {
			t.Errorf("got %d health checks for 8 calls, want at most two attempts each", got-1)
		}
	})
}

func TestTokenEndpointErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		faults        chorusprotest.Faults
		secret        string
		wantAuth      bool
		wantRetryable bool
		wantText      string
	}{
		{"invalid client", chorusprotest.Faults{}, secretClient, true, false, "client id or client secret is wrong (invalid_client)"},
		{"token endpoint down", chorusprotest.Faults{TokenEndpointDown: true}, chorusprotest.SeedClientSecret, false, true, "HTTP 503"},
		{"token endpoint rate limited", chorusprotest.Faults{AffectTokenEndpoint: true, Queue: []string{"429"}, RetryAfterSeconds: 9}, chorusprotest.SeedClientSecret, false, true, "Retry-After 9s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := startEmulator(t, chorusprotest.Config{Faults: tc.faults})
			cfg := e.pisteConfig()
			cfg.ClientSecret = tc.secret
			var observed error
			c := newClient(t, cfg, choruspro.WithTokenObserver(func(_ context.Context, _ time.Duration, err error) { observed = err }))
			_, err := c.Soumettre(context.Background(), invoice("T-1"))
			var ce *choruspro.Error
			if !errors.As(err, &ce) || ce.Op != "Token" {
				t.Fatalf("got %v, want a token *Error", err)
			}
			if errors.Is(err, choruspro.ErrAuth) != tc.wantAuth || ce.Retryable() != tc.wantRetryable || !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("got %q (auth %t, retryable %t), want auth %t, retryable %t, text %q",
					err, errors.Is(err, choruspro.ErrAuth), ce.Retryable(), tc.wantAuth, tc.wantRetryable, tc.wantText)
			}
			if observed == nil {
				t.Errorf("observer: got no error, want the fetch's")
			}
			if e.count("soumettre") != 0 {
				t.Errorf("got a soumettre call without a token")
			}
			assertNoSecret(t, err.Error())
		})
	}
}
