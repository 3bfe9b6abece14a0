package declaration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/workers/pasrau"
	"github.com/passerelle-dev/passerelle/workers/runtime"
)

// followUp handles due follow-ups of deposited declarations: one listing of the
// flux per message, until its conformity answer.
type followUp struct{ f *Flow }

// Handle lists the flux's returns, publishes each new one, and ends the submission
// once nature 10 says KO or nature 11 gives the conformity answer.
func (h *followUp) Handle(ctx context.Context, d *runtime.Delivery) error {
	f := h.f
	key, ok := runtime.DueKey(followUpKind, d.Subject)
	if !ok {
		return runtime.Invalid(fmt.Errorf("subject %q is not a declaration follow-up", d.Subject))
	}
	var dd due
	if err := json.Unmarshal(d.Data, &dd); err != nil {
		return runtime.Invalid(fmt.Errorf("follow-up body: %w", err))
	}
	var r record
	rev, err := f.deps.Ledger.Get(ctx, key, &r)
	if errors.Is(err, runtime.ErrNotFound) {
		f.log.WarnContext(ctx, "follow-up of an unknown declaration; dropping it", "key", key)
		return nil
	}
	if err != nil {
		return runtime.Retry(err, 0)
	}
	confirmed := len(r.Pending)
	r.Pending = unconfirmed(r.Pending, dd.PublishedThrough)
	confirmed -= len(r.Pending)
	if err := f.flush(ctx, &r); err != nil {
		return err
	}
	if r.Step == stepSending && !r.final() {
		return f.reconcileLater(ctx, key, &r, rev)
	}
	if r.final() || r.Step != stepDeposited {
		if len(r.Pending) > 0 || confirmed > 0 {
			r.Pending = nil
			_, err := f.save(ctx, key, &r, rev)
			return err
		}
		return nil
	}
	acct, ok := f.deps.Accounts.PASRAU(r.Account)
	if !ok {
		return runtime.Retry(fmt.Errorf("account %q of declaration %s is no longer configured", r.Account, r.IDFlux), time.Hour)
	}
	before := r.Seq
	if err := f.pollFlux(ctx, acct, &r); err != nil {
		return err
	}
	if r.Seq != before {
		if rev, err = f.saveAndFlush(ctx, key, &r, rev); err != nil {
			return err
		}
		if r.final() {
			r.Pending = nil
			_, err := f.save(ctx, key, &r, rev)
			return err
		}
	}
	return f.scheduleFollowUp(ctx, key, &r, due{PublishedThrough: r.Seq, Polls: dd.Polls + 1}, f.cfg.FluxPoll)
}

// reconcileLater settles a deposit of unknown outcome from a follow-up: found, it
// is deposited; proven absent, the kept file is deposited again; undetermined, the
// returns are looked at again later, until ReconcileWindow is over.
func (f *Flow) reconcileLater(ctx context.Context, key string, r *record, rev uint64) error {
	acct, ok := f.deps.Accounts.PASRAU(r.Account)
	if !ok {
		return runtime.Retry(fmt.Errorf("account %q of declaration %s is no longer configured", r.Account, r.Identity.SIRET), time.Hour)
	}
	var file []byte
	if r.FileObject != "" {
		b, err := f.deps.Documents.GetBytes(ctx, r.FileObject)
		if err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return runtime.Retry(err, 0)
		}
		file = b
	}
	if file == nil {
		return f.unknown(ctx, key, r, rev, "the deposit's outcome is unknown and the file kept to deposit it again is gone")
	}
	s := &submission{id: r.SubmitID, acct: acct, identity: r.Identity, file: file, key: key, hash: r.Hash}
	return f.send(ctx, s, r, rev, true)
}

// Answer is called when a follow-up panicked: the declaration is not over, so no
// final status is published; the dead letter can be replayed once fixed.
func (h *followUp) Answer(ctx context.Context, d *runtime.Delivery, end runtime.End) error {
	h.f.log.ErrorContext(ctx, "declaration follow-up dead-lettered; replay it once fixed", "subject", d.Subject, "dead_letter_seq", end.DeadLetterSeq, "err", end.Err)
	return nil
}

// pollFlux lists the submission's flux, publishes its new returns and records the
// conformity answer when it has come.
func (f *Flow) pollFlux(ctx context.Context, acct *Account, r *record) error {
	for page := 1; page <= pasrau.MaxPage; page++ {
		var res *pasrau.ListResult
		err := f.call(ctx, acct.Name, true, func(ctx context.Context) error {
			var err error
			res, err = acct.Client.ListByFlux(ctx, r.IDFlux, page, 0)
			return err
		})
		if errors.Is(err, pasrau.ErrUnknownFlux) {
			return nil // not listed yet
		}
		if err != nil {
			return f.deferral(err)
		}
		for _, fl := range res.Flux {
			if fl.ID != r.IDFlux {
				continue
			}
			for _, ret := range fl.Returns {
				seen, err := f.emitReturn(ctx, acct, fl.ID, ret)
				if err != nil {
					return err
				}
				f.decide(r, ret, seen)
				if r.final() {
					return nil
				}
			}
		}
		if res.PageCurrent >= res.PagesTotal {
			return nil
		}
	}
	return nil
}

// decide records the submission's final status from a return of its flux: a KO
// nature 10 (rejection notice) or nature 11 (blocking anomalies) rejects it; an OK
// or ANO nature 11 accepts it.
func (f *Flow) decide(r *record, ret pasrau.Return, seen *seenReturn) {
	now := f.now()
	switch {
	case ret.Nature == pasrau.NatureAEE && ret.Statut == pasrau.StatusKO,
		ret.Nature == pasrau.NatureConformity && ret.Statut == pasrau.StatusKO:
		r.MayHaveDeposited = false // rejected: the declaration must be deposited again, corrected
		r.addStatus(events.DeclarationStatus{State: events.StateRejected, Final: true, Report: seen.Summary,
			Rejection: &events.Rejection{Source: "pasrau", Reason: fmt.Sprintf("PASRAU's return %s (%s) is KO", ret.Nature, events.NatureLabel(ret.Nature))}}, now)
	case ret.Nature == pasrau.NatureConformity && (ret.Statut == pasrau.StatusOK || ret.Statut == pasrau.StatusANO):
		r.addStatus(events.DeclarationStatus{State: events.StateAccepted, Final: true, Report: seen.Summary}, now)
	}
}
