//go:build unix

package chaos

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/schemas"
	"github.com/passerelle-dev/passerelle/workers/choruspro/chorusprotest"
	"github.com/passerelle-dev/passerelle/workers/pasrau"
	"github.com/passerelle-dev/passerelle/workers/pasrau/pasrautest"
)

// submission is one submit event of the load and what the harness expects of it.
type submission struct {
	id      string
	typ     string // events.TypeInvoiceSubmit or events.TypeDeclarationSubmit
	account string
	number  string // invoice number
	mode    string // invoice submission mode
	sha     string // declaration: SHA-256 of the file as deposited (ISO-8859-1)
	month   string // declaration: YYYY-MM
	// want is the final state expected.
	want string
	// deposits is how many deposits the emulator must have applied: 1, or 0 for
	// an event made undeliverable on purpose.
	deposits int
	poison   bool
	traceID  string
	event    *event.Event
}

// what names a submission in messages.
func (s *submission) what() string {
	if s.typ == events.TypeInvoiceSubmit {
		return fmt.Sprintf("invoice %s (%s, %s, event %s, trace %s)", s.number, s.mode, s.account, s.id, s.traceID)
	}
	return fmt.Sprintf("declaration %s (%s, sha256 %.12s, event %s, trace %s)", s.month, s.account, s.sha, s.id, s.traceID)
}

// poisonMsg is a message made undeliverable on purpose; it must end, alone with
// its kind, in the dead-letter stream.
type poisonMsg struct {
	what    string
	subject string
	msgID   string
	msg     *nats.Msg   // a message that is not a CloudEvent
	sub     *submission // or a CloudEvent breaking its schema
	stream  string      // where it was stored, once published
	seq     uint64
}

// load is what a scenario publishes.
type load struct {
	subs   []*submission
	byID   map[string]*submission
	poison []*poisonMsg
	// order is the publishing order: indexes into subs, or -1-i for poison[i].
	order []int
	// declText is the valid declaration file the declarations are made from.
	declText string
}

// invoices and declarations count the load's regular submissions.
func (l *load) count(typ string) int {
	n := 0
	for _, s := range l.subs {
		if s.typ == typ && !s.poison {
			n++
		}
	}
	return n
}

// buildLoad makes sc's load: invoices in the three modes (mostly structured,
// some with a lifecycle detour or a rejection by the recipient), declarations of
// distinct months (some with anomalies, some whose DGFIP return is overwritten),
// spread over the accounts, and six messages undeliverable on purpose.
func buildLoad(t testing.TB, sc scenario, rng *rand.Rand) *load {
	t.Helper()
	exs, err := schemas.Examples(events.TypeInvoiceSubmit)
	if err != nil {
		t.Fatal(err)
	}
	example := func(n int) events.InvoiceSubmit {
		var s events.InvoiceSubmit
		dec := json.NewDecoder(bytes.NewReader(exs[n]))
		dec.UseNumber()
		if err := dec.Decode(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	text, err := os.ReadFile(filepath.Join(moduleRoot(t), "workers", "pasrau", "testdata", "valid-declaration.txt"))
	if err != nil {
		t.Fatal(err)
	}
	l := &load{byID: map[string]*submission{}, declText: string(text)}
	add := func(s *submission, e *event.Event, err error) {
		if err != nil {
			t.Fatal(err)
		}
		s.event, s.id = e, e.ID()
		s.traceID = traceOf(s.id).TraceID().String()
		l.subs = append(l.subs, s)
		l.byID[s.id] = s
	}
	for i := range sc.invoices {
		number := fmt.Sprintf("CHAOS-%05d", i+1)
		s := &submission{typ: events.TypeInvoiceSubmit, account: accountName(i % sc.accounts), number: number, want: "MISE_EN_PAIEMENT", deposits: 1}
		var data events.InvoiceSubmit
		switch i % 10 {
		case 3:
			data = example(1)
			data.Document.FileName = number + ".pdf"
		case 7:
			data = flowSubmit(number)
		default:
			data = example(0)
			switch i % 25 {
			case 1:
				data.Invoice.Comment, s.want = "REJETEE par le destinataire", "REJETEE"
			case 2:
				data.Invoice.Comment = "SUSPENDUE puis complétée"
			}
		}
		data.Account, data.Invoice.Number = s.account, number
		s.mode = data.Mode
		e, err := events.NewInvoiceSubmit("", data)
		add(s, e, err)
	}
	for j := range sc.declarations {
		month, year := j%12+1, 2030+j/12
		contact := ""
		switch {
		case j%5 == 1:
			contact = pasrautest.TriggerOverwrite
		case j%10 == 3:
			contact = pasrautest.TriggerBANANO
		}
		body := declaration(l.declText, month, year, contact)
		latin1, err := pasrau.ToLatin1([]byte(body), pasrau.UTF8)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(latin1)
		s := &submission{typ: events.TypeDeclarationSubmit, account: accountName(j % sc.accounts), sha: hex.EncodeToString(sum[:]),
			month: fmt.Sprintf("%04d-%02d", year, month), want: events.StateAccepted, deposits: 1}
		e, err := events.NewDeclarationSubmit("", events.DeclarationSubmit{Account: s.account,
			File: events.DeclarationFile{FileName: fmt.Sprintf("pasrau-%s.txt", s.month), Encoding: events.EncodingUTF8, Text: body}})
		add(s, e, err)
	}
	// Undeliverable on purpose: three messages that are not CloudEvents, three
	// CloudEvents whose data breaks the schema (answered rejected).
	for i, p := range []struct{ subject, body string }{
		{events.TypeInvoiceSubmit, "this is not a CloudEvent"},
		{events.TypeInvoiceSubmit, `{"account":"acct1","mode":"structured"}`},
		{events.TypeDeclarationSubmit, "S10.G00.00.001,'not a CloudEvent'"},
	} {
		id := fmt.Sprintf("chaos-not-a-cloudevent-%d", i+1)
		l.poison = append(l.poison, &poisonMsg{what: "not a CloudEvent on " + p.subject, subject: p.subject, msgID: id,
			msg: &nats.Msg{Subject: p.subject, Data: []byte(p.body), Header: nats.Header{}}})
	}
	badMode := example(0)
	badMode.Account, badMode.Mode, badMode.Invoice.Number = accountName(0), "fax", "CHAOS-POISON-1"
	badSyntax := flowSubmit("CHAOS-POISON-2")
	badSyntax.Account, badSyntax.FlowSyntax = accountName(1%sc.accounts), "IN_DP_E9_FAX"
	for _, p := range []struct {
		what string
		data events.InvoiceSubmit
	}{{"invoice.submit with mode fax", badMode}, {"invoice.submit with an unknown flow syntax", badSyntax}} {
		s := &submission{typ: events.TypeInvoiceSubmit, account: p.data.Account, number: p.data.Invoice.Number, mode: p.data.Mode, want: events.StateRejected, poison: true}
		e, err := events.NewInvoiceSubmit("", p.data)
		add(s, e, err)
		l.poison = append(l.poison, &poisonMsg{what: p.what, subject: events.TypeInvoiceSubmit, msgID: s.id, sub: s})
	}
	{
		s := &submission{typ: events.TypeDeclarationSubmit, account: accountName(0), month: "encoding UTF-16", want: events.StateRejected, poison: true}
		e, err := events.NewDeclarationSubmit("", events.DeclarationSubmit{Account: s.account,
			File: events.DeclarationFile{FileName: "utf16.txt", Encoding: "UTF-16", Text: declaration(l.declText, 1, 2029, "")}})
		add(s, e, err)
		l.poison = append(l.poison, &poisonMsg{what: "declaration.submit with encoding UTF-16", subject: events.TypeDeclarationSubmit, msgID: s.id, sub: s})
	}
	for i, s := range l.subs {
		if !s.poison {
			l.order = append(l.order, i)
		}
	}
	rng.Shuffle(len(l.order), func(i, j int) { l.order[i], l.order[j] = l.order[j], l.order[i] })
	// The poison messages go among the first tenth, the middle and the last tenth.
	for i := range l.poison {
		at := (len(l.order) * (1 + 4*i)) / (4*len(l.poison) + 1)
		l.order = append(l.order[:at], append([]int{-1 - i}, l.order[at:]...)...)
	}
	return l
}

// flowSubmit returns a flow-mode invoice: a CII file for a recipient without
// rules, which Chorus Pro integrates.
func flowSubmit(number string) events.InvoiceSubmit {
	cii := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100" xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100">
<rsm:ExchangedDocument><ram:ID>%s</ram:ID><ram:TypeCode>380</ram:TypeCode></rsm:ExchangedDocument>
<rsm:SupplyChainTradeTransaction><ram:ApplicableHeaderTradeAgreement><ram:BuyerTradeParty><ram:SpecifiedLegalOrganization><ram:ID>%s</ram:ID></ram:SpecifiedLegalOrganization></ram:BuyerTradeParty></ram:ApplicableHeaderTradeAgreement>
<ram:ApplicableHeaderTradeSettlement><ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode><ram:SpecifiedTradeSettlementHeaderMonetarySummation>
<ram:TaxBasisTotalAmount>100.00</ram:TaxBasisTotalAmount><ram:TaxTotalAmount>20.00</ram:TaxTotalAmount><ram:GrandTotalAmount>120.00</ram:GrandTotalAmount>
</ram:SpecifiedTradeSettlementHeaderMonetarySummation></ram:ApplicableHeaderTradeSettlement></rsm:SupplyChainTradeTransaction></rsm:CrossIndustryInvoice>`,
		number, chorusprotest.SeedSIRETNoRule)
	return events.InvoiceSubmit{Mode: events.ModeFlow, FlowSyntax: "IN_DP_E1_CII_16B", Invoice: events.Invoice{Number: number},
		Document: &events.Document{FileName: number + ".xml", Content: base64.StdEncoding.EncodeToString([]byte(cii))}}
}

// declaration returns the valid declaration file for month/year, with a marker
// of the PASRAU emulator in the contact name when contact is not empty.
func declaration(text string, month, year int, contact string) string {
	s := strings.Replace(text, "S20.G00.05.005,'01112026'", fmt.Sprintf("S20.G00.05.005,'01%02d%04d'", month, year), 1)
	if contact != "" {
		s = strings.Replace(s, "S10.G00.02.002,'Test PASRAU'", "S10.G00.02.002,'Test PASRAU "+contact+"'", 1)
	}
	return s
}

// traceOf returns the trace context a submission is published with: its trace id
// is derived from the event id, so that every log line of every worker about the
// submission can be found by it.
func traceOf(id string) trace.SpanContext {
	sum := sha256.Sum256([]byte(id))
	var tid trace.TraceID
	var sid trace.SpanID
	copy(tid[:], sum[:16])
	copy(sid[:], sum[16:24])
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true})
}

// publishLoad publishes the load in order, evenly over the given time, each
// message retried (with its deduplication id) until JetStream acknowledges it.
// It returns when everything is published, or the first message that could not
// be within two minutes.
func publishLoad(ctx context.Context, js jetstream.JetStream, l *load, over time.Duration) error {
	pub := events.NewPublisher(js)
	start := time.Now()
	for i, k := range l.order {
		if wait := time.Until(start.Add(over * time.Duration(i) / time.Duration(len(l.order)))); wait > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
		}
		var send func(ctx context.Context) error
		var what string
		switch {
		case k >= 0:
			s := l.subs[k]
			what = s.what()
			send = func(ctx context.Context) error {
				_, err := pub.Publish(trace.ContextWithRemoteSpanContext(ctx, traceOf(s.id)), s.typ, s.event)
				return err
			}
		default:
			p := l.poison[-1-k]
			what = p.what
			send = func(ctx context.Context) error {
				var ack *jetstream.PubAck
				var err error
				if p.sub != nil {
					ack, err = pub.Publish(ctx, p.subject, p.sub.event)
				} else {
					ack, err = js.PublishMsg(ctx, p.msg, jetstream.WithMsgID(p.msgID))
				}
				if err == nil {
					p.stream, p.seq = ack.Stream, ack.Sequence
				}
				return err
			}
		}
		if err := retryPublish(ctx, send); err != nil {
			return fmt.Errorf("publish %s: %w", what, err)
		}
	}
	return nil
}

// retryPublish calls send until it succeeds, for at most two minutes.
func retryPublish(ctx context.Context, send func(ctx context.Context) error) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := send(actx)
		cancel()
		if err == nil || ctx.Err() != nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// deadLetterKey identifies a dead letter by the stream and sequence of the
// message it copies.
func deadLetterKey(stream string, seq uint64) string { return fmt.Sprintf("%s#%d", stream, seq) }
