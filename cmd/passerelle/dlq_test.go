package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/schemas"
	"github.com/passerelle-dev/passerelle/workers/choruspro/chorusprotest"
	"github.com/passerelle-dev/passerelle/workers/devstack"
	"github.com/passerelle-dev/passerelle/workers/devstack/devstacktest"
)

// cli runs a passerelle command against natsURL and returns its output.
func cli(t *testing.T, natsURL string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	n := 1 // flags follow the command...
	if args[0] == "dlq" {
		n = 2 // ...or its action
	}
	args = append(append(append([]string(nil), args[:n]...), "--nats", natsURL), args[n:]...)
	err := run(context.Background(), args, envOf(nil), nil, &out, &errOut)
	return out.String() + errOut.String(), err
}

// TestDeadLettersOperations drives the dead-letter stream the way an operator
// does: an invoice fails through a Chorus Pro outage and a malformed event is
// refused; `dlq list` and `dlq show` say what and why; once Chorus Pro is back,
// `dlq replay` makes the failed invoice start again and reach its final answer,
// deposited once; `status` tells its whole story; `dlq purge` clears the rest.
func TestDeadLettersOperations(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	t.Parallel()
	h := devstacktest.New(t, devstack.Config{ChorusProFaults: chorusprotest.Faults{Outage: true}})
	h.Config.Policy.MaxDeliveries = 2
	h.Config.Policy.BackoffBase = 100 * time.Millisecond
	h.Config.Invoice.Retry.Budget = 300 * time.Millisecond
	h.StartService()
	natsURL := h.Stack.NATS.ClientURL()

	exs, err := schemas.Examples(events.TypeInvoiceSubmit)
	if err != nil {
		t.Fatal(err)
	}
	var sub events.InvoiceSubmit
	if err := json.Unmarshal(exs[0], &sub); err != nil {
		t.Fatal(err)
	}
	sub.Invoice.Number = "T-DLQ-1"
	e, err := events.NewInvoiceSubmit("", sub)
	if err != nil {
		t.Fatal(err)
	}
	id := h.Publish(e)
	h.PublishRaw(events.TypeInvoiceSubmit, &nats.Msg{Header: nats.Header{"ce-specversion": {"1.0"}}, Data: []byte(`{"account":"demo"}`)})
	h.WaitFinal(time.Minute, id)
	h.WaitFor(30*time.Second, "two dead letters", func() bool { return len(h.DeadLetters()) == 2 })

	out, err := cli(t, natsURL, "dlq", "list")
	if err != nil {
		t.Fatalf("dlq list: %v\n%s", err, out)
	}
	failedRow := regexp.MustCompile(`(?m)^(\d+) .*invoice\.submit +failed +2 +` + regexp.QuoteMeta(id) + ` +gave up after 2 deliveries: .*choruspro`).FindStringSubmatch(out)
	invalidRow := regexp.MustCompile(`(?m)^(\d+) .*invoice\.submit +rejected +1 +- +cloudevent: invalid event`).FindStringSubmatch(out)
	if failedRow == nil || invalidRow == nil {
		t.Fatalf("dlq list does not show the failed invoice (after 2 deliveries, Chorus Pro failing) and the malformed event:\n%s", out)
	}

	out, err = cli(t, natsURL, "dlq", "show", failedRow[1])
	if err != nil {
		t.Fatalf("dlq show: %v\n%s", err, out)
	}
	for _, want := range []string{"kind:       failed", "HTTP 503", "from:       stream PASSERELLE_INVOICES", "ce-id: " + id, `"number": "T-DLQ-1"`} {
		if !strings.Contains(out, want) {
			t.Errorf("dlq show lacks %q:\n%s", want, out)
		}
	}
	if _, err := cli(t, natsURL, "dlq", "show", "999999"); err == nil || !strings.Contains(err.Error(), "no such dead letter") {
		t.Errorf("dlq show of a missing dead letter: %v, want no such dead letter", err)
	}

	// Chorus Pro is back: the replay starts the invoice again.
	if err := h.Stack.ChorusPro.SetFaults(chorusprotest.Faults{}); err != nil {
		t.Fatal(err)
	}
	if out, err := cli(t, natsURL, "dlq", "replay", failedRow[1]); err != nil || !strings.Contains(out, "replayed "+failedRow[1]) {
		t.Fatalf("dlq replay: %v\n%s", err, out)
	}
	h.WaitFor(time.Minute, "the replayed invoice paid", func() bool {
		hist := h.History(id)
		return len(hist) > 0 && strings.HasSuffix(hist[len(hist)-1], "MISE_EN_PAIEMENT")
	})
	hist := h.History(id)
	if !strings.HasSuffix(hist[0], "received") || !strings.Contains(strings.Join(hist, ","), "failed") {
		t.Errorf("history %v, want received ... failed, then the replay's statuses", hist)
	}
	for i, s := range hist {
		if !strings.HasPrefix(s, "#"+strconv.Itoa(i+1)+" ") {
			t.Errorf("status %d of %v is numbered %q: the replay's statuses must follow the failed one", i, hist, s)
		}
	}
	deposits := 0
	for _, r := range h.Stack.ChorusPro.Requests(0) {
		if r.Applied && r.Operation == "soumettre" && r.NumeroFacture == "T-DLQ-1" {
			deposits++
		}
	}
	if deposits != 1 {
		t.Errorf("the replayed invoice was deposited %d times, want 1", deposits)
	}

	// Replaying the same dead letter again (an operator's double click) changes nothing.
	if _, err := cli(t, natsURL, "dlq", "replay", failedRow[1]); err == nil || !strings.Contains(err.Error(), "no such dead letter") {
		t.Errorf("second replay of a replayed dead letter: %v, want no such dead letter", err)
	}

	out, err = cli(t, natsURL, "status", "T-DLQ-1")
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	for _, want := range []string{"ledger invoice.", "submitId:              " + id, "state:                 MISE_EN_PAIEMENT", "failed", "MISE_EN_PAIEMENT"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if byID, err := cli(t, natsURL, "status", id); err != nil || !strings.Contains(byID, "MISE_EN_PAIEMENT") {
		t.Errorf("status by submit id: %v\n%s", err, byID)
	}
	if _, err := cli(t, natsURL, "status", "NO-SUCH-INVOICE"); err == nil || !strings.Contains(err.Error(), "nothing found") {
		t.Errorf("status of an unknown submission: %v, want nothing found", err)
	}

	// The malformed event is refused again on replay; purge removes it for good.
	if out, err := cli(t, natsURL, "dlq", "purge", "--all"); err != nil || !strings.Contains(out, "purged "+invalidRow[1]) {
		t.Fatalf("dlq purge --all: %v\n%s", err, out)
	}
	if out, _ := cli(t, natsURL, "dlq", "list"); !strings.Contains(out, "no dead letter") {
		t.Errorf("dead letters left after purge:\n%s", out)
	}
	var usage *usageError
	if _, err := cli(t, natsURL, "dlq", "replay"); !errors.As(err, &usage) {
		t.Errorf("dlq replay without IDs: %v, want a usage error", err)
	}
}
