package invoice

import (
	"time"

	"github.com/passerelle-dev/passerelle/events"
)

// Steps of a submission in the ledger.
const (
	stepReceived  = "received"
	stepSending   = "sending"
	stepSubmitted = "submitted"
	stepFinal     = "final"
)

// record is a submission's ledger entry.
type record struct {
	SubmitID string `json:"submitId"`
	Account  string `json:"account"`
	Number   string `json:"number"`
	Mode     string `json:"mode"`
	// Hash fingerprints the submission's content: the same key with another hash is
	// a conflict.
	Hash string `json:"hash"`
	Step string `json:"step"`
	// MayHaveDeposited is set when a deposit call was first attempted: the key can
	// no longer be reused by another submission, even if this one fails.
	MayHaveDeposited bool `json:"mayHaveDeposited,omitempty"`
	// SendingSince is when the current deposit attempt started; reconciliation
	// looks the invoice up around it.
	SendingSince time.Time `json:"sendingSince,omitzero"`

	// PieceJointeID is the deposited PDF (pdf mode).
	PieceJointeID         int64  `json:"pieceJointeId,omitempty"`
	NumeroFluxDepot       string `json:"numeroFluxDepot,omitempty"`
	FlowSyntax            string `json:"flowSyntax,omitempty"`
	IdentifiantFactureCPP int64  `json:"identifiantFactureCPP,omitempty"`
	DateDepot             string `json:"dateDepot,omitempty"`
	FlowState             string `json:"flowState,omitempty"`
	InvoiceStatus         string `json:"invoiceStatus,omitempty"`
	// HistorySeen counts the Chorus Pro history entries already reported.
	HistorySeen int `json:"historySeen,omitempty"`

	// State is the last state published, Seq its sequence.
	State string `json:"state"`
	Seq   int    `json:"seq"`
	// Pending holds status events recorded but not yet known to be published.
	Pending []events.InvoiceStatus `json:"pending,omitempty"`
	// Duplicates lists the submit ids answered as duplicates of this submission.
	Duplicates []string `json:"duplicates,omitempty"`

	// TraceParent and TraceState are the submission's trace context, continued by
	// every later status event.
	TraceParent string `json:"traceparent,omitempty"`
	TraceState  string `json:"tracestate,omitempty"`

	CreatedAt     time.Time `json:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
	LastChangeAt  time.Time `json:"lastChangeAt,omitzero"`
	UnknownSince  time.Time `json:"unknownSince,omitzero"`
	FollowUpPolls int       `json:"followUpPolls,omitempty"`

	// dirty marks a change that publishes nothing but must be written.
	dirty bool
}

// final reports whether the submission is over.
func (r *record) final() bool { return r.Step == stepFinal }

// reusable reports whether another submission may take this record's key: the
// submission ended without anything reaching Chorus Pro.
func (r *record) reusable() bool { return r.final() && !r.MayHaveDeposited }

// addStatus records the next status event of the submission as pending.
func (r *record) addStatus(s events.InvoiceStatus, now time.Time) {
	r.Seq++
	s.SubmitID = r.SubmitID
	s.Account = r.Account
	s.InvoiceNumber = r.Number
	s.Mode = r.Mode
	s.Sequence = r.Seq
	s.OccurredAt = now.UTC().Format(time.RFC3339Nano)
	r.State = s.State
	if s.Final {
		r.Step = stepFinal
	}
	r.Pending = append(r.Pending, s)
}

// chorusProRef returns what is known of the submission at Chorus Pro.
func (r *record) chorusProRef() *events.ChorusProRef {
	if r.NumeroFluxDepot == "" && r.IdentifiantFactureCPP == 0 {
		return nil
	}
	return &events.ChorusProRef{
		NumeroFluxDepot:       r.NumeroFluxDepot,
		IdentifiantFactureCPP: r.IdentifiantFactureCPP,
		FlowState:             r.FlowState,
		InvoiceStatus:         r.InvoiceStatus,
		DateDepot:             r.DateDepot,
	}
}
