package pasrautest

import (
	"errors"
	"fmt"
	"time"
)

// Declarant is an account the emulator knows.
type Declarant struct {
	SIRET      string `json:"siret"`
	Nom        string `json:"nom"`
	Prenom     string `json:"prenom"`
	MotDePasse string `json:"motdepasse"`
	// NotRegistered makes the account exist on net-entreprises without being
	// registered for PASRAU: authentication answers 401 "Utilisateur
	// non-inscrit au service". SetRegistered changes it at run time.
	NotRegistered bool `json:"not_registered"`
}

// DemoDeclarant returns the account New uses when Config.Declarants is
// empty: SIRET 53755096400010 (the establishment of the guide's sample, which
// passes the Luhn check), nom DEMO, prenom Passerelle, password demo-pasrau.
func DemoDeclarant() Declarant {
	return Declarant{SIRET: "53755096400010", Nom: "DEMO", Prenom: "Passerelle", MotDePasse: "demo-pasrau"}
}

// Config sets up an Emulator. Zero fields take the documented defaults.
type Config struct {
	// Declarants are the known accounts; DemoDeclarant when empty.
	Declarants []Declarant
	// ServiceCodes are the service codes accepted at authentication;
	// default ["80"] (the test platform). A declarant authenticating with
	// another code is answered as not registered for that service (401
	// "Utilisateur non-inscrit au service"): the code is well formed (so not
	// 422, which the guide keeps for format errors), but the account is not
	// registered for the service it names.
	ServiceCodes []string
	// TokenLifetime is the validity of a token, announced in Expires;
	// default 2 h (net-entreprises' tokens).
	TokenLifetime time.Duration
	// Step is the time between the appearances of a flux's returns; default
	// 1 s (tests use tens of milliseconds).
	Step time.Duration
	// Now is the emulator's clock; default time.Now.
	Now func() time.Time
	// Location is the zone of the yyyyMMddHHmmss times; default
	// Europe/Paris.
	Location *time.Location
	// MinInterval is the minimum time between two listings by declarant of
	// one declarant (announced in Expires on listing answers); a sooner poll
	// gets 429. Default 0: no constraint (Expires is then not sent).
	MinInterval time.Duration
	// MaxRangeMinutes bounds a listing by declarant's range (announced as
	// Accept-Ranges: minutes=0-N); a wider range gets 429. Default 60; a
	// negative value disables the constraint.
	MaxRangeMinutes int
	// Retention is how long a return stays downloadable (then 404); default
	// 92 days (3 months).
	Retention time.Duration
	// ReturnsBaseURL and CRMBaseURL are the scheme://host[:port] of download
	// urls for ordinary returns and for the DGFIP reports 93 and 94 (guide
	// 10.3). Empty: the host the listing request came to. Serve the same
	// Emulator on two listeners to have two hosts.
	ReturnsBaseURL string
	CRMBaseURL     string
	// Seed makes flux ids, tokens and return ids reproducible.
	Seed uint64
	// Faults are the faults injected from the start (see SetFaults).
	Faults Faults
	// Latency is PASRAU's own answer time: every business call (deposit,
	// listings, downloads) waits Latency (real time) before it is served,
	// like a slow fault but on every call and not logged as a fault
	// (benchmarks). Zero serves at once; authentication is never delayed.
	Latency time.Duration
}

// Defaults of Config.
const (
	DefaultTokenLifetime   = 2 * time.Hour
	DefaultStep            = time.Second
	DefaultMaxRangeMinutes = 60
	DefaultRetention       = 92 * 24 * time.Hour
)

// withDefaults returns cfg with its zero fields set, or an error for values
// that cannot work.
func (cfg Config) withDefaults() (Config, error) {
	if len(cfg.Declarants) == 0 {
		cfg.Declarants = []Declarant{DemoDeclarant()}
	}
	var errs []error
	seen := map[string]bool{}
	for i, d := range cfg.Declarants {
		if len(d.SIRET) != 14 || d.Nom == "" || d.Prenom == "" || d.MotDePasse == "" {
			errs = append(errs, fmt.Errorf("declarant %d needs a 14-character SIRET, a nom, a prenom and a motdepasse", i+1))
		}
		if seen[d.SIRET] {
			errs = append(errs, fmt.Errorf("declarant %d: SIRET listed twice", i+1))
		}
		seen[d.SIRET] = true
	}
	if len(cfg.ServiceCodes) == 0 {
		cfg.ServiceCodes = []string{"80"}
	}
	if cfg.TokenLifetime == 0 {
		cfg.TokenLifetime = DefaultTokenLifetime
	}
	if cfg.Step == 0 {
		cfg.Step = DefaultStep
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Location == nil {
		loc, err := time.LoadLocation("Europe/Paris")
		if err != nil {
			return cfg, fmt.Errorf("loading Europe/Paris: %w", err)
		}
		cfg.Location = loc
	}
	if cfg.MaxRangeMinutes == 0 {
		cfg.MaxRangeMinutes = DefaultMaxRangeMinutes
	}
	if cfg.Retention == 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.TokenLifetime < 0 || cfg.Step < 0 || cfg.MinInterval < 0 || cfg.Retention < 0 || cfg.Latency < 0 {
		errs = append(errs, errors.New("durations must not be negative"))
	}
	if err := cfg.Faults.check(); err != nil {
		errs = append(errs, err)
	}
	return cfg, errors.Join(errs...)
}
