package events_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/workers/embedded"
)

// A structured invoice: the invoice data only, submitted to Chorus Pro as typed.
func ExampleNewInvoiceSubmit() {
	e, err := events.NewInvoiceSubmit("0b6f1c1e-6a4e-4d0c-9a51-2f1f2b8a9e10", events.InvoiceSubmit{
		Account: "acme",
		Mode:    events.ModeStructured,
		Invoice: events.Invoice{
			Number:    "F-2026-0001",
			Date:      "2026-11-20",
			Recipient: &events.Recipient{SIRET: "11000003100010"},
			Lines:     []events.Line{{Designation: "Conseil", Quantity: "2", UnitPrice: "500.00", VATRate: "20"}},
			VAT:       []events.VATLine{{Rate: "20", Base: "1000.00", Amount: "200.00"}},
			Totals:    &events.Totals{Net: "1000.00", VAT: "200.00", Gross: "1200.00", Payable: "1200.00"},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("type:", e.Type())
	fmt.Println("id:", e.ID())
	fmt.Println("subject:", e.Subject())
	fmt.Println("dataschema:", e.DataSchema())
	fmt.Println("data:", string(e.Data()))
	// Output:
	// type: invoice.submit
	// id: 0b6f1c1e-6a4e-4d0c-9a51-2f1f2b8a9e10
	// subject: F-2026-0001
	// dataschema: https://passerelle.dev/schemas/invoice.submit.json
	// data: {"account":"acme","mode":"structured","invoice":{"number":"F-2026-0001","date":"2026-11-20","recipient":{"siret":"11000003100010"},"lines":[{"designation":"Conseil","quantity":2,"unitPrice":500.00,"vatRate":20}],"vat":[{"rate":20,"base":1000.00,"amount":200.00}],"totals":{"net":1000.00,"vat":200.00,"gross":1200.00,"payable":1200.00}}}
}

// A PASRAU declaration file given as text; NewDocument builds the Object Store
// reference of a large one instead.
func ExampleNewDeclarationSubmit() {
	e, err := events.NewDeclarationSubmit("", events.DeclarationSubmit{
		Account: "acme",
		File: events.DeclarationFile{
			FileName: "pasrau-2026-11.txt",
			Encoding: events.EncodingUTF8,
			Text:     "S10.G00.00.001,'passerelle'\nS10.G00.00.002,'passerelle'\n...",
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	var data events.DeclarationSubmit
	if err := json.Unmarshal(e.Data(), &data); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(e.Type(), e.Subject(), data.Account, data.File.Encoding)
	fmt.Println("a fresh id:", len(e.ID()) == 36)
	// Output:
	// declaration.submit pasrau-2026-11.txt acme UTF-8
	// a fresh id: true
}

// Publishing to a real (embedded) NATS server: the event id is the deduplication
// id, so a retried publish is stored once, and the trace context of ctx travels
// in both the headers and the event.
func ExamplePublisher_Publish() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "events-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = os.RemoveAll(dir) }()
	srv, err := embedded.Start(embedded.Config{Listen: "127.0.0.1:0", StoreDir: dir, Name: "example"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Shutdown()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		fmt.Println(err)
		return
	}
	// passerelle declares its intake streams at start-up; this one stands in.
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "PASSERELLE_INVOICES", Subjects: []string{events.TypeInvoiceSubmit}, Duplicates: time.Minute})
	if err != nil {
		fmt.Println(err)
		return
	}

	e, err := events.NewInvoiceSubmit("7d1c3a8e-2f4b-4c1d-8e9a-0b1c2d3e4f50", events.InvoiceSubmit{
		Account: "acme", Mode: events.ModeFlow, FlowSyntax: "IN_DP_E1_UBL_INVOICE",
		Invoice:  events.Invoice{Number: "F-2026-0042"},
		Document: &events.Document{FileName: "F-2026-0042.xml", ContentType: "application/xml", Content: "PEludm9pY2UvPg=="},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// The caller's trace: here one received earlier and stored with the work.
	ctx = events.WithTrace(ctx, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "")
	pub := events.NewPublisher(js)
	for range 2 { // the second publish stands for a retry after a lost ack
		ack, err := pub.Publish(ctx, events.TypeInvoiceSubmit, e)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("stream %s, message %d, duplicate %t\n", ack.Stream, ack.Sequence, ack.Duplicate)
	}

	m, err := stream.GetMsg(ctx, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("Nats-Msg-Id:", m.Header.Get(jetstream.MsgIDHeader))
	fmt.Println("ce-type:", m.Header.Get("ce-type"))
	fmt.Println("traceparent:", m.Header.Get(events.TraceParent))
	fmt.Println("ce-traceparent:", m.Header.Get("ce-traceparent"))
	// Output:
	// stream PASSERELLE_INVOICES, message 1, duplicate false
	// stream PASSERELLE_INVOICES, message 1, duplicate true
	// Nats-Msg-Id: 7d1c3a8e-2f4b-4c1d-8e9a-0b1c2d3e4f50
	// ce-type: invoice.submit
	// traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
	// ce-traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
}

// A subscriber of invoice.status.<account> reads each message into a typed status,
// with the event's id, time and the submission's trace context.
func ExampleDecodeOutput() {
	ctx := context.Background()
	msg, err := statusMessage() // as received from NATS or JetStream
	if err != nil {
		fmt.Println(err)
		return
	}
	o, err := events.DecodeOutput(ctx, msg.Header, msg.Data)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(o.Type, o.ID, o.Time.Format(time.RFC3339))
	switch {
	case o.InvoiceStatus != nil:
		s := o.InvoiceStatus
		fmt.Printf("invoice %s of submission %s: #%d %s final=%t cpp=%d\n",
			s.InvoiceNumber, s.SubmitID, s.Sequence, s.State, s.Final, s.ChorusPro.IdentifiantFactureCPP)
	case o.DeclarationStatus != nil:
		fmt.Println("declaration", o.DeclarationStatus.State)
	case o.DeclarationReturn != nil:
		fmt.Println("return", o.DeclarationReturn.Nature)
	}
	// Spans started from this context continue the submission's trace.
	sc := o.SpanContext()
	fmt.Println("trace:", sc.TraceID(), "remote parent:", sc.IsRemote())
	// Output:
	// invoice.status 1f9e4c1a0b2d3e4f5a6b7c8d9e0f1a2b 2026-11-20T08:44:47Z
	// invoice F-2026-0001 of submission 0b6f1c1e-6a4e-4d0c-9a51-2f1f2b8a9e10: #9 MISE_EN_PAIEMENT final=true cpp=8000003
	// trace: 4bf92f3577b34da6a3ce929d0e0e4736 remote parent: true
}

// statusMessage is an invoice.status message as passerelle publishes it.
func statusMessage() (*nats.Msg, error) {
	e, err := events.New(events.TypeInvoiceStatus, "1f9e4c1a0b2d3e4f5a6b7c8d9e0f1a2b", "F-2026-0001", events.InvoiceStatus{
		SubmitID: "0b6f1c1e-6a4e-4d0c-9a51-2f1f2b8a9e10", Account: "acme", InvoiceNumber: "F-2026-0001", Mode: events.ModeStructured,
		State: "MISE_EN_PAIEMENT", Final: true, Sequence: 9, OccurredAt: "2026-11-20T08:44:47Z",
		ChorusPro: &events.ChorusProRef{IdentifiantFactureCPP: 8000003, InvoiceStatus: "MISE_EN_PAIEMENT"},
	})
	if err != nil {
		return nil, err
	}
	e.SetTime(time.Date(2026, 11, 20, 8, 44, 47, 0, time.UTC))
	e.SetExtension(events.TraceParent, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	msg, err := events.Encode("invoice.status.acme", e)
	if err != nil {
		return nil, err
	}
	msg.Header.Set(events.TraceParent, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	return msg, nil
}
