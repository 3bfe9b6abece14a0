package pasrau

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// tokenSource caches the declarant's token and runs at most one
// authentication at a time; concurrent callers wait for it.
type tokenSource struct {
	c *Client

	mu      sync.Mutex
	token   string
	expires time.Time // local time after which the token is not used
	gen     uint64    // incremented at each new token
	call    *authCall // the authentication in flight, if any
	// refused latches a permanent refusal (bad credentials, locked
	// account): the credentials are never sent again by this Client.
	refused *Error
	// unregisteredUntil holds back authentication after "non-inscrit".
	unregisteredUntil time.Time
	unregistered      *Error
}

// authCall is one authentication shared by the callers waiting for it.
type authCall struct {
	done  chan struct{}
	token string
	gen   uint64
	err   error
}

// get returns a valid token and its generation, authenticating when there is
// none. It fails with the latched refusal, ErrNotRegistered while the
// registration wait runs, the authentication's error, or ErrNoAnswer (not
// retryable) wrapping ctx's error when the caller gives up waiting.
func (s *tokenSource) get(ctx context.Context) (string, uint64, error) {
	s.mu.Lock()
	if s.refused != nil {
		err := s.refused
		s.mu.Unlock()
		return "", 0, err
	}
	now := s.c.now()
	if now.Before(s.unregisteredUntil) {
		e := *s.unregistered
		e.retryAfter = s.unregisteredUntil.Sub(now)
		s.mu.Unlock()
		return "", 0, &e
	}
	if s.token != "" && now.Before(s.expires) {
		token, gen := s.token, s.gen
		s.mu.Unlock()
		return token, gen, nil
	}
	call := s.call
	if call == nil {
		call = &authCall{done: make(chan struct{})}
		s.call = call
		// The authentication outlives a caller that gives up: others may
		// be waiting for it. It keeps the context's values (trace).
		go s.authenticate(context.WithoutCancel(ctx), call)
	}
	s.mu.Unlock()
	select {
	case <-call.done:
		return call.token, call.gen, call.err
	case <-ctx.Done():
		return "", 0, &Error{Op: OpAuth, Kind: ErrNoAnswer, Cause: fmt.Errorf("waiting for authentication: %w", ctx.Err())}
	}
}

// invalidate forgets the token of generation gen, unless a newer one has
// replaced it since (then the caller simply gets the newer one).
func (s *tokenSource) invalidate(gen uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen == gen {
		s.token = ""
	}
}

// authenticate runs one authentication and publishes its result.
func (s *tokenSource) authenticate(ctx context.Context, call *authCall) {
	token, expires, err := s.c.authenticate(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	defer close(call.done)
	s.call = nil
	if err != nil {
		call.err = err
		var e *Error
		if errors.As(err, &e) {
			switch {
			case errors.Is(e.Kind, ErrBadCredentials), errors.Is(e.Kind, ErrForbidden):
				s.refused = e
			case errors.Is(e.Kind, ErrNotRegistered):
				s.unregistered, s.unregisteredUntil = e, s.c.now().Add(NotRegisteredRetryAfter)
			}
		}
		return
	}
	s.gen++
	s.token, s.expires = token, expires
	call.token, call.gen = token, s.gen
}

// authenticate posts the credentials and returns the token and the local
// time after which not to use it. Errors are *Error with Op OpAuth:
// ErrBadCredentials (401 Basic), ErrNotRegistered (401 non-inscrit),
// ErrInvalidParameters (422), ErrForbidden (403, locked account),
// ErrUnavailable (404, 5xx), ErrNoAnswer, ErrUnexpected (empty token).
func (c *Client) authenticate(ctx context.Context) (string, time.Time, error) {
	var body bytes.Buffer
	body.WriteString("<identifiants>")
	for _, f := range []struct{ name, value string }{
		{"siret", c.cfg.SIRET}, {"nom", c.cfg.Nom}, {"prenom", c.cfg.Prenom},
		{"motdepasse", string(c.cfg.MotDePasse)}, {"service", c.cfg.Service},
	} {
		body.WriteString("<" + f.name + ">")
		if err := xml.EscapeText(&body, []byte(f.value)); err != nil {
			return "", time.Time{}, &Error{Op: OpAuth, Kind: ErrInvalidConfig, Cause: fmt.Errorf("escaping %s", f.name)}
		}
		body.WriteString("</" + f.name + ">")
	}
	body.WriteString("</identifiants>")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.AuthURL, bytes.NewReader(body.Bytes()))
	if err != nil {
		return "", time.Time{}, &Error{Op: OpAuth, Kind: ErrInvalidConfig, Cause: fmt.Errorf("building the request: %w", err)}
	}
	req.Header.Set("Content-Type", "application/xml; charset=UTF-8")
	req.Header.Set("User-Agent", c.userAgent)
	ex, err := c.send(ctx, OpAuth, req)
	if err != nil {
		return "", time.Time{}, err
	}
	switch ex.status {
	case http.StatusOK:
	case http.StatusUnauthorized:
		_, realm := parseChallenge(ex.header.Get("WWW-Authenticate"))
		e := &Error{Op: OpAuth, HTTPStatus: ex.status, Realm: realm, Kind: ErrBadCredentials}
		if realmNotRegistered(realm) {
			e.Kind, e.retryable, e.retryAfter = ErrNotRegistered, true, NotRegisteredRetryAfter
		}
		return "", time.Time{}, e
	case http.StatusUnprocessableEntity:
		return "", time.Time{}, &Error{Op: OpAuth, HTTPStatus: ex.status, Kind: ErrInvalidParameters}
	default:
		return "", time.Time{}, c.statusError(OpAuth, ex)
	}
	token := strings.TrimSpace(string(ex.body))
	if token == "" || strings.ContainsAny(token, " \t\r\n") || len(token) > 8192 {
		return "", time.Time{}, &Error{Op: OpAuth, HTTPStatus: ex.status, Kind: ErrUnexpected, Cause: fmt.Errorf("the answer is not a token"), retryable: true}
	}
	return token, c.tokenDeadline(ex), nil
}

// tokenDeadline returns the local time after which the token is not used:
// its lifetime (Expires minus the answer's Date, or TokenLifetime when
// Expires is absent or unreadable) less a margin of a tenth of it, at most a
// minute, so that a call never leaves with a token about to expire.
func (c *Client) tokenDeadline(ex *exchange) time.Time {
	lifetime := c.cfg.TokenLifetime
	if exp, err := http.ParseTime(ex.header.Get("Expires")); err == nil {
		ref := ex.at
		if d, err := http.ParseTime(ex.header.Get("Date")); err == nil {
			ref = d
		}
		if l := exp.Sub(ref); l > 0 {
			lifetime = l
		}
	}
	margin := min(lifetime/10, time.Minute)
	return ex.at.Add(lifetime - margin)
}

// business runs a call that needs the token: it sends the request built by
// build, and on a 401 whose realm is about the token (missing, invalid,
// expired) it re-authenticates once (unless another call already did) and
// sends again. A second 401 is ErrTokenRejected; a 401 "non-inscrit" is
// ErrNotRegistered. Other answers are returned as they came.
func (c *Client) business(ctx context.Context, op Op, build func(ctx context.Context, token string) (*http.Request, error)) (*exchange, error) {
	for attempt := 1; ; attempt++ {
		token, gen, err := c.tokens.get(ctx)
		if err != nil {
			return nil, err
		}
		req, err := build(ctx, token)
		if err != nil {
			return nil, &Error{Op: op, Kind: ErrInvalidArgument, Cause: err}
		}
		req.Header.Set("Authorization", "PASRAULogin jeton="+token)
		req.Header.Set("User-Agent", c.userAgent)
		req.Header.Set("Accept-Encoding", "gzip")
		ex, err := c.send(ctx, op, req)
		if err != nil {
			return nil, err
		}
		if ex.status != http.StatusUnauthorized {
			return ex, nil
		}
		e := c.statusError(op, ex)
		if errors.Is(e.Kind, ErrNotRegistered) || attempt == 2 {
			return nil, e
		}
		c.tokens.invalidate(gen)
	}
}
