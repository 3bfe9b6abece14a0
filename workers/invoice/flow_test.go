package invoice_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/schemas"
	"github.com/passerelle-dev/passerelle/workers/choruspro/chorusprotest"
	"github.com/passerelle-dev/passerelle/workers/runtime"
)

// example returns the n-th example of the invoice.submit schema with another number.
func example(t *testing.T, n int, number string) events.InvoiceSubmit {
	t.Helper()
	exs, err := schemas.ExamplesOf[events.InvoiceSubmit](events.TypeInvoiceSubmit)
	if err != nil {
		t.Fatal(err)
	}
	s := exs[n]
	s.Invoice.Number = number
	if s.Document != nil {
		s.Document.FileName = number + ".pdf"
	}
	return s
}

func cii(number, siret, total string) []byte {
	return fmt.Appendf(nil, `<?xml version="1.0" encoding="UTF-8"?>
<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100" xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100">
<rsm:ExchangedDocument><ram:ID>%s</ram:ID><ram:TypeCode>380</ram:TypeCode></rsm:ExchangedDocument>
<rsm:SupplyChainTradeTransaction><ram:ApplicableHeaderTradeAgreement><ram:BuyerTradeParty><ram:SpecifiedLegalOrganization><ram:ID>%s</ram:ID></ram:SpecifiedLegalOrganization></ram:BuyerTradeParty></ram:ApplicableHeaderTradeAgreement>
<ram:ApplicableHeaderTradeSettlement><ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode><ram:SpecifiedTradeSettlementHeaderMonetarySummation>
<ram:TaxBasisTotalAmount>100.00</ram:TaxBasisTotalAmount><ram:TaxTotalAmount>20.00</ram:TaxTotalAmount><ram:GrandTotalAmount>%s</ram:GrandTotalAmount>
</ram:SpecifiedTradeSettlementHeaderMonetarySummation></ram:ApplicableHeaderTradeSettlement></rsm:SupplyChainTradeTransaction></rsm:CrossIndustryInvoice>`, number, siret, total)
}

func flowSubmit(number, siret, total string) events.InvoiceSubmit {
	return events.InvoiceSubmit{Account: "demo", Mode: events.ModeFlow, FlowSyntax: "IN_DP_E1_CII_16B", Invoice: events.Invoice{Number: number},
		Document: &events.Document{FileName: number + ".xml", Content: base64.StdEncoding.EncodeToString(cii(number, siret, total))}}
}

// TestSubmissionModesReachFinalStates submits one invoice per mode and per lifecycle
// branch, and checks each final answer and the deposits made.
func TestSubmissionModesReachFinalStates(t *testing.T) {
	t.Parallel()
	h := newHarness(t, chorusprotest.Faults{})
	h.StartService()

	bigPDF := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("0"), 400<<10)...)
	obs, err := h.JS.ObjectStore(context.Background(), events.DocumentsBucket)
	if err != nil {
		t.Fatal(err)
	}
	pdfStored := example(t, 1, "T-PDF-OBJ")
	doc, err := events.NewDocument(context.Background(), obs, "T-PDF-OBJ.pdf", "application/pdf", bigPDF, events.DefaultInlineMax)
	if err != nil || doc.Object == nil {
		t.Fatalf("NewDocument = %+v, %v; want an Object Store reference", doc, err)
	}
	pdfStored.Document = doc

	noService := example(t, 1, "T-NO-SERVICE")
	noService.Invoice.Recipient.ServiceCode = ""
	badTotals := example(t, 0, "T-TOTALS")
	badTotals.Invoice.Totals.Gross = "1300.00"
	suspended := example(t, 0, "T-SUSPENDUE")

	tests := []struct {
		name      string
		data      events.InvoiceSubmit
		final     string
		deposited int
		check     func(t *testing.T, s events.InvoiceStatus)
	}{
		{"structured", example(t, 0, "T-STRUCT"), "MISE_EN_PAIEMENT", 1, nil},
		{"pdf inline", example(t, 1, "T-PDF"), "MISE_EN_PAIEMENT", 1, nil},
		{"pdf in the object store", pdfStored, "MISE_EN_PAIEMENT", 1, nil},
		{"flow", flowSubmit("T-FLOW", chorusprotest.SeedSIRETNoRule, "120.00"), "MISE_EN_PAIEMENT", 1, func(t *testing.T, s events.InvoiceStatus) {
			if s.ChorusPro == nil || !strings.HasPrefix(s.ChorusPro.NumeroFluxDepot, "CPP") || s.ChorusPro.IdentifiantFactureCPP == 0 {
				t.Errorf("final status lacks the flow number and invoice id: %+v", s.ChorusPro)
			}
		}},
		{"flow rejected by Chorus Pro", flowSubmit("T-FLOW-KO", chorusprotest.SeedSIRETNoRule, "999.00"), events.StateRejected, 1, func(t *testing.T, s events.InvoiceStatus) {
			if s.Rejection == nil || s.Rejection.Source != "choruspro" || len(s.Rejection.ListeErreurDP) == 0 && len(s.Rejection.ListeErreurTechnique) == 0 {
				t.Errorf("rejection does not carry Chorus Pro's report verbatim: %+v", s.Rejection)
			}
		}},
		{"recipient rejects the invoice", example(t, 0, "T-REJETEE"), "REJETEE", 1, nil},
		{"suspended then paid", suspended, "MISE_EN_PAIEMENT", 1, nil},
		{"Chorus Pro refuses the totals", badTotals, events.StateRejected, 0, func(t *testing.T, s events.InvoiceStatus) {
			if s.Rejection == nil || s.Rejection.Source != "choruspro" || s.Rejection.CodeRetour == 0 || !strings.Contains(s.Rejection.Libelle, "TTC") {
				t.Errorf("rejection = %+v, want Chorus Pro's codeRetour and libelle verbatim", s.Rejection)
			}
		}},
		{"recipient rule checked before any deposit", noService, events.StateRejected, 0, func(t *testing.T, s events.InvoiceStatus) {
			if s.Rejection == nil || len(s.Rejection.Errors) == 0 || s.Rejection.Errors[0].Location != "/invoice/recipient/serviceCode" {
				t.Errorf("rejection = %+v, want it to point at /invoice/recipient/serviceCode", s.Rejection)
			}
		}},
	}
	suspended.Invoice.Comment = "SUSPENDUE"
	tests[6].data = suspended
	ids := make([]string, len(tests))
	for i, tt := range tests {
		ids[i] = h.publish(tt.data)
	}
	h.waitFinal(90*time.Second, ids...)
	h.checkSequences(ids...)
	deposits := h.deposits()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := h.final(ids[i])
			if s.State != tt.final {
				t.Errorf("final state %s, want %s (history %v)", s.State, tt.final, h.history(ids[i]))
			}
			if got := deposits[tt.data.Invoice.Number]; got != tt.deposited {
				t.Errorf("%d deposits applied by Chorus Pro, want %d", got, tt.deposited)
			}
			if hist := h.history(ids[i]); !strings.Contains(hist[0], "received") {
				t.Errorf("first state %s, want received", hist[0])
			}
			if tt.check != nil {
				tt.check(t, s)
			}
		})
	}
	if dl := h.DeadLetters(); len(dl) != 0 {
		t.Errorf("%d dead letters, want none: %s", len(dl), dl[0].Header.Get(runtime.HeaderDeadReason))
	}
}

// TestFaultyUpstream runs 200 invoices through an emulator that answers 30% 503,
// 10% 429 with Retry-After 1 s and expires tokens every 50 calls.
func TestFaultyUpstream(t *testing.T) {
	if testing.Short() {
		t.Skip("200 invoices through injected faults")
	}
	t.Parallel()
	h := newHarness(t, chorusprotest.Faults{Seed: 7, UnavailableProbability: 0.3, RateLimitProbability: 0.1, RetryAfterSeconds: 1, TokenExpiryEvery: 50})
	h.StartService()
	ids := make([]string, 200)
	for i := range ids {
		ids[i] = h.publish(example(t, i%2, fmt.Sprintf("T-FAULT-%03d", i)))
	}
	h.waitFinal(4*time.Minute, ids...)
	h.checkSequences(ids...)
	log := h.Stack.ChorusPro.Requests(0)
	if dup := chorusprotest.Resubmissions(log); len(dup) > 0 {
		t.Errorf("invoices submitted twice: %v", dup)
	}
	deposits := h.deposits()
	for i, id := range ids {
		number := fmt.Sprintf("T-FAULT-%03d", i)
		if s, _ := h.final(id); s.State != "MISE_EN_PAIEMENT" {
			t.Errorf("%s ended %s, want MISE_EN_PAIEMENT (history %v)", number, s.State, h.history(id))
		}
		if deposits[number] != 1 {
			t.Errorf("%s was deposited %d times, want 1", number, deposits[number])
		}
	}
	checkRetryAfter(t, log)
}

// checkRetryAfter asserts that no call about an invoice came before the Retry-After
// of a 429 answered to an earlier call of the same operation about it.
func checkRetryAfter(t *testing.T, log []chorusprotest.RequestRecord) {
	t.Helper()
	refusals := 0
	for _, r := range log {
		if r.Status == 429 {
			refusals++
		}
	}
	if refusals == 0 {
		t.Fatal("the emulator answered no 429: the check would prove nothing")
	}
	for _, v := range chorusprotest.RetryAfterViolations(log) {
		t.Error(v)
	}
	t.Logf("%d calls answered 429, none retried before its Retry-After", refusals)
}

// TestRestartMidRun stops the worker abruptly while 100 invoices are in flight and
// starts another: nothing is lost and nothing is deposited or reported twice.
func TestRestartMidRun(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts a worker mid-run")
	}
	t.Parallel()
	h := newHarness(t, chorusprotest.Faults{Seed: 3, SlowProbability: 0.2, SlowDelayMillis: 300})
	h.Config.Grace = 0 // hand back whatever is in flight, as fast as possible
	stop := h.StartService()
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = h.publish(example(t, i%2, fmt.Sprintf("T-RESTART-%03d", i)))
	}
	// Stop once some submissions are under way but not all.
	deadline := time.Now().Add(time.Minute)
	for {
		n := 0
		for _, id := range ids {
			if len(h.history(id)) > 1 {
				n++
			}
		}
		if n >= 20 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	h.StartService()
	h.waitFinal(3*time.Minute, ids...)
	h.checkSequences(ids...)
	deposits := h.deposits()
	for i, id := range ids {
		number := fmt.Sprintf("T-RESTART-%03d", i)
		if s, _ := h.final(id); s.State != "MISE_EN_PAIEMENT" {
			t.Errorf("%s ended %s (history %v)", number, s.State, h.history(id))
		}
		if deposits[number] != 1 {
			t.Errorf("%s deposited %d times, want 1", number, deposits[number])
		}
	}
}

// TestDuplicatesAndConflicts publishes the same invoice again under another id, and
// another invoice under a number already used.
func TestDuplicatesAndConflicts(t *testing.T) {
	t.Parallel()
	h := newHarness(t, chorusprotest.Faults{})
	h.StartService()
	first := h.publish(example(t, 0, "T-DUP"))
	h.waitFinal(time.Minute, first)
	again := h.publish(example(t, 0, "T-DUP"))
	other := example(t, 0, "T-DUP")
	other.Invoice.Comment = "another invoice, same number"
	conflict := h.publish(other)
	h.waitFinal(time.Minute, again, conflict)
	if s, _ := h.final(again); s.State != events.StateDuplicate || s.DuplicateOf != first {
		t.Errorf("second publish ended %s (duplicate of %q), want duplicate of %s", s.State, s.DuplicateOf, first)
	}
	if s, _ := h.final(conflict); s.State != events.StateConflict || s.Rejection == nil || !strings.Contains(s.Rejection.Reason, first) {
		t.Errorf("conflicting publish ended %s %+v, want conflict naming %s", s.State, s.Rejection, first)
	}
	if n := h.deposits()["T-DUP"]; n != 1 {
		t.Errorf("T-DUP deposited %d times, want 1", n)
	}
	dl := h.DeadLetters()
	if len(dl) != 1 || !strings.Contains(dl[0].Header.Get(runtime.HeaderDeadReason), "different content") {
		t.Errorf("dead letters %d, want the conflicting event with its reason", len(dl))
	}
}

// TestMalformedEvents publishes every kind of bad input: each gets a rejected status
// with a reason saying what and where when it can be attributed, and each ends in
// the dead-letter stream; none blocks the good one published after them.
func TestMalformedEvents(t *testing.T) {
	t.Parallel()
	h := newHarness(t, chorusprotest.Faults{})
	h.StartService()

	binary := func(id, typ string, data any) *nats.Msg {
		body, _ := json.Marshal(data)
		return &nats.Msg{Header: nats.Header{"ce-specversion": {"1.0"}, "ce-id": {id}, "ce-source": {"test"}, "ce-type": {typ}, "content-type": {"application/json"}}, Data: body}
	}
	notPDF := example(t, 1, "T-NOTPDF")
	notPDF.Document.Content = base64.StdEncoding.EncodeToString([]byte("GIF89a, not a PDF at all"))
	missingObject := example(t, 1, "T-NOOBJ")
	missingObject.Document = &events.Document{FileName: "x.pdf", Object: &events.ObjectRef{Bucket: events.DocumentsBucket, Name: "missing/x.pdf", Size: 10, SHA256: strings.Repeat("a", 64)}}
	unknownAccount := example(t, 0, "T-NOACCT")
	unknownAccount.Account = "nobody"
	badSchema := map[string]any{"account": "demo", "mode": "structured", "invoice": map[string]any{"number": "T-SCHEMA", "date": "2026-13-45"}}

	tests := []struct {
		name     string
		msg      *nats.Msg
		id       string // "" when the event cannot be answered
		location string
		reason   string
	}{
		{"not a CloudEvent", &nats.Msg{Data: []byte(`{"account":"demo"}`)}, "", "", "not a CloudEvent"},
		{"structured mode, invalid JSON", &nats.Msg{Header: nats.Header{"content-type": {"application/cloudevents+json"}}, Data: []byte(`{"specversion":"1.0",`)}, "", "", "not valid JSON"},
		{"wrong type", binary("m-type", "invoice.created", example(t, 0, "T-TYPE")), "m-type", "type", "is not \"invoice.submit\""},
		{"schema violation", binary("m-schema", "invoice.submit", badSchema), "m-schema", "/invoice/date", ""},
		{"unknown account", binary("m-account", "invoice.submit", unknownAccount), "m-account", "/account", "not configured"},
		{"PDF that is not a PDF", binary("m-pdf", "invoice.submit", notPDF), "m-pdf", "/document/content", "PDF"},
		{"missing Object Store object", binary("m-obj", "invoice.submit", missingObject), "m-obj", "/document/object/name", "missing/x.pdf"},
	}
	for _, tt := range tests {
		h.publishRaw(tt.msg)
	}
	good := h.publish(example(t, 0, "T-GOOD"))
	var answered []string
	for _, tt := range tests {
		if tt.id != "" {
			answered = append(answered, tt.id)
		}
	}
	h.waitFinal(time.Minute, append(answered, good)...)
	if s, _ := h.final(good); s.State != "MISE_EN_PAIEMENT" {
		t.Errorf("the good invoice ended %s", s.State)
	}
	// Every bad message is dead-lettered with its reason.
	deadline := time.Now().Add(30 * time.Second)
	var dl []*jetstream.RawStreamMsg
	for len(dl) < len(tests) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		dl = h.DeadLetters()
	}
	if len(dl) != len(tests) {
		t.Fatalf("%d dead letters, want %d", len(dl), len(tests))
	}
	bySeq := map[string]*jetstream.RawStreamMsg{}
	for _, m := range dl {
		bySeq[m.Header.Get(runtime.HeaderDeadSequence)] = m
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := bySeq[fmt.Sprint(i+1)]
			if !ok {
				t.Fatalf("message %d is not in the dead-letter stream", i+1)
			}
			if !bytes.Equal(m.Data, tt.msg.Data) {
				t.Errorf("dead letter %d holds %q, want the original body %q", i, m.Data, tt.msg.Data)
			}
			reason := m.Header.Get(runtime.HeaderDeadReason)
			if reason == "" || !strings.Contains(reason, tt.reason) {
				t.Errorf("dead-letter reason %q, want it to contain %q", reason, tt.reason)
			}
			if tt.id == "" {
				return
			}
			s, _ := h.final(tt.id)
			if s.State != events.StateRejected || s.Rejection == nil || s.Rejection.Source != "passerelle" {
				t.Fatalf("answer %s %+v, want rejected by passerelle", s.State, s.Rejection)
			}
			found := false
			for _, p := range s.Rejection.Errors {
				found = found || p.Location == tt.location
			}
			if !found {
				t.Errorf("rejection %+v does not point at %s", s.Rejection, tt.location)
			}
		})
	}
}

// TestUnknownOutcomesReconciled drops connections after Chorus Pro applied a
// deposit, and answers 502/504 to some (which leave the outcome unknown: a gateway
// does not say whether the backend applied it): passerelle looks each invoice up
// before sending it again, so no invoice is deposited twice. A flow whose invoice
// never appears cannot be proven absent (a rejected flow leaves no invoice either):
// it ends unknown, for an operator, once the reconcile window is over.
func TestUnknownOutcomesReconciled(t *testing.T) {
	if testing.Short() {
		t.Skip("60 invoices through dropped connections")
	}
	t.Parallel()
	h := newHarness(t, chorusprotest.Faults{Seed: 11, DropProbability: 0.3, GatewayErrorProbability: 0.2, Operations: []string{"soumettre", "deposerFlux", "deposerPDF"}})
	h.Config.Invoice.ReconcileWindow = 5 * time.Second
	h.StartService()
	var ids, numbers []string
	for i := range 60 {
		number := fmt.Sprintf("T-UNK-%03d", i)
		data := example(t, i%2, number)
		if i%3 == 2 {
			data = flowSubmit(number, chorusprotest.SeedSIRETNoRule, "120.00")
		}
		ids, numbers = append(ids, h.publish(data)), append(numbers, number)
	}
	h.waitFinal(3*time.Minute, ids...)
	h.checkSequences(ids...)
	log := h.Stack.ChorusPro.Requests(0)
	drops := 0
	for _, r := range log {
		if r.Fault == "drop" && r.Applied {
			drops++
		}
	}
	if drops == 0 {
		t.Fatal("no deposit was dropped after being applied: the test proved nothing")
	}
	deposits := h.deposits()
	unknown := 0
	for i, id := range ids {
		s, _ := h.final(id)
		switch n := deposits[numbers[i]]; {
		case n == 1 && s.State == "MISE_EN_PAIEMENT":
		case n == 0 && s.State == events.StateUnknown && i%3 == 2:
			unknown++
			if s.Failure == nil || !strings.Contains(s.Failure.Reason, "check Chorus Pro") {
				t.Errorf("%s unknown without telling the operator what to do: %+v", numbers[i], s.Failure)
			}
		default:
			t.Errorf("%s deposited %d times and ended %s (history %v)", numbers[i], n, s.State, h.history(id))
		}
	}
	t.Logf("%d applied deposits lost their answer and were found by a look-up instead of being sent again; %d flows refused by a gateway ended unknown", drops, unknown)
}

// TestOutageExhaustsDeliveries keeps Chorus Pro down: each submission is tried
// MaxDeliveries times, then answered failed and dead-lettered with its reason.
func TestOutageExhaustsDeliveries(t *testing.T) {
	t.Parallel()
	h := newHarness(t, chorusprotest.Faults{Outage: true})
	h.Config.Policy.MaxDeliveries = 3
	h.Config.Policy.BackoffBase = 100 * time.Millisecond
	h.Config.Invoice.Retry.Budget = 300 * time.Millisecond
	h.StartService()
	id := h.publish(example(t, 0, "T-OUTAGE"))
	h.waitFinal(time.Minute, id)
	s, _ := h.final(id)
	if s.State != events.StateFailed || s.Failure == nil || s.Failure.Deliveries != 3 || s.Failure.DeadLetter == 0 {
		t.Fatalf("final %s %+v, want failed after 3 deliveries with its dead letter", s.State, s.Failure)
	}
	if !strings.Contains(s.Failure.Reason, "503") {
		t.Errorf("failure reason %q does not say Chorus Pro answered 503", s.Failure.Reason)
	}
	dl := h.DeadLetters()
	if len(dl) != 1 || dl[0].Sequence != s.Failure.DeadLetter || dl[0].Header.Get(runtime.HeaderDeadKind) != "failed" {
		t.Fatalf("dead letters %d, want the submit event at the sequence the status names", len(dl))
	}
	if n := h.deposits()["T-OUTAGE"]; n != 0 {
		t.Errorf("deposited %d times during an outage", n)
	}
}

// TestTraceContextContinues publishes submissions carrying a W3C trace context in
// each of the three places a publisher may put it, and checks that every status
// event they cause, follow-ups days later included, continues that trace.
func TestTraceContextContinues(t *testing.T) {
	t.Parallel()
	h := newHarness(t, chorusprotest.Faults{})
	h.StartService()
	traces := map[string]string{}
	for i, place := range []string{"nats header", "binary extension", "structured extension"} {
		traceID := fmt.Sprintf("4bf92f3577b34da6a3ce929d0e0e47%02d", i)
		tp := "00-" + traceID + "-00f067aa0ba902b7-01"
		e, err := events.NewInvoiceSubmit("", example(t, 0, fmt.Sprintf("T-TRACE-%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		var msg *nats.Msg
		switch place {
		case "nats header":
			msg, err = events.Encode(events.TypeInvoiceSubmit, e)
			msg.Header.Set("traceparent", tp)
		case "binary extension":
			e.SetExtension("traceparent", tp)
			msg, err = events.Encode(events.TypeInvoiceSubmit, e)
		case "structured extension":
			e.SetExtension("traceparent", tp)
			msg, err = events.EncodeStructured(events.TypeInvoiceSubmit, e)
		}
		if err != nil {
			t.Fatal(err)
		}
		h.publishRaw(msg)
		traces[e.ID()] = traceID
	}
	var ids []string
	for id := range traces {
		ids = append(ids, id)
	}
	h.waitFinal(time.Minute, ids...)
	for _, ev := range h.Events(events.TypeInvoiceStatus) {
		var s events.InvoiceStatus
		if err := json.Unmarshal(ev.Data, &s); err != nil {
			t.Fatal(err)
		}
		want, ok := traces[s.SubmitID]
		if !ok {
			continue
		}
		if parts := strings.Split(ev.TraceParent, "-"); len(parts) != 4 || parts[1] != want {
			t.Errorf("%s status of %s has traceparent %q, want trace %s", s.State, s.InvoiceNumber, ev.TraceParent, want)
		}
	}
}
