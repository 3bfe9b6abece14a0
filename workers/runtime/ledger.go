package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"golang.org/x/sync/errgroup"
)

// Ledger errors.
var (
	// ErrNotFound: the key has no record.
	ErrNotFound = errors.New("ledger: no record")
	// ErrExists: Create found a record already there (someone claimed the key first).
	ErrExists = errors.New("ledger: record exists")
	// ErrStale: Update was given a revision that is no longer the latest (someone
	// else wrote the record since it was read).
	ErrStale = errors.New("ledger: record changed since it was read")
)

// Ledger records the state of each submission in a KV bucket, keyed by its business
// key. Create is a claim (it fails if the key exists) and Update is a compare-and-set
// on the revision, so two workers can never both believe they own a step.
type Ledger struct {
	kv     jetstream.KeyValue
	tracer trace.Tracer
}

// NewLedger returns a ledger over the bucket kv. tp, when not nil, records a span
// per ledger operation.
func NewLedger(kv jetstream.KeyValue, tp trace.TracerProvider) *Ledger {
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	return &Ledger{kv: kv, tracer: tp.Tracer("github.com/passerelle-dev/passerelle/workers/runtime")}
}

func (l *Ledger) span(ctx context.Context, op, key string) (context.Context, trace.Span) {
	return l.tracer.Start(ctx, "ledger "+op, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String("db.system.name", "nats_kv"), attribute.String("db.namespace", l.kv.Bucket()),
		attribute.String("db.operation.name", op), attribute.String("passerelle.ledger.key", key)))
}

func endSpan(span trace.Span, err error) {
	if err != nil && !errors.Is(err, ErrNotFound) {
		recordError(span, err)
	}
	span.End()
}

// Get reads the record of key into v and returns its revision, or ErrNotFound.
func (l *Ledger) Get(ctx context.Context, key string, v any) (rev uint64, err error) {
	ctx, span := l.span(ctx, "get", key)
	defer func() { endSpan(span, err) }()
	e, err := l.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("ledger: get %s: %w", key, err)
	}
	if err := json.Unmarshal(e.Value(), v); err != nil {
		return 0, fmt.Errorf("ledger: decode %s: %w", key, err)
	}
	return e.Revision(), nil
}

// Create writes v as the first record of key and returns its revision, or ErrExists.
func (l *Ledger) Create(ctx context.Context, key string, v any) (rev uint64, err error) {
	ctx, span := l.span(ctx, "create", key)
	defer func() { endSpan(span, err) }()
	b, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("ledger: encode %s: %w", key, err)
	}
	rev, err = l.kv.Create(ctx, key, b)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return 0, ErrExists
	}
	if err != nil {
		return 0, fmt.Errorf("ledger: create %s: %w", key, err)
	}
	return rev, nil
}

// Update replaces the record of key with v if its revision is still rev, and returns
// the new revision, or ErrStale.
func (l *Ledger) Update(ctx context.Context, key string, v any, rev uint64) (nrev uint64, err error) {
	ctx, span := l.span(ctx, "update", key)
	defer func() { endSpan(span, err) }()
	b, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("ledger: encode %s: %w", key, err)
	}
	nrev, err = l.kv.Update(ctx, key, b, rev)
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
			return 0, ErrStale
		}
		if errors.Is(err, jetstream.ErrKeyExists) {
			return 0, ErrStale
		}
		return 0, fmt.Errorf("ledger: update %s: %w", key, err)
	}
	return nrev, nil
}

// Delete removes the record of key if its revision is still rev (ErrStale
// otherwise). A later Create of the key succeeds.
func (l *Ledger) Delete(ctx context.Context, key string, rev uint64) (err error) {
	ctx, span := l.span(ctx, "delete", key)
	defer func() { endSpan(span, err) }()
	err = l.kv.Delete(ctx, key, jetstream.LastRevision(rev))
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
			return ErrStale
		}
		return fmt.Errorf("ledger: delete %s: %w", key, err)
	}
	return nil
}

// Save is Update for a handler: a stale revision (another worker wrote the record
// since it was read) or a failed write is a Retry, so that the message comes back
// and starts again from what the ledger holds.
func (l *Ledger) Save(ctx context.Context, key string, v any, rev uint64) (uint64, error) {
	nrev, err := l.Update(ctx, key, v, rev)
	if err != nil {
		return 0, Retry(err, 0)
	}
	return nrev, nil
}

// SaveAlong is Save with other writes (the status events the record says are
// pending, say) made at the same time, in one round trip instead of one each. It
// waits for all of them and returns the record's new revision, or the first error
// (a Retry for the record's write). It fits writes that the record's next
// handling repeats when they did not all succeed: an event whose id makes its
// second publication a duplicate the stream drops, a Create that tolerates
// ErrExists.
func (l *Ledger) SaveAlong(ctx context.Context, key string, v any, rev uint64, along ...func() error) (uint64, error) {
	var g errgroup.Group
	for _, fn := range along {
		g.Go(fn)
	}
	nrev, err := l.Save(ctx, key, v, rev) // on this goroutine: one fewer to start
	if gerr := g.Wait(); err == nil {
		err = gerr
	}
	if err != nil {
		return 0, err
	}
	return nrev, nil
}

// Matching lists the keys matching a NATS subject filter (tokens, * and >). It reads
// the key space: for operators, not for the hot path.
func (l *Ledger) Matching(ctx context.Context, filter string) ([]string, error) {
	lister, err := l.kv.ListKeysFiltered(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("ledger: list %s: %w", filter, err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	return keys, nil
}

// Raw returns the record of key as stored (JSON), or ErrNotFound.
func (l *Ledger) Raw(ctx context.Context, key string) ([]byte, error) {
	e, err := l.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: get %s: %w", key, err)
	}
	return e.Value(), nil
}

// Keys lists the keys whose name starts with prefix (a sequence of key tokens). It
// reads the whole key space: for operators, not for the hot path.
func (l *Ledger) Keys(ctx context.Context, prefix string) ([]string, error) {
	filter := ">"
	if prefix != "" {
		filter = prefix + ".>"
	}
	lister, err := l.kv.ListKeysFiltered(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("ledger: list %s: %w", filter, err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	return keys, nil
}

// Key joins parts into a ledger key, escaping each so that any text (an invoice
// number with spaces, dots or accents) makes a valid, reversible KV key token: bytes
// other than ASCII letters, digits, '-' and '_' become "=XX".
func Key(parts ...string) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('.')
		}
		if p == "" {
			b.WriteString("=")
			continue
		}
		for j := 0; j < len(p); j++ {
			c := p[j]
			if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
				b.WriteByte(c)
				continue
			}
			const hex = "0123456789ABCDEF"
			b.WriteByte('=')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}
