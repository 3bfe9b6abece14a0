package invoice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/workers/choruspro"
	"github.com/passerelle-dev/passerelle/workers/runtime"
)

// due is the body of a follow-up message.
type due struct {
	// PublishedThrough is the sequence of the last status event known to be
	// published when the follow-up was planned: pending events up to it are done.
	PublishedThrough int `json:"publishedThrough"`
	// QuietPolls counts the polls in a row that found nothing new.
	QuietPolls int `json:"quietPolls,omitempty"`
}

// nextPoll is the delay before the next look at a submission.
func (f *Flow) nextPoll(r *record, quiet int) time.Duration {
	if r.Step == stepSending || r.Mode == events.ModeFlow && r.IdentifiantFactureCPP == 0 {
		return f.cfg.FlowPollInterval
	}
	d := f.cfg.InvoicePollMin
	for range quiet {
		if d >= f.cfg.InvoicePollMax {
			break
		}
		d *= 2
	}
	return min(d, f.cfg.InvoicePollMax)
}

// scheduleFollowUp plans the next look at a submission, replacing any earlier plan.
func (f *Flow) scheduleFollowUp(ctx context.Context, key string, r *record, d due, after time.Duration) error {
	body, err := json.Marshal(d)
	if err != nil {
		return err
	}
	h := events.TraceHeader(r.TraceParent, r.TraceState)
	if err := f.deps.Scheduler.At(ctx, followUpKind, key, f.now().Add(after), h, body); err != nil {
		return runtime.Retry(err, 0)
	}
	return nil
}

// awaitUnknownFlow records that a flow deposit's outcome is unknown and plans looks
// for its invoice until ReconcileWindow is over.
func (f *Flow) awaitUnknownFlow(ctx context.Context, key string, r *record, rev uint64) error {
	if r.UnknownSince.IsZero() {
		r.UnknownSince = f.now().UTC()
		r.Pending = nil
		if _, err := f.save(ctx, key, r, rev); err != nil {
			return err
		}
	}
	return f.scheduleFollowUp(ctx, key, r, due{PublishedThrough: r.Seq}, f.cfg.FlowPollInterval)
}

// followUp handles due follow-ups: one look at Chorus Pro per message.
type followUp struct{ f *Flow }

// Handle looks at the submission's flow or invoice, publishes what changed and plans
// the next look unless the submission is over.
func (h *followUp) Handle(ctx context.Context, d *runtime.Delivery) error {
	f := h.f
	key, ok := runtime.DueKey(followUpKind, d.Subject)
	if !ok {
		return runtime.Invalid(fmt.Errorf("subject %q is not an invoice follow-up", d.Subject))
	}
	var dd due
	if err := json.Unmarshal(d.Data, &dd); err != nil {
		return runtime.Invalid(fmt.Errorf("follow-up body: %w", err))
	}
	var r record
	rev, err := f.deps.Ledger.Get(ctx, key, &r)
	if errors.Is(err, runtime.ErrNotFound) {
		f.log.WarnContext(ctx, "follow-up of an unknown submission; dropping it", "key", key)
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
	if r.final() {
		if len(r.Pending) > 0 || confirmed > 0 {
			r.Pending = nil
			_, err := f.save(ctx, key, &r, rev)
			return err
		}
		return nil
	}
	acct, ok := f.deps.Accounts.ChorusPro(r.Account)
	if !ok {
		return runtime.Retry(fmt.Errorf("account %q of invoice %q is no longer configured", r.Account, r.Number), time.Hour)
	}
	before := r.Seq
	switch {
	case r.Step == stepSending:
		err = f.reconcileFlow(ctx, acct, &r)
	case r.Mode == events.ModeFlow && r.IdentifiantFactureCPP == 0:
		err = f.pollFlow(ctx, acct, &r)
	default:
		err = f.pollInvoice(ctx, acct, &r)
	}
	if err != nil {
		return err
	}
	quiet := dd.QuietPolls + 1
	if r.Seq != before || r.dirty {
		quiet = 0
		r.LastChangeAt = f.now().UTC()
		if rev, err = f.saveAndFlush(ctx, key, &r, rev); err != nil {
			return err
		}
		if r.final() {
			r.Pending = nil
			_, err := f.save(ctx, key, &r, rev)
			return err
		}
	}
	return f.scheduleFollowUp(ctx, key, &r, due{PublishedThrough: r.Seq, QuietPolls: quiet}, f.nextPoll(&r, quiet))
}

// Answer is called when a follow-up panicked: the submission is not over, so no
// final status is published; the dead letter can be replayed once the cause is fixed.
func (h *followUp) Answer(ctx context.Context, d *runtime.Delivery, end runtime.End) error {
	h.f.log.ErrorContext(ctx, "follow-up dead-lettered; replay it once fixed", "subject", d.Subject, "dead_letter_seq", end.DeadLetterSeq, "err", end.Err)
	return nil
}

func unconfirmed(pending []events.InvoiceStatus, through int) []events.InvoiceStatus {
	out := pending[:0]
	for _, s := range pending {
		if s.Sequence > through {
			out = append(out, s)
		}
	}
	return out
}

// reconcileFlow looks for the invoice of a flow deposit whose outcome is unknown.
func (f *Flow) reconcileFlow(ctx context.Context, acct *Account, r *record) error {
	found, err := f.lookup(ctx, acct, r.Number)
	if err != nil {
		return f.deferral(err)
	}
	now := f.now().UTC()
	switch {
	case found != nil:
		markFound(r, found)
		r.Step = stepSubmitted
		r.UnknownSince = time.Time{}
		r.addStatus(events.InvoiceStatus{State: events.StateSubmitted, ChorusPro: r.chorusProRef()}, now)
	case now.Sub(r.UnknownSince) > f.cfg.ReconcileWindow:
		r.addStatus(events.InvoiceStatus{State: events.StateUnknown, Final: true, Failure: &events.Failure{
			Reason: fmt.Sprintf("the flow deposit's outcome is unknown and no invoice %q appeared at Chorus Pro within %s: check Chorus Pro before submitting it again", r.Number, f.cfg.ReconcileWindow),
		}}, now)
	}
	return nil
}

// pollFlow reads a deposited flow's report and, once it is integrated, finds its invoice.
func (f *Flow) pollFlow(ctx context.Context, acct *Account, r *record) error {
	var cr *choruspro.ConsulterCRDetailleResponse
	err := f.call(ctx, acct.Name, true, func(ctx context.Context) error {
		var err error
		cr, err = acct.Client.ConsulterCRDetaille(ctx, choruspro.ConsulterCRDetailleRequest{NumeroFluxDepot: r.NumeroFluxDepot, SyntaxeFlux: choruspro.SyntaxeFlux(r.FlowSyntax)})
		return err
	})
	if err != nil {
		return f.deferral(err)
	}
	now := f.now().UTC()
	state := cr.EtatCourantDepotFlux
	if string(state) != r.FlowState {
		r.FlowState = string(state)
		ref := r.chorusProRef()
		ref.StatusDate = cr.DateHeureEtatCourantFlux
		switch state {
		case choruspro.FlowRejete:
			r.MayHaveDeposited = false
			r.addStatus(events.InvoiceStatus{State: string(state), ChorusPro: ref}, now)
			r.addStatus(events.InvoiceStatus{State: events.StateRejected, Final: true, ChorusPro: ref, Rejection: &events.Rejection{
				Source: "choruspro", Reason: "Chorus Pro rejected the flow",
				ListeErreurDP: raws(errorsOf(cr.ListeErreurDP, r.Number)), ListeErreurTechnique: raws(cr.ListeErreurTechnique),
			}}, now)
			return nil
		case choruspro.FlowIncidente, choruspro.FlowARelancer, choruspro.FlowErreurInterne:
			r.MayHaveDeposited = false
			r.addStatus(events.InvoiceStatus{State: string(state), ChorusPro: ref}, now)
			r.addStatus(events.InvoiceStatus{State: events.StateFailed, Final: true, ChorusPro: ref, Failure: &events.Failure{
				Reason: fmt.Sprintf("Chorus Pro reported a platform incident (%s) on flow %s: publish the invoice again to deposit it anew", state, r.NumeroFluxDepot),
			}}, now)
			return nil
		default:
			r.addStatus(events.InvoiceStatus{State: string(state), ChorusPro: ref}, now)
		}
	}
	if state != choruspro.FlowIntegre && state != choruspro.FlowIntegrePartiel {
		return nil
	}
	if mine := errorsOf(cr.ListeErreurDP, r.Number); len(mine) > 0 && state == choruspro.FlowIntegrePartiel {
		r.MayHaveDeposited = false
		r.addStatus(events.InvoiceStatus{State: events.StateRejected, Final: true, ChorusPro: r.chorusProRef(), Rejection: &events.Rejection{
			Source: "choruspro", Reason: "Chorus Pro rejected the invoice of the flow", ListeErreurDP: raws(mine),
		}}, now)
		return nil
	}
	var resp *choruspro.RechercherFacturesFournisseurResponse
	err = f.call(ctx, acct.Name, true, func(ctx context.Context) error {
		var err error
		resp, err = acct.Client.RechercherFacturesFournisseur(ctx, choruspro.RechercherFacturesFournisseurRequest{
			IDUtilisateurCourant: acct.UserID, IDFournisseur: acct.SupplierID, NumeroFluxDepot: r.NumeroFluxDepot,
		})
		return err
	})
	if err != nil {
		return f.deferral(err)
	}
	for i := range resp.ListeFactures {
		if inv := &resp.ListeFactures[i]; inv.NumeroFacture == r.Number || len(resp.ListeFactures) == 1 {
			markFound(r, inv)
			return nil
		}
	}
	return nil
}

// errorsOf returns the flow report's entries about invoice number, or all of them
// when none names it.
func errorsOf(all []choruspro.ErreurDP, number string) []choruspro.ErreurDP {
	var mine []choruspro.ErreurDP
	for _, e := range all {
		if e.NumeroDP == number {
			mine = append(mine, e)
		}
	}
	if len(mine) == 0 {
		return all
	}
	return mine
}

// pollInvoice reads an invoice's status history and records each status not reported yet.
func (f *Flow) pollInvoice(ctx context.Context, acct *Account, r *record) error {
	var h *choruspro.ConsulterHistoriqueResponse
	err := f.call(ctx, acct.Name, true, func(ctx context.Context) error {
		var err error
		h, err = acct.Client.ConsulterHistorique(ctx, choruspro.ConsulterHistoriqueRequest{IDFacture: r.IdentifiantFactureCPP, IDUtilisateurCourant: acct.UserID})
		return err
	})
	if err != nil {
		return f.deferral(err)
	}
	now := f.now().UTC()
	entries := chronological(h.HistoriquesDesStatuts.HistoStatut)
	if len(entries) == 0 && h.StatutCourantCode != "" && string(h.StatutCourantCode) != r.State {
		entries = []choruspro.HistoStatut{{HistoStatutCode: h.StatutCourantCode}}
		r.HistorySeen = 0
	}
	for i := r.HistorySeen; i < len(entries); i++ {
		e := entries[i]
		r.InvoiceStatus = string(e.HistoStatutCode)
		ref := r.chorusProRef()
		ref.StatusDate, ref.Comment = e.HistoStatutDatePassage, e.HistoStatutCommentaire
		r.addStatus(events.InvoiceStatus{State: string(e.HistoStatutCode), Final: choruspro.InvoiceFinal(e.HistoStatutCode), ChorusPro: ref}, now)
		if r.final() {
			break
		}
	}
	r.HistorySeen = len(entries)
	return nil
}

// markFound records an invoice found at Chorus Pro.
func markFound(r *record, inv *choruspro.FactureFournisseur) {
	r.dirty = true
	r.IdentifiantFactureCPP = inv.IdentifiantFactureCPP
	r.InvoiceStatus = string(inv.Statut)
	if inv.NumeroFluxDepot != "" {
		r.NumeroFluxDepot = inv.NumeroFluxDepot
	}
	if r.DateDepot == "" {
		r.DateDepot = inv.DateDepot
	}
}

// chronological returns the history oldest first, whatever order Chorus Pro used
// (the emulator, like Chorus Pro, lists newest first), when every date can be read;
// as given otherwise.
func chronological(h []choruspro.HistoStatut) []choruspro.HistoStatut {
	times := make([]time.Time, len(h))
	for i, e := range h {
		t, ok := parseChorusTime(e.HistoStatutDatePassage)
		if !ok {
			return h
		}
		times[i] = t
	}
	ascending, descending := true, true
	for i := 1; i < len(times); i++ {
		ascending = ascending && !times[i].Before(times[i-1])
		descending = descending && !times[i].After(times[i-1])
	}
	out := slices.Clone(h)
	switch {
	case ascending:
	case descending:
		slices.Reverse(out)
	default:
		idx := make([]int, len(h))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return times[idx[a]].Before(times[idx[b]]) })
		for i, j := range idx {
			out[i] = h[j]
		}
	}
	return out
}

func parseChorusTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.000-0700", "2006-01-02T15:04:05.000Z0700", "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// raws keeps Chorus Pro's error entries verbatim for an event.
func raws[T any](items []T) []json.RawMessage {
	out := make([]json.RawMessage, 0, len(items))
	for _, it := range items {
		if b, err := json.Marshal(it); err == nil {
			out = append(out, b)
		}
	}
	return out
}
