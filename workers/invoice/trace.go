package invoice

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/passerelle-dev/passerelle/events"
)

// spanContext reports whether ctx carries a valid span context.
func spanContext(ctx context.Context) bool { return trace.SpanContextFromContext(ctx).IsValid() }

// captureTrace returns the W3C trace context of ctx, to be stored with a submission.
func captureTrace(ctx context.Context) (traceparent, tracestate string) {
	c := propagation.MapCarrier{}
	events.TraceContext().Inject(ctx, c)
	return c[events.TraceParent], c[events.TraceState]
}
