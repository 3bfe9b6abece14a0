package runtime

import (
	"context"
	"math"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/workers/telemetry"
)

// Preparer is implemented by handlers that read a message before its process span
// starts, to return the trace context the message carries wherever it is (a
// structured-mode CloudEvent keeps it in its body) and attributes the span starts
// with besides the messaging ones (one call to the tracing SDK instead of two).
// Prepare may keep what it decoded in d.Note for Handle.
type Preparer interface {
	Prepare(ctx context.Context, d *Delivery) (context.Context, []attribute.KeyValue)
}

// startSpan starts the consumer's process span for d, as a child of the trace context
// the message carries: what the handler's Prepare finds, else the traceparent NATS
// header, else the ce-traceparent header of a binary-mode CloudEvent.
func (w *Worker) startSpan(ctx context.Context, d *Delivery) (context.Context, trace.Span) {
	var more []attribute.KeyValue
	if p, ok := w.handler.(Preparer); ok {
		ctx, more = p.Prepare(ctx, d)
	}
	if !trace.SpanContextFromContext(ctx).IsValid() {
		ctx = events.ExtractTrace(ctx, d.Header, nil)
	}
	if !trace.SpanContextFromContext(ctx).IsValid() {
		ctx = events.TraceContext().Extract(ctx, ceCarrier{d.Header})
	}
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindConsumer)}
	if sc := trace.SpanContextFromContext(ctx); w.cfg.NewTrace && sc.IsValid() {
		opts = append(opts, trace.WithNewRoot(), trace.WithLinks(trace.Link{SpanContext: sc}))
	}
	attrs := append(make([]attribute.KeyValue, 0, 7+len(more)),
		attribute.String("messaging.system", "nats"),
		attribute.String("messaging.operation.type", "process"),
		attribute.String("messaging.destination.name", d.Subject),
		attribute.String("messaging.consumer.group.name", d.Consumer),
		attribute.Int64("messaging.nats.stream.sequence", int64(min(d.StreamSeq, math.MaxInt64))),
		attribute.Int64("messaging.nats.delivery_count", int64(min(d.Delivered, math.MaxInt64))),
		attribute.Int("messaging.message.body.size", len(d.Data)),
	)
	return w.tracer.Start(ctx, "process "+d.Stream, append(opts, trace.WithAttributes(append(attrs, more...)...))...)
}

// ceCarrier reads the trace context from the ce-traceparent/ce-tracestate headers of
// a binary-mode CloudEvent.
type ceCarrier struct{ h map[string][]string }

func (c ceCarrier) Get(key string) string { return events.HeaderCarrier(c.h).Get("ce-" + key) }
func (c ceCarrier) Set(string, string)    {}
func (c ceCarrier) Keys() []string        { return nil }

func recordError(span trace.Span, err error) {
	if err == nil {
		return
	}
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
}

// workerMetrics are the messaging metrics of a worker. A nil *workerMetrics records
// nothing.
type workerMetrics struct {
	duration metric.Float64Histogram
	consumed metric.Int64Counter
	attrs    telemetry.AttributeSets
}

func newWorkerMetrics(m metric.Meter) (*workerMetrics, error) {
	duration, err := m.Float64Histogram("messaging.process.duration",
		metric.WithUnit("s"), metric.WithDescription("Duration of processing one message, outcome policy included."),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
	if err != nil {
		return nil, err
	}
	consumed, err := m.Int64Counter("messaging.client.consumed.messages",
		metric.WithUnit("{message}"), metric.WithDescription("Messages delivered to passerelle's workers, by outcome."))
	if err != nil {
		return nil, err
	}
	return &workerMetrics{duration: duration, consumed: consumed}, nil
}

// WithMeter makes the worker record messaging metrics with m.
func WithMeter(m metric.Meter) WorkerOption {
	return func(w *Worker) {
		if wm, err := newWorkerMetrics(m); err == nil {
			w.metrics = wm
		}
	}
}

func (m *workerMetrics) record(ctx context.Context, name string, d *Delivery, dec decision, took time.Duration) {
	if m == nil {
		return
	}
	attrs := m.attrs.Of(
		attribute.String("messaging.system", "nats"),
		attribute.String("messaging.destination.name", d.Stream),
		attribute.String("messaging.consumer.group.name", name),
		attribute.String("passerelle.outcome", dec.act.String()),
	)
	m.duration.Record(ctx, took.Seconds(), attrs)
	m.consumed.Add(ctx, 1, attrs)
}

func (a action) String() string {
	switch a {
	case actAck:
		return "ack"
	case actNak:
		return "retry"
	case actReject:
		return "rejected"
	case actFail:
		return "failed"
	case actHandBack:
		return "handed_back"
	}
	return "unknown"
}

// headerSafe makes s fit in a NATS header value: no control characters, at most n bytes.
func headerSafe(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > n {
		cut := n
		for cut > 0 && !utf8RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
