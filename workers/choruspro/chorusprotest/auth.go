package chorusprotest

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Authentication modes, as in the request log.
const (
	modeOAuth  = "oauth"
	modePISTE  = "piste"
	modeDirect = "direct"
)

// opToken names the token endpoint in the request log and in
// Faults.Operations.
const opToken = "token"

// WWW-Authenticate texts.
const (
	wwwAccountRefused  = `Bearer realm="PISTE",error="Unauthorized",error_description="login or password incorrects"`
	wwwPasswordExpired = `Bearer realm="PISTE",error="Unauthorized",error_description="technical account password expired"`
	wwwTokenMissing    = `Bearer realm="PISTE",error="invalid_request",error_description="missing access token"`
	wwwTokenInvalid    = `Bearer realm="PISTE",error="invalid_token",error_description="invalid access token"`
	wwwTokenExpired    = `Bearer realm="PISTE",error="invalid_token",error_description="access token expired"`
	wwwBasicRefused    = `Basic realm="Chorus Pro",error="Unauthorized",error_description="login or password incorrects"`
	wwwBasicExpired    = `Basic realm="Chorus Pro",error="Unauthorized",error_description="technical account password expired"`
	wwwBasicNoCert     = `Basic realm="Chorus Pro",error="Unauthorized",error_description="client certificate required"`
)

// accessToken is a token issued by the token endpoint.
type accessToken struct {
	clientID string
	expires  time.Time
	calls    int  // business calls made with it
	revoked  bool // expired early by a fault
}

// handleToken serves POST /api/oauth/token: the OAuth2 client-credentials
// grant. A wrong client is 400 invalid_client, as PISTE answers.
func (e *Emulator) handleToken(w http.ResponseWriter, r *http.Request) {
	rec := e.newRecord(r, opToken, modeOAuth)
	defer e.commit(rec)
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		e.reply(w, rec, http.StatusMethodNotAllowed, map[string]string{"error": "method not allowed"})
		return
	}
	e.mu.Lock()
	fault := ""
	switch {
	case e.faults.TokenEndpointDown:
		fault = faultTokenDown
	case e.faults.AffectTokenEndpoint:
		fault = e.drawFault(opToken)
	}
	retryAfter, delay := e.faults.RetryAfterSeconds, e.slowDelay()
	e.mu.Unlock()
	if e.writeFault(w, fault, retryAfter, rec) {
		return
	}

	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		e.oauthError(w, rec, "invalid_request", "malformed form body")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		e.oauthError(w, rec, "unsupported_grant_type", "grant_type must be client_credentials")
		return
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok && id == "" {
		id, secret = u, p
	}
	rec.ClientID = id
	app, ok := e.apps[id]
	if !ok || subtle.ConstantTimeCompare([]byte(secret), []byte(app.ClientSecret)) != 1 {
		e.oauthError(w, rec, "invalid_client", "Client authentication failed")
		return
	}

	var raw [32]byte
	_, _ = rand.Read(raw[:])
	tok := hex.EncodeToString(raw[:])
	e.mu.Lock()
	now := e.now()
	if len(e.tokens) > 1024 {
		for k, t := range e.tokens {
			if !now.Before(t.expires) || t.revoked {
				delete(e.tokens, k)
			}
		}
	}
	e.tokens[tok] = &accessToken{clientID: id, expires: now.Add(e.cfg.TokenLifetime)}
	e.mu.Unlock()
	rec.Applied = true

	if e.postFault(w, r, fault, delay, rec) {
		return
	}
	e.reply(w, rec, http.StatusOK, map[string]any{
		"access_token": tok,
		"token_type":   "Bearer",
		"expires_in":   int64(e.cfg.TokenLifetime / time.Second),
		"scope":        "openid",
	})
}

// oauthError answers 400 with an OAuth2 error.
func (e *Emulator) oauthError(w http.ResponseWriter, rec *callRecord, code, description string) {
	e.reply(w, rec, http.StatusBadRequest, map[string]string{"error": code, "error_description": description})
}

// authFailure is a refused authentication: the status and WWW-Authenticate
// to answer.
type authFailure struct {
	status int
	www    string
}

// authenticate checks a business call's credentials. It returns the
// technical account, or the failure to answer (401, 403). In PISTE mode the
// checks follow the gateway's order: token, subscription to the API, then
// the technical account.
func (e *Emulator) authenticate(r *http.Request, mode string, op operation, fault string, rec *callRecord) (*TechnicalAccount, *authFailure) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	if mode == modePISTE {
		authz := r.Header.Get("Authorization")
		if len(authz) < 7 || !strings.EqualFold(authz[:7], "Bearer ") {
			return nil, &authFailure{http.StatusUnauthorized, wwwTokenMissing}
		}
		t := e.tokens[strings.TrimSpace(authz[7:])]
		if t == nil {
			return nil, &authFailure{http.StatusUnauthorized, wwwTokenInvalid}
		}
		rec.ClientID = t.clientID
		if fault == faultExpireToken || (e.faults.TokenExpiryEvery > 0 && t.calls >= e.faults.TokenExpiryEvery && !t.revoked) {
			t.revoked = true
			rec.Fault = faultExpireToken
		}
		if t.revoked || !now.Before(t.expires) {
			return nil, &authFailure{http.StatusUnauthorized, wwwTokenExpired}
		}
		t.calls++
		app := e.apps[t.clientID]
		if len(app.APIs) > 0 && !slices.Contains(app.APIs, op.api) {
			return nil, &authFailure{http.StatusForbidden, ""}
		}
		login, password, ok := decodeAccount(r.Header.Get("cpro-account"))
		rec.Login = login
		acct := e.accounts[login]
		if !ok || acct == nil || subtle.ConstantTimeCompare([]byte(password), []byte(acct.Password)) != 1 {
			return nil, &authFailure{http.StatusUnauthorized, wwwAccountRefused}
		}
		if !acct.PasswordExpiresAt.IsZero() && !now.Before(acct.PasswordExpiresAt) {
			return nil, &authFailure{http.StatusUnauthorized, wwwPasswordExpired}
		}
		return acct, nil
	}

	login, password, ok := r.BasicAuth()
	rec.Login = login
	if e.cfg.RequireClientCert && (r.TLS == nil || len(r.TLS.VerifiedChains) == 0) {
		return nil, &authFailure{http.StatusUnauthorized, wwwBasicNoCert}
	}
	acct := e.accounts[login]
	if !ok || acct == nil || subtle.ConstantTimeCompare([]byte(password), []byte(acct.Password)) != 1 {
		return nil, &authFailure{http.StatusUnauthorized, wwwBasicRefused}
	}
	if !acct.PasswordExpiresAt.IsZero() && !now.Before(acct.PasswordExpiresAt) {
		return nil, &authFailure{http.StatusUnauthorized, wwwBasicExpired}
	}
	return acct, nil
}

// decodeAccount reads a cpro-account header: base64(login:password).
func decodeAccount(h string) (login, password string, ok bool) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(h))
	if err != nil {
		return "", "", false
	}
	login, password, ok = strings.Cut(string(raw), ":")
	return login, password, ok
}
