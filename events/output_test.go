package events_test

import (
	"context"
	"errors"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"

	"github.com/passerelle-dev/passerelle/events"
)

const (
	headerTrace    = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	extensionTrace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
)

func TestDecodeOutput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		typ   string
		data  any
		check func(t *testing.T, o *events.Output)
	}{
		{"invoice status", events.TypeInvoiceStatus,
			events.InvoiceStatus{SubmitID: "s-1", Account: "acme", InvoiceNumber: "F-1", State: events.StateRejected, Final: true, Sequence: 2,
				Rejection: &events.Rejection{Source: "choruspro", Reason: "refused", CodeRetour: 20006}},
			func(t *testing.T, o *events.Output) {
				s := o.InvoiceStatus
				if s == nil || o.DeclarationStatus != nil || o.DeclarationReturn != nil {
					t.Fatalf("got %+v, want only InvoiceStatus", o)
				}
				if s.InvoiceNumber != "F-1" || s.State != events.StateRejected || s.Sequence != 2 || s.Rejection == nil || s.Rejection.CodeRetour != 20006 {
					t.Errorf("InvoiceStatus = %+v", s)
				}
				if o.SubmitID() != "s-1" || o.Account() != "acme" || !o.Final() {
					t.Errorf("SubmitID, Account, Final = %q, %q, %t; want s-1, acme, true", o.SubmitID(), o.Account(), o.Final())
				}
			}},
		{"declaration status", events.TypeDeclarationStatus,
			events.DeclarationStatus{SubmitID: "s-2", Account: "acme", State: events.StateDeposited, Sequence: 2, IDFlux: "flux-1",
				Declaration: &events.DeclarationIdentity{SIRET: "53755096400010", Month: "2026-11"}},
			func(t *testing.T, o *events.Output) {
				s := o.DeclarationStatus
				if s == nil || o.InvoiceStatus != nil || o.DeclarationReturn != nil {
					t.Fatalf("got %+v, want only DeclarationStatus", o)
				}
				if s.IDFlux != "flux-1" || s.Declaration == nil || s.Declaration.Month != "2026-11" {
					t.Errorf("DeclarationStatus = %+v", s)
				}
				if o.SubmitID() != "s-2" || o.Final() {
					t.Errorf("SubmitID, Final = %q, %t; want s-2, false", o.SubmitID(), o.Final())
				}
			}},
		{"declaration return", events.TypeDeclarationReturn,
			events.DeclarationReturn{Account: "acme", IDFlux: "flux-1", SubmitID: "s-2", Nature: "94", Statut: "OK", Version: 2,
				Summary: &events.ReturnSummary{Type: "CRM", Rates: []events.PASRate{{NIR: "1", Rate: "7.5"}}}},
			func(t *testing.T, o *events.Output) {
				r := o.DeclarationReturn
				if r == nil || o.InvoiceStatus != nil || o.DeclarationStatus != nil {
					t.Fatalf("got %+v, want only DeclarationReturn", o)
				}
				if r.Nature != "94" || r.Version != 2 || r.Summary == nil || len(r.Summary.Rates) != 1 {
					t.Errorf("DeclarationReturn = %+v", r)
				}
				if o.SubmitID() != "s-2" || o.Account() != "acme" || o.Final() {
					t.Errorf("SubmitID, Account, Final = %q, %q, %t; want s-2, acme, false", o.SubmitID(), o.Account(), o.Final())
				}
			}},
	}
	for _, tt := range tests {
		for _, mode := range []struct {
			name   string
			encode func(string, *event.Event) (*nats.Msg, error)
		}{{"binary", events.Encode}, {"structured", events.EncodeStructured}} {
			t.Run(tt.name+"/"+mode.name, func(t *testing.T) {
				t.Parallel()
				e, err := events.New(tt.typ, "ev-1", "subj", tt.data)
				if err != nil {
					t.Fatal(err)
				}
				e.SetExtension(events.TraceParent, extensionTrace)
				msg, err := mode.encode(tt.typ+".acme", e)
				if err != nil {
					t.Fatal(err)
				}
				o, err := events.DecodeOutput(context.Background(), msg.Header, msg.Data)
				if err != nil {
					t.Fatalf("DecodeOutput: %v", err)
				}
				if o.ID != "ev-1" || o.Type != tt.typ || o.Subject != "subj" || o.Source != events.Source || !o.Time.Equal(e.Time()) {
					t.Errorf("Meta = %+v, want the event's attributes", o.Meta)
				}
				if o.TraceParent != extensionTrace {
					t.Errorf("TraceParent = %q, want the extension's %q", o.TraceParent, extensionTrace)
				}
				tt.check(t, o)
			})
		}
	}
}

func TestDecodeOutputTrace(t *testing.T) {
	t.Parallel()
	e, err := events.New(events.TypeInvoiceStatus, "ev-1", "F-1", events.InvoiceStatus{SubmitID: "s-1", State: events.StateReceived, Sequence: 1})
	if err != nil {
		t.Fatal(err)
	}
	e.SetExtension(events.TraceParent, extensionTrace)
	msg, err := events.Encode("invoice.status.acme", e)
	if err != nil {
		t.Fatal(err)
	}
	msg.Header.Set(events.TraceParent, headerTrace)
	msg.Header.Set(events.TraceState, "vendor=1")
	o, err := events.DecodeOutput(context.Background(), msg.Header, msg.Data)
	if err != nil {
		t.Fatal(err)
	}
	if o.TraceParent != headerTrace || o.TraceState != "vendor=1" {
		t.Errorf("trace = %q %q, want the headers' %q vendor=1", o.TraceParent, o.TraceState, headerTrace)
	}
	sc := o.SpanContext()
	if !sc.IsValid() || !sc.IsRemote() || sc.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || sc.TraceState().Get("vendor") != "1" {
		t.Errorf("SpanContext = %+v, want the header's remote span context", sc)
	}
	ctx := o.Context(context.Background())
	if got := events.TraceHeader(events.TraceOf(ctx)).Get(events.TraceParent); got != headerTrace {
		t.Errorf("Context carries %q, want %q", got, headerTrace)
	}

	var none events.Meta
	if none.SpanContext().IsValid() {
		t.Error("a Meta without trace context has a valid span context")
	}
	if ctx := context.Background(); none.Context(ctx) != ctx {
		t.Error("Context without a trace context changed ctx")
	}
}

func TestDecodeOutputErrors(t *testing.T) {
	t.Parallel()
	submit, err := events.NewInvoiceSubmit("ev-1", events.InvoiceSubmit{Account: "acme", Mode: events.ModeFlow, Invoice: events.Invoice{Number: "F-1"}})
	if err != nil {
		t.Fatal(err)
	}
	submitMsg, err := events.Encode(events.TypeInvoiceSubmit, submit)
	if err != nil {
		t.Fatal(err)
	}
	badData, err := events.New(events.TypeInvoiceStatus, "ev-2", "", map[string]any{"sequence": "not a number"})
	if err != nil {
		t.Fatal(err)
	}
	badDataMsg, err := events.Encode("invoice.status.acme", badData)
	if err != nil {
		t.Fatal(err)
	}
	xml := event.New(events.SpecVersion)
	xml.SetID("ev-3")
	xml.SetType(events.TypeDeclarationReturn)
	xml.SetSource(events.Source)
	if err := xml.SetData("application/xml", []byte("<r/>")); err != nil {
		t.Fatal(err)
	}
	xmlMsg, err := events.Encode("declaration.return.acme", &xml)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		msg   *nats.Msg
		check func(error) bool
	}{
		{"a submit event", submitMsg, func(err error) bool { return errors.Is(err, events.ErrUnexpectedType) }},
		{"data of the wrong shape", badDataMsg, func(err error) bool { return err != nil && !errors.Is(err, events.ErrUnexpectedType) }},
		{"data that is not JSON", xmlMsg, func(err error) bool { return err != nil && !errors.Is(err, events.ErrUnexpectedType) }},
		{"not a CloudEvent", &nats.Msg{Data: []byte(`{}`)}, func(err error) bool { return errors.Is(err, events.ErrNotCloudEvent) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o, err := events.DecodeOutput(context.Background(), tt.msg.Header, tt.msg.Data)
			if o != nil || !tt.check(err) {
				t.Errorf("DecodeOutput = %v, %v", o, err)
			}
		})
	}

	if _, err := events.ReadDeclarationStatus(submit); !errors.Is(err, events.ErrUnexpectedType) {
		t.Errorf("ReadDeclarationStatus of a submit event: %v, want ErrUnexpectedType", err)
	}
}
