package service_test

import (
	"encoding/json"
	"testing"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/schemas"
)

// invoiceExample returns the schema's first invoice.submit example with another number.
func invoiceExample(t *testing.T, number string) events.InvoiceSubmit {
	t.Helper()
	exs, err := schemas.Examples(events.TypeInvoiceSubmit)
	if err != nil {
		t.Fatal(err)
	}
	var data events.InvoiceSubmit
	if err := json.Unmarshal(exs[0], &data); err != nil {
		t.Fatal(err)
	}
	data.Invoice.Number = number
	return data
}
