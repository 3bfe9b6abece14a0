package invoice

import (
	"context"
	"fmt"
	"strconv"

	"go.opentelemetry.io/otel/trace"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/workers/runtime"
)

// statusID is the event id of a submission's seq-th status: stable, so that a
// republished status is deduplicated by the stream.
func statusID(submitID string, seq int, state string) string {
	return events.DerivedID(events.TypeInvoiceStatus, submitID, strconv.Itoa(seq), state)
}

// publishStatus publishes one invoice.status event under the trace context of ctx.
func (f *Flow) publishStatus(ctx context.Context, s events.InvoiceStatus, links []trace.Link) error {
	subject, err := events.Subject(events.TypeInvoiceStatus, s.Account)
	if err != nil {
		return err
	}
	e, err := events.New(events.TypeInvoiceStatus, statusID(s.SubmitID, s.Sequence, s.State), s.InvoiceNumber, s)
	if err != nil {
		return err
	}
	ack, err := f.deps.Publisher.Publish(ctx, subject, e, links...)
	if err != nil {
		return err
	}
	if s.Final && !ack.Duplicate {
		f.deps.Metrics.Submission(ctx, "invoice", s.Account, s.State)
		f.deps.Metrics.LedgerStep(ctx, "invoice", stepFinal)
	}
	return nil
}

// flush publishes the record's pending status events, in order, in the
// submission's trace (linked to the follow-up's own when it publishes them). It
// does not clear them: the caller does, in its next ledger write.
func (f *Flow) flush(ctx context.Context, r *record) error {
	return f.publishPending(ctx, r.Pending, r.TraceParent, r.TraceState)
}

// publishPending publishes status events in order in the trace traceparent and
// tracestate name (see flush).
func (f *Flow) publishPending(ctx context.Context, pending []events.InvoiceStatus, traceparent, tracestate string) error {
	ctx, links := events.Resume(ctx, traceparent, tracestate)
	for _, s := range pending {
		if err := f.publishStatus(ctx, s, links); err != nil {
			return runtime.Retry(fmt.Errorf("publish %s status of %s: %w", s.State, s.SubmitID, err), 0)
		}
	}
	return nil
}

// save writes r over revision rev and returns the new revision (a Retry when
// another worker wrote the record meanwhile).
func (f *Flow) save(ctx context.Context, key string, r *record, rev uint64) (uint64, error) {
	r.UpdatedAt = f.now().UTC()
	return f.deps.Ledger.Save(ctx, key, r, rev)
}

// saveAndFlush writes r and publishes its pending events at the same time (see
// runtime.Ledger.SaveAlong: a second publication of an event is a duplicate the
// stream drops). It does not clear the events: the caller's next write, or the
// follow-up it plans with PublishedThrough, does.
func (f *Flow) saveAndFlush(ctx context.Context, key string, r *record, rev uint64) (uint64, error) {
	r.UpdatedAt = f.now().UTC()
	return f.deps.Ledger.SaveAlong(ctx, key, r, rev, func() error { return f.flush(ctx, r) })
}

// commit writes r, publishes its pending events and clears them with a second
// write. Use it where no later write of the same handling would clear them.
func (f *Flow) commit(ctx context.Context, key string, r *record, rev uint64) (uint64, error) {
	rev, err := f.save(ctx, key, r, rev)
	if err != nil {
		return 0, err
	}
	if err := f.flush(ctx, r); err != nil {
		return 0, err
	}
	r.Pending = nil
	return f.save(ctx, key, r, rev)
}
