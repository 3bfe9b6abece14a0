package events

import (
	"context"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// W3C trace-context names, used as NATS headers and as CloudEvents extensions
// (the CloudEvents distributed tracing extension).
const (
	TraceParent = "traceparent"
	TraceState  = "tracestate"
)

// HeaderCarrier adapts a NATS header to OpenTelemetry's TextMapCarrier. Keys are
// matched case-insensitively on Get and written lower-case on Set.
type HeaderCarrier nats.Header

// Get returns the first value of the header named key.
func (c HeaderCarrier) Get(key string) string {
	if vs, ok := c[key]; ok && len(vs) > 0 {
		return vs[0]
	}
	v, _, err := headerValue(nats.Header(c), key)
	if err != nil {
		return ""
	}
	return v
}

// Set replaces the header named key.
func (c HeaderCarrier) Set(key, value string) { c[key] = []string{value} }

// Keys lists the header names.
func (c HeaderCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// extensionCarrier adapts the traceparent/tracestate extensions of a CloudEvent.
type extensionCarrier struct{ e *event.Event }

func (c extensionCarrier) Get(key string) string {
	v, ok := c.e.Extensions()[key]
	if !ok {
		return ""
	}
	s, _ := v.(string)
	return s
}

func (c extensionCarrier) Set(key, value string) { c.e.SetExtension(key, value) }

func (c extensionCarrier) Keys() []string { return []string{TraceParent, TraceState} }

// TraceContext is the propagator passerelle uses: W3C trace context only, whatever
// the process-wide OpenTelemetry settings are.
func TraceContext() propagation.TextMapPropagator { return propagation.TraceContext{} }

// ExtractTrace returns ctx carrying the remote span context of an incoming message:
// from its traceparent/tracestate NATS headers when present, else from the
// traceparent/tracestate extensions of its CloudEvent (either content mode). e may be nil.
func ExtractTrace(ctx context.Context, header nats.Header, e *event.Event) context.Context {
	p := TraceContext()
	if HeaderCarrier(header).Get(TraceParent) != "" {
		return p.Extract(ctx, HeaderCarrier(header))
	}
	if e != nil {
		return p.Extract(ctx, extensionCarrier{e})
	}
	return ctx
}

// InjectTrace writes the span context of ctx to both the NATS header and, when e is not
// nil, the CloudEvent's traceparent/tracestate extensions, so subscribers find it
// whichever they read. header may be nil. It does nothing when ctx carries no valid
// span context.
func InjectTrace(ctx context.Context, header nats.Header, e *event.Event) {
	p := TraceContext()
	if header != nil {
		p.Inject(ctx, HeaderCarrier(header))
	}
	if e != nil {
		p.Inject(ctx, extensionCarrier{e})
	}
}

// TraceOf returns the W3C trace context of ctx as header values, to be stored with
// work that continues the trace later (a submission followed for days).
func TraceOf(ctx context.Context) (traceparent, tracestate string) {
	c := propagation.MapCarrier{}
	TraceContext().Inject(ctx, c)
	return c[TraceParent], c[TraceState]
}

// WithTrace returns ctx carrying the stored trace context, unless ctx already
// carries a valid span context or traceparent is empty.
func WithTrace(ctx context.Context, traceparent, tracestate string) context.Context {
	if traceparent == "" || trace.SpanContextFromContext(ctx).IsValid() {
		return ctx
	}
	c := propagation.MapCarrier{TraceParent: traceparent}
	if tracestate != "" {
		c[TraceState] = tracestate
	}
	return TraceContext().Extract(ctx, c)
}

// TraceHeader returns a NATS header carrying the stored trace context.
func TraceHeader(traceparent, tracestate string) nats.Header {
	h := nats.Header{}
	if traceparent != "" {
		h.Set(TraceParent, traceparent)
		if tracestate != "" {
			h.Set(TraceState, tracestate)
		}
	}
	return h
}

// Resume prepares the context of work that continues a stored trace later (a
// follow-up days after the submission): spans started from the returned context
// are children of the stored trace context, and the returned links point to the
// span that was current in ctx (the follow-up's own), so that both traces lead to
// each other. When ctx already belongs to the stored trace, it is returned as is.
func Resume(ctx context.Context, traceparent, tracestate string) (context.Context, []trace.Link) {
	if traceparent == "" {
		return ctx, nil
	}
	c := propagation.MapCarrier{TraceParent: traceparent}
	if tracestate != "" {
		c[TraceState] = tracestate
	}
	stored := trace.SpanContextFromContext(TraceContext().Extract(context.Background(), c))
	current := trace.SpanContextFromContext(ctx)
	if !stored.IsValid() || current.TraceID() == stored.TraceID() {
		return ctx, nil
	}
	var links []trace.Link
	if current.IsValid() {
		links = append(links, trace.Link{SpanContext: current})
	}
	return trace.ContextWithRemoteSpanContext(ctx, stored), links
}
