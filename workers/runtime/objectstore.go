package runtime

import (
	"context"
	"errors"
	"io"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/passerelle-dev/passerelle/events"
)

// TracedObjectStore wraps obs so that the operations passerelle uses (put, get,
// delete) each record a span.
func TracedObjectStore(obs jetstream.ObjectStore, tp trace.TracerProvider) jetstream.ObjectStore {
	return &tracedObjectStore{ObjectStore: obs, tracer: tp.Tracer("github.com/passerelle-dev/passerelle/workers/runtime")}
}

type tracedObjectStore struct {
	jetstream.ObjectStore
	tracer trace.Tracer
}

func (o *tracedObjectStore) span(ctx context.Context, op, name string) (context.Context, trace.Span) {
	return o.tracer.Start(ctx, "objectstore "+op, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String("db.system.name", "nats_object_store"), attribute.String("db.namespace", events.DocumentsBucket),
		attribute.String("db.operation.name", op), attribute.String("passerelle.object.name", name)))
}

func (o *tracedObjectStore) end(span trace.Span, err error) {
	if err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		recordError(span, err)
	}
	span.End()
}

func (o *tracedObjectStore) Put(ctx context.Context, meta jetstream.ObjectMeta, r io.Reader) (*jetstream.ObjectInfo, error) {
	ctx, span := o.span(ctx, "put", meta.Name)
	info, err := o.ObjectStore.Put(ctx, meta, r)
	o.end(span, err)
	return info, err
}

func (o *tracedObjectStore) PutBytes(ctx context.Context, name string, data []byte) (*jetstream.ObjectInfo, error) {
	ctx, span := o.span(ctx, "put", name)
	info, err := o.ObjectStore.PutBytes(ctx, name, data)
	o.end(span, err)
	return info, err
}

func (o *tracedObjectStore) GetBytes(ctx context.Context, name string, opts ...jetstream.GetObjectOpt) ([]byte, error) {
	ctx, span := o.span(ctx, "get", name)
	b, err := o.ObjectStore.GetBytes(ctx, name, opts...)
	o.end(span, err)
	return b, err
}

func (o *tracedObjectStore) Delete(ctx context.Context, name string) error {
	ctx, span := o.span(ctx, "delete", name)
	err := o.ObjectStore.Delete(ctx, name)
	o.end(span, err)
	return err
}
