package invoice

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/workers/choruspro"
	"github.com/passerelle-dev/passerelle/workers/intake"
	"github.com/passerelle-dev/passerelle/workers/runtime"
)

// submission is one invoice.submit being handled.
type submission struct {
	id   string
	sub  *events.InvoiceSubmit
	acct *Account
	doc  []byte
	key  string
	hash string
	// replay is set for a submit event an operator re-injected from the dead letters.
	replay bool
	// first is set for the first delivery of a submit event that is not a replay.
	first bool
	// checked is set once the recipient's rules were applied: rejection and
	// checkErr hold the outcome, so that advance does not look the recipient up
	// again.
	checked   bool
	rejection *events.Rejection
	checkErr  error
}

// maxResends bounds the deposits re-sent in one handling after their absence was
// proven, so that an upstream that keeps dropping connections ends in a delayed retry.
const maxResends = 3

// submit claims the business key (or finds the submission it already belongs to) and
// moves the submission forward from the step the ledger records.
func (f *Flow) submit(ctx context.Context, s *submission) error {
	what := describe(fmt.Sprint(s.acct.SupplierID), s.sub.Invoice.Number)
	if s.first {
		r := f.newRecord(ctx, s)
		direct := f.readyToSend(ctx, s)
		if direct {
			// Nothing stands between the claim and the deposit: the record is
			// created at the sending step, one ledger write fewer.
			f.startSending(&r)
		}
		rev, err := intake.ClaimAndCreate(ctx, f.deps.Ledger, s.id, s.key, what, &r)
		if err == nil {
			f.deps.Metrics.LedgerStep(ctx, "invoice", stepReceived)
			if direct {
				f.deps.Metrics.LedgerStep(ctx, "invoice", stepSending)
				return f.sendFirst(ctx, s, &r, rev)
			}
			return f.advance(ctx, s, &r, rev)
		}
		if !errors.Is(err, runtime.ErrExists) {
			return err
		}
		// The invoice number already has a record: the usual way below.
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
			return runtime.Retry(fmt.Errorf("invoice %q was claimed concurrently: %w", s.sub.Invoice.Number, err), 0)
		}
		if err != nil {
			return runtime.Retry(err, 0)
		}
		f.deps.Metrics.LedgerStep(ctx, "invoice", stepReceived)
	case err != nil:
		return runtime.Retry(err, 0)
	case r.SubmitID != s.id && r.reusable():
		// The key's previous submission ended before anything reached Chorus Pro: this
		// one takes it over.
		prev := r
		r = f.newRecord(ctx, s)
		r.Duplicates = prev.Duplicates
		if rev, err = f.save(ctx, s.key, &r, rev); err != nil {
			return err
		}
	case r.SubmitID == s.id && r.Hash == s.hash && s.replay && r.final() && (r.State == events.StateFailed || r.State == events.StateUnknown):
		// An operator replays a submission that failed: it starts again, its
		// sequence going on; one that may have reached Chorus Pro is looked up first.
		r.Pending = nil
		r.Step = stepReceived
		if r.MayHaveDeposited {
			r.Step = stepSending
		}
		r.addStatus(events.InvoiceStatus{State: events.StateReceived}, f.now())
		if rev, err = f.save(ctx, s.key, &r, rev); err != nil {
			return err
		}
	case r.SubmitID != s.id && r.Hash == s.hash:
		return f.answerDuplicate(ctx, s, &r, rev)
	case r.SubmitID != s.id:
		return runtime.Invalid(&conflictError{number: s.sub.Invoice.Number, supplier: fmt.Sprint(s.acct.SupplierID), other: r.SubmitID})
	case r.Hash != s.hash:
		return runtime.Invalid(&intake.ReusedIDError{ID: s.id, Names: what, OtherContent: true})
	}
	return f.advance(ctx, s, &r, rev)
}

func (f *Flow) newRecord(ctx context.Context, s *submission) record {
	now := f.now().UTC()
	tp, ts := events.TraceOf(ctx)
	r := record{
		SubmitID: s.id, Account: s.acct.Name, Number: s.sub.Invoice.Number, Mode: s.sub.Mode,
		Hash: s.hash, Step: stepReceived, FlowSyntax: s.sub.FlowSyntax,
		TraceParent: tp, TraceState: ts, CreatedAt: now, UpdatedAt: now, LastChangeAt: now,
	}
	r.addStatus(events.InvoiceStatus{State: events.StateReceived}, now)
	return r
}

// answerDuplicate answers a second event for a submission already received: the
// same content under another id.
func (f *Flow) answerDuplicate(ctx context.Context, s *submission, r *record, rev uint64) error {
	if slices.Contains(r.Duplicates, s.id) {
		return nil
	}
	dup := &record{SubmitID: s.id, Account: s.acct.Name, Number: s.sub.Invoice.Number, Mode: s.sub.Mode}
	dup.addStatus(events.InvoiceStatus{State: events.StateDuplicate, Final: true, DuplicateOf: r.SubmitID, ChorusPro: r.chorusProRef()}, f.now())
	// Publish first: a crash before the ledger write publishes the same event again,
	// which the stream deduplicates.
	if err := f.flush(ctx, dup); err != nil {
		return err
	}
	r.Duplicates = append(r.Duplicates, s.id)
	_, err := f.save(ctx, s.key, r, rev)
	return err
}

// readyToSend applies the recipient's rules to a structured invoice before
// anything is recorded, and reports whether the invoice can go straight to its
// deposit: not a PDF (its attachment is deposited first), its recipient's rules
// read and kept.
func (f *Flow) readyToSend(ctx context.Context, s *submission) bool {
	switch s.sub.Mode {
	case events.ModePDF:
		return false
	case events.ModeFlow:
		return true
	}
	s.rejection, s.checkErr = f.checkRecipient(ctx, s.acct, &s.sub.Invoice)
	s.checked = true
	return s.rejection == nil && s.checkErr == nil
}

// startSending marks r as about to be deposited: from now on the deposit may have
// happened, and a later handling looks for it before sending it again.
func (f *Flow) startSending(r *record) {
	r.Step = stepSending
	r.MayHaveDeposited = true
	r.SendingSince = f.now().UTC()
}

// sendFirst deposits an invoice whose record was just created at the sending step
// with its received status pending: the status is published while the deposit
// runs, and confirmed before anything says so.
func (f *Flow) sendFirst(ctx context.Context, s *submission, r *record, rev uint64) error {
	pending, tp, ts := slices.Clone(r.Pending), r.TraceParent, r.TraceState
	err, perr := runtime.During(func() error { return f.deposit(ctx, s, r) },
		func() error { return f.publishPending(ctx, pending, tp, ts) })
	if perr == nil {
		r.Pending = nil
	}
	switch {
	case err == nil:
		// A received status not confirmed stays pending and goes out before the
		// submitted one.
		return f.submitted(ctx, s.key, r, rev)
	case perr != nil:
		// The record still holds the status and the sending step: the next
		// delivery publishes it and looks for the deposit before sending again.
		return perr
	case outcomeUnknown(err, false):
		f.log.WarnContext(ctx, "deposit outcome unknown; looking the invoice up", "account", s.acct.Name, "invoice", r.Number, "err", err)
		return f.send(ctx, s, r, rev, true)
	}
	return f.depositFailed(ctx, s, r, rev, err)
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
	case stepSubmitted:
		return f.scheduleFollowUp(ctx, s.key, r, due{PublishedThrough: r.Seq}, f.nextPoll(r, 0))
	case stepReceived:
		if s.sub.Mode != events.ModeFlow {
			rej, err := s.rejection, s.checkErr
			if !s.checked {
				rej, err = f.checkRecipient(ctx, s.acct, &s.sub.Invoice)
			}
			if err != nil {
				return f.deferral(err)
			}
			if rej != nil {
				r.Pending = nil
				r.addStatus(events.InvoiceStatus{State: events.StateRejected, Final: true, Rejection: rej}, f.now())
				_, err := f.commit(ctx, s.key, r, rev)
				return err
			}
		}
		if s.sub.Mode == events.ModePDF && r.PieceJointeID == 0 {
			// Depositing the PDF creates nothing but an attachment: safe to repeat.
			var resp *choruspro.DeposerPDFResponse
			err := f.call(ctx, s.acct.Name, true, func(ctx context.Context) error {
				var err error
				resp, err = s.acct.Client.DeposerPDF(ctx, choruspro.DeposerPDFRequest{
					IDUtilisateurCourant: s.acct.UserID, FichierFacture: s.doc, NomFichier: s.sub.Document.FileName,
				})
				return err
			})
			if err != nil {
				return f.depositFailed(ctx, s, r, rev, err)
			}
			r.PieceJointeID = resp.PieceJointeID
		}
		r.Pending = nil // flushed above
		f.startSending(r)
		if rev, err = f.save(ctx, s.key, r, rev); err != nil {
			return err
		}
		f.deps.Metrics.LedgerStep(ctx, "invoice", stepSending)
		return f.send(ctx, s, r, rev, false)
	case stepSending:
		// A previous delivery may have deposited the invoice: look it up first.
		return f.send(ctx, s, r, rev, true)
	}
	return runtime.Invalid(fmt.Errorf("ledger record of %s has unknown step %q", s.key, r.Step))
}

// send deposits the invoice, reconciling first when a previous attempt's outcome is
// unknown. It never deposits twice: a deposit is re-sent only once a look-up proved
// that the previous one did not happen.
func (f *Flow) send(ctx context.Context, s *submission, r *record, rev uint64, reconcileFirst bool) error {
	resends := 0
	for {
		if reconcileFirst {
			found, err := f.lookup(ctx, s.acct, r.Number)
			if err != nil {
				return f.deferral(err)
			}
			if found != nil {
				return f.adopt(ctx, s.key, r, rev, found)
			}
			if s.sub.Mode == events.ModeFlow {
				// A flow's invoice appears only once the flow is integrated: its
				// absence proves nothing yet. Keep looking for it.
				return f.awaitUnknownFlow(ctx, s.key, r, rev)
			}
			if resends >= maxResends {
				return runtime.Retry(fmt.Errorf("deposit of invoice %q keeps failing with an unknown outcome", r.Number), 0)
			}
			resends++
		}
		err := f.deposit(ctx, s, r)
		if err == nil {
			return f.submitted(ctx, s.key, r, rev)
		}
		if outcomeUnknown(err, false) {
			f.log.WarnContext(ctx, "deposit outcome unknown; looking the invoice up", "account", s.acct.Name, "invoice", r.Number, "err", err)
			reconcileFirst = true
			continue
		}
		return f.depositFailed(ctx, s, r, rev, err)
	}
}

// deposit calls soumettre or deposer/flux once (with in-process retries of failures
// that prove nothing was done) and records Chorus Pro's identifiers in r.
func (f *Flow) deposit(ctx context.Context, s *submission, r *record) error {
	if s.sub.Mode == events.ModeFlow {
		var resp *choruspro.DeposerFluxResponse
		err := f.call(ctx, s.acct.Name, false, func(ctx context.Context) error {
			var err error
			resp, err = s.acct.Client.DeposerFlux(ctx, choruspro.DeposerFluxRequest{
				FichierFlux: s.doc, NomFichier: s.sub.Document.FileName, SyntaxeFlux: choruspro.SyntaxeFlux(s.sub.FlowSyntax),
				IDUtilisateurCourant: s.acct.UserID,
			})
			return err
		})
		if err != nil {
			return err
		}
		r.NumeroFluxDepot, r.DateDepot = resp.NumeroFluxDepot, resp.DateDepot
		return nil
	}
	var resp *choruspro.SoumettreResponse
	err := f.call(ctx, s.acct.Name, false, func(ctx context.Context) error {
		var err error
		resp, err = s.acct.Client.Soumettre(ctx, soumettreRequest(s.sub, s.acct, r.PieceJointeID))
		return err
	})
	if err != nil {
		return err
	}
	r.IdentifiantFactureCPP, r.InvoiceStatus, r.DateDepot = resp.IdentifiantFactureCPP, string(resp.StatutFacture), resp.DateDepot
	return nil
}

// depositFailed acts on a deposit that failed with a known outcome.
func (f *Flow) depositFailed(ctx context.Context, s *submission, r *record, rev uint64, err error) error {
	var rej *events.Rejection
	var ce *choruspro.Error
	switch {
	case errors.Is(err, choruspro.ErrBusiness) && errors.As(err, &ce):
		rej = &events.Rejection{Source: "choruspro", Reason: "Chorus Pro refused the invoice", CodeRetour: ce.CodeRetour, Libelle: ce.Libelle}
	case errors.Is(err, choruspro.ErrInvalidDocument), errors.Is(err, choruspro.ErrTooLarge):
		rej = &events.Rejection{Source: "passerelle", Reason: err.Error()}
	default:
		return f.deferral(err)
	}
	// Refused: nothing was created, so the invoice number may be submitted again.
	r.MayHaveDeposited = false
	r.Pending = nil
	r.addStatus(events.InvoiceStatus{State: events.StateRejected, Final: true, Rejection: rej}, f.now())
	_, err = f.commit(ctx, s.key, r, rev)
	return err
}

// submitted records an accepted deposit, publishes it and plans the follow-up. The
// record and the status go out together: whichever fails, the message comes back,
// and the record (still pending, or still sending: the look-up finds the deposit)
// publishes the same status again, which the stream deduplicates. The follow-up,
// which says the status is published, waits for both.
func (f *Flow) submitted(ctx context.Context, key string, r *record, rev uint64) error {
	now := f.now().UTC()
	r.Step = stepSubmitted
	r.UnknownSince = time.Time{}
	r.LastChangeAt = now
	r.addStatus(events.InvoiceStatus{State: events.StateSubmitted, ChorusPro: r.chorusProRef()}, now)
	if _, err := f.saveAndFlush(ctx, key, r, rev); err != nil {
		return err
	}
	f.deps.Metrics.LedgerStep(ctx, "invoice", stepSubmitted)
	return f.scheduleFollowUp(ctx, key, r, due{PublishedThrough: r.Seq}, f.nextPoll(r, 0))
}

// lookup searches the supplier's invoices for number, and returns it when Chorus Pro
// has it.
func (f *Flow) lookup(ctx context.Context, acct *Account, number string) (*choruspro.FactureFournisseur, error) {
	var resp *choruspro.RechercherFacturesFournisseurResponse
	err := f.call(ctx, acct.Name, true, func(ctx context.Context) error {
		var err error
		resp, err = acct.Client.RechercherFacturesFournisseur(ctx, choruspro.RechercherFacturesFournisseurRequest{
			IDUtilisateurCourant: acct.UserID, IDFournisseur: acct.SupplierID, NumeroFacture: number,
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	for i := range resp.ListeFactures {
		if inv := &resp.ListeFactures[i]; inv.NumeroFacture == number {
			return inv, nil
		}
	}
	return nil, nil
}

// adopt records an invoice found by a look-up as the submission's deposit.
func (f *Flow) adopt(ctx context.Context, key string, r *record, rev uint64, found *choruspro.FactureFournisseur) error {
	f.log.InfoContext(ctx, "deposit found at Chorus Pro; not sending it again", "invoice", r.Number, "identifiantFactureCPP", found.IdentifiantFactureCPP)
	markFound(r, found)
	return f.submitted(ctx, key, r, rev)
}

// giveUp answers a submission whose deliveries ran out: failed when nothing can have
// reached Chorus Pro, submitted when a last look-up finds the deposit, unknown when
// the deposit may have happened and cannot be found.
func (f *Flow) giveUp(ctx context.Context, id string, sub *events.InvoiceSubmit, acct *Account, end runtime.End) error {
	key := ledgerKey(acct.SupplierID, sub.Invoice.Number)
	var r record
	rev, err := f.deps.Ledger.Get(ctx, key, &r)
	if errors.Is(err, runtime.ErrNotFound) || err == nil && r.SubmitID != id {
		r = record{SubmitID: id, Account: sub.Account, Number: sub.Invoice.Number, Mode: sub.Mode}
		r.addStatus(events.InvoiceStatus{State: events.StateFailed, Final: true, Failure: intake.Failure(end)}, f.now())
		return f.flush(ctx, &r)
	}
	if err != nil {
		return err
	}
	if err := f.flush(ctx, &r); err != nil {
		return err
	}
	r.Pending = nil
	if r.final() || r.Step == stepSubmitted {
		_, err := f.save(ctx, key, &r, rev)
		return err
	}
	state := events.StateFailed
	if r.Step == stepSending {
		found, err := f.lookup(ctx, acct, r.Number)
		switch {
		case err == nil && found != nil:
			return f.adopt(ctx, key, &r, rev, found)
		case err != nil || r.Mode == events.ModeFlow:
			state = events.StateUnknown
		default:
			r.MayHaveDeposited = false
		}
	}
	fail := intake.Failure(end)
	if state == events.StateUnknown {
		fail.Reason = "the deposit may have reached Chorus Pro and could not be found: check the invoice on Chorus Pro before submitting it again (" + fail.Reason + ")"
	}
	r.addStatus(events.InvoiceStatus{State: state, Final: true, Failure: fail, ChorusPro: r.chorusProRef()}, f.now())
	_, err = f.commit(ctx, key, &r, rev)
	return err
}
