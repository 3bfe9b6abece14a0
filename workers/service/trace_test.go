package service_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/workers/choruspro/chorusprotest"
	"github.com/passerelle-dev/passerelle/workers/devstack"
	"github.com/passerelle-dev/passerelle/workers/devstack/devstacktest"
	"github.com/passerelle-dev/passerelle/workers/pasrau/pasrautest"
)

const publisherTrace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

// spanTree indexes recorded spans.
type spanTree struct {
	spans tracetest.SpanStubs
	byID  map[trace.SpanID]tracetest.SpanStub
}

func newTree(spans tracetest.SpanStubs) spanTree {
	t := spanTree{spans: spans, byID: map[trace.SpanID]tracetest.SpanStub{}}
	for _, s := range spans {
		t.byID[s.SpanContext.SpanID()] = s
	}
	return t
}

func attr(s tracetest.SpanStub, key string) (attribute.Value, bool) {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// find returns the spans named name in trace tid.
func (t spanTree) find(tid trace.TraceID, name string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range t.spans {
		if s.SpanContext.TraceID() == tid && s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// under reports whether s descends from ancestor.
func (t spanTree) under(s tracetest.SpanStub, ancestor trace.SpanID) bool {
	for p := s.Parent.SpanID(); p.IsValid(); {
		if p == ancestor {
			return true
		}
		ps, ok := t.byID[p]
		if !ok {
			return false
		}
		p = ps.Parent.SpanID()
	}
	return false
}

func (t spanTree) dump() string {
	var b strings.Builder
	for _, s := range t.spans {
		fmt.Fprintf(&b, "%s %s parent=%s %q links=%d\n", s.SpanContext.TraceID(), s.SpanContext.SpanID(), s.Parent.SpanID(), s.Name, len(s.Links))
	}
	return b.String()
}

// publishTracedInvoice publishes the example invoice numbered number in the
// publisher's trace (publisherTrace) and returns its event id.
func publishTracedInvoice(t *testing.T, h *devstacktest.Harness, number string) string {
	t.Helper()
	e, err := events.NewInvoiceSubmit("", invoiceExample(t, number))
	if err != nil {
		t.Fatal(err)
	}
	e.SetExtension(events.TraceParent, publisherTrace)
	return h.Publish(e)
}

// TestInvoiceTrace follows one invoice, whose first soumettre gets a 503, from the
// publisher's trace to its final status days later (seconds here).
func TestInvoiceTrace(t *testing.T) {
	t.Parallel()
	h := devstacktest.New(t, devstack.Config{ChorusProFaults: chorusprotest.Faults{Queue: []string{"503"}, Operations: []string{"soumettre"}}})
	exp := h.CollectSpans()
	h.StartService()
	id := publishTracedInvoice(t, h, "TRACE-1")
	h.WaitFinal(time.Minute, id)
	tid, _ := trace.TraceIDFromHex("0af7651916cd43dd8448eb211c80319c")
	pid, _ := trace.SpanIDFromHex("b7ad6b7169203331")
	// A follow-up's span ends, and is exported, after the status it sent:
	// wait for the spans the status events link to as well.
	h.WaitFor(10*time.Second, "the status events' spans and the follow-ups' they link to", func() bool {
		spans := exp.GetSpans()
		ended := map[trace.SpanID]bool{}
		for _, s := range spans {
			ended[s.SpanContext.SpanID()] = true
		}
		n := 0
		for _, s := range spans {
			if s.Name != "send invoice.status" {
				continue
			}
			n++
			for _, l := range s.Links {
				if !ended[l.SpanContext.SpanID()] {
					return false
				}
			}
		}
		return n >= 9
	})
	tree := newTree(exp.GetSpans())

	process := tree.find(tid, "process PASSERELLE_INVOICES")
	if len(process) != 1 || process[0].Parent.SpanID() != pid || process[0].SpanKind != trace.SpanKindConsumer {
		t.Fatalf("want one consumer span child of the publisher's span; spans:\n%s", tree.dump())
	}
	p := process[0]
	for key, want := range map[string]string{
		"messaging.system": "nats", "messaging.destination.name": "invoice.submit", "messaging.consumer.group.name": "invoice-submit",
		"messaging.operation.type": "process", "cloudevents.event_id": id, "cloudevents.event_type": "invoice.submit", "messaging.message.id": id,
	} {
		if v, ok := attr(p, key); !ok || v.AsString() != want {
			t.Errorf("process span %s = %q, want %q", key, v.AsString(), want)
		}
	}
	if v, ok := attr(p, "messaging.nats.delivery_count"); !ok || v.AsInt64() != 1 {
		t.Errorf("process span delivery count = %d", v.AsInt64())
	}
	attempts := tree.find(tid, "choruspro factures/soumettre")
	if len(attempts) != 2 {
		t.Fatalf("%d soumettre attempts traced, want 2 (a 503 then a success); spans:\n%s", len(attempts), tree.dump())
	}
	var retried bool
	for _, a := range attempts {
		if !tree.under(a, p.SpanContext.SpanID()) || a.SpanKind != trace.SpanKindClient {
			t.Errorf("attempt %s is not a client span under the process span", a.SpanContext.SpanID())
		}
		if n, ok := attr(a, "http.request.resend_count"); ok && n.AsInt64() == 1 {
			retried = true
			if r, _ := attr(a, "passerelle.retry.reason"); r.AsString() != "503" {
				t.Errorf("the retry's reason is %q, want 503", r.AsString())
			}
		}
		if code, _ := attr(a, "http.response.status_code"); code.AsInt64() == 503 && a.Status.Code.String() != "Error" {
			t.Errorf("the 503 attempt's span is not in error")
		}
	}
	if !retried {
		t.Errorf("no attempt carries http.request.resend_count=1")
	}
	if len(tree.find(tid, "ledger create")) == 0 || len(tree.find(tid, "ledger update")) == 0 {
		t.Errorf("no ledger spans in the submission's trace")
	}
	// Every status event, the follow-ups' included, is a producer span in the
	// submission's trace; the follow-ups' own spans are linked to it.
	sends := tree.find(tid, "send invoice.status")
	if len(sends) < 9 {
		t.Fatalf("%d status events in the submission's trace, want at least 9 (received ... MISE_EN_PAIEMENT); spans:\n%s", len(sends), tree.dump())
	}
	linked := 0
	for _, s := range sends {
		if !tree.under(s, p.SpanContext.SpanID()) {
			t.Errorf("status producer span %s is not under the submission's process span", s.SpanContext.SpanID())
		}
		for _, l := range s.Links {
			if fu, ok := tree.byID[l.SpanContext.SpanID()]; ok && fu.Name == "process PASSERELLE_FOLLOWUPS" {
				linked++
				if fu.SpanContext.TraceID() == tid || len(fu.Links) == 0 || fu.Links[0].SpanContext.TraceID() != tid {
					t.Errorf("the follow-up span is not a trace of its own linked to the submission")
				}
			}
		}
	}
	if linked == 0 {
		t.Errorf("no status event links to the follow-up that found it")
	}
}

// TestDeclarationTrace follows one declaration, whose first deposit gets a 503,
// from the publisher's trace to its returns.
func TestDeclarationTrace(t *testing.T) {
	t.Parallel()
	h := devstacktest.New(t, devstack.Config{PASRAU: pasrautest.Config{Faults: pasrautest.Faults{Ops: []string{"deposit"}, UnavailableProbability: 1}}})
	exp := h.CollectSpans()
	h.StartService()
	text, err := os.ReadFile("../pasrau/testdata/valid-declaration.txt")
	if err != nil {
		t.Fatal(err)
	}
	e, err := events.NewDeclarationSubmit("", events.DeclarationSubmit{Account: devstack.DemoAccount, File: events.DeclarationFile{Encoding: events.EncodingUTF8, Text: string(text)}})
	if err != nil {
		t.Fatal(err)
	}
	e.SetExtension(events.TraceParent, publisherTrace)
	id := h.Publish(e)
	// Let the first deposit meet the 503, then let PASRAU answer.
	h.WaitFor(10*time.Second, "the first deposit", func() bool {
		for _, r := range h.Stack.PASRAU.Requests(0) {
			if r.Op == "deposit" && r.Status == 503 {
				return true
			}
		}
		return false
	})
	if err := h.Stack.PASRAU.SetFaults(pasrautest.Faults{}); err != nil {
		t.Fatal(err)
	}
	h.WaitFinal(time.Minute, id)
	h.WaitFor(30*time.Second, "a return event", func() bool { return len(h.Events(events.TypeDeclarationReturn)) >= 3 })
	tid, _ := trace.TraceIDFromHex("0af7651916cd43dd8448eb211c80319c")
	tree := newTree(exp.GetSpans())
	process := tree.find(tid, "process PASSERELLE_DECLARATIONS")
	if len(process) != 1 {
		t.Fatalf("want one consumer span in the publisher's trace; spans:\n%s", tree.dump())
	}
	p := process[0].SpanContext.SpanID()
	deposits := tree.find(tid, "pasrau deposit")
	if len(deposits) != 2 {
		t.Fatalf("%d deposit attempts traced, want 2; spans:\n%s", len(deposits), tree.dump())
	}
	resent := false
	for _, d := range deposits {
		if n, ok := attr(d, "http.request.resend_count"); ok && n.AsInt64() == 1 {
			r, _ := attr(d, "passerelle.retry.reason")
			resent = r.AsString() == "503"
		}
	}
	if !resent {
		t.Errorf("the second deposit does not say it retries a 503")
	}
	if len(tree.find(tid, "pasrau auth")) == 0 {
		t.Errorf("the authentication is not traced")
	}
	for _, name := range []string{"send declaration.status", "send declaration.return"} {
		sends := tree.find(tid, name)
		if len(sends) == 0 {
			t.Errorf("no %q span in the submission's trace", name)
		}
		for _, s := range sends {
			if !tree.under(s, p) {
				t.Errorf("%s span %s is not under the submission's process span", name, s.SpanContext.SpanID())
			}
		}
	}
}

// TestFirstDeliveryRoundTrips checks the JetStream work of an invoice's first
// delivery, as its trace shows it: the event id's claim and the record's creation
// side by side, the received status published while Chorus Pro answers, the
// record's update and the submitted status side by side; no read of the ledger.
func TestFirstDeliveryRoundTrips(t *testing.T) {
	t.Parallel()
	h := devstacktest.New(t, devstack.Config{})
	exp := h.CollectSpans()
	h.StartService()
	publishTracedInvoice(t, h, "ROUNDTRIPS-1")
	tid, _ := trace.TraceIDFromHex("0af7651916cd43dd8448eb211c80319c")
	var tree spanTree
	h.WaitFor(10*time.Second, "the submission's process span", func() bool {
		tree = newTree(exp.GetSpans())
		return len(tree.find(tid, "process PASSERELLE_INVOICES")) == 1
	})
	p := tree.find(tid, "process PASSERELLE_INVOICES")[0].SpanContext.SpanID()
	under := func(name string) []tracetest.SpanStub {
		var out []tracetest.SpanStub
		for _, s := range tree.find(tid, name) {
			if tree.under(s, p) {
				out = append(out, s)
			}
		}
		return out
	}
	creates, updates, gets := under("ledger create"), under("ledger update"), under("ledger get")
	sends, calls := under("send invoice.status"), under("choruspro factures/soumettre")
	if len(creates) != 2 || len(updates) != 1 || len(gets) != 0 || len(sends) != 2 || len(calls) != 1 {
		t.Fatalf("first delivery: %d ledger creates, %d updates, %d reads, %d status events, %d soumettre; want 2, 1, 0, 2, 1; spans:\n%s",
			len(creates), len(updates), len(gets), len(sends), len(calls), tree.dump())
	}
	overlap := func(a, b tracetest.SpanStub) bool {
		return a.StartTime.Before(b.EndTime) && b.StartTime.Before(a.EndTime)
	}
	if !overlap(creates[0], creates[1]) {
		t.Errorf("the claim and the record's creation did not overlap: %v–%v and %v–%v", creates[0].StartTime, creates[0].EndTime, creates[1].StartTime, creates[1].EndTime)
	}
	received, submitted := sends[0], sends[1]
	if submitted.StartTime.Before(received.StartTime) {
		received, submitted = submitted, received
	}
	if !overlap(received, calls[0]) {
		t.Errorf("the received status was not published while Chorus Pro answered")
	}
	if !overlap(updates[0], submitted) {
		t.Errorf("the record's update and the submitted status did not go out together")
	}
	for _, c := range creates {
		if c.EndTime.After(calls[0].StartTime) {
			t.Errorf("a ledger create ended after the deposit started: the record must exist before the deposit")
		}
	}
}
