package bench

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/schemas"
	"github.com/passerelle-dev/passerelle/workers/pasrau"
)

// TestInvoiceDataFile checks that the 2 KB invoice the hot-path benchmarks of other
// packages read (testdata/bench) is the load's invoice.
func TestInvoiceDataFile(t *testing.T) {
	t.Parallel()
	d, err := InvoiceData()
	if err != nil {
		t.Fatal(err)
	}
	d.Invoice.Number = "F-2026-0001"
	want, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join("..", "..", "testdata", "bench", "invoice.submit-2k.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(got), want) {
		t.Errorf("testdata/bench/invoice.submit-2k.json differs from InvoiceData; write it again:\n%s", want)
	}
}

// TestLoad checks that every submission of a mixed load is a valid event with an
// identity of its own.
func TestLoad(t *testing.T) {
	t.Parallel()
	const n = 400 // more than declarationYears, so that the establishment varies too
	msgs, err := load(KindMix, n)
	if err != nil {
		t.Fatal(err)
	}
	v, err := schemas.New()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, m := range msgs {
		e, _, err := events.Decode(t.Context(), m.Header, m.Data)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if e.ID() != submitID(i) || indexOf(e.ID()) != i {
			t.Fatalf("message %d has id %s", i, e.ID())
		}
		if err := v.Validate(e.Type(), e.Data()); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if e.Type() != events.TypeDeclarationSubmit {
			continue
		}
		var d events.DeclarationSubmit
		if err := json.Unmarshal(e.Data(), &d); err != nil {
			t.Fatal(err)
		}
		decl, problems := pasrau.Validate([]byte(d.File.Text), pasrau.UTF8)
		if len(problems) > 0 {
			t.Fatalf("declaration %d: %v", i, problems[0])
		}
		id := decl.SIRET + " " + decl.Month
		if seen[id] {
			t.Fatalf("declaration %d repeats %s", i, id)
		}
		seen[id] = true
	}
}
