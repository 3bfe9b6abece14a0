package pasrau_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/passerelle-dev/passerelle/workers/pasrau"
	"github.com/passerelle-dev/passerelle/workers/pasrau/pasrautest"
)

func TestAuthenticationFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		account    func() pasrautest.Declarant
		edit       func(*pasrau.Config)
		faults     pasrautest.Faults
		kind       error
		status     int
		realm      string
		retryable  bool
		retryAfter time.Duration
		latched    bool // a second call makes no new authentication
	}{
		{name: "wrong password", account: alice, edit: func(c *pasrau.Config) { c.MotDePasse = "wrong-password" },
			kind: pasrau.ErrBadCredentials, status: 401, realm: "net-entreprises.fr", latched: true},
		{name: "unknown account", account: alice, edit: func(c *pasrau.Config) { c.SIRET = "99999999999999" },
			kind: pasrau.ErrBadCredentials, status: 401, realm: "net-entreprises.fr", latched: true},
		{name: "not registered", account: carol,
			kind: pasrau.ErrNotRegistered, status: 401, realm: "Utilisateur non-inscrit au service",
			retryable: true, retryAfter: pasrau.NotRegisteredRetryAfter, latched: true},
		{name: "service code of production on the test platform", account: alice, edit: func(c *pasrau.Config) { c.Service = pasrau.ServiceProduction },
			kind: pasrau.ErrNotRegistered, status: 401, realm: "Utilisateur non-inscrit au service",
			retryable: true, retryAfter: pasrau.NotRegisteredRetryAfter, latched: true},
		{name: "authentication service down", account: alice, faults: pasrautest.Faults{AuthDown: true, RetryAfterSeconds: 7},
			kind: pasrau.ErrUnavailable, status: 503, retryable: true, retryAfter: 7 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, pasrautest.Config{Faults: tt.faults}, false)
			cfg := h.config(tt.account())
			if tt.edit != nil {
				tt.edit(&cfg)
			}
			c := h.client(cfg)
			for call := 1; call <= 2; call++ {
				_, err := c.ListByFlux(context.Background(), "F1spdeAilkR4q3UU1QA7haa", 0, 0)
				e := asError(t, err)
				if !errors.Is(err, tt.kind) || e.Op != pasrau.OpAuth || e.HTTPStatus != tt.status || e.Realm != tt.realm {
					t.Errorf("call %d: got %v (op %s, status %d, realm %q), want %v from auth, %d, %q", call, err, e.Op, e.HTTPStatus, e.Realm, tt.kind, tt.status, tt.realm)
				}
				if e.Retryable() != tt.retryable || e.RetryAfter() > tt.retryAfter || (tt.retryAfter > 0 && e.RetryAfter() < tt.retryAfter-time.Second) {
					t.Errorf("call %d: Retryable %v RetryAfter %v, want %v and %v", call, e.Retryable(), e.RetryAfter(), tt.retryable, tt.retryAfter)
				}
				if strings.Contains(err.Error(), string(cfg.MotDePasse)) {
					t.Errorf("error %q shows the password", err)
				}
			}
			auths := len(h.requests("auth"))
			if want := 2; tt.latched {
				want = 1
				if auths != want {
					t.Errorf("%d authentications for two calls, want %d: a refused login must not be retried", auths, want)
				}
			} else if auths != want {
				t.Errorf("%d authentications for two calls, want %d", auths, want)
			}
			if n := len(h.requests("list-flux")); n != 0 {
				t.Errorf("%d listings sent without a token", n)
			}
		})
	}
}

func TestTokenSharedByConcurrentCalls(t *testing.T) {
	t.Parallel()
	h := newHarness(t, pasrautest.Config{}, false)
	var seen sync.Map
	c := h.client(h.config(alice()), pasrau.WithTransportWrapper(recordAuthorization(&seen)))
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			_, err := c.ListByFlux(context.Background(), "F1spdeAilkR4q3UU1QA7haa", 0, 0)
			if !errors.Is(err, pasrau.ErrUnknownFlux) {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("ListByFlux: %v, want ErrUnknownFlux", err)
	}
	if n := len(h.requests("auth")); n != 1 {
		t.Errorf("%d authentications for 20 concurrent calls, want 1", n)
	}
	tokens := 0
	seen.Range(func(k, _ any) bool {
		tokens++
		if !strings.HasPrefix(k.(string), "PASRAULogin jeton=") || !strings.HasSuffix(k.(string), "=") {
			t.Errorf("Authorization %q is not PASRAULogin jeton=<base64 with padding>", k)
		}
		return true
	})
	if tokens != 1 {
		t.Errorf("%d distinct Authorization headers, want 1", tokens)
	}
}

// recordAuthorization returns a transport wrapper that stores every
// Authorization header sent in seen.
func recordAuthorization(seen *sync.Map) func(http.RoundTripper) http.RoundTripper {
	return func(next http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if a := r.Header.Get("Authorization"); a != "" {
				seen.Store(a, true)
			}
			return next.RoundTrip(r)
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestReauthenticatesOnceWhenTheTokenExpires(t *testing.T) {
	t.Parallel()
	h := newHarness(t, pasrautest.Config{Faults: pasrautest.Faults{TokenExpiresAfterCalls: 2}}, false)
	c := h.client(h.config(alice()))
	for i := range 5 {
		if _, err := c.ListByFlux(context.Background(), "F1spdeAilkR4q3UU1QA7haa", 0, 0); !errors.Is(err, pasrau.ErrUnknownFlux) {
			t.Fatalf("call %d: %v, want ErrUnknownFlux", i+1, err)
		}
	}
	// Calls 1-2 on token 1, call 3 refused then re-issued on token 2 with
	// call 4, call 5 refused then re-issued on token 3.
	if n := len(h.requests("auth")); n != 3 {
		t.Errorf("%d authentications, want 3", n)
	}
	expired := 0
	for _, r := range h.requests("list-flux") {
		if r.Status == http.StatusUnauthorized {
			expired++
			if r.Fault != pasrautest.FaultTokenExpired {
				t.Errorf("401 without the token-expired fault: %+v", r)
			}
		}
	}
	if expired != 2 {
		t.Errorf("%d listings answered 401, want 2", expired)
	}
}

func TestRenewsTheTokenBeforeItExpires(t *testing.T) {
	t.Parallel()
	h := newHarness(t, pasrautest.Config{TokenLifetime: time.Hour}, false)
	c := h.client(h.config(alice()))
	list := func() {
		t.Helper()
		if _, err := c.ListByFlux(context.Background(), "F1spdeAilkR4q3UU1QA7haa", 0, 0); !errors.Is(err, pasrau.ErrUnknownFlux) {
			t.Fatalf("ListByFlux: %v", err)
		}
	}
	list()
	h.clock.Advance(58 * time.Minute)
	list()
	if n := len(h.requests("auth")); n != 1 {
		t.Fatalf("%d authentications within the token's life, want 1", n)
	}
	h.clock.Advance(time.Minute + 30*time.Second) // inside the renewal margin
	list()
	if n := len(h.requests("auth")); n != 2 {
		t.Errorf("%d authentications, want 2: the token is renewed before Expires", n)
	}
	for _, r := range h.requests("list-flux") {
		if r.Status == http.StatusUnauthorized {
			t.Errorf("a listing was refused: %+v", r)
		}
	}
}

func TestSecond401IsFinal(t *testing.T) {
	t.Parallel()
	// Tokens that expire at once: Expires (whole seconds) is the issue time.
	h := newHarness(t, pasrautest.Config{TokenLifetime: 500 * time.Millisecond}, false)
	c := h.client(h.config(alice()))
	_, err := c.ListByFlux(context.Background(), "F1spdeAilkR4q3UU1QA7haa", 0, 0)
	e := asError(t, err)
	if !errors.Is(err, pasrau.ErrTokenRejected) || e.HTTPStatus != 401 || e.Realm != "Expiration du jeton" || e.Retryable() {
		t.Errorf("got %v (realm %q, retryable %v), want a final ErrTokenRejected with realm Expiration du jeton", err, e.Realm, e.Retryable())
	}
	if n, l := len(h.requests("auth")), len(h.requests("list-flux")); n != 2 || l != 2 {
		t.Errorf("%d authentications and %d listings, want 2 and 2 (one re-authentication, one re-issue)", n, l)
	}
}

func TestNotRegisteredOnABusinessCall(t *testing.T) {
	t.Parallel()
	h := newHarness(t, pasrautest.Config{}, false)
	c := h.client(h.config(alice()))
	if _, err := c.ListByFlux(context.Background(), "F1spdeAilkR4q3UU1QA7haa", 0, 0); !errors.Is(err, pasrau.ErrUnknownFlux) {
		t.Fatalf("ListByFlux: %v", err)
	}
	if err := h.emu.SetRegistered(alice().SIRET, false); err != nil {
		t.Fatal(err)
	}
	_, err := c.ListByFlux(context.Background(), "F1spdeAilkR4q3UU1QA7haa", 0, 0)
	e := asError(t, err)
	if !errors.Is(err, pasrau.ErrNotRegistered) || e.Op != pasrau.OpListFlux || !e.Retryable() || e.RetryAfter() != pasrau.NotRegisteredRetryAfter {
		t.Errorf("got %v (op %s, retryable %v, after %v), want a retryable ErrNotRegistered from list-flux after 6h", err, e.Op, e.Retryable(), e.RetryAfter())
	}
	if n := len(h.requests("auth")); n != 1 {
		t.Errorf("%d authentications, want 1: non-inscrit is not a token problem", n)
	}
}
