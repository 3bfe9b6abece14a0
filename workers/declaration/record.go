package declaration

import (
	"time"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/workers/pasrau"
	"github.com/passerelle-dev/passerelle/workers/runtime"
)

// Steps of a submission in the ledger.
const (
	stepReceived  = "received"
	stepSending   = "sending"
	stepDeposited = "deposited"
	stepFinal     = "final"
)

// record is a declaration submission's ledger entry.
type record struct {
	SubmitID string                     `json:"submitId"`
	Account  string                     `json:"account"`
	Identity events.DeclarationIdentity `json:"identity"`
	// Hash is the SHA-256 of the file as deposited (ISO-8859-1).
	Hash string `json:"hash"`
	Step string `json:"step"`
	// MayHaveDeposited is set when a deposit was first attempted; cleared when
	// PASRAU rejected it (a rejected deposit has no effect).
	MayHaveDeposited bool `json:"mayHaveDeposited,omitempty"`
	// SendingSince is when the current deposit attempt started.
	SendingSince time.Time `json:"sendingSince,omitzero"`
	IDFlux       string    `json:"idflux,omitempty"`
	// FileObject names the file kept in the Object Store while a deposit of
	// unknown outcome is being reconciled by the follow-ups.
	FileObject string `json:"fileObject,omitempty"`

	State      string                     `json:"state"`
	Seq        int                        `json:"seq"`
	Pending    []events.DeclarationStatus `json:"pending,omitempty"`
	Duplicates []string                   `json:"duplicates,omitempty"`

	TraceParent string    `json:"traceparent,omitempty"`
	TraceState  string    `json:"tracestate,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

func (r *record) final() bool { return r.Step == stepFinal }

func (r *record) reusable() bool { return r.final() && !r.MayHaveDeposited }

// addStatus records the next status event of the submission as pending.
func (r *record) addStatus(s events.DeclarationStatus, now time.Time) {
	r.Seq++
	s.SubmitID, s.Account, s.Sequence = r.SubmitID, r.Account, r.Seq
	if s.Declaration == nil && r.Identity.Complete() {
		id := r.Identity
		s.Declaration = &id
	}
	if s.IDFlux == "" {
		s.IDFlux = r.IDFlux
	}
	s.OccurredAt = now.UTC().Format(time.RFC3339Nano)
	r.State = s.State
	if s.Final {
		r.Step = stepFinal
	}
	r.Pending = append(r.Pending, s)
}

// LedgerKey is the ledger key of a declaration: its identity. Two deposits of the
// same identity are the same declaration, whichever account sends it.
func LedgerKey(id events.DeclarationIdentity) string { return ledgerKey(id) }

func ledgerKey(id events.DeclarationIdentity) string {
	essai := "real"
	if id.Test {
		essai = "test"
	}
	return runtime.Key("declaration", id.SIRET, id.Month, id.Nature, id.Type, id.Fraction, essai)
}

// FluxKey is the ledger key that maps a flux to its submission's ledger key.
func FluxKey(idflux string) string { return fluxKey(idflux) }

func fluxKey(idflux string) string { return runtime.Key("flux", idflux) }

// fluxLink is the value under fluxKey.
type fluxLink struct {
	Key string `json:"key"`
}

func identityOf(d *pasrau.Declaration) events.DeclarationIdentity {
	return events.DeclarationIdentity{SIRET: d.SIRET, Month: d.Month, Nature: d.Nature, Type: d.Type, Fraction: d.Fraction, Test: d.IsTest()}
}

func pasrauIdentity(id events.DeclarationIdentity) pasrau.Identity {
	essai := pasrau.EssaiReal
	if id.Test {
		essai = pasrau.EssaiTest
	}
	return pasrau.Identity{SIRET: id.SIRET, Month: id.Month, Nature: id.Nature, Type: id.Type, Fraction: id.Fraction, EssaiReel: essai}
}

// summaryOf turns a parsed return document into an event's summary.
func summaryOf(rep *pasrau.Report) *events.ReturnSummary {
	if rep == nil {
		return nil
	}
	s := &events.ReturnSummary{Type: rep.Type, Etat: string(rep.Etat), Conformity: string(rep.Conformity())}
	for _, a := range rep.Anomalies {
		s.Anomalies = append(s.Anomalies, events.ReturnAnomaly{Code: a.Code, Category: a.Category, Message: a.Message, Line: a.Line, Rubric: a.Rubric, Value: a.Value})
	}
	for _, r := range rep.Rates {
		s.Rates = append(s.Rates, events.PASRate{NIR: r.NIR, Matricule: r.Matricule, Rate: r.Rate})
	}
	return s
}
