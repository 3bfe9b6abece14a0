package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// ErrUnexpectedType is wrapped by the errors of the Read functions and DecodeOutput
// when an event is not of the type they read.
var ErrUnexpectedType = errors.New("unexpected event type")

// Meta is what a subscriber needs of a CloudEvent besides its data: its attributes
// and the W3C trace context it carries.
type Meta struct {
	// ID is the event's id: stable, so a republished event has the same id.
	ID string
	// Type is one of the Type* constants.
	Type   string
	Source string
	// Subject is the invoice number of an invoice.status event, the declared SIRET
	// of a declaration.status event (empty while the file could not be read), and
	// the idflux of a declaration.return event.
	Subject string
	// Time is when passerelle built the event.
	Time time.Time
	// TraceParent and TraceState are the trace context of the submission the event
	// answers (empty when the submit event carried none).
	TraceParent string
	TraceState  string
}

// MetaOf returns e's attributes and the trace context of its traceparent and
// tracestate extensions.
func MetaOf(e *event.Event) Meta {
	ext := extensionCarrier{e}
	return Meta{
		ID: e.ID(), Type: e.Type(), Source: e.Source(), Subject: e.Subject(), Time: e.Time(),
		TraceParent: ext.Get(TraceParent), TraceState: ext.Get(TraceState),
	}
}

// SpanContext returns the remote span context of the event's trace context; it is
// not valid when the event carries none (or a malformed one).
func (m Meta) SpanContext() trace.SpanContext {
	return trace.SpanContextFromContext(m.Context(context.Background()))
}

// Context returns ctx carrying the event's trace context as its remote parent, so
// that the spans a subscriber starts from it continue the submission's trace. It
// returns ctx unchanged when the event carries no trace context.
func (m Meta) Context(ctx context.Context) context.Context {
	if m.TraceParent == "" {
		return ctx
	}
	c := propagation.MapCarrier{TraceParent: m.TraceParent}
	if m.TraceState != "" {
		c[TraceState] = m.TraceState
	}
	return TraceContext().Extract(ctx, c)
}

// Output is a status or return event passerelle published, decoded: exactly one
// of InvoiceStatus, DeclarationStatus and DeclarationReturn is set, the one of
// Meta.Type.
type Output struct {
	Meta
	InvoiceStatus     *InvoiceStatus
	DeclarationStatus *DeclarationStatus
	DeclarationReturn *DeclarationReturn
}

// SubmitID returns the id of the submit event the output answers ("" for a return
// of a flux passerelle did not deposit).
func (o *Output) SubmitID() string {
	switch {
	case o.InvoiceStatus != nil:
		return o.InvoiceStatus.SubmitID
	case o.DeclarationStatus != nil:
		return o.DeclarationStatus.SubmitID
	case o.DeclarationReturn != nil:
		return o.DeclarationReturn.SubmitID
	}
	return ""
}

// Account returns the account the output is about.
func (o *Output) Account() string {
	switch {
	case o.InvoiceStatus != nil:
		return o.InvoiceStatus.Account
	case o.DeclarationStatus != nil:
		return o.DeclarationStatus.Account
	case o.DeclarationReturn != nil:
		return o.DeclarationReturn.Account
	}
	return ""
}

// Final reports whether the output is the last status event of its submission.
// A declaration.return event is never final: returns may come after the final
// status, and a return may be overwritten.
func (o *Output) Final() bool {
	switch {
	case o.InvoiceStatus != nil:
		return o.InvoiceStatus.Final
	case o.DeclarationStatus != nil:
		return o.DeclarationStatus.Final
	}
	return false
}

// ReadInvoiceStatus returns the data of an invoice.status event. It returns an
// error wrapping ErrUnexpectedType for an event of another type, and an error
// wrapping the JSON error when the data is not an invoice status. Unknown fields
// are ignored, so that a subscriber keeps working when the data gains fields.
func ReadInvoiceStatus(e *event.Event) (*InvoiceStatus, error) {
	return readData[InvoiceStatus](e, TypeInvoiceStatus)
}

// ReadDeclarationStatus returns the data of a declaration.status event, with the
// errors of ReadInvoiceStatus.
func ReadDeclarationStatus(e *event.Event) (*DeclarationStatus, error) {
	return readData[DeclarationStatus](e, TypeDeclarationStatus)
}

// ReadDeclarationReturn returns the data of a declaration.return event, with the
// errors of ReadInvoiceStatus.
func ReadDeclarationReturn(e *event.Event) (*DeclarationReturn, error) {
	return readData[DeclarationReturn](e, TypeDeclarationReturn)
}

func readData[T any](e *event.Event, typ string) (*T, error) {
	if e.Type() != typ {
		return nil, fmt.Errorf("events: read %s: event %s is a %q: %w", typ, e.ID(), e.Type(), ErrUnexpectedType)
	}
	if ct := e.DataContentType(); ct != "" && mediaType(ct) != ContentTypeJSON {
		return nil, fmt.Errorf("events: read %s: event %s has data of content type %q, want %s", typ, e.ID(), ct, ContentTypeJSON)
	}
	v := new(T)
	if err := json.Unmarshal(e.Data(), v); err != nil {
		return nil, fmt.Errorf("events: read %s: event %s: %w", typ, e.ID(), err)
	}
	return v, nil
}

// ReadOutput returns a status or return event decoded, its data typed by its type.
// It returns an error wrapping ErrUnexpectedType for any other type (a submit
// event), and the errors of ReadInvoiceStatus when the data cannot be read.
func ReadOutput(e *event.Event) (*Output, error) {
	o := &Output{Meta: MetaOf(e)}
	var err error
	switch e.Type() {
	case TypeInvoiceStatus:
		o.InvoiceStatus, err = ReadInvoiceStatus(e)
	case TypeDeclarationStatus:
		o.DeclarationStatus, err = ReadDeclarationStatus(e)
	case TypeDeclarationReturn:
		o.DeclarationReturn, err = ReadDeclarationReturn(e)
	default:
		return nil, fmt.Errorf("events: event %s is a %q, not a status or return event: %w", e.ID(), e.Type(), ErrUnexpectedType)
	}
	if err != nil {
		return nil, err
	}
	return o, nil
}

// DecodeOutput reads a status or return event from the header and body of a NATS
// message, as a subscriber of "invoice.status.<account>",
// "declaration.status.<account>" or "declaration.return.<account>" receives it:
//
//	o, err := events.DecodeOutput(ctx, msg.Header, msg.Data)     // core NATS
//	o, err := events.DecodeOutput(ctx, m.Headers(), m.Data())    // JetStream
//
// The trace context is the message's traceparent and tracestate headers when
// present, else the event's extensions. It returns Decode's *DecodeError when the
// message is not a valid CloudEvent, and ReadOutput's errors otherwise.
func DecodeOutput(ctx context.Context, header nats.Header, data []byte) (*Output, error) {
	e, _, err := Decode(ctx, header, data)
	if err != nil {
		return nil, err
	}
	o, err := ReadOutput(e)
	if err != nil {
		return nil, err
	}
	if tp := HeaderCarrier(header).Get(TraceParent); tp != "" {
		o.TraceParent, o.TraceState = tp, HeaderCarrier(header).Get(TraceState)
	}
	return o, nil
}
