package choruspro

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// Retour is the outcome every Chorus Pro answer carries: CodeRetour 0 and a
// Libelle such as "GCU_MSG_01_000" on success.
type Retour struct {
	CodeRetour int    `json:"codeRetour"`
	Libelle    string `json:"libelle,omitempty"`
}

// retour returns the outcome; answer types get it by embedding Retour.
func (r *Retour) retour() *Retour { return r }

// outcome is implemented by every answer type.
type outcome interface{ retour() *Retour }

// lenientAnswer is implemented by answers whose body does not matter when
// it is not JSON (the health check).
type lenientAnswer interface{ lenient() }

// errorBody is what an error answer may hold: Chorus Pro's outcome, or an
// OAuth-style error from the PISTE gateway.
type errorBody struct {
	Retour
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// call issues one operation: JSON in (nil for GET), JSON out. In PISTE mode a
// 401 invalidates the token and the call is issued once more with a fresh
// one; a second 401 is ErrAuth.
func (c *Client) call(ctx context.Context, op, method, path string, in any, out outcome) error {
	var body []byte
	if in != nil {
		var err error
		body, err = json.Marshal(in)
		if err != nil {
			return &Error{Op: op, Err: fmt.Errorf("encoding the request: %w", err)}
		}
	}
	target := c.cfg.BaseURL + path
	for attempt := 1; ; attempt++ {
		hdr := http.Header{}
		if body != nil {
			hdr.Set("Content-Type", "application/json;charset=utf-8")
		}
		hdr.Set("Accept", "application/json;charset=utf-8")
		var gen uint64
		if c.tokens != nil {
			tok, g, err := c.tokens.get(ctx)
			if err != nil {
				return err
			}
			gen = g
			hdr.Set("Authorization", "Bearer "+tok)
			hdr.Set("cpro-account", c.account)
		} else {
			hdr.Set("Authorization", "Basic "+c.account)
		}
		ans, err := c.roundTrip(ctx, op, method, target, body, hdr)
		if err != nil {
			return err
		}
		if ans.status == http.StatusUnauthorized && c.tokens != nil && attempt == 1 {
			c.tokens.invalidate(gen)
			continue
		}
		return c.decode(op, ans, out)
	}
}

// decode turns an answer into out or into an *Error.
func (c *Client) decode(op string, ans *answer, out outcome) error {
	if ans.status >= 200 && ans.status < 300 {
		if err := json.Unmarshal(ans.body, out); err != nil {
			if _, ok := out.(lenientAnswer); ok {
				return nil // any 2xx body will do
			}
			return &Error{Op: op, HTTPStatus: ans.status, Err: fmt.Errorf("decoding the answer: %w", err)}
		}
		if r := out.retour(); r.CodeRetour != 0 {
			return &Error{Op: op, HTTPStatus: ans.status, CodeRetour: r.CodeRetour, Libelle: r.Libelle, kind: ErrBusiness}
		}
		return nil
	}
	e := &Error{
		Op:              op,
		HTTPStatus:      ans.status,
		WWWAuthenticate: ans.header.Get("WWW-Authenticate"),
		RetryAfterDur:   parseRetryAfter(ans.header.Get("Retry-After"), c.now()),
	}
	var eb errorBody
	if json.Unmarshal(ans.body, &eb) == nil {
		e.CodeRetour, e.Libelle = eb.CodeRetour, eb.Libelle
		if e.Libelle == "" && eb.Error != "" {
			e.Libelle = eb.Error
			if eb.ErrorDescription != "" {
				e.Libelle += ": " + eb.ErrorDescription
			}
		}
	}
	switch {
	case ans.status == http.StatusUnauthorized:
		e.kind = ErrAuth
		if passwordExpired(e.WWWAuthenticate, e.Libelle) {
			e.kind = ErrPasswordExpired
		}
	case ans.status == http.StatusForbidden:
		e.kind = ErrForbidden
	case ans.status == http.StatusRequestEntityTooLarge:
		e.kind = ErrTooLarge
	case ans.status == http.StatusBadRequest:
		e.kind = ErrBusiness
	case retryableStatus(ans.status):
		e.retryable = true
	}
	return e
}
