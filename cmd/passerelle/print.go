package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/passerelle-dev/passerelle/events"
)

// statusLine renders a status event on one line for a terminal.
func statusLine(ctx context.Context, header nats.Header, data []byte) string {
	e, _, err := events.Decode(ctx, header, data)
	if err != nil {
		return "undecodable event: " + err.Error()
	}
	at := e.Time().Local().Format(time.TimeOnly)
	switch e.Type() {
	case events.TypeInvoiceStatus:
		var s events.InvoiceStatus
		if err := json.Unmarshal(e.Data(), &s); err != nil {
			return fmt.Sprintf("%s %s: unreadable data: %v", at, e.Type(), err)
		}
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
	case events.TypeDeclarationStatus:
		var s events.DeclarationStatus
		if err := json.Unmarshal(e.Data(), &s); err != nil {
			return fmt.Sprintf("%s %s: unreadable data: %v", at, e.Type(), err)
		}
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
	case events.TypeDeclarationReturn:
		var r events.DeclarationReturn
		if err := json.Unmarshal(e.Data(), &r); err != nil {
			return fmt.Sprintf("%s %s: unreadable data: %v", at, e.Type(), err)
		}
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
	return fmt.Sprintf("%s %s %s %s", at, e.Type(), e.Subject(), strings.TrimSpace(string(e.Data())))
}
