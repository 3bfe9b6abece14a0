package declaration

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/workers/runtime"
)

// statusID is the stable event id of a submission's seq-th status.
func statusID(submitID string, seq int, state string) string {
	return events.DerivedID(events.TypeDeclarationStatus, submitID, strconv.Itoa(seq), state)
}

// flush publishes the record's pending status events, in order, in the
// submission's trace (linked to the follow-up's own when it publishes them). The
// caller clears them in its next ledger write.
func (f *Flow) flush(ctx context.Context, r *record) error {
	return f.publishPending(ctx, r.Pending, r.Identity.SIRET, r.TraceParent, r.TraceState)
}

// publishPending publishes status events of the declarant siret in order, in the
// trace traceparent and tracestate name (see flush).
func (f *Flow) publishPending(ctx context.Context, pending []events.DeclarationStatus, siret, traceparent, tracestate string) error {
	ctx, links := events.Resume(ctx, traceparent, tracestate)
	for _, s := range pending {
		subject, err := events.Subject(events.TypeDeclarationStatus, s.Account)
		if err != nil {
			return err
		}
		e, err := events.New(events.TypeDeclarationStatus, statusID(s.SubmitID, s.Sequence, s.State), siret, s)
		if err != nil {
			return err
		}
		ack, err := f.deps.Publisher.Publish(ctx, subject, e, links...)
		if err != nil {
			return runtime.Retry(fmt.Errorf("publish %s status of %s: %w", s.State, s.SubmitID, err), 0)
		}
		if s.Final && !ack.Duplicate {
			f.deps.Metrics.Submission(ctx, "declaration", s.Account, s.State)
			f.deps.Metrics.LedgerStep(ctx, "declaration", stepFinal)
		}
	}
	return nil
}

func (f *Flow) save(ctx context.Context, key string, r *record, rev uint64) (uint64, error) {
	r.UpdatedAt = f.now().UTC()
	return f.deps.Ledger.Save(ctx, key, r, rev)
}

// saveAndFlush writes r and publishes its pending events at the same time, with
// the other writes along (see runtime.Ledger.SaveAlong: a second publication of
// an event is a duplicate the stream drops). It does not clear the events: the
// caller's next write, or the follow-up it plans with PublishedThrough, does.
func (f *Flow) saveAndFlush(ctx context.Context, key string, r *record, rev uint64, along ...func() error) (uint64, error) {
	r.UpdatedAt = f.now().UTC()
	return f.deps.Ledger.SaveAlong(ctx, key, r, rev, append(along, func() error { return f.flush(ctx, r) })...)
}

// commit writes r, publishes its pending events and clears them with a second write.
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

// due is the body of a follow-up message.
type due struct {
	// PublishedThrough is the sequence of the last status known to be published.
	PublishedThrough int `json:"publishedThrough"`
	// Polls counts the listings of the flux so far.
	Polls int `json:"polls,omitempty"`
}

// scheduleFollowUp plans the next listing of the submission's flux.
func (f *Flow) scheduleFollowUp(ctx context.Context, key string, r *record, d due, after time.Duration) error {
	body, err := json.Marshal(d)
	if err != nil {
		return err
	}
	if err := f.deps.Scheduler.At(ctx, followUpKind, key, f.now().Add(after), events.TraceHeader(r.TraceParent, r.TraceState), body); err != nil {
		return runtime.Retry(err, 0)
	}
	return nil
}

// unconfirmed drops the pending statuses known to be published.
func unconfirmed(pending []events.DeclarationStatus, through int) []events.DeclarationStatus {
	out := pending[:0]
	for _, s := range pending {
		if s.Sequence > through {
			out = append(out, s)
		}
	}
	return out
}
