package pasrau

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// Service codes of PASRAU on net-entreprises' authentication service.
const (
	ServiceProduction = "30"
	ServiceTest       = "80"
)

// Defaults of Config fields left zero.
const (
	// DefaultAttemptTimeout bounds one HTTP exchange, body included.
	DefaultAttemptTimeout = 2 * time.Minute
	// DefaultTokenLifetime is assumed when the authentication answer has no
	// usable Expires header; shorter than the 2 h net-entreprises tokens are
	// known to last, so the client renews before PASRAU expires the token.
	DefaultTokenLifetime = time.Hour
)

// Secret is a string that never prints: fmt, slog and encoders show
// "[redacted]". Convert it with string() to use it.
type Secret string

const redacted = "[redacted]"

// String returns "[redacted]".
func (Secret) String() string { return redacted }

// GoString returns "[redacted]".
func (Secret) GoString() string { return redacted }

// MarshalText returns "[redacted]"; it never fails.
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue returns "[redacted]".
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// Endpoints are the addresses of one PASRAU platform (guide 10.2).
type Endpoints struct {
	// AuthURL is the authentication service, e.g.
	// https://test-services.net-entreprises.fr/authentifier/1.0/.
	AuthURL string
	// DepositURL is the deposit service, e.g.
	// https://edit-pasrau-ws.net-entreprises.fr/deposer-pasrau/1.0/.
	DepositURL string
	// ListFluxURL is the base of the listing by flux; the flux id is
	// appended.
	ListFluxURL string
	// ListDeclarantURL is the base of the listing by declarant; the range is
	// appended.
	ListDeclarantURL string
	// AllowedDownloadHosts are the hosts (name, or name:port) download urls
	// may name: the returns host and the CRM host (guide 10.3). A listing is
	// data from outside: any other host is refused without a request.
	AllowedDownloadHosts []string
	// PlainHTTPDownloadHosts are hosts (among the allowed ones) whose
	// download urls may use http instead of https: an emulator in tests,
	// never a real platform.
	PlainHTTPDownloadHosts []string
	// Service is the net-entreprises service code: ServiceProduction (30) or
	// ServiceTest (80).
	Service string
}

// EditeurEndpoints returns the "EDITEUR" test platform of the guide (v2.7),
// with service code 80.
func EditeurEndpoints() Endpoints {
	return Endpoints{
		AuthURL:              "https://test-services.net-entreprises.fr/authentifier/1.0/",
		DepositURL:           "https://edit-pasrau-ws.net-entreprises.fr/deposer-pasrau/1.0/",
		ListFluxURL:          "https://edit-pasrau-ws.net-entreprises.fr/lister-retours-flux/1.0/",
		ListDeclarantURL:     "https://edit-pasrau-ws.net-entreprises.fr/lister-retours-declarant/1.0/",
		AllowedDownloadHosts: []string{"edit-pasrau-ws.net-entreprises.fr", "edit-pasraucrm.net-entreprises.fr"},
		Service:              ServiceTest,
	}
}

// ProductionEndpoints returns the production platform of the guide (v2.7),
// with service code 30.
func ProductionEndpoints() Endpoints {
	return Endpoints{
		AuthURL:              "https://services.net-entreprises.fr/authentifier/1.0/",
		DepositURL:           "https://pasrau-ws.net-entreprises.fr/deposer-pasrau/1.0/",
		ListFluxURL:          "https://pasrau-ws.net-entreprises.fr/lister-retours-flux/1.0/",
		ListDeclarantURL:     "https://pasrau-ws.net-entreprises.fr/lister-retours-declarant/1.0/",
		AllowedDownloadHosts: []string{"pasrau-ws.net-entreprises.fr", "pasraucrm.net-entreprises.fr"},
		Service:              ServiceProduction,
	}
}

// UserAgent names the software in the User-Agent header (guide 8.1).
type UserAgent struct {
	Software string
	Version  string
	Editor   string
}

// String returns "Client-PASRAU (<software>/<version>; <editor>)", or
// "Client-PASRAU" when the software is not named.
func (u UserAgent) String() string {
	if u.Software == "" {
		return "Client-PASRAU"
	}
	s := u.Software
	if u.Version != "" {
		s += "/" + u.Version
	}
	if u.Editor != "" {
		s += "; " + u.Editor
	}
	return "Client-PASRAU (" + s + ")"
}

// Config is what a Client needs. New checks it before any request.
type Config struct {
	Endpoints

	// SIRET (14 digits), Nom (1-64 characters), Prenom (1-39) and
	// MotDePasse (8-30) are the declarant's net-entreprises credentials.
	SIRET      string
	Nom        string
	Prenom     string
	MotDePasse Secret

	// UserAgent names the software; see UserAgent.String.
	UserAgent UserAgent

	// Location is the zone of PASRAU's zone-less times; nil means
	// Europe/Paris.
	Location *time.Location

	// ExtraCAPEM holds PEM certificates trusted in addition to the system's
	// (e.g. Certigna "servicesca"). TLS verification is always on.
	ExtraCAPEM []byte

	// AttemptTimeout bounds one HTTP exchange; 0 means
	// DefaultAttemptTimeout.
	AttemptTimeout time.Duration

	// TokenLifetime is assumed when the authentication answer has no usable
	// Expires header; 0 means DefaultTokenLifetime.
	TokenLifetime time.Duration
}

// check returns every problem of the configuration, each naming the field
// (never its value), joined; each matches ErrInvalidConfig.
func (c *Config) check() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}
	for _, u := range []struct{ name, value string }{
		{"AuthURL", c.AuthURL}, {"DepositURL", c.DepositURL},
		{"ListFluxURL", c.ListFluxURL}, {"ListDeclarantURL", c.ListDeclarantURL},
	} {
		if err := checkEndpoint(u.value); err != nil {
			bad("%s %v", u.name, err)
		}
	}
	if len(c.AllowedDownloadHosts) == 0 {
		bad("AllowedDownloadHosts is empty: no return could be downloaded")
	}
	for _, h := range append(append([]string(nil), c.AllowedDownloadHosts...), c.PlainHTTPDownloadHosts...) {
		if h == "" || strings.ContainsAny(h, "/?#@ ") {
			bad("AllowedDownloadHosts and PlainHTTPDownloadHosts hold host names or host:port only")
			break
		}
	}
	if len(c.SIRET) != 14 || !allDigits([]byte(c.SIRET)) {
		bad("SIRET must be 14 digits")
	}
	if n := utf8.RuneCountInString(c.Nom); n < 1 || n > 64 {
		bad("Nom must be 1 to 64 characters")
	}
	if n := utf8.RuneCountInString(c.Prenom); n < 1 || n > 39 {
		bad("Prenom must be 1 to 39 characters")
	}
	if n := utf8.RuneCountInString(string(c.MotDePasse)); n < 8 || n > 30 {
		bad("MotDePasse must be 8 to 30 characters")
	}
	if n := len(c.Service); n < 1 || n > 2 || !allDigits([]byte(c.Service)) {
		bad("Service must be 1 or 2 digits (30 production, 80 test)")
	}
	if len(c.ExtraCAPEM) > 0 && !x509.NewCertPool().AppendCertsFromPEM(c.ExtraCAPEM) {
		bad("ExtraCAPEM holds no PEM certificate")
	}
	if c.AttemptTimeout < 0 {
		bad("AttemptTimeout must not be negative")
	}
	if c.TokenLifetime < 0 {
		bad("TokenLifetime must not be negative")
	}
	return errors.Join(errs...)
}

// checkEndpoint accepts an absolute http or https url with a host.
func checkEndpoint(s string) error {
	if s == "" {
		return errors.New("is empty")
	}
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("is not a url")
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return errors.New("must be an absolute http(s) url without credentials")
	}
	return nil
}
