package declaration

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/schemas"
	"github.com/passerelle-dev/passerelle/workers/pasrau"
	"github.com/passerelle-dev/passerelle/workers/retry"
	"github.com/passerelle-dev/passerelle/workers/runtime"
	"github.com/passerelle-dev/passerelle/workers/telemetry"
)

// PASRAU is what the flow calls on PASRAU (a *pasrau.Client).
type PASRAU interface {
	Deposit(ctx context.Context, latin1 []byte) (*pasrau.DepositResult, error)
	ListByFlux(ctx context.Context, idflux string, page, perPageIndex int) (*pasrau.ListResult, error)
	ListByDeclarant(ctx context.Context, start, end time.Time, page, perPageIndex int) (*pasrau.ListResult, error)
	Download(ctx context.Context, rawURL string) (*pasrau.Document, error)
	FindDeposit(ctx context.Context, id pasrau.Identity, since, until time.Time, opts ...pasrau.FindOption) (*pasrau.DepositSearch, error)
	PollingLimits() (maxRange time.Duration, nextPoll time.Time)
}

// Account is a configured PASRAU account: a declarant and a client holding its
// credentials.
type Account struct {
	Name string
	// SIRET is the declarant's login SIRET.
	SIRET  string
	Client PASRAU
}

// Accounts finds configured accounts by name and lists them.
type Accounts interface {
	PASRAU(name string) (*Account, bool)
	PASRAUAccounts() []*Account
}

// Config tunes the flow. Zero fields take the defaults of DefaultConfig.
type Config struct {
	// Retry is the in-process retry policy of each API call.
	Retry retry.Policy
	// Breaker opens an account's circuit while the upstream is unavailable.
	Breaker retry.Breaker
	// AuthRetryDelay is how long a message waits when PASRAU refused the account's
	// credentials.
	AuthRetryDelay time.Duration
	// FluxPoll is the delay between two listings of a deposited flux, until its
	// conformity answer.
	FluxPoll time.Duration
	// AccountPoll is the delay between two listings of a declarant's returns once
	// the poller has caught up (never sooner than PASRAU's Expires).
	AccountPoll time.Duration
	// PollLag keeps the listing windows this far behind now, so that returns
	// published a little late are not skipped.
	PollLag time.Duration
	// PollLookback is how far back the first listing of a new account starts.
	PollLookback time.Duration
	// PollPageIndex is the listing page size, as PASRAU's retourspage index
	// (pasrau.PerPage25 .. pasrau.PerPage1000; default PerPage1000).
	PollPageIndex int
	// ReconcileWindow is how long a deposit whose outcome is unknown is looked for
	// before it is reported unknown. It must exceed DepositTimeout plus a minute:
	// only then can a deposit be proven absent and sent again.
	ReconcileWindow time.Duration
	// DepositTimeout is the longest a deposit attempt can take (the PASRAU
	// client's attempt timeout): a lost deposit is looked for among the flux
	// registered up to that long after the attempt started.
	DepositTimeout time.Duration
	// InlineDocumentMax is the size up to which a return document travels inside
	// its event; larger ones go to the Object Store.
	InlineDocumentMax int
	// MaxFileSize bounds a declaration file.
	MaxFileSize int64
}

// DefaultConfig returns production defaults.
func DefaultConfig() Config {
	return Config{
		Retry:             retry.DefaultPolicy(),
		Breaker:           retry.DefaultBreaker(),
		AuthRetryDelay:    5 * time.Minute,
		FluxPoll:          2 * time.Minute,
		AccountPoll:       10 * time.Minute,
		PollLag:           2 * time.Minute,
		PollLookback:      24 * time.Hour,
		ReconcileWindow:   2 * time.Hour,
		DepositTimeout:    pasrau.DefaultAttemptTimeout,
		InlineDocumentMax: 64 << 10,
		MaxFileSize:       50 << 20,
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
	for _, p := range []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&c.AuthRetryDelay, d.AuthRetryDelay}, {&c.FluxPoll, d.FluxPoll}, {&c.AccountPoll, d.AccountPoll},
		{&c.PollLookback, d.PollLookback}, {&c.ReconcileWindow, d.ReconcileWindow}, {&c.DepositTimeout, d.DepositTimeout},
	} {
		if *p.v == 0 {
			*p.v = p.def
		}
	}
	if pasrau.PerPageSize(c.PollPageIndex) == 0 {
		c.PollPageIndex = pasrau.PerPage1000
	}
	if c.PollLag < 0 {
		c.PollLag = 0
	}
	if c.InlineDocumentMax == 0 {
		c.InlineDocumentMax = d.InlineDocumentMax
	}
	if c.MaxFileSize == 0 {
		c.MaxFileSize = d.MaxFileSize
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
	// FollowUps is the follow-up stream, read to see whether an account's poll
	// is already planned.
	FollowUps jetstream.Stream
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

// Flow is the declaration flow.
type Flow struct {
	cfg   Config
	deps  Deps
	gates retry.Gates
	log   *slog.Logger
	now   func() time.Time
}

// Follow-up kinds of the scheduler.
const (
	followUpKind = "declaration"
	pollKind     = "pasrau-poll"
)

// FollowUpSubjects is the filter of the follow-up consumer of submissions.
func FollowUpSubjects() string { return runtime.DueSubjects(followUpKind) }

// PollSubjects is the filter of the consumer of account polls.
func PollSubjects() string { return runtime.DueSubjects(pollKind) }

// New returns the flow. It returns an error when a dependency is missing.
func New(cfg Config, deps Deps) (*Flow, error) {
	if deps.Accounts == nil || deps.Publisher == nil || deps.Ledger == nil || deps.Scheduler == nil || deps.Documents == nil || deps.Schemas == nil {
		return nil, errors.New("declaration: accounts, publisher, ledger, scheduler, documents and schemas are required")
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Flow{cfg: cfg.withDefaults(), deps: deps, log: log, now: time.Now}
	f.gates.Configure(f.cfg.Breaker, deps.Metrics.CircuitHook(log, upstream))
	return f, nil
}

// SetRateLimit sets the calls per second this replica makes to PASRAU for each
// account (0: no limit).
func (f *Flow) SetRateLimit(perSecond float64) { f.gates.SetRate(perSecond) }

// Intake returns the handler of declaration.submit events.
func (f *Flow) Intake() runtime.Handler { return &intakeHandler{f: f} }

// FollowUp returns the handler of due follow-ups of deposited declarations.
func (f *Flow) FollowUp() runtime.Handler { return &followUp{f: f} }

// Poller returns the handler of due account polls.
func (f *Flow) Poller() runtime.Handler { return &poller{f: f} }

func (f *Flow) gate(account string) *retry.Gate { return f.gates.For("pasrau/" + account) }
