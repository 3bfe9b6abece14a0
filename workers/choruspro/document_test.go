package choruspro_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/passerelle-dev/passerelle/workers/choruspro"
	"github.com/passerelle-dev/passerelle/workers/choruspro/chorusprotest"
)

func TestValidateDocument(t *testing.T) {
	t.Parallel()
	pdf := []byte("%PDF-1.7\n%%EOF")
	tooBig := make([]byte, choruspro.MaxDocumentSize+1)
	copy(tooBig, "%PDF-")
	for _, tc := range []struct {
		name         string
		file         string
		content      []byte
		kind         choruspro.DocumentKind
		wantReason   string // "" when valid
		wantTooLarge bool
	}{
		{"valid PDF", "facture.pdf", pdf, choruspro.KindPDF, "", false},
		{"upper-case extension", "FACTURE.PDF", pdf, choruspro.KindPDF, "", false},
		{"exactly 10 MB", "f.pdf", tooBig[:choruspro.MaxDocumentSize], choruspro.KindPDF, "", false},
		{"one byte over 10 MB", "f.pdf", tooBig, choruspro.KindPDF, "more than 10485760", true},
		{"not a PDF", "facture.pdf", []byte("<html>"), choruspro.KindPDF, "does not start with %PDF-", false},
		{"XML as invoice PDF", "facture.xml", []byte("<Invoice/>"), choruspro.KindPDF, `extension "xml" is not allowed`, false},
		{"50 characters", strings.Repeat("é", 46) + ".pdf", pdf, choruspro.KindPDF, "", false},
		{"51 characters", strings.Repeat("a", 47) + ".pdf", pdf, choruspro.KindPDF, "51 characters, more than 50", false},
		{"no extension", "facture", pdf, choruspro.KindPDF, "not allowed", false},
		{"path", "dir/facture.pdf", pdf, choruspro.KindPDF, "path separator", false},
		{"control character", "fac\nture.pdf", pdf, choruspro.KindPDF, "control character", false},
		{"empty name", "", pdf, choruspro.KindPDF, "empty", false},
		{"empty file", "f.pdf", nil, choruspro.KindPDF, "the file is empty", false},
		{"UBL flow", "f.xml", []byte("\xef\xbb\xbf <Invoice/>"), choruspro.KindFlux, "", false},
		{"flow not XML", "f.xml", []byte("hello"), choruspro.KindFlux, "not XML", false},
		{"Factur-X flow", "f.pdf", pdf, choruspro.KindFlux, "", false},
		{"tar.gz flow", "lot.tar.gz", []byte{0x1f, 0x8b, 8}, choruspro.KindFlux, "", false},
		{"fake gzip", "lot.tar.gz", []byte("plain"), choruspro.KindFlux, "not gzip", false},
		{"attachment docx", "annexe.docx", []byte("PK\x03\x04"), choruspro.KindAttachment, "", false},
		{"attachment exe", "annexe.exe", []byte("MZ"), choruspro.KindAttachment, "not allowed", false},
		{"unknown kind", "f.pdf", pdf, choruspro.DocumentKind(0), "unknown document kind", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := choruspro.ValidateDocument(tc.file, tc.content, tc.kind)
			if tc.wantReason == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			var de *choruspro.DocumentError
			if !errors.As(err, &de) || !errors.Is(err, choruspro.ErrInvalidDocument) || !strings.Contains(de.Reason, tc.wantReason) {
				t.Fatalf("got %v, want an ErrInvalidDocument saying %q", err, tc.wantReason)
			}
			if errors.Is(err, choruspro.ErrTooLarge) != tc.wantTooLarge {
				t.Errorf("got ErrTooLarge %t, want %t", errors.Is(err, choruspro.ErrTooLarge), tc.wantTooLarge)
			}
		})
	}
}

func TestDocumentsCheckedBeforeAnyCall(t *testing.T) {
	t.Parallel()
	e := startEmulator(t, chorusprotest.Config{})
	c := newClient(t, e.pisteConfig())
	tooBig := make([]byte, choruspro.MaxDocumentSize+1)
	copy(tooBig, "%PDF-")
	for _, tc := range []struct {
		name string
		call func() error
		want error
	}{
		{"PDF too large", func() error {
			_, err := c.DeposerPDF(context.Background(), choruspro.DeposerPDFRequest{FichierFacture: tooBig, NomFichier: "f.pdf"})
			return err
		}, choruspro.ErrTooLarge},
		{"not a PDF", func() error {
			_, err := c.DeposerPDF(context.Background(), choruspro.DeposerPDFRequest{FichierFacture: []byte("GIF89a"), NomFichier: "f.pdf"})
			return err
		}, choruspro.ErrInvalidDocument},
		{"name too long", func() error {
			_, err := c.DeposerFlux(context.Background(), choruspro.DeposerFluxRequest{FichierFlux: ublFlow("X"), NomFichier: strings.Repeat("x", 51) + ".xml", SyntaxeFlux: choruspro.SyntaxeUBL})
			return err
		}, choruspro.ErrInvalidDocument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var ce *choruspro.Error
			if !errors.As(err, &ce) || !errors.Is(err, tc.want) || ce.Retryable() || ce.OutcomeUnknown() {
				t.Fatalf("got %v, want a non-retryable %v", err, tc.want)
			}
		})
	}
	if n := len(e.emu.Requests(0)); n != 0 {
		t.Errorf("got %d calls to the emulator, want none", n)
	}
}

func TestLifecycleHelpers(t *testing.T) {
	t.Parallel()
	for _, s := range []choruspro.FlowState{choruspro.FlowIntegre, choruspro.FlowIntegrePartiel, choruspro.FlowRejete} {
		if !choruspro.FlowFinal(s) {
			t.Errorf("FlowFinal(%s): got false, want true", s)
		}
	}
	for _, s := range []choruspro.FlowState{choruspro.FlowRecu, choruspro.FlowEnAttenteTraitement, choruspro.FlowEnCoursTraitement,
		choruspro.FlowIncidente, choruspro.FlowARelancer, choruspro.FlowErreurInterne, "X"} {
		if choruspro.FlowFinal(s) {
			t.Errorf("FlowFinal(%s): got true, want false", s)
		}
	}
	final := []choruspro.InvoiceStatus{choruspro.StatusMiseEnPaiement, choruspro.StatusRejetee, choruspro.StatusAbandonnee, choruspro.StatusSupprimee}
	for _, s := range []choruspro.InvoiceStatus{choruspro.StatusDeposee, choruspro.StatusEnCoursAcheminement, choruspro.StatusMiseADisposition,
		choruspro.StatusPriseEnCompteDestinataire, choruspro.StatusServiceFait, choruspro.StatusMandatee, choruspro.StatusMiseEnPaiement,
		choruspro.StatusSuspendue, choruspro.StatusCompletee, choruspro.StatusARecycler, choruspro.StatusRejetee, choruspro.StatusInterpreteeOCR,
		choruspro.StatusComptabilisee, choruspro.StatusMiseADispositionComptable, choruspro.StatusAbandonnee, choruspro.StatusSupprimee} {
		want := false
		for _, f := range final {
			want = want || f == s
		}
		if got := choruspro.InvoiceFinal(s); got != want {
			t.Errorf("InvoiceFinal(%s): got %t, want %t", s, got, want)
		}
	}
}
