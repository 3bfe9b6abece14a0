package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"

	"github.com/passerelle-dev/passerelle/events"
)

// statusLine renders a status event on one line for a terminal.
func statusLine(ctx context.Context, header nats.Header, data []byte) string {
	e, _, err := events.Decode(ctx, header, data)
	if err != nil {
		return "undecodable event: " + err.Error()
	}
	o, err := events.ReadOutput(e)
	at := e.Time().Local().Format(time.TimeOnly)
	switch {
	case errors.Is(err, events.ErrUnexpectedType):
		return fmt.Sprintf("%s %s %s %s", at, e.Type(), e.Subject(), strings.TrimSpace(string(e.Data())))
	case err != nil:
		return fmt.Sprintf("%s %s: unreadable data: %v", at, e.Type(), err)
	}
	return outputLine(o)
}

// outputLine renders a status or return event on one line for a terminal.
func outputLine(o *events.Output) string {
	at := o.Time.Local().Format(time.TimeOnly)
	switch {
	case o.InvoiceStatus != nil:
		s := o.InvoiceStatus
		var b strings.Builder
		fmt.Fprintf(&b, "%s invoice %-8s %-16s #%d %-28s", at, s.Account, s.InvoiceNumber, s.Sequence, s.State)
		if c := s.ChorusPro; c != nil {
			if c.NumeroFluxDepot != "" {
				fmt.Fprintf(&b, " flux=%s", c.NumeroFluxDepot)
			}
			if c.IdentifiantFactureCPP != 0 {
				fmt.Fprintf(&b, " cpp=%d", c.IdentifiantFactureCPP)
			}
		}
		if s.Final {
			b.WriteString(" FINAL")
		}
		if r := s.Rejection; r != nil {
			fmt.Fprintf(&b, " — %s", r.Reason)
			if r.CodeRetour != 0 || r.Libelle != "" {
				fmt.Fprintf(&b, " (codeRetour %d: %s)", r.CodeRetour, r.Libelle)
			}
			for _, p := range r.Errors {
				fmt.Fprintf(&b, "; %s: %s", p.Location, p.Message)
			}
		}
		if f := s.Failure; f != nil {
			fmt.Fprintf(&b, " — %s", f.Reason)
		}
		if s.DuplicateOf != "" {
			fmt.Fprintf(&b, " (duplicate of %s)", s.DuplicateOf)
		}
		return b.String()
	case o.DeclarationStatus != nil:
		s := o.DeclarationStatus
		var b strings.Builder
		who := ""
		if d := s.Declaration; d != nil {
			who = d.SIRET + " " + d.Month
		}
		fmt.Fprintf(&b, "%s declaration %-8s %-22s #%d %-28s", at, s.Account, who, s.Sequence, s.State)
		if s.IDFlux != "" {
			fmt.Fprintf(&b, " idflux=%s", s.IDFlux)
		}
		if r := s.Report; r != nil {
			fmt.Fprintf(&b, " %s %s", r.Type, r.Etat)
		}
		if s.Final {
			b.WriteString(" FINAL")
		}
		for i, p := range s.Problems {
			if i == 3 {
				fmt.Fprintf(&b, "; and %d more", len(s.Problems)-3)
				break
			}
			fmt.Fprintf(&b, "; line %d %s: %s", p.Line, p.Rubric, p.Message)
		}
		if r := s.Report; r != nil {
			for i, a := range r.Anomalies {
				if i == 3 {
					break
				}
				fmt.Fprintf(&b, "; %s %s (line %d)", a.Code, a.Message, a.Line)
			}
		}
		if s.Rejection != nil && len(s.Problems) == 0 {
			fmt.Fprintf(&b, " — %s", s.Rejection.Reason)
		}
		if f := s.Failure; f != nil {
			fmt.Fprintf(&b, " — %s", f.Reason)
		}
		return b.String()
	case o.DeclarationReturn != nil:
		r := o.DeclarationReturn
		var b strings.Builder
		fmt.Fprintf(&b, "%s return      %-8s idflux=%s nature %s v%d %-8s %s", at, r.Account, r.IDFlux, r.Nature, r.Version, r.Statut, r.NatureLabel)
		if s := r.Summary; s != nil {
			fmt.Fprintf(&b, " [%s %s", s.Type, s.Etat)
			if len(s.Anomalies) > 0 {
				fmt.Fprintf(&b, ", %d anomalies", len(s.Anomalies))
			}
			if len(s.Rates) > 0 {
				fmt.Fprintf(&b, ", %d PAS rates", len(s.Rates))
			}
			b.WriteString("]")
		}
		if r.DocumentUnavailable != "" {
			fmt.Fprintf(&b, " (document unavailable: %s)", r.DocumentUnavailable)
		}
		return b.String()
	}
	return fmt.Sprintf("%s %s %s", at, o.Type, o.Subject)
}

// lifecycle returns the states a submission of kind (invoice or declaration)
// goes through on its way to success; flow is an invoice in flow mode. Chorus
// Pro's detours (SUSPENDUE, A_RECYCLER...) are not steps.
func lifecycle(kind string, flow bool) []string {
	if kind == "declaration" {
		return []string{events.StateReceived, events.StateDeposited, events.StateAccepted}
	}
	steps := []string{events.StateReceived, events.StateSubmitted}
	if flow {
		steps = append(steps, "IN_RECU", "IN_EN_ATTENTE_TRAITEMENT_CPP", "IN_EN_COURS_TRAITEMENT_CPP", "IN_INTEGRE")
	}
	return append(steps, "DEPOSEE", "EN_COURS_ACHEMINEMENT", "MISE_A_DISPOSITION",
		"PRISE_EN_COMPTE_DESTINATAIRE", "SERVICE_FAIT", "MANDATEE", "MISE_EN_PAIEMENT")
}

// liveRow is one submission in the live view: its latest state and how far it
// went along its lifecycle.
type liveRow struct {
	kind     string // invoice, declaration, or return (returns of a flux passerelle did not deposit)
	account  string
	name     string // the invoice number, the declaration's SIRET and month, or the idflux
	submitID string
	flow     bool
	state    string
	sequence int
	step     int
	final    bool
	note     string
	returns  []string
	updated  time.Time
}

// progress returns the row's step and the number of steps of its lifecycle.
func (r *liveRow) progress() (int, int) {
	if r.kind == "return" {
		return 0, 0
	}
	return r.step, len(lifecycle(r.kind, r.flow))
}

// liveView is what `watch --live` shows: one row per submission, in the order
// they were first seen.
type liveView struct {
	rows      map[string]*liveRow
	order     []*liveRow
	finalOnly bool
	// maxRows bounds the rows drawn: the most recent ones are kept.
	maxRows int
}

func newLiveView(finalOnly bool) *liveView {
	return &liveView{rows: map[string]*liveRow{}, finalOnly: finalOnly, maxRows: 40}
}

// row returns the row of key, created with kind when new.
func (v *liveView) row(key, kind string) *liveRow {
	r := v.rows[key]
	if r == nil {
		r = &liveRow{kind: kind}
		v.rows[key] = r
		v.order = append(v.order, r)
	}
	return r
}

// add records an event in its submission's row.
func (v *liveView) add(o *events.Output) {
	switch {
	case o.InvoiceStatus != nil:
		s := o.InvoiceStatus
		r := v.row(s.SubmitID, "invoice")
		r.account, r.name, r.submitID = s.Account, s.InvoiceNumber, s.SubmitID
		r.flow = r.flow || s.Mode == events.ModeFlow || strings.HasPrefix(s.State, "IN_")
		note := ""
		if c := s.ChorusPro; c != nil && c.IdentifiantFactureCPP != 0 {
			note = fmt.Sprintf("cpp=%d", c.IdentifiantFactureCPP)
		} else if c != nil && c.NumeroFluxDepot != "" {
			note = "flux=" + c.NumeroFluxDepot
		}
		if c := s.ChorusPro; c != nil && c.Comment != "" {
			note = strings.TrimSpace(note + " " + c.Comment)
		}
		switch {
		case s.Rejection != nil:
			note = s.Rejection.Reason
			if s.Rejection.CodeRetour != 0 || s.Rejection.Libelle != "" {
				note += fmt.Sprintf(" (codeRetour %d: %s)", s.Rejection.CodeRetour, s.Rejection.Libelle)
			}
		case s.Failure != nil:
			note = s.Failure.Reason
		case s.DuplicateOf != "":
			note = "duplicate of " + s.DuplicateOf
		}
		v.update(r, o, s.State, s.Sequence, s.Final, note)
	case o.DeclarationStatus != nil:
		s := o.DeclarationStatus
		r := v.row(s.SubmitID, "declaration")
		r.kind, r.account, r.submitID = "declaration", s.Account, s.SubmitID
		if d := s.Declaration; d != nil {
			r.name = d.SIRET + " " + d.Month
		}
		note := ""
		if s.IDFlux != "" {
			note = "idflux=" + s.IDFlux
		}
		switch {
		case len(s.Problems) > 0:
			p := s.Problems[0]
			note = fmt.Sprintf("line %d %s: %s", p.Line, p.Rubric, p.Message)
			if len(s.Problems) > 1 {
				note += fmt.Sprintf(" (and %d more)", len(s.Problems)-1)
			}
		case s.Report != nil && s.Report.Etat != "":
			note += fmt.Sprintf(" %s %s", s.Report.Type, s.Report.Etat)
		}
		if s.Rejection != nil && len(s.Problems) == 0 {
			note = strings.TrimSpace(note + " " + s.Rejection.Reason)
		}
		if s.Failure != nil {
			note = s.Failure.Reason
		}
		v.update(r, o, s.State, s.Sequence, s.Final, strings.TrimSpace(note))
	case o.DeclarationReturn != nil:
		ret := o.DeclarationReturn
		key := ret.SubmitID
		if key == "" {
			key = "idflux " + ret.IDFlux
		}
		r := v.row(key, "return")
		if r.kind == "return" {
			r.account, r.name, r.submitID = ret.Account, "idflux="+ret.IDFlux, ret.SubmitID
			r.state, r.updated = ret.Statut, o.Time
		}
		label := fmt.Sprintf("%s %s", ret.Nature, ret.Statut)
		for i, prev := range r.returns {
			if strings.HasPrefix(prev, ret.Nature+" ") {
				r.returns = append(r.returns[:i], r.returns[i+1:]...)
				break
			}
		}
		r.returns = append(r.returns, label)
	}
}

// update moves a row to a later status of its submission.
func (v *liveView) update(r *liveRow, o *events.Output, state string, sequence int, final bool, note string) {
	if sequence < r.sequence {
		return // an older status, delivered late
	}
	r.state, r.sequence, r.final, r.note, r.updated = state, sequence, final, note, o.Time
	steps := lifecycle(r.kind, r.flow)
	if state == "IN_INTEGRE_PARTIEL" {
		state = "IN_INTEGRE"
	}
	if i := slices.Index(steps, state); i >= 0 {
		r.step = i + 1
	}
}

// render draws the view: a summary line, then one row per submission.
func (v *liveView) render(w io.Writer, now time.Time) {
	var shown []*liveRow
	final := 0
	for _, r := range v.order {
		if r.final {
			final++
		}
		if !v.finalOnly || r.final {
			shown = append(shown, r)
		}
	}
	fmt.Fprintf(w, "passerelle watch — %d submissions, %d final — %s (Ctrl-C stops)\n\n", len(v.order), final, now.Local().Format(time.TimeOnly))
	if hidden := len(shown) - v.maxRows; hidden > 0 {
		fmt.Fprintf(w, "(%d earlier not shown)\n", hidden)
		shown = shown[hidden:]
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "UPDATED\tTYPE\tACCOUNT\tSUBMISSION\tSUBMIT ID\tSTATE\tSTEP\t\tDETAILS")
	for _, r := range shown {
		step := "-"
		if k, n := r.progress(); n > 0 {
			step = fmt.Sprintf("%d/%d", k, n)
		}
		final := ""
		if r.final {
			final = "FINAL"
		}
		id := r.submitID
		if len(id) > 8 {
			id = id[:8]
		}
		if id == "" {
			id = "-"
		}
		details := r.note
		if len(r.returns) > 0 {
			details = strings.TrimSpace(details + " returns: " + strings.Join(r.returns, ", "))
		}
		details = truncate(details, 100)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.updated.Local().Format(time.TimeOnly), r.kind, r.account, r.name, id, r.state, step, final, details)
	}
	_ = tw.Flush()
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut with "…".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
