package chorusprotest

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Config sets an Emulator up. Every zero field has a default, so Config{} is
// an emulator with the seed data (see the package documentation).
type Config struct {
	// Now is the clock (lifecycles, token expiry, password expiry, request
	// log times); time.Now when nil. Inject a fake clock in tests.
	Now func() time.Time
	// Step is the time between two lifecycle steps of an invoice or a flow;
	// one second when zero.
	Step time.Duration
	// Latency is Chorus Pro's own answer time: every business call is
	// answered Latency (real time) after its operation is applied, like a
	// slow fault but on every call and not logged as a fault (benchmarks).
	// A client that gives up first gets no answer. Zero answers at once;
	// the token endpoint is never delayed.
	Latency time.Duration
	// TokenLifetime is the lifetime of PISTE tokens (expires_in); one hour
	// when zero.
	TokenLifetime time.Duration

	// PisteApps are the PISTE applications accepted by the token endpoint;
	// SeedPisteApps() when empty.
	PisteApps []PisteApp
	// TechnicalAccounts are the Chorus Pro technical accounts;
	// SeedTechnicalAccounts() when empty.
	TechnicalAccounts []TechnicalAccount
	// Suppliers are the supplier structures; SeedSuppliers() when empty.
	Suppliers []Supplier
	// Recipients are the public recipient structures; SeedRecipients() when
	// empty.
	Recipients []Recipient

	// RequireClientCert makes direct-mode calls (/service/...,
	// /service-qualif/...) require a verified TLS client certificate on top
	// of basic authentication. Serve the emulator over TLS with client
	// certificates requested and verified (tls.Config.ClientAuth) for this.
	RequireClientCert bool

	// Faults are the faults injected from the start; they can be changed at
	// run time with SetFaults or PUT /emulator/faults.
	Faults Faults

	// MaxLogEntries bounds the request log (oldest entries are dropped);
	// 10000 when zero. When full, the oldest quarter is dropped.
	MaxLogEntries int
	// MaxObjects bounds the invoices, flows and attachments kept (each);
	// creating more is refused with CodeQuotaAtteint. 100000 when zero.
	MaxObjects int
}

// PisteApp is a PISTE application: OAuth2 client credentials and the APIs
// it is subscribed to.
type PisteApp struct {
	ClientID     string
	ClientSecret string
	// APIs lists the subscribed APIs among "factures", "transverses" and
	// "structures"; calls to another API get 403 with an empty body. Empty
	// means subscribed to all.
	APIs []string
}

// TechnicalAccount is a Chorus Pro technical account.
type TechnicalAccount struct {
	Login    string
	Password string
	// PasswordExpiresAt, when set, is when the password expires: from then
	// on every call is answered 401 with a description saying so.
	PasswordExpiresAt time.Time
	// IDUtilisateur is the account's user id (idUtilisateurCourant).
	IDUtilisateur int64
	// IDFournisseurs are the supplier structures the account may invoice
	// for; flows are deposited for the first one.
	IDFournisseurs []int64
}

// Supplier is a supplier structure.
type Supplier struct {
	IDFournisseur int64
	SIRET         string
	Designation   string
}

// Recipient is a public recipient structure and its invoicing rules.
type Recipient struct {
	IDStructureCPP int64
	SIRET          string
	Designation    string
	// CodeServiceDoitEtreRenseigne: invoices must name an active service.
	CodeServiceDoitEtreRenseigne bool
	// NumeroEJDoitEtreRenseigne: invoices must carry an engagement number
	// (references.numeroBonCommande).
	NumeroEJDoitEtreRenseigne bool
	// GestionNumeroEJOuCodeService: invoices must carry one of the two.
	GestionNumeroEJOuCodeService bool
	Services                     []Service
}

// Service is a service of a recipient.
type Service struct {
	IDService      int64
	CodeService    string
	LibelleService string
	EstActif       bool
}

// apiNames are the APIs a PISTE application may subscribe to.
func apiNames() []string { return []string{"factures", "transverses", "structures"} }

// withDefaults returns c with its zero fields set.
func (c Config) withDefaults() Config {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Step == 0 {
		c.Step = time.Second
	}
	if c.TokenLifetime == 0 {
		c.TokenLifetime = time.Hour
	}
	if len(c.PisteApps) == 0 {
		c.PisteApps = SeedPisteApps()
	}
	if len(c.TechnicalAccounts) == 0 {
		c.TechnicalAccounts = SeedTechnicalAccounts()
	}
	if len(c.Suppliers) == 0 {
		c.Suppliers = SeedSuppliers()
	}
	if len(c.Recipients) == 0 {
		c.Recipients = SeedRecipients()
	}
	if c.MaxLogEntries == 0 {
		c.MaxLogEntries = 10000
	}
	if c.MaxObjects == 0 {
		c.MaxObjects = 100000
	}
	return c
}

// validate checks a Config with its defaults applied.
func (c Config) validate() error {
	if c.Step < 0 || c.Latency < 0 {
		return errors.New("step and latency must not be negative")
	}
	if c.TokenLifetime < time.Second {
		return errors.New("TokenLifetime must be at least one second")
	}
	if c.MaxLogEntries < 0 || c.MaxObjects < 0 {
		return errors.New("MaxLogEntries and MaxObjects must not be negative")
	}
	seenApp := map[string]bool{}
	for _, a := range c.PisteApps {
		if a.ClientID == "" || a.ClientSecret == "" {
			return errors.New("a PisteApp needs a ClientID and a ClientSecret")
		}
		if seenApp[a.ClientID] {
			return fmt.Errorf("PisteApp %q is listed twice", a.ClientID)
		}
		seenApp[a.ClientID] = true
		for _, api := range a.APIs {
			if !slices.Contains(apiNames(), api) {
				return fmt.Errorf("PisteApp %q: unknown API %q (want one of %v)", a.ClientID, api, apiNames())
			}
		}
	}
	suppliers := map[int64]bool{}
	sirets := map[string]bool{}
	ids := map[int64]bool{}
	for _, s := range c.Suppliers {
		if s.IDFournisseur <= 0 || s.SIRET == "" {
			return errors.New("a Supplier needs an IDFournisseur and a SIRET")
		}
		if ids[s.IDFournisseur] || sirets[s.SIRET] {
			return fmt.Errorf("supplier %d (%s) duplicates another structure", s.IDFournisseur, s.SIRET)
		}
		suppliers[s.IDFournisseur], ids[s.IDFournisseur], sirets[s.SIRET] = true, true, true
	}
	for _, r := range c.Recipients {
		if r.IDStructureCPP <= 0 || r.SIRET == "" {
			return errors.New("a Recipient needs an IDStructureCPP and a SIRET")
		}
		if ids[r.IDStructureCPP] || sirets[r.SIRET] {
			return fmt.Errorf("recipient %d (%s) duplicates another structure", r.IDStructureCPP, r.SIRET)
		}
		ids[r.IDStructureCPP], sirets[r.SIRET] = true, true
	}
	logins := map[string]bool{}
	for _, a := range c.TechnicalAccounts {
		if a.Login == "" || a.Password == "" {
			return errors.New("a TechnicalAccount needs a Login and a Password")
		}
		if logins[a.Login] {
			return fmt.Errorf("technical account %q is listed twice", a.Login)
		}
		logins[a.Login] = true
		if len(a.IDFournisseurs) == 0 {
			return fmt.Errorf("technical account %q has no supplier", a.Login)
		}
		for _, id := range a.IDFournisseurs {
			if !suppliers[id] {
				return fmt.Errorf("technical account %q: supplier %d is not in Suppliers", a.Login, id)
			}
		}
	}
	return c.Faults.validate()
}
