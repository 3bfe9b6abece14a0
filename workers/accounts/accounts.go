// Package accounts reads the accounts file: for each account that events may name,
// the administration credentials and identifiers passerelle acts with. Credentials
// never travel in events; secret values in the file may be given literally, or as
// "env:NAME" (an environment variable) or "file:PATH" (a file's content, trailing
// newline removed), so that the file itself can live in a ConfigMap while the secrets
// come from a Secret.
package accounts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/workers/choruspro"
	"github.com/passerelle-dev/passerelle/workers/invoice"
)

// File is the accounts file.
type File struct {
	Accounts map[string]Account `json:"accounts"`
}

// Account is one account's settings. Each part is optional: an account may only
// submit invoices, or only declarations.
type Account struct {
	ChorusPro *ChorusPro `json:"choruspro,omitempty"`
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
}

// Options are passed to the clients built by Build.
type Options struct {
	Getenv    func(string) string
	ChorusPro []choruspro.Option
	UserAgent string
}

// Build resolves the secrets of every account and builds its clients. It returns an
// error naming the account and setting at fault; the error never holds a secret.
func Build(f *File, opts Options) (*Registry, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	r := &Registry{chorusPro: map[string]*invoice.Account{}}
	for _, name := range sortedNames(f.Accounts) {
		a := f.Accounts[name]
		if a.ChorusPro != nil {
			acct, err := buildChorusPro(name, a.ChorusPro, getenv, opts)
			if err != nil {
				return nil, fmt.Errorf("account %s: choruspro: %w", name, err)
			}
			r.chorusPro[name] = acct
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
	client, err := choruspro.New(cfg, opts.ChorusPro...)
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

func sortedNames(m map[string]Account) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ChorusPro returns the Chorus Pro account name, if configured.
func (r *Registry) ChorusPro(name string) (*invoice.Account, bool) {
	a, ok := r.chorusPro[name]
	return a, ok
}

// Names lists the configured accounts of each administration.
func (r *Registry) Names() (chorusPro []string) {
	for n := range r.chorusPro {
		chorusPro = append(chorusPro, n)
	}
	sort.Strings(chorusPro)
	return chorusPro
}

// AddChorusPro registers an account built elsewhere (dev mode, tests).
func (r *Registry) AddChorusPro(a *invoice.Account) {
	if r.chorusPro == nil {
		r.chorusPro = map[string]*invoice.Account{}
	}
	r.chorusPro[a.Name] = a
}
