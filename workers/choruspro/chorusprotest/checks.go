package chorusprotest

import (
	"fmt"
	"strings"
	"time"
)

// submitting reports whether an operation submits invoices.
func submitting(op string) bool { return op == "soumettre" || op == "deposerFlux" }

// Resubmissions returns one line per call that submitted (soumettre or
// deposerFlux) an invoice number again after an earlier call had created it
// for the same supplier, whether or not that earlier answer reached the
// client. An empty result means nothing was submitted twice. records are
// taken in Seq order, as Requests returns them.
func Resubmissions(records []RequestRecord) []string {
	type key struct {
		supplier int64
		numero   string
	}
	created := map[key]RequestRecord{}
	var out []string
	for _, r := range records {
		if !submitting(r.Operation) || r.NumeroFacture == "" {
			continue
		}
		for _, n := range strings.Split(r.NumeroFacture, ",") {
			k := key{r.IDFournisseur, n}
			if first, seen := created[k]; seen {
				out = append(out, fmt.Sprintf("invoice %s of supplier %d submitted again by call %d (%s, status %d) after call %d created it",
					n, r.IDFournisseur, r.Seq, r.Operation, r.Status, first.Seq))
				continue
			}
			if r.Applied {
				created[k] = r
			}
		}
	}
	return out
}

// RetryAfterViolations returns one line per call that came sooner than the
// Retry-After given by a 429 to the previous call of the same operation for
// the same thing (invoice number, file name, flow number, identifiantFactureCPP
// or structure; the token endpoint counts as one operation). An empty result means every Retry-After was honoured. Times
// are the emulator's clock.
func RetryAfterViolations(records []RequestRecord) []string {
	limited := map[string]RequestRecord{}
	var out []string
	for _, r := range records {
		k := fmt.Sprintf("%s|%s|%s|%s|%d|%s", r.Operation, r.NumeroFacture, r.NomFichier, r.NumeroFluxDepot, r.IdentifiantFactureCPP, r.Structure)
		if prev, seen := limited[k]; seen {
			wait := time.Duration(prev.RetryAfterSeconds) * time.Second
			if gap := r.Time.Sub(prev.Time); gap < wait {
				out = append(out, fmt.Sprintf("call %d (%s %s) came %s after call %d was told Retry-After %s",
					r.Seq, r.Operation, r.NumeroFacture, gap, prev.Seq, wait))
			}
			delete(limited, k)
		}
		if r.Status == 429 && r.RetryAfterSeconds > 0 {
			limited[k] = r
		}
	}
	return out
}
