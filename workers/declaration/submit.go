package declaration

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/workers/intake"
	"github.com/passerelle-dev/passerelle/workers/pasrau"
	"github.com/passerelle-dev/passerelle/workers/runtime"
)

// submission is one declaration.submit being handled.
type submission struct {
	id       string
	acct     *Account
	identity events.DeclarationIdentity
	file     []byte // ISO-8859-1
	key      string
	hash     string
	// replay is set for a submit event an operator re-injected from the dead letters.
	replay bool
	// first is set for the first delivery of a submit event that is not a replay.
	first bool
}

// reconcileMargin widens the window a lost deposit is looked for in, for clock skew
// between passerelle and PASRAU.
const reconcileMargin = time.Minute

// maxResends bounds the deposits re-sent in one handling after their absence was proven.
const maxResends = 3

// submit claims the declaration's identity (or finds the submission it belongs to)
// and moves it forward from the step the ledger records.
func (f *Flow) submit(ctx context.Context, s *submission) error {
	what := describe(s.identity)
	if s.first {
		// Nothing stands between the claim and the deposit: the record is created
		// at the sending step, one ledger write fewer.
		r := f.newRecord(ctx, s)
		f.startSending(&r)
		rev, err := intake.ClaimAndCreate(ctx, f.deps.Ledger, s.id, s.key, what, &r)
		if err == nil {
			f.deps.Metrics.LedgerStep(ctx, "declaration", stepReceived)
			f.deps.Metrics.LedgerStep(ctx, "declaration", stepSending)
			return f.sendFirst(ctx, s, &r, rev)
		}
		if !errors.Is(err, runtime.ErrExists) {
			return err
		}
		// The declaration's identity already has a record: the usual way below.
	}
	var r record
	rev, err := f.deps.Ledger.Get(ctx, s.key, &r)
	if cerr := intake.Recheck(ctx, f.deps.Ledger, s.id, s.key, what, intake.Found{Err: err, SubmitID: r.SubmitID, Final: r.final(), Rev: rev}); cerr != nil {
		return cerr
	}
	switch {
	case errors.Is(err, runtime.ErrNotFound):
		r = f.newRecord(ctx, s)
		rev, err = f.deps.Ledger.Create(ctx, s.key, &r)
		if errors.Is(err, runtime.ErrExists) {
			return runtime.Retry(fmt.Errorf("declaration %s was claimed concurrently: %w", s.identity.SIRET, err), 0)
		}
		if err != nil {
			return runtime.Retry(err, 0)
		}
		f.deps.Metrics.LedgerStep(ctx, "declaration", stepReceived)
	case err != nil:
		return runtime.Retry(err, 0)
	case r.SubmitID != s.id && r.reusable():
		prev := r
		r = f.newRecord(ctx, s)
		r.Duplicates = prev.Duplicates
		if rev, err = f.save(ctx, s.key, &r, rev); err != nil {
			return err
		}
	case r.SubmitID == s.id && r.Hash == s.hash && s.replay && r.final() && (r.State == events.StateFailed || r.State == events.StateUnknown):
		// An operator replays a declaration that failed: it starts again, its
		// sequence going on; one that may have been deposited is looked for first.
		r.Pending = nil
		r.Step = stepReceived
		if r.MayHaveDeposited {
			r.Step = stepSending
		}
		r.addStatus(events.DeclarationStatus{State: events.StateReceived}, f.now())
		if rev, err = f.save(ctx, s.key, &r, rev); err != nil {
			return err
		}
	case r.SubmitID != s.id && r.Hash == s.hash:
		return f.answerDuplicate(ctx, s, &r, rev)
	case r.SubmitID != s.id:
		return runtime.Invalid(&conflictError{identity: s.identity, other: r.SubmitID})
	case r.Hash != s.hash:
		return runtime.Invalid(&intake.ReusedIDError{ID: s.id, Names: what, OtherContent: true})
	}
	return f.advance(ctx, s, &r, rev)
}

func (f *Flow) newRecord(ctx context.Context, s *submission) record {
	now := f.now().UTC()
	tp, ts := events.TraceOf(ctx)
	r := record{SubmitID: s.id, Account: s.acct.Name, Identity: s.identity, Hash: s.hash, Step: stepReceived,
		TraceParent: tp, TraceState: ts, CreatedAt: now, UpdatedAt: now}
	r.addStatus(events.DeclarationStatus{State: events.StateReceived}, now)
	return r
}

// answerDuplicate answers a second event for a declaration already received with
// the same file.
func (f *Flow) answerDuplicate(ctx context.Context, s *submission, r *record, rev uint64) error {
	if slices.Contains(r.Duplicates, s.id) {
		return nil
	}
	dup := &record{SubmitID: s.id, Account: s.acct.Name, Identity: s.identity, IDFlux: r.IDFlux}
	dup.addStatus(events.DeclarationStatus{State: events.StateDuplicate, Final: true, DuplicateOf: r.SubmitID}, f.now())
	if err := f.flush(ctx, dup); err != nil {
		return err
	}
	r.Duplicates = append(r.Duplicates, s.id)
	_, err := f.save(ctx, s.key, r, rev)
	return err
}

// startSending marks r as about to be deposited: from now on the deposit may have
// been registered, and a later handling looks for it before sending it again.
func (f *Flow) startSending(r *record) {
	r.Step, r.MayHaveDeposited, r.SendingSince = stepSending, true, f.now().UTC()
}

// sendFirst deposits a declaration whose record was just created at the sending
// step with its received status pending: the status is published while the
// deposit runs, and confirmed before anything says so.
func (f *Flow) sendFirst(ctx context.Context, s *submission, r *record, rev uint64) error {
	pending, siret, tp, ts := slices.Clone(r.Pending), r.Identity.SIRET, r.TraceParent, r.TraceState
	var res *pasrau.DepositResult
	err, perr := runtime.During(func() (err error) { res, err = f.deposit(ctx, s); return err },
		func() error { return f.publishPending(ctx, pending, siret, tp, ts) })
	if perr == nil {
		r.Pending = nil
	}
	switch {
	case err == nil:
		// A received status not confirmed stays pending and goes out before the
		// deposited one.
		return f.deposited(ctx, s.key, r, rev, &depositFound{idflux: res.IDFlux, report: res.AEE})
	case perr != nil:
		// The record still holds the status and the sending step: the next
		// delivery publishes it and looks for the deposit before sending again.
		return perr
	case outcomeUnknown(err):
		f.log.WarnContext(ctx, "deposit outcome unknown; looking for it in the declarant's returns", "account", s.acct.Name, "declaration", s.identity.SIRET, "err", err)
		return f.send(ctx, s, r, rev, true)
	}
	return f.depositFailed(ctx, s.key, r, rev, err)
}

// deposit sends the declaration once, with the in-process retries of failures
// that prove nothing was registered.
func (f *Flow) deposit(ctx context.Context, s *submission) (*pasrau.DepositResult, error) {
	var res *pasrau.DepositResult
	err := f.call(ctx, s.acct.Name, false, func(ctx context.Context) error {
		var err error
		res, err = s.acct.Client.Deposit(ctx, s.file)
		return err
	})
	return res, err
}

// advance moves a submission forward from its recorded step.
func (f *Flow) advance(ctx context.Context, s *submission, r *record, rev uint64) error {
	if err := f.flush(ctx, r); err != nil {
		return err
	}
	var err error
	switch r.Step {
	case stepFinal:
		if len(r.Pending) > 0 {
			r.Pending = nil
			_, err = f.save(ctx, s.key, r, rev)
		}
		return err
	case stepDeposited:
		return f.scheduleFollowUp(ctx, s.key, r, due{PublishedThrough: r.Seq}, f.cfg.FluxPoll)
	case stepReceived:
		return f.send(ctx, s, r, rev, false)
	case stepSending:
		return f.send(ctx, s, r, rev, true)
	}
	return runtime.Invalid(fmt.Errorf("ledger record of %s has unknown step %q", s.key, r.Step))
}

// send deposits the declaration, reconciling first when a previous attempt's
// outcome is unknown: it is sent again only once PASRAU's returns prove that the
// previous attempt registered nothing.
func (f *Flow) send(ctx context.Context, s *submission, r *record, rev uint64, reconcileFirst bool) error {
	var err error
	for resends := 0; ; resends++ {
		if reconcileFirst {
			outcome, found, rerr := f.reconcile(ctx, s.acct, r)
			if rerr != nil {
				// The returns could not be read now: try again later, like an
				// undetermined outcome.
				f.log.WarnContext(ctx, "could not look for a lost deposit yet", "declaration", s.identity.SIRET, "err", rerr)
				outcome = pasrau.DepositUndetermined
			}
			switch outcome {
			case pasrau.DepositFound:
				return f.deposited(ctx, s.key, r, rev, found)
			case pasrau.DepositUndetermined:
				if f.now().Sub(r.SendingSince) > f.cfg.ReconcileWindow {
					return f.unknown(ctx, s.key, r, rev, "the deposit may have been registered by PASRAU and could not be found in the declarant's returns")
				}
				return f.awaitReconcile(ctx, s, r, rev)
			}
			if resends >= maxResends {
				return runtime.Retry(errors.New("deposit keeps failing with an unknown outcome"), f.cfg.FluxPoll)
			}
		}
		r.Pending = nil // flushed by advance
		f.startSending(r)
		if rev, err = f.save(ctx, s.key, r, rev); err != nil {
			return err
		}
		f.deps.Metrics.LedgerStep(ctx, "declaration", stepSending)
		var res *pasrau.DepositResult
		res, err = f.deposit(ctx, s)
		if err == nil {
			return f.deposited(ctx, s.key, r, rev, &depositFound{idflux: res.IDFlux, report: res.AEE})
		}
		if !outcomeUnknown(err) {
			return f.depositFailed(ctx, s.key, r, rev, err)
		}
		f.log.WarnContext(ctx, "deposit outcome unknown; looking for it in the declarant's returns", "account", s.acct.Name, "declaration", s.identity.SIRET, "err", err)
		reconcileFirst = true
	}
}

// awaitReconcile hands a deposit whose outcome is still unknown to the follow-ups:
// the file is kept in the Object Store (the follow-up deposits it again if PASRAU's
// returns prove the first attempt registered nothing), and the returns are looked
// at again every FluxPoll until ReconcileWindow is over. The submit event is then
// done with: its redeliveries would not tell more.
func (f *Flow) awaitReconcile(ctx context.Context, s *submission, r *record, rev uint64) error {
	if r.FileObject == "" {
		name := "declarations/" + s.key
		if _, err := f.deps.Documents.PutBytes(ctx, name, s.file); err != nil {
			return runtime.Retry(fmt.Errorf("keep the declaration file for reconciliation: %w", err), 0)
		}
		r.FileObject = name
		r.Pending = nil
		if _, err := f.save(ctx, s.key, r, rev); err != nil {
			return err
		}
	}
	return f.scheduleFollowUp(ctx, s.key, r, due{PublishedThrough: r.Seq}, f.cfg.FluxPoll)
}

// depositFound is a registered deposit, from its AEE or from the returns.
type depositFound struct {
	idflux string
	report *pasrau.Report
}

// reconcile looks for the submission's last deposit attempt among the declarant's
// returns registered around the time it was made (a margin for clock skew and for
// an attempt as long as the call's budget), skipping the flux passerelle knows
// it deposited for other declarations.
func (f *Flow) reconcile(ctx context.Context, acct *Account, r *record) (pasrau.SearchOutcome, *depositFound, error) {
	since := r.SendingSince.Add(-reconcileMargin)
	until := r.SendingSince.Add(max(f.cfg.Retry.Budget, f.cfg.DepositTimeout) + reconcileMargin)
	known := func(idflux string) bool {
		var link fluxLink
		_, err := f.deps.Ledger.Get(ctx, fluxKey(idflux), &link)
		return err == nil
	}
	var res *pasrau.DepositSearch
	err := f.call(ctx, acct.Name, true, func(ctx context.Context) error {
		var err error
		res, err = acct.Client.FindDeposit(ctx, pasrauIdentity(r.Identity), since, until, pasrau.Excluding(known))
		return err
	})
	if err != nil {
		return "", nil, err
	}
	if res.Outcome == pasrau.DepositFound {
		return res.Outcome, &depositFound{idflux: res.IDFlux, report: res.Report}, nil
	}
	return res.Outcome, nil, nil
}

// deposited records a registered deposit, publishes it and plans the flux's follow-up.
func (f *Flow) deposited(ctx context.Context, key string, r *record, rev uint64, d *depositFound) error {
	r.Step, r.IDFlux = stepDeposited, d.idflux
	if r.FileObject != "" {
		if err := f.deps.Documents.Delete(ctx, r.FileObject); err != nil {
			f.log.WarnContext(ctx, "could not delete the kept declaration file; it expires with the bucket's TTL", "object", r.FileObject, "err", err)
		}
		r.FileObject = ""
	}
	r.addStatus(events.DeclarationStatus{State: events.StateDeposited, IDFlux: d.idflux, Report: summaryOf(d.report)}, f.now())
	// The record, the flux's link and the status go out together: whichever
	// fails, the message comes back and the record (still pending, or still
	// sending: the returns show the deposit) leads to the same writes, which the
	// ledger and the stream take once. The follow-up, which says the status is
	// published, waits for all three.
	if _, err := f.saveAndFlush(ctx, key, r, rev, func() error { return f.link(ctx, d.idflux, key) }); err != nil {
		return err
	}
	f.deps.Metrics.LedgerStep(ctx, "declaration", stepDeposited)
	return f.scheduleFollowUp(ctx, key, r, due{PublishedThrough: r.Seq}, f.cfg.FluxPoll)
}

// link records which submission a flux belongs to, so that its returns name it.
func (f *Flow) link(ctx context.Context, idflux, key string) error {
	_, err := f.deps.Ledger.Create(ctx, fluxKey(idflux), fluxLink{Key: key})
	if err != nil && !errors.Is(err, runtime.ErrExists) {
		return runtime.Retry(err, 0)
	}
	return nil
}

// depositFailed acts on a deposit that failed with a known outcome.
func (f *Flow) depositFailed(ctx context.Context, key string, r *record, rev uint64, err error) error {
	var pe *pasrau.Error
	errors.As(err, &pe)
	switch {
	case errors.Is(err, pasrau.ErrRejected):
		// PASRAU refused the file (avis de rejet): nothing was registered.
		s := events.DeclarationStatus{State: events.StateRejected, Final: true,
			Rejection: &events.Rejection{Source: "pasrau", Reason: "PASRAU rejected the deposit (avis de rejet)"}}
		if pe != nil && pe.Rejection != nil && pe.Rejection.Report != nil {
			s.Report = summaryOf(pe.Rejection.Report)
			if id := pe.Rejection.Report.IDFlux; pasrau.ValidFluxID(id) {
				// A rejected deposit is registered as a flux with a KO nature 10:
				// link it so that its return names this submission.
				r.IDFlux = id
				if err := f.link(ctx, id, key); err != nil {
					return err
				}
			}
		}
		r.MayHaveDeposited = false
		r.Pending = nil
		r.addStatus(s, f.now())
	case errors.Is(err, pasrau.ErrClientDefect):
		r.MayHaveDeposited = false
		r.Pending = nil
		r.addStatus(events.DeclarationStatus{State: events.StateFailed, Final: true, Failure: &events.Failure{
			Reason: "PASRAU refused passerelle's request as malformed; this is a defect of passerelle, please report it: " + err.Error(),
		}}, f.now())
	default:
		// Not sent, or refused before reaching the deposit service: nothing was
		// registered, by this attempt nor (proven before it was made) by earlier ones.
		r.Step, r.MayHaveDeposited = stepReceived, false
		if _, serr := f.save(ctx, key, r, rev); serr != nil {
			return serr
		}
		return f.deferral(err)
	}
	_, err = f.commit(ctx, key, r, rev)
	return err
}

// unknown ends a submission whose deposit can neither be found nor proven absent.
func (f *Flow) unknown(ctx context.Context, key string, r *record, rev uint64, reason string) error {
	r.Pending = nil
	r.addStatus(events.DeclarationStatus{State: events.StateUnknown, Final: true, Failure: &events.Failure{
		Reason: reason + ": check the declarant's returns on net-entreprises before depositing it again",
	}}, f.now())
	_, err := f.commit(ctx, key, r, rev)
	return err
}

// giveUp answers a submission whose deliveries ran out: failed when nothing can
// have been registered, deposited when a last look finds the deposit, unknown when
// it may have been registered and cannot be found. It reports whether it answered
// (false: the event never reached the ledger and the caller answers failed).
func (f *Flow) giveUp(ctx context.Context, id, key string, acct *Account, end runtime.End) (bool, error) {
	if key == "" {
		return false, nil
	}
	var r record
	rev, err := f.deps.Ledger.Get(ctx, key, &r)
	switch {
	case errors.Is(err, runtime.ErrNotFound), err == nil && r.SubmitID != id:
		return false, nil
	case err != nil:
		return true, err
	}
	if err := f.flush(ctx, &r); err != nil {
		return true, err
	}
	r.Pending = nil
	if r.final() || r.Step == stepDeposited {
		_, err := f.save(ctx, key, &r, rev)
		return true, err
	}
	state, reason := events.StateFailed, intake.Failure(end)
	if r.Step == stepSending {
		outcome, found, err := f.reconcile(ctx, acct, &r)
		switch {
		case err == nil && outcome == pasrau.DepositFound:
			return true, f.deposited(ctx, key, &r, rev, found)
		case err == nil && outcome == pasrau.DepositAbsent:
			r.MayHaveDeposited = false
		default:
			state = events.StateUnknown
			reason.Reason = "the deposit may have been registered by PASRAU and could not be found: check the declarant's returns before depositing it again (" + reason.Reason + ")"
		}
	}
	r.addStatus(events.DeclarationStatus{State: state, Final: true, Failure: reason}, f.now())
	_, err = f.commit(ctx, key, &r, rev)
	return true, err
}
