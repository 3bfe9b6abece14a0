package bench

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/schemas"
	"github.com/passerelle-dev/passerelle/workers/devstack"
	"github.com/passerelle-dev/passerelle/workers/pasrau"
)

// idPrefix starts every submit event id of the load; the rest is the
// submission's index, so that the collector finds it without a map.
const idPrefix = "bench-"

func submitID(i int) string { return fmt.Sprintf("%s%07d", idPrefix, i) }

// indexOf returns the index of a submit id of the load, or -1.
func indexOf(id string) int {
	if !strings.HasPrefix(id, idPrefix) {
		return -1
	}
	i, err := strconv.Atoi(id[len(idPrefix):])
	if err != nil {
		return -1
	}
	return i
}

// kindOf is the kind of the i-th submission of a load of kind k.
func kindOf(k Kind, i int) Kind {
	if k == KindMix {
		if i%2 == 0 {
			return KindInvoice
		}
		return KindDeclaration
	}
	return k
}

// load builds the n submit messages of a scenario, encoded in binary mode as a
// publisher would, each with a trace context and its id as Nats-Msg-Id.
func load(k Kind, n int) ([]*nats.Msg, error) {
	inv, err := InvoiceData()
	if err != nil {
		return nil, err
	}
	decl, err := declarationData()
	if err != nil {
		return nil, err
	}
	nics := luhnNICs(declarationSIREN, n/len(declarationYears())+1)
	rng := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // trace ids of test traffic
	years := declarationYears()
	msgs := make([]*nats.Msg, n)
	for i := range msgs {
		id := submitID(i)
		var ev *event.Event
		switch kindOf(k, i) {
		case KindInvoice:
			inv.Invoice.Number = fmt.Sprintf("BENCH-%07d", i)
			ev, err = events.NewInvoiceSubmit(id, inv)
		default:
			d := decl
			d.File.Text = declarationText(decl.File.Text, years[i%len(years)], nics[i/len(years)])
			ev, err = events.NewDeclarationSubmit(id, d)
		}
		if err != nil {
			return nil, err
		}
		tp := traceparent(rng)
		ev.SetExtension(events.TraceParent, tp)
		msg, err := events.Encode(ev.Type(), ev)
		if err != nil {
			return nil, err
		}
		msg.Header.Set(events.TraceParent, tp)
		msg.Header.Set(jetstream.MsgIDHeader, id)
		msgs[i] = msg
	}
	return msgs, nil
}

// traceparent returns a sampled W3C traceparent with random ids.
func traceparent(rng *rand.Rand) string {
	var b [24]byte
	for i := range b {
		b[i] = byte(rng.UintN(256)) //nolint:gosec // below 256
	}
	return "00-" + hex.EncodeToString(b[:16]) + "-" + hex.EncodeToString(b[16:]) + "-01"
}

// InvoiceData returns the invoice.submit data of the load: the schema's first
// example (a structured invoice to a recipient with no rule) grown to eight lines,
// about 2 KB of JSON, for the dev stack's account.
func InvoiceData() (events.InvoiceSubmit, error) {
	examples, err := schemas.Examples(events.TypeInvoiceSubmit)
	if err != nil {
		return events.InvoiceSubmit{}, err
	}
	if len(examples) == 0 {
		return events.InvoiceSubmit{}, fmt.Errorf("bench: the invoice.submit schema has no example")
	}
	var s events.InvoiceSubmit
	if err := json.Unmarshal(examples[0], &s); err != nil {
		return events.InvoiceSubmit{}, fmt.Errorf("bench: invoice example: %w", err)
	}
	s.Account = devstack.DemoAccount
	s.Invoice.Lines = nil
	for i := range 8 {
		s.Invoice.Lines = append(s.Invoice.Lines, events.Line{
			Reference:   fmt.Sprintf("CONS-%02d", i+1),
			Designation: fmt.Sprintf("Conseil et accompagnement, novembre 2026, lot %d : ateliers, rédaction et revue des livrables", i+1),
			Quantity:    "1", Unit: "jour", UnitPrice: "125.00", VATRate: "20",
		})
	}
	s.Invoice.Comment = "Prestation de conseil, novembre 2026 : cinq lots livrés et acceptés, procès-verbaux de réception joints au dossier du marché"
	return s, nil
}

// declarationSIREN is the company of the schema's example declaration.
const declarationSIREN = "537550964"

// declarationYears are the declared years the load varies (with the
// establishment) so that every declaration of a run has an identity of its own.
func declarationYears() []int {
	years := make([]int, 90)
	for i := range years {
		years[i] = 2001 + i
	}
	return years
}

func declarationData() (events.DeclarationSubmit, error) {
	examples, err := schemas.Examples(events.TypeDeclarationSubmit)
	if err != nil {
		return events.DeclarationSubmit{}, err
	}
	if len(examples) == 0 {
		return events.DeclarationSubmit{}, fmt.Errorf("bench: the declaration.submit schema has no example")
	}
	var d events.DeclarationSubmit
	if err := json.Unmarshal(examples[0], &d); err != nil {
		return events.DeclarationSubmit{}, fmt.Errorf("bench: declaration example: %w", err)
	}
	d.Account = devstack.DemoAccount
	for _, want := range []string{"S20.G00.05.005,'01112026'", "S21.G00.11.001,'00010'"} {
		if !strings.Contains(d.File.Text, want) {
			return events.DeclarationSubmit{}, fmt.Errorf("bench: the declaration example has no %s", want)
		}
	}
	return d, nil
}

// declarationText is the example declaration for November of year, declared for
// the establishment nic of the example's company.
func declarationText(text string, year int, nic string) string {
	text = strings.Replace(text, "S20.G00.05.005,'01112026'", fmt.Sprintf("S20.G00.05.005,'0111%d'", year), 1)
	return strings.Replace(text, "S21.G00.11.001,'00010'", "S21.G00.11.001,'"+nic+"'", 1)
}

// luhnNICs returns the first n NICs (from 00010) that make a valid SIRET with
// siren (the Luhn check).
func luhnNICs(siren string, n int) []string {
	var out []string
	for v := 10; len(out) < n && v < 100000; v++ {
		nic := fmt.Sprintf("%05d", v)
		if pasrau.CheckSIRET(siren+nic) == nil {
			out = append(out, nic)
		}
	}
	return out
}
