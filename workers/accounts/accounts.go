// Package accounts reads the accounts file: for each account that events may name,
// the administration credentials and identifiers passerelle acts with. Credentials
// never travel in events; secret values in the file may be given literally, or as
// "env:NAME" (an environment variable) or "file:PATH" (a file's content, trailing
// newline removed), so that the file itself can live in a ConfigMap while the secrets
// come from a Secret.
package accounts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/workers/choruspro"
	"github.com/passerelle-dev/passerelle/workers/declaration"
	"github.com/passerelle-dev/passerelle/workers/invoice"
	"github.com/passerelle-dev/passerelle/workers/pasrau"
	"github.com/passerelle-dev/passerelle/workers/telemetry"
)

// File is the accounts file.
type File struct {
	Accounts map[string]Account `json:"accounts"`
}

// Account is one account's settings. Each part is optional: an account may only
// submit invoices, or only declarations.
type Account struct {
	ChorusPro *ChorusPro `json:"choruspro,omitempty"`
	PASRAU    *PASRAU    `json:"pasrau,omitempty"`
}

// PASRAU is an account's PASRAU settings: the declarant's net-entreprises
// credentials and the platform.
type PASRAU struct {
	// Environment is "test" (the EDITEUR platform, service code 80) or
	// "production" (service code 30); it sets the URLs and the service code.
	Environment string `json:"environment"`
	// SIRET, Nom, Prenom and Password are the declarant's net-entreprises login.
	SIRET    string `json:"siret"`
	Nom      string `json:"nom"`
	Prenom   string `json:"prenom"`
	Password Secret `json:"password"`
	// Service overrides the environment's service code.
	Service string `json:"service,omitempty"`
	// AuthURL, DepositURL, ListFluxURL, ListDeclarantURL and DownloadHosts
	// override the environment's addresses.
	AuthURL          string   `json:"authUrl,omitempty"`
	DepositURL       string   `json:"depositUrl,omitempty"`
	ListFluxURL      string   `json:"listFluxUrl,omitempty"`
	ListDeclarantURL string   `json:"listDeclarantUrl,omitempty"`
	DownloadHosts    []string `json:"downloadHosts,omitempty"`
	// PlainHTTPDownloadHosts lets downloads from these hosts use http: for
	// emulators only.
	PlainHTTPDownloadHosts []string `json:"plainHttpDownloadHosts,omitempty"`
	// ExtraCAFile holds PEM certificates to trust besides the system's (Certigna's
	// "servicesca" chain when the system does not have it).
	ExtraCAFile string `json:"extraCaFile,omitempty"`
	// Location is the time zone of PASRAU's zone-less times (default Europe/Paris).
	Location string `json:"location,omitempty"`
}

// ChorusPro is an account's Chorus Pro settings.
type ChorusPro struct {
	// Environment is "qualification" or "production"; it sets the default URLs.
	Environment string `json:"environment"`
	// Auth is "piste" (default) or "direct".
	Auth string `json:"auth,omitempty"`
	// BaseURL and TokenURL override the environment's URLs.
	BaseURL  string `json:"baseUrl,omitempty"`
	TokenURL string `json:"tokenUrl,omitempty"`
	// ClientID and ClientSecret are the PISTE application's (piste mode).
	ClientID     string `json:"clientId,omitempty"`
	ClientSecret Secret `json:"clientSecret,omitempty"`
	// Login and Password are the technical account's.
	Login    string `json:"login"`
	Password Secret `json:"password"`
	// P12File and P12Password are the client certificate (direct mode).
	P12File     string `json:"p12File,omitempty"`
	P12Password Secret `json:"p12Password,omitempty"`
	// ExtraCAFile holds PEM certificates to trust besides the system's.
	ExtraCAFile string `json:"extraCaFile,omitempty"`
	// SupplierID is the supplier's structure id (idFournisseur); UserID is the
	// technical user's id (idUtilisateurCourant).
	SupplierID int64 `json:"supplierId"`
	UserID     int64 `json:"userId"`
	// AllowHTTP permits http:// URLs: for emulators only.
	AllowHTTP bool `json:"allowHttp,omitempty"`
}

// chorusProURLs returns Chorus Pro's URLs for an environment: the PISTE gateway's
// API and token endpoint, and the direct mode's base.
func chorusProURLs(env string) (piste, token, direct string, ok bool) {
	switch env {
	case "qualification":
		return "https://sandbox-api.piste.gouv.fr/cpro", "https://sandbox-oauth.piste.gouv.fr/api/oauth/token", "https://chorus-pro.gouv.fr:5443/service-qualif", true
	case "production":
		return "https://api.piste.gouv.fr/cpro", "https://oauth.piste.gouv.fr/api/oauth/token", "https://chorus-pro.gouv.fr:5443/service", true
	}
	return "", "", "", false
}

// Secret is a secret value, or a reference to one: "env:NAME" or "file:PATH".
// Resolve reads it; it never prints its value.
type Secret string

// String hides the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "(secret)"
}

// Resolve returns the secret's value. getenv reads environment references.
func (s Secret) Resolve(getenv func(string) string) (string, error) {
	v := string(s)
	switch {
	case strings.HasPrefix(v, "env:"):
		name := strings.TrimPrefix(v, "env:")
		val := getenv(name)
		if val == "" {
			return "", fmt.Errorf("environment variable %s is empty or not set", name)
		}
		return val, nil
	case strings.HasPrefix(v, "file:"):
		path := strings.TrimPrefix(v, "file:")
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("read secret file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return v, nil
}

// Parse reads an accounts file. Unknown fields are errors, so that a typo does not
// silently drop a setting.
func Parse(data []byte) (*File, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("accounts file: %w", err)
	}
	if len(f.Accounts) == 0 {
		return nil, errors.New("accounts file: no account under \"accounts\"")
	}
	for name := range f.Accounts {
		if !events.ValidAccount(name) {
			return nil, fmt.Errorf("accounts file: account name %q must be 1-64 of A-Z a-z 0-9 _ -", name)
		}
	}
	return &f, nil
}

// Load reads and parses the accounts file at path.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("accounts file: %w", err)
	}
	return Parse(b)
}

// Registry holds the clients of every configured account.
type Registry struct {
	chorusPro map[string]*invoice.Account
	pasrau    map[string]*declaration.Account
}

// Options are passed to the clients built by Build.
type Options struct {
	Getenv func(string) string
	// Telemetry, when set, instruments every client: a span per HTTP attempt,
	// upstream latency and token metrics.
	Telemetry *telemetry.Telemetry
	UserAgent string
	// PASRAUSoftware names the software in PASRAU's User-Agent header.
	PASRAUSoftware pasrau.UserAgent
	// PASRAUAttemptTimeout bounds one PASRAU call (pasrau's default when zero).
	PASRAUAttemptTimeout time.Duration
}

// Build resolves the secrets of every account and builds its clients. It returns an
// error naming the account and setting at fault; the error never holds a secret.
func Build(f *File, opts Options) (*Registry, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	r := &Registry{chorusPro: map[string]*invoice.Account{}, pasrau: map[string]*declaration.Account{}}
	for _, name := range sortedNames(f.Accounts) {
		a := f.Accounts[name]
		if a.ChorusPro != nil {
			acct, err := buildChorusPro(name, a.ChorusPro, getenv, opts)
			if err != nil {
				return nil, fmt.Errorf("account %s: choruspro: %w", name, err)
			}
			r.chorusPro[name] = acct
		}
		if a.PASRAU != nil {
			acct, err := buildPASRAU(name, a.PASRAU, getenv, opts)
			if err != nil {
				return nil, fmt.Errorf("account %s: pasrau: %w", name, err)
			}
			r.pasrau[name] = acct
		}
	}
	return r, nil
}

func buildChorusPro(name string, c *ChorusPro, getenv func(string) string, opts Options) (*invoice.Account, error) {
	piste, token, direct, ok := chorusProURLs(c.Environment)
	if !ok && (c.BaseURL == "" || c.Auth != "direct" && c.TokenURL == "") {
		return nil, fmt.Errorf("environment %q is not qualification or production (or give baseUrl and tokenUrl)", c.Environment)
	}
	cfg := choruspro.Config{Login: c.Login, AllowHTTP: c.AllowHTTP, UserAgent: opts.UserAgent}
	switch c.Auth {
	case "", "piste":
		cfg.Auth = choruspro.AuthPISTE
		cfg.BaseURL, cfg.TokenURL = piste, token
	case "direct":
		cfg.Auth = choruspro.AuthDirect
		cfg.BaseURL = direct
	default:
		return nil, fmt.Errorf("auth %q is not piste or direct", c.Auth)
	}
	if c.BaseURL != "" {
		cfg.BaseURL = c.BaseURL
	}
	if c.TokenURL != "" {
		cfg.TokenURL = c.TokenURL
	}
	cfg.ClientID = c.ClientID
	var err error
	if cfg.ClientSecret, err = resolve("clientSecret", c.ClientSecret, getenv); err != nil {
		return nil, err
	}
	if cfg.Password, err = resolve("password", c.Password, getenv); err != nil {
		return nil, err
	}
	if cfg.P12Password, err = resolve("p12Password", c.P12Password, getenv); err != nil {
		return nil, err
	}
	if c.P12File != "" {
		if cfg.P12, err = os.ReadFile(c.P12File); err != nil {
			return nil, fmt.Errorf("p12File: %w", err)
		}
	}
	if c.ExtraCAFile != "" {
		if cfg.ExtraCAPEM, err = os.ReadFile(c.ExtraCAFile); err != nil {
			return nil, fmt.Errorf("extraCaFile: %w", err)
		}
	}
	if c.SupplierID <= 0 || c.UserID <= 0 {
		return nil, errors.New("supplierId and userId (Chorus Pro structure and technical user ids) are required")
	}
	client, err := choruspro.New(cfg, ChorusProOptions(opts.Telemetry, name)...)
	if err != nil {
		return nil, err
	}
	return &invoice.Account{Name: name, SupplierID: c.SupplierID, UserID: c.UserID, Client: client}, nil
}

func resolve(field string, s Secret, getenv func(string) string) (string, error) {
	if s == "" {
		return "", nil
	}
	v, err := s.Resolve(getenv)
	if err != nil {
		return "", fmt.Errorf("%s: %w", field, err)
	}
	return v, nil
}

func sortedNames(m map[string]Account) []string { return sortedKeys(m) }

func buildPASRAU(name string, p *PASRAU, getenv func(string) string, opts Options) (*declaration.Account, error) {
	var ep pasrau.Endpoints
	switch p.Environment {
	case "test":
		ep = pasrau.EditeurEndpoints()
	case "production":
		ep = pasrau.ProductionEndpoints()
	default:
		if p.AuthURL == "" || p.DepositURL == "" || p.ListFluxURL == "" || p.ListDeclarantURL == "" || len(p.DownloadHosts) == 0 || p.Service == "" {
			return nil, fmt.Errorf("environment %q is not test or production (or give every URL, downloadHosts and service)", p.Environment)
		}
	}
	override := func(v *string, with string) {
		if with != "" {
			*v = with
		}
	}
	override(&ep.AuthURL, p.AuthURL)
	override(&ep.DepositURL, p.DepositURL)
	override(&ep.ListFluxURL, p.ListFluxURL)
	override(&ep.ListDeclarantURL, p.ListDeclarantURL)
	override(&ep.Service, p.Service)
	if len(p.DownloadHosts) > 0 {
		ep.AllowedDownloadHosts = p.DownloadHosts
	}
	ep.PlainHTTPDownloadHosts = p.PlainHTTPDownloadHosts
	password, err := resolve("password", p.Password, getenv)
	if err != nil {
		return nil, err
	}
	cfg := pasrau.Config{Endpoints: ep, SIRET: p.SIRET, Nom: p.Nom, Prenom: p.Prenom, MotDePasse: pasrau.Secret(password), UserAgent: opts.PASRAUSoftware, AttemptTimeout: opts.PASRAUAttemptTimeout}
	if p.ExtraCAFile != "" {
		if cfg.ExtraCAPEM, err = os.ReadFile(p.ExtraCAFile); err != nil {
			return nil, fmt.Errorf("extraCaFile: %w", err)
		}
	}
	if p.Location != "" {
		if cfg.Location, err = time.LoadLocation(p.Location); err != nil {
			return nil, fmt.Errorf("location: %w", err)
		}
	}
	client, err := pasrau.New(cfg, PASRAUOptions(opts.Telemetry, name)...)
	if err != nil {
		return nil, err
	}
	return &declaration.Account{Name: name, SIRET: p.SIRET, Client: client}, nil
}

// ChorusProOptions instruments the Chorus Pro client of account (none when tel is nil).
func ChorusProOptions(tel *telemetry.Telemetry, account string) []choruspro.Option {
	if tel == nil {
		return nil
	}
	return []choruspro.Option{
		choruspro.WithTransportWrapper(tel.HTTPTransport("choruspro", account)),
		choruspro.WithTokenObserver(func(ctx context.Context, _ time.Duration, err error) {
			tel.Metrics.TokenRefresh(ctx, "choruspro", account, err)
		}),
	}
}

// PASRAUOptions instruments the PASRAU client of account (none when tel is nil).
func PASRAUOptions(tel *telemetry.Telemetry, account string) []pasrau.Option {
	if tel == nil {
		return nil
	}
	return []pasrau.Option{pasrau.WithTransportWrapper(tel.HTTPTransport("pasrau", account))}
}

// ChorusPro returns the Chorus Pro account name, if configured.
func (r *Registry) ChorusPro(name string) (*invoice.Account, bool) {
	a, ok := r.chorusPro[name]
	return a, ok
}

// PASRAU returns the PASRAU account name, if configured.
func (r *Registry) PASRAU(name string) (*declaration.Account, bool) {
	a, ok := r.pasrau[name]
	return a, ok
}

// PASRAUAccounts lists the configured PASRAU accounts, sorted by name.
func (r *Registry) PASRAUAccounts() []*declaration.Account {
	out := make([]*declaration.Account, 0, len(r.pasrau))
	for _, n := range sortedKeys(r.pasrau) {
		out = append(out, r.pasrau[n])
	}
	return out
}

// AddPASRAU registers an account built elsewhere (dev mode, tests).
func (r *Registry) AddPASRAU(a *declaration.Account) {
	if r.pasrau == nil {
		r.pasrau = map[string]*declaration.Account{}
	}
	r.pasrau[a.Name] = a
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// AddChorusPro registers an account built elsewhere (dev mode, tests).
func (r *Registry) AddChorusPro(a *invoice.Account) {
	if r.chorusPro == nil {
		r.chorusPro = map[string]*invoice.Account{}
	}
	r.chorusPro[a.Name] = a
}
