package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/workers/declaration"
	"github.com/passerelle-dev/passerelle/workers/runtime"
)

const statusUsage = `Usage: passerelle status [flags] QUERY

Shows a submission's whole history: what the ledger records of it (its step, the
administration's identifiers, the events not yet published) and every status and
return event published for it. QUERY is a submit event's id, an invoice number or
a PASRAU flux id (idflux).

Flags:
  --nats URL   NATS server (default: $NATS_URL, else nats://127.0.0.1:4222);
               credentials and TLS from PASSERELLE_NATS_CREDS, _NKEY, _CA,
               _CERT and _KEY, as for passerelle run

Examples:
  passerelle status 3f0c7a52-6a4e-4d0c-9a51-2f1f2b8a9e10
  passerelle status F-2026-0001
  passerelle status F1spdeAilkR4q3UU1QA7haa
`

func runStatus(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	natsURL := fs.String("nats", defaultNATSURL(e), "")
	if err := parseFlags(fs, statusUsage, e, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return &usageError{"status: exactly one QUERY is required\n\n" + statusUsage}
	}
	query := fs.Arg(0)
	nc, js, err := operatorNATS(e, *natsURL).jetStream("passerelle status")
	if err != nil {
		return err
	}
	defer nc.Close()
	kv, err := js.KeyValue(ctx, runtime.BucketLedger)
	if err != nil {
		return fmt.Errorf("status: the ledger %s: %w (is passerelle set up on this NATS?)", runtime.BucketLedger, err)
	}
	ledger := runtime.NewLedger(kv, nil)
	history, err := readHistory(ctx, js, query)
	if err != nil {
		return err
	}
	keys, err := ledgerKeys(ctx, ledger, query, history)
	if err != nil {
		return err
	}
	if len(keys) == 0 && len(history) == 0 {
		return fmt.Errorf("status: nothing found for %q (a submit id, an invoice number or an idflux)", query)
	}
	for _, key := range keys {
		raw, err := ledger.Raw(ctx, key)
		if err != nil {
			continue
		}
		printRecord(e.stdout, key, raw)
	}
	fmt.Fprintf(e.stdout, "\n%d event(s):\n", len(history))
	for _, h := range history {
		fmt.Fprintln(e.stdout, "  "+h.line)
	}
	return nil
}

// historyEntry is an event published for the submission.
type historyEntry struct {
	line string
	data eventData
}

// eventData are the fields of status and return events that identify a submission.
type eventData struct {
	SubmitID      string                      `json:"submitId"`
	InvoiceNumber string                      `json:"invoiceNumber"`
	IDFlux        string                      `json:"idflux"`
	Declaration   *events.DeclarationIdentity `json:"declaration"`
	ChorusPro     *events.ChorusProRef        `json:"choruspro"`
}

// readHistory reads the events stream from its start and keeps the events about
// query: its submit id, invoice number, flux number or idflux.
func readHistory(ctx context.Context, js jetstream.JetStream, query string) ([]historyEntry, error) {
	c, err := js.OrderedConsumer(ctx, runtime.StreamEvents, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, fmt.Errorf("status: read %s: %w", runtime.StreamEvents, err)
	}
	var out []historyEntry
	submitIDs := map[string]bool{query: true}
	for {
		batch, err := c.FetchNoWait(500)
		if err != nil {
			return nil, err
		}
		n := 0
		for m := range batch.Messages() {
			n++
			e, _, err := events.Decode(ctx, m.Headers(), m.Data())
			if err != nil {
				continue
			}
			var d eventData
			_ = json.Unmarshal(e.Data(), &d)
			match := submitIDs[d.SubmitID] || d.InvoiceNumber == query || d.IDFlux == query ||
				d.ChorusPro != nil && d.ChorusPro.NumeroFluxDepot == query
			if !match {
				continue
			}
			if d.SubmitID != "" {
				submitIDs[d.SubmitID] = true
			}
			out = append(out, historyEntry{line: statusLine(ctx, m.Headers(), m.Data()), data: d})
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return nil, err
		}
		if n == 0 {
			return out, nil
		}
	}
}

// ledgerKeys finds the ledger records of the submission.
func ledgerKeys(ctx context.Context, ledger *runtime.Ledger, query string, history []historyEntry) ([]string, error) {
	seen := map[string]bool{}
	var keys []string
	add := func(k string) {
		if k != "" && !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	numbers := map[string]bool{query: true}
	fluxes := map[string]bool{query: true}
	for _, h := range history {
		if h.data.InvoiceNumber != "" {
			numbers[h.data.InvoiceNumber] = true
		}
		if h.data.IDFlux != "" {
			fluxes[h.data.IDFlux] = true
		}
		if h.data.Declaration != nil {
			add(declaration.LedgerKey(*h.data.Declaration))
		}
	}
	for n := range numbers {
		ks, err := ledger.Matching(ctx, "invoice.*."+runtime.Key(n))
		if err != nil {
			return nil, err
		}
		for _, k := range ks {
			add(k)
		}
	}
	for f := range fluxes {
		raw, err := ledger.Raw(ctx, declaration.FluxKey(f))
		if err != nil {
			continue
		}
		var link struct {
			Key string `json:"key"`
		}
		if json.Unmarshal(raw, &link) == nil {
			add(link.Key)
		}
	}
	return keys, nil
}

func printRecord(w io.Writer, key string, raw []byte) {
	var r map[string]any
	_ = json.Unmarshal(raw, &r)
	fmt.Fprintf(w, "ledger %s\n", key)
	for _, f := range []string{"submitId", "account", "number", "identity", "mode", "step", "state", "seq", "idflux", "numeroFluxDepot", "identifiantFactureCPP", "invoiceStatus", "flowState", "mayHaveDeposited", "sendingSince", "createdAt", "updatedAt"} {
		v, ok := r[f]
		if !ok {
			continue
		}
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "  %-22s %s\n", f+":", bytes.Trim(b, `"`))
	}
	if p, ok := r["pending"].([]any); ok && len(p) > 0 {
		fmt.Fprintf(w, "  %-22s %d status event(s) recorded but not known to be published\n", "pending:", len(p))
	}
}
