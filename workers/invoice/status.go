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
	ctx, links := events.Resume(ctx, r.TraceParent, r.TraceState)
	for _, s := range r.Pending {
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
