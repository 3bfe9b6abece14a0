// Package intake holds the checks every submit event goes through before a flow
// looks at it: CloudEvents decoding (once per delivery, before the process span
// starts, so that the span continues the event's trace), the type, the data
// content type and the JSON Schema; and the rejection that tells the submitter
// what is wrong and where.
package intake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"
	"go.opentelemetry.io/otel/attribute"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/schemas"
	"github.com/passerelle-dev/passerelle/workers/runtime"
)

// Note is a delivery's decoded event, kept in Delivery.Note for Handle and Answer.
type Note struct {
	// Event is the decoded CloudEvent, nil when the message is not one.
	Event *event.Event
	// Err is why the message could not be decoded.
	Err error
	// Data is the event's data once Check read it (a pointer to the flow's type).
	Data any
	// Key is the submission's business key, once the flow knows it.
	Key string
}

// Decode decodes d's CloudEvent once, keeping it in d.Note.
func Decode(ctx context.Context, d *runtime.Delivery) *Note {
	if n, ok := d.Note.(*Note); ok {
		return n
	}
	e, _, err := events.Decode(ctx, d.Header, d.Data)
	n := &Note{Event: e, Err: err}
	d.Note = n
	return n
}

// Prepare decodes d's event (see Decode) before its process span starts
// (runtime.Preparer): it returns ctx carrying the event's trace context (its NATS
// headers, else its CloudEvents extensions, in either content mode) and the
// event's CloudEvents attributes for the span, none when it cannot be decoded.
func Prepare(ctx context.Context, d *runtime.Delivery) (context.Context, []attribute.KeyValue) {
	e := Decode(ctx, d).Event
	ctx = events.ExtractTrace(ctx, d.Header, e)
	if e == nil {
		return ctx, nil
	}
	return ctx, []attribute.KeyValue{
		attribute.String("messaging.message.id", e.ID()),
		attribute.String("cloudevents.event_id", e.ID()),
		attribute.String("cloudevents.event_source", e.Source()),
		attribute.String("cloudevents.event_type", e.Type()),
		attribute.String("cloudevents.event_subject", e.Subject()),
	}
}

// Check verifies that the decoded event is of type typ with JSON data matching
// typ's schema, and reads the data into into (a pointer), with exact numbers. Every
// failure is runtime.Invalid, saying what is wrong and where.
func (n *Note) Check(ctx context.Context, typ string, v *schemas.Validator, into any) error {
	if n.Err != nil {
		return runtime.Invalid(n.Err)
	}
	e := n.Event
	if e.Type() != typ {
		return runtime.Invalid(Problem(typ, "type", fmt.Sprintf("event type %q is not %q: an event's type must equal the subject it is published on", e.Type(), typ)))
	}
	if ct := e.DataContentType(); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != events.ContentTypeJSON {
			return runtime.Invalid(Problem(typ, "datacontenttype", fmt.Sprintf("data content type %q is not %s", ct, events.ContentTypeJSON)))
		}
	}
	if err := v.Validate(typ, e.Data()); err != nil {
		return runtime.Invalid(err)
	}
	dec := json.NewDecoder(bytes.NewReader(e.Data()))
	dec.UseNumber()
	if err := dec.Decode(into); err != nil {
		return runtime.Invalid(Problem(typ, "/", "cannot read the data: "+err.Error()))
	}
	n.Data = into
	return nil
}

// Account returns the account the event's data names, even when the data did not
// pass Check, or "" when it names no valid account (the event cannot be answered).
func (n *Note) Account() string {
	if n.Event == nil {
		return ""
	}
	var loose struct {
		Account string `json:"account"`
	}
	_ = json.Unmarshal(n.Event.Data(), &loose)
	if !events.ValidAccount(loose.Account) {
		return ""
	}
	return loose.Account
}

// InputError is a problem with a submit event, and where it is.
type InputError struct {
	Reason   string
	Problems []events.Problem
}

func (e *InputError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Location + ": " + p.Message
	}
	return e.Reason + ": " + strings.Join(parts, "; ")
}

// Problem returns the InputError of one problem of an event of type typ.
func Problem(typ, location, message string) *InputError {
	return &InputError{Reason: "invalid " + typ + " event", Problems: []events.Problem{{Location: location, Message: message}}}
}

// Rejection describes an intake error for a rejected status event: a schema
// violation or an InputError lists each problem with its location.
func Rejection(err error) *events.Rejection {
	r := &events.Rejection{Source: "passerelle", Reason: err.Error()}
	var se *schemas.Error
	var ie *InputError
	switch {
	case errors.As(err, &se):
		r.Reason = "the event data does not match the " + se.Type + " schema"
		for _, p := range se.Problems {
			loc := p.Location
			if loc == "" {
				loc = "/"
			}
			r.Errors = append(r.Errors, events.Problem{Location: loc, Message: p.Message})
		}
	case errors.As(err, &ie):
		r.Reason, r.Errors = ie.Reason, ie.Problems
	}
	r.Reason = events.Clip(r.Reason, events.MaxReasonBytes)
	r.Errors = boundProblems(r.Errors)
	return r
}

// boundProblems returns a copy of ps bounded like every status event's problems:
// at most events.MaxProblems, the last saying how many more there were, each
// clipped.
func boundProblems(ps []events.Problem) []events.Problem {
	if ps == nil {
		return nil
	}
	out := make([]events.Problem, 0, min(len(ps), events.MaxProblems))
	for i, p := range ps {
		if i == events.MaxProblems-1 && len(ps) > events.MaxProblems {
			out = append(out, events.Problem{Location: "/", Message: fmt.Sprintf("%d more problem(s) not listed", len(ps)-i)})
			break
		}
		out = append(out, events.Problem{Location: events.Clip(p.Location, events.MaxProblemBytes), Message: events.Clip(p.Message, events.MaxProblemBytes)})
	}
	return out
}

// Failure describes a message the runtime gave up on.
func Failure(end runtime.End) *events.Failure {
	return &events.Failure{Reason: events.Clip(end.Err.Error(), events.MaxReasonBytes), Deliveries: int(min(end.Deliveries, 1<<31)), DeadLetter: end.DeadLetterSeq}
}
