package invoice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/schemas"
	"github.com/passerelle-dev/passerelle/workers/choruspro"
	"github.com/passerelle-dev/passerelle/workers/retry"
	"github.com/passerelle-dev/passerelle/workers/runtime"
	"github.com/passerelle-dev/passerelle/workers/telemetry"
)

// ChorusPro is what the flow calls on Chorus Pro (a *choruspro.Client).
type ChorusPro interface {
	DeposerPDF(ctx context.Context, req choruspro.DeposerPDFRequest) (*choruspro.DeposerPDFResponse, error)
	Soumettre(ctx context.Context, req choruspro.SoumettreRequest) (*choruspro.SoumettreResponse, error)
	DeposerFlux(ctx context.Context, req choruspro.DeposerFluxRequest) (*choruspro.DeposerFluxResponse, error)
	ConsulterCRDetaille(ctx context.Context, req choruspro.ConsulterCRDetailleRequest) (*choruspro.ConsulterCRDetailleResponse, error)
	RechercherFacturesFournisseur(ctx context.Context, req choruspro.RechercherFacturesFournisseurRequest) (*choruspro.RechercherFacturesFournisseurResponse, error)
	ConsulterHistorique(ctx context.Context, req choruspro.ConsulterHistoriqueRequest) (*choruspro.ConsulterHistoriqueResponse, error)
	RechercherStructures(ctx context.Context, req choruspro.RechercherStructuresRequest) (*choruspro.RechercherStructuresResponse, error)
	ConsulterStructure(ctx context.Context, req choruspro.ConsulterStructureRequest) (*choruspro.ConsulterStructureResponse, error)
}

// Account is a configured Chorus Pro account: a supplier structure, the technical
// user acting for it and a client holding its credentials.
type Account struct {
	Name string
	// SupplierID is the supplier's Chorus Pro structure id (idFournisseur).
	SupplierID int64
	// UserID is the technical user's id (idUtilisateurCourant).
	UserID int64
	Client ChorusPro
}

// Accounts finds configured accounts by name.
type Accounts interface {
	ChorusPro(name string) (*Account, bool)
}

// Config tunes the flow. Zero fields take the defaults of DefaultConfig.
type Config struct {
	// Retry is the in-process retry policy of each API call.
	Retry retry.Policy
	// Breaker opens an account's circuit while the upstream is unavailable.
	Breaker retry.Breaker
	// AuthRetryDelay is how long a message waits when Chorus Pro refused the
	// account's credentials, before it is tried again (until an operator fixes them
	// or its deliveries run out).
	AuthRetryDelay time.Duration
	// FlowPollInterval is the delay between two reports of a deposited flow.
	FlowPollInterval time.Duration
	// InvoicePollMin and InvoicePollMax bound the delay between two looks at an
	// invoice's status: it starts at the minimum after a change and doubles while
	// nothing changes.
	InvoicePollMin time.Duration
	InvoicePollMax time.Duration
	// ReconcileWindow is how long a flow deposit whose outcome is unknown is looked
	// for before it is reported as unknown.
	ReconcileWindow time.Duration
	// RecipientCacheTTL is how long a recipient's rules are kept.
	RecipientCacheTTL time.Duration
	// MaxDocumentSize bounds the documents read (Chorus Pro's 10 MB).
	MaxDocumentSize int64
}

// DefaultConfig returns production defaults.
func DefaultConfig() Config {
	return Config{
		Retry:             retry.DefaultPolicy(),
		Breaker:           retry.DefaultBreaker(),
		AuthRetryDelay:    5 * time.Minute,
		FlowPollInterval:  5 * time.Minute,
		InvoicePollMin:    15 * time.Minute,
		InvoicePollMax:    6 * time.Hour,
		ReconcileWindow:   24 * time.Hour,
		RecipientCacheTTL: time.Hour,
		MaxDocumentSize:   choruspro.MaxDocumentSize,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Retry.Budget == 0 {
		c.Retry = d.Retry
	}
	if c.Breaker.Threshold == 0 {
		c.Breaker = d.Breaker
	}
	set := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	set(&c.AuthRetryDelay, d.AuthRetryDelay)
	set(&c.FlowPollInterval, d.FlowPollInterval)
	set(&c.InvoicePollMin, d.InvoicePollMin)
	set(&c.InvoicePollMax, d.InvoicePollMax)
	set(&c.ReconcileWindow, d.ReconcileWindow)
	set(&c.RecipientCacheTTL, d.RecipientCacheTTL)
	if c.MaxDocumentSize == 0 {
		c.MaxDocumentSize = d.MaxDocumentSize
	}
	return c
}

// Deps are the flow's collaborators.
type Deps struct {
	Accounts  Accounts
	Publisher *events.Publisher
	Ledger    *runtime.Ledger
	Scheduler *runtime.Scheduler
	Documents jetstream.ObjectStore
	Schemas   *schemas.Validator
	Logger    *slog.Logger
	// Metrics records the flow's metrics (nil: none).
	Metrics *telemetry.Metrics
	// Auth is told when an account's credentials are refused or accepted (nil: nobody).
	Auth AuthWatch
}

// AuthWatch follows the accounts whose credentials an administration refuses, for
// readiness and alerts.
type AuthWatch interface {
	Refused(upstream, account string, err error)
	Accepted(upstream, account string)
}

// Flow is the invoice flow. Its Intake and FollowUp handlers run on runtime workers.
type Flow struct {
	cfg        Config
	deps       Deps
	gates      retry.Gates
	recipients *recipientCache
	log        *slog.Logger
	now        func() time.Time
}

// Follow-up kind of the scheduler.
const followUpKind = "invoice"

// FollowUpSubjects is the filter of the follow-up consumer.
func FollowUpSubjects() string { return runtime.DueSubjects(followUpKind) }

// New returns the flow. It returns an error when a dependency is missing.
func New(cfg Config, deps Deps) (*Flow, error) {
	if deps.Accounts == nil || deps.Publisher == nil || deps.Ledger == nil || deps.Scheduler == nil || deps.Documents == nil || deps.Schemas == nil {
		return nil, errors.New("invoice: accounts, publisher, ledger, scheduler, documents and schemas are required")
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	f := &Flow{cfg: cfg, deps: deps, recipients: newRecipientCache(cfg.RecipientCacheTTL), log: log, now: time.Now}
	f.gates.Configure(cfg.Breaker, deps.Metrics.CircuitHook(log, upstream))
	return f, nil
}

// SetRateLimit sets the calls per second this replica makes to Chorus Pro for each
// account (0: no limit).
func (f *Flow) SetRateLimit(perSecond float64) { f.gates.SetRate(perSecond) }

// Intake returns the handler of invoice.submit events.
func (f *Flow) Intake() runtime.Handler { return &intakeHandler{f: f} }

// FollowUp returns the handler of due follow-ups.
func (f *Flow) FollowUp() runtime.Handler { return &followUp{f: f} }

func (f *Flow) gate(account string) *retry.Gate { return f.gates.For("choruspro/" + account) }

// ledgerKey is the business key of an invoice: its supplier and number.
func ledgerKey(supplierID int64, number string) string {
	return runtime.Key("invoice", fmt.Sprint(supplierID), number)
}
