package invoice

import (
	"errors"
	"fmt"
	"strings"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/schemas"
)

// inputError is a problem with a submit event, and where it is.
type inputError struct {
	reason   string
	problems []events.Problem
}

func (e *inputError) Error() string {
	if len(e.problems) == 0 {
		return e.reason
	}
	parts := make([]string, len(e.problems))
	for i, p := range e.problems {
		parts[i] = p.Location + ": " + p.Message
	}
	return e.reason + ": " + strings.Join(parts, "; ")
}

func problem(location, message string) *inputError {
	return &inputError{reason: "invalid invoice.submit event", problems: []events.Problem{{Location: location, Message: message}}}
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

// rejectionOf describes an intake error for a rejected status event.
func rejectionOf(err error) *events.Rejection {
	r := &events.Rejection{Source: "passerelle", Reason: err.Error()}
	var se *schemas.Error
	var ie *inputError
	switch {
	case errors.As(err, &se):
		r.Reason = "the event data does not match the invoice.submit schema"
		for _, p := range se.Problems {
			r.Errors = append(r.Errors, events.Problem{Location: orDefault(p.Location, "/"), Message: p.Message})
		}
	case errors.As(err, &ie):
		r.Reason = ie.reason
		r.Errors = ie.problems
	}
	return r
}
