package events

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// SchemaURL returns the dataschema URI of an event type's data.
func SchemaURL(typ string) string { return "https://passerelle.dev/schemas/" + typ + ".json" }

// New builds a CloudEvent of type typ with the given id, subject and JSON data, from
// Source, timestamped now. It returns an error when data cannot be marshalled.
func New(typ, id, subject string, data any) (*event.Event, error) {
	e := event.New(SpecVersion)
	e.SetID(id)
	e.SetType(typ)
	e.SetSource(Source)
	if subject != "" {
		e.SetSubject(subject)
	}
	e.SetTime(time.Now().UTC())
	e.SetDataSchema(SchemaURL(typ))
	body, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("events: marshal %s data: %w", typ, err)
	}
	if err := e.SetData(ContentTypeJSON, body); err != nil {
		return nil, fmt.Errorf("events: set %s data: %w", typ, err)
	}
	return &e, nil
}

// DerivedID returns a stable event id made from parts, so that an event that reports
// the same thing twice (after a crash, say) has the same id and is deduplicated by
// the stream.
func DerivedID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Publisher publishes CloudEvents to JetStream in binary mode, with the event id as
// Nats-Msg-Id (the stream drops a republished event within its duplicates window)
// and the trace context of the caller in both the headers and the event.
type Publisher struct {
	js     jetstream.JetStream
	tracer trace.Tracer
	sent   func(ctx context.Context, destination string)
}

// PublisherOption configures a Publisher.
type PublisherOption func(*Publisher)

// WithTracerProvider makes the Publisher record a producer span per event.
func WithTracerProvider(tp trace.TracerProvider) PublisherOption {
	return func(p *Publisher) { p.tracer = tp.Tracer("github.com/passerelle-dev/passerelle/events") }
}

// WithSentCounter makes the Publisher call sent after each event it publishes,
// with the event's type.
func WithSentCounter(sent func(ctx context.Context, destination string)) PublisherOption {
	return func(p *Publisher) { p.sent = sent }
}

// NewPublisher returns a Publisher over js.
func NewPublisher(js jetstream.JetStream, opts ...PublisherOption) *Publisher {
	p := &Publisher{js: js, tracer: noop.NewTracerProvider().Tracer("")}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Publish sends e on subject and waits for the stream's acknowledgement. A publish
// deduplicated by the stream is a success (the ack's Duplicate field is set). It
// returns an error when e is invalid or JetStream does not acknowledge it.
//
// links, when given, are added to the producer span (see Resume).
func (p *Publisher) Publish(ctx context.Context, subject string, e *event.Event, links ...trace.Link) (*jetstream.PubAck, error) {
	ctx, span := p.tracer.Start(ctx, "send "+e.Type(),
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithLinks(links...),
		trace.WithAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.operation.type", "send"),
			attribute.String("messaging.destination.name", subject),
			attribute.String("messaging.message.id", e.ID()),
			attribute.Int("messaging.message.body.size", len(e.Data())),
			attribute.String("cloudevents.event_id", e.ID()),
			attribute.String("cloudevents.event_source", e.Source()),
			attribute.String("cloudevents.event_type", e.Type()),
			attribute.String("cloudevents.event_subject", e.Subject()),
		))
	defer span.End()
	InjectTrace(ctx, nil, e)
	msg, err := Encode(subject, e)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		return nil, err
	}
	InjectTrace(ctx, msg.Header, nil)
	ack, err := p.js.PublishMsg(ctx, msg, jetstream.WithMsgID(e.ID()))
	if err != nil {
		err = fmt.Errorf("events: publish %s on %s: %w", e.Type(), subject, err)
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		return nil, err
	}
	if ack.Duplicate {
		// Set only when true (a republish): most publishes then need no
		// attribute added after the span started.
		span.SetAttributes(attribute.Bool("messaging.nats.duplicate", true))
	}
	if p.sent != nil && !ack.Duplicate {
		p.sent(ctx, e.Type())
	}
	return ack, nil
}
