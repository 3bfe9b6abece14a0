package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"unicode/utf8"

	"github.com/passerelle-dev/passerelle/workers/pasrau"
)

const validateUsage = `Usage: passerelle validate [flags] FILE

Checks a PASRAU declaration file as passerelle does before any deposit: encoding
(ISO-8859-1), rubric syntax, S10 first, exactly one S20, block order, S90 counts,
SIREN/SIRET (Luhn, with La Poste's exception), dates and amounts. Prints the
declaration's identity and every problem with its line and rubric. Exits 1 when
the file has problems.

Flags:
  --encoding ENC   UTF-8, ISO-8859-1 or auto (default auto: UTF-8 when the file
                   is valid UTF-8, else ISO-8859-1)

Examples:
  passerelle validate pasrau-2026-11.txt
  passerelle validate --encoding ISO-8859-1 export.dsn
`

func runValidate(_ context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	encoding := fs.String("encoding", "auto", "")
	if err := parseFlags(fs, validateUsage, e, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return &usageError{"validate: exactly one FILE is required\n\n" + validateUsage}
	}
	file, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	var enc pasrau.Encoding
	switch *encoding {
	case "auto":
		enc = pasrau.Latin1
		if utf8.Valid(file) {
			enc = pasrau.UTF8
		}
	case "UTF-8", "utf-8", "utf8":
		enc = pasrau.UTF8
	case "ISO-8859-1", "iso-8859-1", "latin1":
		enc = pasrau.Latin1
	default:
		return &usageError{fmt.Sprintf("validate: --encoding %q is not UTF-8, ISO-8859-1 or auto", *encoding)}
	}
	decl, problems := pasrau.Validate(file, enc)
	fmt.Fprintf(e.stdout, "%s: %s\n", fs.Arg(0), decl)
	if len(problems) == 0 {
		fmt.Fprintln(e.stdout, "valid: no problem found")
		return nil
	}
	for _, p := range problems {
		fmt.Fprintln(e.stdout, p)
	}
	return &problemsError{n: len(problems)}
}

// problemsError ends validate with exit code 1 after the report is printed.
type problemsError struct{ n int }

func (e *problemsError) Error() string { return fmt.Sprintf("%d problem(s) found", e.n) }
