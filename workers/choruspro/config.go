package choruspro

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// AuthMode says how a Client authenticates to Chorus Pro.
type AuthMode string

const (
	// AuthPISTE authenticates through the PISTE gateway: an OAuth2
	// client-credentials token plus the technical account in the cpro-account
	// header. It is the current way.
	AuthPISTE AuthMode = "piste"
	// AuthDirect authenticates with HTTP basic authentication (technical
	// account) and a TLS client certificate, against
	// https://chorus-pro.gouv.fr:5443/service (or /service-qualif).
	AuthDirect AuthMode = "direct"
)

// Defaults applied by New to the zero fields of a Config.
const (
	// DefaultTokenEarlyRefresh is how long before its expiry a PISTE token is
	// replaced (the margin the OCA Odoo module uses).
	DefaultTokenEarlyRefresh = 240 * time.Second
	// DefaultTimeout bounds one HTTP attempt, answer included.
	DefaultTimeout = 60 * time.Second
	// DefaultUserAgent is sent when Config.UserAgent is empty.
	DefaultUserAgent = "passerelle-choruspro/1"
)

// Config is what a Client needs. Secrets (ClientSecret, Password,
// P12Password, P12) never appear in errors nor in String.
type Config struct {
	// BaseURL is the root the API paths are appended to, without the
	// operation path: https://sandbox-api.piste.gouv.fr/cpro or
	// https://api.piste.gouv.fr/cpro in PISTE mode,
	// https://chorus-pro.gouv.fr:5443/service-qualif or .../service in direct
	// mode. Required; https unless AllowHTTP.
	BaseURL string
	// Auth is AuthPISTE or AuthDirect. Required.
	Auth AuthMode

	// TokenURL is the PISTE OAuth2 token endpoint, e.g.
	// https://sandbox-oauth.piste.gouv.fr/api/oauth/token. Required in PISTE
	// mode.
	TokenURL string
	// ClientID and ClientSecret identify the PISTE application. Required in
	// PISTE mode.
	ClientID     string
	ClientSecret string

	// Login and Password are the Chorus Pro technical account. Required in
	// both modes: sent as cpro-account: base64(login:password) in PISTE mode
	// and as HTTP basic authentication in direct mode.
	Login    string
	Password string

	// P12 holds the bytes of a PKCS#12 (.p12/.pfx) file with the TLS client
	// certificate, its private key and optionally its chain; P12Password opens
	// it. Required in direct mode; presented in PISTE mode too when given.
	P12         []byte
	P12Password string
	// ExtraCAPEM holds PEM certificates trusted in addition to the system
	// pool, to verify the server. Optional.
	ExtraCAPEM []byte

	// TokenEarlyRefresh is how long before expiry a token is replaced;
	// DefaultTokenEarlyRefresh when zero. It is capped at half the token's
	// lifetime so that short-lived tokens are still reused.
	TokenEarlyRefresh time.Duration
	// Timeout bounds one HTTP attempt (token fetches included);
	// DefaultTimeout when zero.
	Timeout time.Duration
	// UserAgent is sent on every request; DefaultUserAgent when empty.
	UserAgent string
	// AllowHTTP permits http:// in BaseURL and TokenURL. Meant for the
	// emulator only: credentials then travel in clear.
	AllowHTTP bool
}

// String describes the configuration without any secret.
func (c Config) String() string {
	return fmt.Sprintf("choruspro.Config{BaseURL:%q Auth:%q TokenURL:%q ClientID:%q Login:%q P12:%d bytes ExtraCAPEM:%d bytes TokenEarlyRefresh:%s Timeout:%s UserAgent:%q AllowHTTP:%t}",
		c.BaseURL, c.Auth, c.TokenURL, c.ClientID, c.Login, len(c.P12), len(c.ExtraCAPEM), c.TokenEarlyRefresh, c.Timeout, c.UserAgent, c.AllowHTTP)
}

// GoString is String, so that %#v does not print secrets either.
func (c Config) GoString() string { return c.String() }

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.TokenEarlyRefresh == 0 {
		c.TokenEarlyRefresh = DefaultTokenEarlyRefresh
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	return c
}

// validate checks every field that does not need decoding (the .p12 and the
// CA PEM are checked when the TLS configuration is built). Errors wrap
// ErrConfig and name the field.
func (c Config) validate() error {
	if err := c.checkURL("BaseURL", c.BaseURL); err != nil {
		return err
	}
	if c.Login == "" {
		return configError("Login (technical account) is required")
	}
	if strings.Contains(c.Login, ":") {
		return configError("Login must not contain ':'")
	}
	if c.Password == "" {
		return configError("Password (technical account) is required")
	}
	switch c.Auth {
	case AuthPISTE:
		if err := c.checkURL("TokenURL", c.TokenURL); err != nil {
			return err
		}
		if c.ClientID == "" {
			return configError("ClientID is required in PISTE mode")
		}
		if c.ClientSecret == "" {
			return configError("ClientSecret is required in PISTE mode")
		}
	case AuthDirect:
		if len(c.P12) == 0 {
			return configError("P12 (client certificate) is required in direct mode")
		}
	case "":
		return configError(fmt.Sprintf("Auth is required (%q or %q)", AuthPISTE, AuthDirect))
	default:
		return configError(fmt.Sprintf("Auth %q is unknown (want %q or %q)", c.Auth, AuthPISTE, AuthDirect))
	}
	if c.TokenEarlyRefresh < 0 {
		return configError("TokenEarlyRefresh must not be negative")
	}
	if c.Timeout < 0 {
		return configError("Timeout must not be negative")
	}
	return nil
}

// checkURL checks that raw is an absolute http(s) URL without credentials,
// query or fragment.
func (c Config) checkURL(field, raw string) error {
	if raw == "" {
		return configError(field + " is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// The parse error quotes the URL, which might hold credentials.
		return configError(field + " is not a valid URL")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && c.AllowHTTP:
	case u.Scheme == "http":
		return configError(field + " must use https (set AllowHTTP only for the emulator)")
	default:
		return configError(fmt.Sprintf("%s must be an http(s) URL, got scheme %q", field, u.Scheme))
	}
	if u.Host == "" {
		return configError(field + " has no host")
	}
	if u.User != nil {
		return configError(field + " must not carry credentials")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return configError(field + " must not have a query or a fragment")
	}
	return nil
}

// configError wraps ErrConfig with a message naming what is wrong.
func configError(msg string) error {
	return fmt.Errorf("%w: %s", ErrConfig, msg)
}
