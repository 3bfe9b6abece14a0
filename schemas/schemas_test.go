package schemas

import (
	"errors"
	"strings"
	"testing"

	"github.com/passerelle-dev/passerelle/events"
)

func TestExamplesValidate(t *testing.T) {
	t.Parallel()
	v, err := New()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	for _, typ := range Types() {
		ex, err := Examples(typ)
		if err != nil {
			t.Fatal(err)
		}
		if len(ex) == 0 {
			t.Errorf("%s has no example", typ)
		}
		for i, e := range ex {
			if err := v.Validate(typ, e); err != nil {
				t.Errorf("%s example %d: %v", typ, i, err)
			}
		}
	}
}

func TestValidateProblems(t *testing.T) {
	t.Parallel()
	v, err := New()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		data     string
		location string
		contains string
	}{
		{"not json", `{"account":`, "", "not valid JSON"},
		{"missing mode", `{"account":"demo","invoice":{"number":"F1"}}`, "", "mode"},
		{"bad account", `{"account":"de mo","mode":"flow","invoice":{"number":"F1"},"flowSyntax":"IN_DP_E1_CII_16B","document":{"fileName":"a.xml","content":"AAAA"}}`, "/account", "does not match pattern"},
		{"bad date", `{"account":"demo","mode":"structured","invoice":{"number":"F1","date":"2026-13-01","recipient":{"siret":"12345678901234"},"lines":[{"designation":"x","quantity":1,"unitPrice":1,"vatRate":20}],"vat":[{"rate":20,"base":1,"amount":0.2}],"totals":{"net":1,"vat":0.2,"gross":1.2,"payable":1.2}}}`, "/invoice/date", "date"},
		{"cents", `{"account":"demo","mode":"structured","invoice":{"number":"F1","date":"2026-11-01","recipient":{"siret":"12345678901234"},"lines":[{"designation":"x","quantity":1,"unitPrice":1.001,"vatRate":20}],"vat":[{"rate":20,"base":1,"amount":0.2}],"totals":{"net":1,"vat":0.2,"gross":1.2,"payable":1.2}}}`, "/invoice/lines/0/unitPrice", "multiple"},
		{"pdf without document", `{"account":"demo","mode":"pdf","invoice":{"number":"F1","date":"2026-11-01","recipient":{"siret":"12345678901234"},"totals":{"net":1,"vat":0.2,"gross":1.2,"payable":1.2}}}`, "", "document"},
		{"unknown field", `{"account":"demo","mode":"flow","invoice":{"number":"F1","colour":"red"},"flowSyntax":"IN_DP_E1_CII_16B","document":{"fileName":"a.xml","content":"AAAA"}}`, "/invoice", "colour"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := v.Validate("invoice.submit", []byte(tt.data))
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("Validate = %v, want *Error", err)
			}
			found := false
			for _, p := range se.Problems {
				if p.Location == tt.location && strings.Contains(p.Message, tt.contains) {
					found = true
				}
			}
			if !found {
				t.Errorf("problems = %+v, want one at %q containing %q", se.Problems, tt.location, tt.contains)
			}
		})
	}
}

func TestUnknownType(t *testing.T) {
	t.Parallel()
	v, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Validate("nope", []byte(`{}`)); !errors.Is(err, ErrUnknownType) {
		t.Errorf("Validate(nope) = %v, want ErrUnknownType", err)
	}
}

func TestExamplesOf(t *testing.T) {
	raws, err := Examples(events.TypeDeclarationSubmit)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ExamplesOf[events.DeclarationSubmit](events.TypeDeclarationSubmit)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(raws) || len(got) == 0 {
		t.Fatalf("%d typed examples, %d raw", len(got), len(raws))
	}
	for i, d := range got {
		if d.Account == "" || (d.File.Text == "" && d.File.Content == "" && d.File.Object == nil) {
			t.Errorf("example %d decoded without account or file: %+v", i, d)
		}
	}
	if _, err := ExamplesOf[int](events.TypeInvoiceSubmit); err == nil {
		t.Error("examples decoded into int without error")
	}
}
