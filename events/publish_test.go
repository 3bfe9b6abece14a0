package events_test

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/workers/embedded/natstest"
)

// TestPublishSpan publishes a status event twice to a real stream: both publishes
// are producer spans with the messaging and CloudEvents attributes, the event
// carries the span's trace context, and only the second, deduplicated by the
// stream, says messaging.nats.duplicate=true.
func TestPublishSpan(t *testing.T) {
	t.Parallel()
	_, _, js := natstest.Run(t)
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "STATUS", Subjects: []string{"invoice.status.>"}}); err != nil {
		t.Fatal(err)
	}
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	p := events.NewPublisher(js, events.WithTracerProvider(tp))
	status := events.InvoiceStatus{SubmitID: "6b4f3a2e-8d1c-4f5e-9a7b-2c3d4e5f6a7b", Account: "demo", InvoiceNumber: "F-1",
		Mode: events.ModeStructured, State: events.StateSubmitted, Sequence: 2, OccurredAt: "2026-11-20T10:00:00Z"}
	e, err := events.New(events.TypeInvoiceStatus, "status-1", status.InvoiceNumber, status)
	if err != nil {
		t.Fatal(err)
	}
	for i, wantDup := range []bool{false, true} {
		ack, err := p.Publish(ctx, "invoice.status.demo", e)
		if err != nil {
			t.Fatal(err)
		}
		if ack.Duplicate != wantDup {
			t.Fatalf("publish %d: duplicate %v, want %v", i+1, ack.Duplicate, wantDup)
		}
	}
	spans := exp.GetSpans()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want 2", len(spans))
	}
	for i, s := range spans {
		if s.Name != "send invoice.status" || s.SpanKind != trace.SpanKindProducer {
			t.Errorf("span %d: %q kind %v, want a producer span named send invoice.status", i, s.Name, s.SpanKind)
		}
		got := map[string]string{}
		for _, kv := range s.Attributes {
			got[string(kv.Key)] = kv.Value.String()
		}
		for key, want := range map[string]string{
			"messaging.system": "nats", "messaging.operation.type": "send", "messaging.destination.name": "invoice.status.demo",
			"messaging.message.id": e.ID(), "cloudevents.event_id": e.ID(), "cloudevents.event_type": events.TypeInvoiceStatus,
			"cloudevents.event_subject": "F-1",
		} {
			if got[key] != want {
				t.Errorf("span %d: %s = %q, want %q", i, key, got[key], want)
			}
		}
		dup, set := got["messaging.nats.duplicate"]
		if wantDup := i == 1; set != wantDup || set && dup != "true" {
			t.Errorf("span %d: messaging.nats.duplicate = %q (set %v), want it only on the deduplicated publish", i, dup, set)
		}
	}
	if parent, ok := e.Extensions()[events.TraceParent].(string); !ok || len(parent) < 35 || parent[3:35] != spans[1].SpanContext.TraceID().String() {
		t.Errorf("the event's traceparent %v does not carry the producer span's trace", e.Extensions()[events.TraceParent])
	}
}
