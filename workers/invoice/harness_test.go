package invoice_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/workers/choruspro/chorusprotest"
	"github.com/passerelle-dev/passerelle/workers/devstack"
	"github.com/passerelle-dev/passerelle/workers/devstack/devstacktest"
)

// harness is the shared end-to-end harness with the invoice flow's typed helpers.
type harness struct {
	*devstacktest.Harness
	t *testing.T
}

func newHarness(t *testing.T, faults chorusprotest.Faults) *harness {
	t.Helper()
	return &harness{Harness: devstacktest.New(t, devstack.Config{ChorusProFaults: faults}), t: t}
}

// publish publishes an invoice.submit and returns its id.
func (h *harness) publish(data events.InvoiceSubmit) string {
	h.t.Helper()
	e, err := events.NewInvoiceSubmit("", data)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.Publish(e)
}

func (h *harness) publishRaw(msg *nats.Msg) { h.PublishRaw(events.TypeInvoiceSubmit, msg) }

// final returns a submission's final invoice status, if published.
func (h *harness) final(id string) (events.InvoiceStatus, bool) {
	st, ok := h.Final(id)
	if !ok {
		return events.InvoiceStatus{}, false
	}
	var s events.InvoiceStatus
	if err := json.Unmarshal(st.Raw, &s); err != nil {
		h.t.Errorf("invoice status: %v", err)
	}
	return s, true
}

func (h *harness) waitFinal(timeout time.Duration, ids ...string) { h.WaitFinal(timeout, ids...) }
func (h *harness) history(id string) []string                     { return h.History(id) }
func (h *harness) checkSequences(ids ...string)                   { h.CheckSequences(ids...) }

// deposits counts, per invoice number, the deposits the emulator applied.
func (h *harness) deposits() map[string]int {
	counts := map[string]int{}
	for _, r := range h.Stack.ChorusPro.Requests(0) {
		if r.Applied && (r.Operation == "soumettre" || r.Operation == "deposerFlux") {
			for _, n := range strings.Split(r.NumeroFacture, ",") {
				counts[n]++
			}
		}
	}
	return counts
}
