package choruspro

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// tokenCache holds the PISTE token of one Client. Only one fetch runs at a
// time: concurrent callers wait for it. A token is replaced early (see
// Config.TokenEarlyRefresh) or when a call invalidates it after a 401.
//
// golang.org/x/oauth2/clientcredentials is not used: its TokenSource can
// neither be invalidated after a 401 nor report Retry-After,
// WWW-Authenticate and whether the request was written, which the error
// classification of this package needs. The exchange itself is a single form
// POST.
type tokenCache struct {
	fetch    func(ctx context.Context) (token string, lifetime time.Duration, err error)
	now      func() time.Time
	early    time.Duration
	observer TokenObserver

	mu        sync.Mutex
	token     string
	refreshAt time.Time
	gen       uint64 // incremented by every successful fetch
	flight    *tokenFlight
}

// tokenFlight is one fetch in progress; done is closed when it ends.
type tokenFlight struct {
	done           chan struct{}
	token          string
	gen            uint64
	err            error
	leaderCanceled bool // the fetching caller's own context ended
}

// get returns a valid token and its generation, fetching one if needed. It
// returns the fetch's *Error, or an *Error wrapping the context's error when
// ctx ends while waiting for another caller's fetch.
func (tc *tokenCache) get(ctx context.Context) (string, uint64, error) {
	for {
		tc.mu.Lock()
		if tc.token != "" && tc.now().Before(tc.refreshAt) {
			tok, gen := tc.token, tc.gen
			tc.mu.Unlock()
			return tok, gen, nil
		}
		if f := tc.flight; f != nil {
			tc.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return "", 0, &Error{Op: "Token", Err: fmt.Errorf("waiting for a token: %w", ctx.Err()), notSent: true}
			}
			if f.err == nil {
				return f.token, f.gen, nil
			}
			if f.leaderCanceled && ctx.Err() == nil {
				continue // the fetch died with its caller; fetch anew
			}
			return "", 0, f.err
		}
		f := &tokenFlight{done: make(chan struct{})}
		tc.flight = f
		tc.mu.Unlock()
		return tc.lead(ctx, f)
	}
}

// lead runs the fetch of flight f and publishes its result.
func (tc *tokenCache) lead(ctx context.Context, f *tokenFlight) (string, uint64, error) {
	start := tc.now()
	tok, lifetime, err := tc.fetch(ctx)
	took := tc.now().Sub(start)

	tc.mu.Lock()
	tc.flight = nil
	if err == nil {
		margin := min(tc.early, lifetime/2)
		tc.token = tok
		tc.gen++
		tc.refreshAt = start.Add(lifetime - margin)
		f.token, f.gen = tok, tc.gen
	} else {
		f.err = err
		f.leaderCanceled = ctx.Err() != nil
	}
	close(f.done)
	gen := tc.gen
	tc.mu.Unlock()

	if tc.observer != nil {
		tc.observer(ctx, took, err)
	}
	if err != nil {
		return "", 0, err
	}
	return tok, gen, nil
}

// invalidate forgets the token of generation gen, after a 401 answered a call
// made with it. A newer token, fetched meanwhile by another caller, is kept.
func (tc *tokenCache) invalidate(gen uint64) {
	tc.mu.Lock()
	if tc.gen == gen {
		tc.token = ""
	}
	tc.mu.Unlock()
}

// tokenAnswer is the token endpoint's answer, success and error fields.
type tokenAnswer struct {
	AccessToken      string      `json:"access_token"`
	TokenType        string      `json:"token_type"`
	ExpiresIn        json.Number `json:"expires_in"`
	Scope            string      `json:"scope"`
	Error            string      `json:"error"`
	ErrorDescription string      `json:"error_description"`
}

// defaultTokenLifetime is assumed when the token endpoint omits expires_in.
const defaultTokenLifetime = time.Hour

// fetchToken performs the OAuth2 client-credentials exchange. Errors are
// *Error with Op "Token": ErrAuth for invalid_client and other refusals,
// retryable for 429 and 5xx.
func (c *Client) fetchToken(ctx context.Context) (string, time.Duration, error) {
	const op = "Token"
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {c.cfg.ClientID},
		"client_secret": {c.cfg.ClientSecret},
		"scope":         {"openid"},
	}
	hdr := http.Header{}
	hdr.Set("Content-Type", "application/x-www-form-urlencoded")
	hdr.Set("Accept", "application/json")
	resp, err := c.roundTrip(ctx, op, http.MethodPost, c.cfg.TokenURL, []byte(form.Encode()), hdr)
	if err != nil {
		return "", 0, err
	}
	var ans tokenAnswer
	decodeErr := json.Unmarshal(resp.body, &ans)
	e := &Error{
		Op:              op,
		HTTPStatus:      resp.status,
		WWWAuthenticate: resp.header.Get("WWW-Authenticate"),
		RetryAfterDur:   parseRetryAfter(resp.header.Get("Retry-After"), c.now()),
	}
	if ans.Error != "" {
		e.Libelle = ans.Error
		if ans.ErrorDescription != "" {
			e.Libelle += ": " + ans.ErrorDescription
		}
	}
	switch {
	case resp.status >= 200 && resp.status < 300:
		if decodeErr != nil {
			e.Err = fmt.Errorf("decoding the token answer: %w", decodeErr)
			return "", 0, e
		}
		if ans.AccessToken == "" {
			e.Err = errors.New("the token answer has no access_token")
			return "", 0, e
		}
		if ans.TokenType != "" && !strings.EqualFold(ans.TokenType, "Bearer") {
			e.Err = fmt.Errorf("the token answer has token_type %q, want Bearer", ans.TokenType)
			return "", 0, e
		}
		lifetime := defaultTokenLifetime
		if ans.ExpiresIn != "" {
			secs, err := ans.ExpiresIn.Int64()
			if err != nil || secs <= 0 {
				e.Err = fmt.Errorf("the token answer has an invalid expires_in")
				return "", 0, e
			}
			lifetime = time.Duration(min(secs, int64(366*24*3600))) * time.Second
		}
		return ans.AccessToken, lifetime, nil
	case ans.Error == "invalid_client":
		e.kind = ErrAuth
		e.Err = errors.New("the PISTE client id or client secret is wrong (invalid_client)")
	case resp.status == http.StatusForbidden:
		e.kind = ErrForbidden
	case retryableStatus(resp.status):
		e.retryable = true
	case resp.status == http.StatusBadRequest || resp.status == http.StatusUnauthorized:
		e.kind = ErrAuth
	}
	return "", 0, e
}
