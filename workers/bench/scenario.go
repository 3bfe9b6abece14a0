package bench

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kind is what a scenario submits.
type Kind string

// The kinds of load.
const (
	KindInvoice     Kind = "invoice"     // structured invoices to Chorus Pro
	KindDeclaration Kind = "declaration" // PASRAU declarations
	KindMix         Kind = "mix"         // both, alternating
)

// ParseKind reads a kind.
func ParseKind(s string) (Kind, error) {
	switch k := Kind(strings.TrimSpace(s)); k {
	case KindInvoice, KindDeclaration, KindMix:
		return k, nil
	}
	return "", fmt.Errorf("bench: unknown kind %q (invoice, declaration or mix)", s)
}

// System is what handles the load.
type System string

// The systems measured.
const (
	SystemPasserelle System = "passerelle"
	SystemBaseline   System = "baseline"
)

// Mode is how far passerelle's run follows each submission.
type Mode string

// The modes of a passerelle run.
const (
	// ModeSubmit measures the submission path: each submission is validated,
	// recorded, deposited, answered (received, then submitted or deposited) and
	// its follow-up scheduled, an hour ahead, so that no poll runs during the
	// measurement. The run ends when every submission has its "accepted" status
	// (submitted or deposited): the same work as the baseline's.
	ModeSubmit Mode = "submit"
	// ModeFinal follows each submission to its final status (Chorus Pro's
	// MISE_EN_PAIEMENT, PASRAU's conformity answer) with the dev stack's polling
	// intervals (one second, the scheduler's resolution) and the emulators'
	// lifecycles compressed to milliseconds, so that the first follow-up finds
	// the final answer.
	ModeFinal Mode = "final"
)

// Scenario is one measurement.
type Scenario struct {
	Kind   Kind
	System System
	// Mode applies to passerelle; the baseline publishes one status, both its
	// first and its last.
	Mode Mode
	// N is the number of submissions.
	N int
	// Latency is the emulators' answer time to every business call.
	Latency time.Duration
	// Concurrency is the number of submissions handled at once (passerelle's
	// intake and follow-up concurrency, the baseline's workers).
	Concurrency int
	// Window is the number of submissions in flight; 2 × Concurrency when zero.
	Window int
	// Warmup is the number of submissions pushed through before the clock starts
	// and not counted: they open the HTTP connections and fill passerelle's
	// recipient cache, so that the run measures the steady state.
	Warmup int
	// Tracing turns passerelle's tracing on: an SDK tracer provider batching
	// every span to an exporter that drops them, as with an OTLP collector
	// minus the network.
	Tracing bool
	// SyncAlways makes JetStream flush to disk before each acknowledgement
	// (sync_interval: always, the dev and deploy default); off, it flushes
	// every two minutes (the server's default).
	SyncAlways bool
	// Timeout bounds the run; ten minutes when zero.
	Timeout time.Duration
}

// Name names the scenario in tables and file names.
func (s Scenario) Name() string {
	name := fmt.Sprintf("%s-%s-%s", s.Kind, latencyName(s.Latency), s.System)
	if s.System == SystemPasserelle {
		name += "-" + string(s.Mode)
	}
	return name
}

func latencyName(d time.Duration) string {
	if d == 0 {
		return "0ms"
	}
	return d.String()
}

func (s Scenario) withDefaults() Scenario {
	if s.Window == 0 {
		s.Window = 2 * s.Concurrency
	}
	if s.Mode == "" || s.System == SystemBaseline {
		s.Mode = ModeSubmit
	}
	if s.Timeout == 0 {
		s.Timeout = 10 * time.Minute
	}
	return s
}

// validate checks a scenario with its defaults.
func (s Scenario) validate() error {
	switch {
	case s.N < 1:
		return errors.New("bench: N must be at least 1")
	case s.Concurrency < 1:
		return errors.New("bench: concurrency must be at least 1")
	case s.Window < 1:
		return errors.New("bench: window must be at least 1")
	case s.Warmup < 0:
		return errors.New("bench: warm-up must not be negative")
	case s.Latency < 0:
		return errors.New("bench: latency must not be negative")
	}
	if _, err := ParseKind(string(s.Kind)); err != nil {
		return err
	}
	switch s.System {
	case SystemPasserelle, SystemBaseline:
	default:
		return fmt.Errorf("bench: unknown system %q", s.System)
	}
	switch s.Mode {
	case ModeSubmit, ModeFinal:
	default:
		return fmt.Errorf("bench: unknown mode %q", s.Mode)
	}
	return nil
}
