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
	sameID                  bool
}

func (e *conflictError) Error() string {
	if e.sameID {
		return fmt.Sprintf("event id %s was already used for invoice %q of supplier %s with different content", e.other, e.number, e.supplier)
	}
	return fmt.Sprintf("invoice %q of supplier %s was already submitted with different content by event %s", e.number, e.supplier, e.other)
}
