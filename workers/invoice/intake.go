package invoice

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/workers/runtime"
)

// intake handles invoice.submit events.
type intake struct{ f *Flow }

// note is what Prepare decoded, kept for Handle and Answer.
type note struct {
	event  *event.Event
	err    error
	submit *events.InvoiceSubmit
}

// Prepare decodes the CloudEvent so that the process span continues its trace
// context, wherever the event carries it.
func (h *intake) Prepare(ctx context.Context, d *runtime.Delivery) context.Context {
	n := decodeNote(ctx, d)
	return events.ExtractTrace(ctx, d.Header, n.event)
}

func decodeNote(ctx context.Context, d *runtime.Delivery) *note {
	if n, ok := d.Note.(*note); ok {
		return n
	}
	e, _, err := events.Decode(ctx, d.Header, d.Data)
	n := &note{event: e, err: err}
	d.Note = n
	return n
}

// Handle validates the event and submits the invoice.
func (h *intake) Handle(ctx context.Context, d *runtime.Delivery) error {
	f := h.f
	n := decodeNote(ctx, d)
	if n.err != nil {
		return runtime.Invalid(n.err)
	}
	e := n.event
	if e.Type() != events.TypeInvoiceSubmit {
		return runtime.Invalid(problem("type", fmt.Sprintf("event type %q is not %q: an event's type must equal the subject it is published on", e.Type(), events.TypeInvoiceSubmit)))
	}
	if ct := e.DataContentType(); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != events.ContentTypeJSON {
			return runtime.Invalid(problem("datacontenttype", fmt.Sprintf("data content type %q is not %s", ct, events.ContentTypeJSON)))
		}
	}
	if err := f.deps.Schemas.Validate(events.TypeInvoiceSubmit, e.Data()); err != nil {
		return runtime.Invalid(err)
	}
	var sub events.InvoiceSubmit
	dec := json.NewDecoder(bytes.NewReader(e.Data()))
	dec.UseNumber()
	if err := dec.Decode(&sub); err != nil {
		return runtime.Invalid(problem("/", "cannot read the data: "+err.Error()))
	}
	n.submit = &sub
	acct, ok := f.deps.Accounts.ChorusPro(sub.Account)
	if !ok {
		return runtime.Invalid(problem("/account", fmt.Sprintf("account %q is not configured for Chorus Pro", sub.Account)))
	}
	doc, docSHA, err := f.readDocument(ctx, &sub)
	if err != nil {
		return err
	}
	s := &submission{
		id:      e.ID(),
		sub:     &sub,
		acct:    acct,
		doc:     doc,
		key:     ledgerKey(acct.SupplierID, sub.Invoice.Number),
		hash:    contentHash(&sub, docSHA),
		redeliv: d.Delivered > 1,
	}
	return f.submit(ctx, s)
}

// Answer publishes the rejected or failed status of an event the runtime ended. An
// event that cannot be attributed to an account and a submit id is not answered (its
// dead letter holds it).
func (h *intake) Answer(ctx context.Context, d *runtime.Delivery, end runtime.End) error {
	f := h.f
	n := decodeNote(ctx, d)
	if n.event == nil {
		return nil
	}
	sub := n.submit
	if sub == nil {
		// The data did not pass the checks: read what can be read of it.
		var loose struct {
			Account string `json:"account"`
			Mode    string `json:"mode"`
			Invoice struct {
				Number string `json:"number"`
			} `json:"invoice"`
		}
		_ = json.Unmarshal(n.event.Data(), &loose)
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
			return f.giveUp(ctx, n.event.ID(), sub, acct, end)
		}
	}
	s := events.InvoiceStatus{State: events.StateRejected, Final: true, Rejection: rejectionOf(end.Err)}
	var ce *conflictError
	switch {
	case end.Kind == runtime.EndFailed:
		s = events.InvoiceStatus{State: events.StateFailed, Final: true, Failure: failureOf(end)}
	case errors.As(end.Err, &ce):
		s.State = events.StateConflict
		s.Rejection = &events.Rejection{Source: "passerelle", Reason: ce.Error()}
	}
	r := &record{SubmitID: n.event.ID(), Account: sub.Account, Number: sub.Invoice.Number, Mode: sub.Mode}
	r.addStatus(s, f.now())
	return f.flush(ctx, r)
}

func failureOf(end runtime.End) *events.Failure {
	return &events.Failure{Reason: end.Err.Error(), Deliveries: int(min(end.Deliveries, 1<<31)), DeadLetter: end.DeadLetterSeq}
}
