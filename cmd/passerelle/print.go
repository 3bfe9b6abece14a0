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
	}
	return fmt.Sprintf("%s %s %s %s", at, e.Type(), e.Subject(), strings.TrimSpace(string(e.Data())))
}
