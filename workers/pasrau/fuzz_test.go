package pasrau_test

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/passerelle-dev/passerelle/workers/pasrau"
)

// addTestdata adds every file of testdata/dir to the seed corpus.
func addTestdata(f *testing.F, dir string) {
	f.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", dir, "*"))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// looksUTF8 reports whether b holds a byte pair the Latin-1 check takes for
// UTF-8 (a documented heuristic).
func looksUTF8(b []byte) bool {
	for i := 0; i+1 < len(b); i++ {
		if (b[i] == 0xC2 || b[i] == 0xC3) && b[i+1] >= 0x80 && b[i+1] <= 0xBF {
			return true
		}
	}
	return false
}

func FuzzValidate(f *testing.F) {
	f.Add(readTestdata(f, "valid-declaration.txt"), false)
	f.Add(readTestdata(f, "guide-sample.txt"), false)
	f.Add(bytes.ReplaceAll(readTestdata(f, "valid-declaration.txt"), []byte("\n"), []byte("\r\n")), false)
	latin, err := pasrau.ToLatin1(readTestdata(f, "valid-declaration.txt"), pasrau.UTF8)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(latin, true)
	f.Fuzz(func(t *testing.T, file []byte, isLatin1 bool) {
		enc := pasrau.UTF8
		if isLatin1 {
			enc = pasrau.Latin1
		}
		decl, problems := pasrau.Validate(file, enc)
		if decl == nil {
			t.Fatal("nil declaration")
		}
		if len(problems) > pasrau.MaxProblems {
			t.Fatalf("%d problems, over MaxProblems", len(problems))
		}
		lines := bytes.Count(file, []byte("\n")) + 1
		for _, p := range problems {
			if p.Line < 0 || p.Line > lines || p.Code == "" || p.Message == "" {
				t.Fatalf("bad problem %+v (file of %d lines)", p, lines)
			}
		}
		decl2, problems2 := pasrau.Validate(file, enc)
		if !reflect.DeepEqual(decl, decl2) || !reflect.DeepEqual(problems, problems2) {
			t.Fatal("Validate is not deterministic")
		}
		if len(problems) > 0 || enc != pasrau.UTF8 {
			return
		}
		// A valid UTF-8 file converts to ISO-8859-1 and stays valid, with
		// the same identity.
		converted, err := pasrau.ToLatin1(file, pasrau.UTF8)
		if err != nil {
			t.Fatalf("valid UTF-8 file does not convert: %v", err)
		}
		if looksUTF8(converted) {
			return
		}
		declL, problemsL := pasrau.Validate(converted, pasrau.Latin1)
		if len(problemsL) > 0 {
			t.Fatalf("converted file has problems: %v", problemsL)
		}
		if declL.Identity != decl.Identity {
			t.Fatalf("identity %v became %v", decl.Identity, declL.Identity)
		}
	})
}

func FuzzParseListing(f *testing.F) {
	addTestdata(f, "listings")
	f.Fuzz(func(t *testing.T, doc []byte) {
		l, err := pasrau.ParseListing(doc, nil)
		if err != nil {
			return
		}
		for _, fx := range l.Flux {
			if !pasrau.ValidFluxID(fx.ID) {
				t.Fatalf("flux id %q accepted", fx.ID)
			}
			for _, r := range fx.Returns {
				if len(r.URL) > 256 || (r.Statut != pasrau.StatusInProgress && r.Publication.IsZero()) {
					t.Fatalf("return %+v accepted", r)
				}
				switch r.Statut {
				case pasrau.StatusOK, pasrau.StatusKO, pasrau.StatusANO, pasrau.StatusInProgress:
				default:
					t.Fatalf("statut %q accepted", r.Statut)
				}
			}
		}
	})
}

func FuzzParseReport(f *testing.F) {
	addTestdata(f, "reports")
	f.Fuzz(func(t *testing.T, doc []byte) {
		r, err := pasrau.ParseReport(doc, nil)
		if err != nil {
			return
		}
		if r.Type == "" {
			t.Fatal("report without type accepted")
		}
		switch r.Etat {
		case "", pasrau.StatusOK, pasrau.StatusKO, pasrau.StatusANO:
		default:
			t.Fatalf("etat %q accepted", r.Etat)
		}
		if id, ok := r.Identity(); ok && (id.SIRET == "" || len(id.Month) != 7) {
			t.Fatalf("identity %+v accepted", id)
		}
	})
}
