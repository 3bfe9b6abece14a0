package pasrau

import (
	"fmt"
	"strings"
)

// ProblemCode classifies a problem found by Validate.
type ProblemCode string

// The problem codes Validate reports.
const (
	// ProblemEmpty: the file has no line at all.
	ProblemEmpty ProblemCode = "empty"
	// ProblemEncoding: invalid UTF-8, a character outside ISO-8859-1, a
	// control character, or UTF-8 bytes in a file declared ISO-8859-1.
	ProblemEncoding ProblemCode = "encoding"
	// ProblemSyntax: the line is not Sxx.Gyy.zz.nnn,'value' (empty line,
	// space around the comma, missing or stray quote, empty value).
	ProblemSyntax ProblemCode = "syntax"
	// ProblemFirstLine: the first line is not an S10 rubric.
	ProblemFirstLine ProblemCode = "first-line"
	// ProblemBlockOrder: blocks are not in the order S10, S20, S21, S90, or
	// a block is unknown.
	ProblemBlockOrder ProblemCode = "block-order"
	// ProblemDeclarationCount: not exactly one declaration (S20.G00.05.001)
	// in the file; PASRAU's API takes one declaration per deposit.
	ProblemDeclarationCount ProblemCode = "declaration-count"
	// ProblemTotals: S90.G00.90.001 or S90.G00.90.002 do not match the file.
	ProblemTotals ProblemCode = "totals"
	// ProblemMissing: a rubric the declaration cannot do without is absent.
	ProblemMissing ProblemCode = "missing"
	// ProblemSIREN: a SIREN is not 9 digits or fails the Luhn check.
	ProblemSIREN ProblemCode = "siren"
	// ProblemNIC: a NIC is not 5 digits.
	ProblemNIC ProblemCode = "nic"
	// ProblemSIRET: a SIREN followed by its NIC fails the SIRET check.
	ProblemSIRET ProblemCode = "siret"
	// ProblemDate: a date rubric is not a JJMMAAAA calendar date (or a month
	// rubric not 01MMAAAA or MMAAAA).
	ProblemDate ProblemCode = "date"
	// ProblemAmount: an amount rubric is not digits, a dot and two decimals.
	ProblemAmount ProblemCode = "amount"
	// ProblemValue: a coded value is not one the norm allows (e.g.
	// S10.G00.00.005 other than 01 or 02), or a count is not a number.
	ProblemValue ProblemCode = "value"
	// ProblemTruncated: more problems were found than the report keeps
	// (MaxProblems); the last entry says how many were left out.
	ProblemTruncated ProblemCode = "truncated"
)

// MaxProblems is the number of problems a report lists before it summarises
// the rest in one ProblemTruncated entry, so that a garbage file of a million
// lines does not produce a million messages.
const MaxProblems = 10000

// Problem is one defect of a declaration file.
type Problem struct {
	// Line is the 1-based line number; 0 means the file as a whole.
	Line int `json:"line"`
	// Rubric is the rubric name of the line ("S21.G00.20.007"), or the
	// missing rubric, or "" when the line has no recognisable name.
	Rubric  string      `json:"rubric,omitempty"`
	Code    ProblemCode `json:"code"`
	Message string      `json:"message"`
}

// String returns "line 48 S21.G00.20.007: syntax: message".
func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d", p.Line)
	} else {
		b.WriteString("file")
	}
	if p.Rubric != "" {
		b.WriteString(" " + p.Rubric)
	}
	fmt.Fprintf(&b, ": %s: %s", p.Code, p.Message)
	return b.String()
}

// Problems is the report of Validate, in line order within each kind of
// check; it is empty for a file that passes every check.
type Problems []Problem

// Err returns nil when there is no problem and a *ValidationError holding
// them otherwise.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	return &ValidationError{Problems: ps}
}

// Has reports whether one of the problems has the given code.
func (ps Problems) Has(code ProblemCode) bool {
	for _, p := range ps {
		if p.Code == code {
			return true
		}
	}
	return false
}

// ValidationError is a declaration file that failed Validate.
type ValidationError struct {
	Problems Problems
}

// Error returns the number of problems and the first few of them.
func (e *ValidationError) Error() string {
	const shown = 3
	var b strings.Builder
	fmt.Fprintf(&b, "pasrau: invalid declaration file: %d problem(s)", len(e.Problems))
	for i, p := range e.Problems {
		if i == shown {
			b.WriteString("; ...")
			break
		}
		b.WriteString("; " + p.String())
	}
	return b.String()
}

// Count returns the number of problems found, those a ProblemTruncated entry
// summarises included.
func (ps Problems) Count() int {
	n := len(ps)
	if n > 0 && ps[n-1].Code == ProblemTruncated {
		var dropped int
		if _, err := fmt.Sscanf(ps[n-1].Message, "%d more", &dropped); err == nil {
			n += dropped - 1
		}
	}
	return n
}
