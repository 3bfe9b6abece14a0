package service_test

import (
	"testing"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/schemas"
)

// invoiceExample returns the schema's first invoice.submit example with another number.
func invoiceExample(t *testing.T, number string) events.InvoiceSubmit {
	t.Helper()
	exs, err := schemas.ExamplesOf[events.InvoiceSubmit](events.TypeInvoiceSubmit)
	if err != nil {
		t.Fatal(err)
	}
	data := exs[0]
	data.Invoice.Number = number
	return data
}
