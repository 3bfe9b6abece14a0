package invoice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/workers/intake"
	"github.com/passerelle-dev/passerelle/workers/runtime"
)

// intakeHandler handles invoice.submit events.
type intakeHandler struct{ f *Flow }

// Prepare decodes the CloudEvent so that the process span continues its trace
// context, wherever the event carries it, and starts with its attributes.
func (h *intakeHandler) Prepare(ctx context.Context, d *runtime.Delivery) (context.Context, []attribute.KeyValue) {
	return intake.Prepare(ctx, d)
}

// Handle validates the event and submits the invoice.
func (h *intakeHandler) Handle(ctx context.Context, d *runtime.Delivery) error {
	f := h.f
	n := intake.Decode(ctx, d)
	var sub events.InvoiceSubmit
	if err := n.Check(ctx, events.TypeInvoiceSubmit, f.deps.Schemas, &sub); err != nil {
		return err
	}
	e := n.Event
	acct, ok := f.deps.Accounts.ChorusPro(sub.Account)
	if !ok {
		return runtime.Invalid(problem("/account", fmt.Sprintf("account %q is not configured for Chorus Pro", sub.Account)))
	}
	doc, docSHA, err := f.readDocument(ctx, &sub)
	if err != nil {
		return err
	}
	s := &submission{
		id:     e.ID(),
		sub:    &sub,
		acct:   acct,
		doc:    doc,
		key:    ledgerKey(acct.SupplierID, sub.Invoice.Number),
		hash:   contentHash(&sub, docSHA),
		replay: d.Header.Get(runtime.HeaderReplay) != "",
	}
	s.first = d.Delivered == 1 && !s.replay
	return f.submit(ctx, s)
}

// Answer publishes the rejected or failed status of an event the runtime ended. An
// event that cannot be attributed to an account and a submit id is not answered (its
// dead letter holds it).
func (h *intakeHandler) Answer(ctx context.Context, d *runtime.Delivery, end runtime.End) error {
	f := h.f
	if !intake.Answerable(end) {
		return nil // the dead letter says why
	}
	n := intake.Decode(ctx, d)
	if n.Event == nil {
		return nil
	}
	sub, _ := n.Data.(*events.InvoiceSubmit)
	if sub == nil {
		// The data did not pass the checks: read what can be read of it.
		var loose struct {
			Account string `json:"account"`
			Mode    string `json:"mode"`
			Invoice struct {
				Number string `json:"number"`
			} `json:"invoice"`
		}
		_ = json.Unmarshal(n.Event.Data(), &loose)
		sub = &events.InvoiceSubmit{Account: loose.Account, Invoice: events.Invoice{Number: loose.Invoice.Number}}
		switch loose.Mode {
		case events.ModePDF, events.ModeStructured, events.ModeFlow:
			sub.Mode = loose.Mode
		}
	}
	if !events.ValidAccount(sub.Account) {
		return nil
	}
	if end.Kind == runtime.EndFailed {
		if acct, ok := f.deps.Accounts.ChorusPro(sub.Account); ok {
			return f.giveUp(ctx, n.Event.ID(), sub, acct, end)
		}
	}
	s := events.InvoiceStatus{State: events.StateRejected, Final: true, Rejection: intake.Rejection(end.Err)}
	var ce *conflictError
	switch {
	case end.Kind == runtime.EndFailed:
		s = events.InvoiceStatus{State: events.StateFailed, Final: true, Failure: intake.Failure(end)}
	case errors.As(end.Err, &ce):
		s.State = events.StateConflict
		s.Rejection = &events.Rejection{Source: "passerelle", Reason: ce.Error()}
	}
	r := &record{SubmitID: n.Event.ID(), Account: sub.Account, Number: sub.Invoice.Number, Mode: sub.Mode}
	r.addStatus(s, f.now())
	return f.flush(ctx, r)
}
