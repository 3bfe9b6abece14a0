// Package events is passerelle's event contract in Go: the CloudEvents types and
// NATS subjects of the bus, the data carried by each event type, the codec between
// CloudEvents and NATS messages (binary mode with ce-* headers, and structured mode),
// W3C trace-context propagation, and a publisher that sends events to JetStream with
// a deduplication id.
//
// # Publishing a submission
//
// A service that submits an invoice or a declaration builds the event's data
// (InvoiceSubmit or DeclarationSubmit, as described by the JSON Schemas of the
// repository's schemas directory), makes the event with NewInvoiceSubmit or
// NewDeclarationSubmit, and publishes it with a Publisher on the subject named
// by its type, TypeInvoiceSubmit ("invoice.submit") or TypeDeclarationSubmit
// ("declaration.submit"):
//
//	js, _ := jetstream.New(nc)
//	e, err := events.NewInvoiceSubmit(id, events.InvoiceSubmit{Account: "acme", Mode: events.ModeStructured, Invoice: inv})
//	...
//	ack, err := events.NewPublisher(js).Publish(ctx, events.TypeInvoiceSubmit, e)
//
// A document (a PDF, a Factur-X, UBL or CII flow file) travels inline when small;
// NewDocument puts a larger one in the DocumentsBucket Object Store and references it.
//
// The event id is the deduplication id: Publish sends it as the Nats-Msg-Id header,
// so a publish retried within the stream's duplicates window (after a timeout, say)
// is stored once, and the ack says Duplicate. Keep the id of a submission you may
// publish again; pass "" for a fresh UUID. An id names one submission: never reuse
// it for another.
//
// Publish continues the trace of its context: the W3C traceparent and tracestate
// of the span in ctx (or of a trace context stored earlier, restored with
// WithTrace) go into both the NATS headers and the event's traceparent and
// tracestate extensions, and passerelle continues that trace on every status event
// the submission causes, days later included. WithTracerProvider adds a producer
// span of its own.
//
// # Following a submission
//
// passerelle answers on "<type>.<account>" (see Subject): TypeInvoiceStatus and
// TypeDeclarationStatus events at each step of a submission, the last one Final,
// and TypeDeclarationReturn events for each return of a deposited declaration.
// DecodeOutput reads such a message into an Output: the CloudEvent's id, type,
// time and trace context (Meta) and the typed data (InvoiceStatus,
// DeclarationStatus or DeclarationReturn), with the SubmitID of the submit event
// it answers; a submission's statuses are numbered by Sequence from 1, a return's
// versions by Version. Meta.Context returns a context whose spans continue the
// submission's trace. ReadOutput and the Read functions do the same for an event
// decoded by other means.
package events
