package invoice

import (
	"fmt"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/workers/intake"
)

// problem returns the invalid-input error of one problem of an invoice.submit.
func problem(location, message string) error {
	return intake.Problem(events.TypeInvoiceSubmit, location, message)
}

// conflictError: the business key is taken by another submission with other content.
type conflictError struct {
	number, supplier, other string
}

func (e *conflictError) Error() string {
	return fmt.Sprintf("%s was already submitted with different content by event %s", describe(e.supplier, e.number), e.other)
}

// describe names an invoice for people.
func describe(supplier, number string) string {
	return fmt.Sprintf("invoice %q of supplier %s", number, supplier)
}
