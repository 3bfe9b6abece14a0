package schemas_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/schemas"
)

// BenchmarkValidate validates the 2 KB invoice of the benchmarks (testdata/bench)
// and the declaration example (a 2.5 KB file) against their schemas.
func BenchmarkValidate(b *testing.B) {
	v, err := schemas.New()
	if err != nil {
		b.Fatal(err)
	}
	invoice, err := os.ReadFile(filepath.Join("..", "testdata", "bench", "invoice.submit-2k.json"))
	if err != nil {
		b.Fatal(err)
	}
	declarations, err := schemas.Examples(events.TypeDeclarationSubmit)
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		typ  string
		data []byte
	}{{events.TypeInvoiceSubmit, invoice}, {events.TypeDeclarationSubmit, declarations[0]}} {
		b.Run(tc.typ, func(b *testing.B) {
			b.SetBytes(int64(len(tc.data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := v.Validate(tc.typ, tc.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
