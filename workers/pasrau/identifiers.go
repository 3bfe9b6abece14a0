package pasrau

import (
	"errors"
	"fmt"
)

// laPosteSIREN is the one SIREN whose establishments' SIRETs may fail the Luhn
// check: INSEE accepts them when the sum of their digits is a multiple of 5.
const laPosteSIREN = "356000000"

// ErrInvalidIdentifier is matched (errors.Is) by the errors CheckSIREN and
// CheckSIRET return.
var ErrInvalidIdentifier = errors.New("pasrau: invalid SIREN or SIRET")

// CheckSIREN returns nil when s is 9 digits passing the Luhn check, and an
// error matching ErrInvalidIdentifier that says what is wrong otherwise.
func CheckSIREN(s string) error {
	if reason := sirenProblem([]byte(s)); reason != "" {
		return fmt.Errorf("%w: %s", ErrInvalidIdentifier, reason)
	}
	return nil
}

// CheckSIRET returns nil when s is 14 digits whose first 9 form a valid SIREN
// and that pass the Luhn check (or, for La Poste's SIREN 356000000, whose digit
// sum is a multiple of 5), and an error matching ErrInvalidIdentifier
// otherwise.
func CheckSIRET(s string) error {
	b := []byte(s)
	if len(b) != 14 || !allDigits(b) {
		return fmt.Errorf("%w: a SIRET is 14 digits", ErrInvalidIdentifier)
	}
	if reason := sirenProblem(b[:9]); reason != "" {
		return fmt.Errorf("%w: %s", ErrInvalidIdentifier, reason)
	}
	if reason := siretProblem(b); reason != "" {
		return fmt.Errorf("%w: %s", ErrInvalidIdentifier, reason)
	}
	return nil
}

// sirenProblem returns why s is not a valid SIREN, or "".
func sirenProblem(s []byte) string {
	if len(s) != 9 || !allDigits(s) {
		return "a SIREN is 9 digits"
	}
	if !luhn(s) {
		return "SIREN " + string(s) + " fails the Luhn check"
	}
	return ""
}

// siretProblem returns why the 14 digits s are not a valid SIRET, or "". The
// caller has checked the length, the digits and the SIREN.
func siretProblem(s []byte) string {
	if luhn(s) {
		return ""
	}
	if string(s[:9]) == laPosteSIREN {
		sum := 0
		for _, c := range s {
			sum += int(c - '0')
		}
		if sum%5 == 0 {
			return ""
		}
		return "SIRET " + string(s) + " of La Poste has a digit sum that is not a multiple of 5"
	}
	return "SIRET " + string(s) + " fails the Luhn check"
}

// luhn reports whether the decimal digits s pass the Luhn check.
func luhn(s []byte) bool {
	sum := 0
	double := false
	for i := len(s) - 1; i >= 0; i-- {
		d := int(s[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// allDigits reports whether s is non-empty and made of ASCII digits only.
func allDigits(s []byte) bool {
	if len(s) == 0 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
