package chorusprotest_test

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/passerelle-dev/passerelle/workers/choruspro/chorusprotest"
)

func TestSoumettreBusinessRules(t *testing.T) {
	t.Parallel()
	h := start(t, chorusprotest.Config{})
	base := invoiceBody("F-2025-0001")
	mustOK(t, "first invoice", h.call("factures/v1/soumettre", base))
	pj := mustOK(t, "deposer/pdf", h.call("factures/v1/deposer/pdf", map[string]any{
		"fichierFacture": base64.StdEncoding.EncodeToString([]byte("%PDF-1.7\n%%EOF")),
		"formatDepot":    "PDF_NON_SIGNE",
		"nomFichier":     "facture.pdf",
	})).num("pieceJointeId")

	for _, tc := range []struct {
		name     string
		body     map[string]any
		wantCode int
		wantText string
	}{
		{"valid PDF mode", with(with(with(base, "numeroFactureSaisi", "F-2025-0002"), "modeDepot", "DEPOT_PDF_API"),
			"pieceJointePrincipale", []any{map[string]any{"pieceJointePrincipaleId": pj, "pieceJointePrincipaleDesignation": "Facture"}}), 0, ""},
		{"unknown recipient", with(with(base, "numeroFactureSaisi", "F-3"), "destinataire.codeDestinataire", "99999999999999"),
			chorusprotest.CodeDestinataireInconnu, "99999999999999"},
		{"service required", with(with(base, "numeroFactureSaisi", "F-4"), "destinataire.codeDestinataire", chorusprotest.SeedSIRETServiceRequired),
			chorusprotest.CodeServiceObligatoire, "code service"},
		{"inactive service", with(with(with(base, "numeroFactureSaisi", "F-5"), "destinataire.codeDestinataire", chorusprotest.SeedSIRETServiceRequired),
			"destinataire.codeServiceExecutant", chorusprotest.SeedCodeServiceInactif), chorusprotest.CodeServiceInconnu, chorusprotest.SeedCodeServiceInactif},
		{"service given", with(with(with(base, "numeroFactureSaisi", "F-6"), "destinataire.codeDestinataire", chorusprotest.SeedSIRETServiceRequired),
			"destinataire.codeServiceExecutant", chorusprotest.SeedCodeServiceActif), 0, ""},
		{"engagement required", with(with(base, "numeroFactureSaisi", "F-7"), "destinataire.codeDestinataire", chorusprotest.SeedSIRETEngagementRequired),
			chorusprotest.CodeEngagementObligatoire, "engagement"},
		{"engagement given", with(with(with(base, "numeroFactureSaisi", "F-8"), "destinataire.codeDestinataire", chorusprotest.SeedSIRETEngagementRequired),
			"references.numeroBonCommande", chorusprotest.SeedNumeroEngagement), 0, ""},
		{"service or engagement", with(with(base, "numeroFactureSaisi", "F-9"), "destinataire.codeDestinataire", chorusprotest.SeedSIRETServiceOrEngagement),
			chorusprotest.CodeEngagementObligatoire, "ou le code service"},
		{"inconsistent totals", with(with(base, "numeroFactureSaisi", "F-10"), "montantTotal.montantTtcTotal", 120.13),
			chorusprotest.CodeMontantsIncoherents, "120.13"},
		{"unknown attachment", with(with(with(base, "numeroFactureSaisi", "F-11"), "modeDepot", "DEPOT_PDF_API"),
			"pieceJointePrincipale", []any{map[string]any{"pieceJointePrincipaleId": 42}}), chorusprotest.CodePieceJointeInconnue, "42"},
		{"PDF mode without attachment", with(with(base, "numeroFactureSaisi", "F-12"), "modeDepot", "DEPOT_PDF_API"),
			chorusprotest.CodePieceJointeInconnue, "obligatoire"},
		{"duplicate", base, chorusprotest.CodeFactureEnDoublon, "F-2025-0001"},
		{"foreign supplier", with(with(base, "numeroFactureSaisi", "F-13"), "fournisseur.idFournisseur", 1),
			chorusprotest.CodeFournisseurNonRattache, "1"},
		{"wrong user", with(with(base, "numeroFactureSaisi", "F-14"), "idUtilisateurCourant", 7),
			chorusprotest.CodeFournisseurNonRattache, "7"},
		{"bad date", with(with(base, "numeroFactureSaisi", "F-15"), "dateFacture", "01/03/2025"),
			chorusprotest.CodeRequeteInvalide, "01/03/2025"},
		{"bad mode", with(with(base, "numeroFactureSaisi", "F-16"), "modeDepot", "PAPIER"),
			chorusprotest.CodeRequeteInvalide, "PAPIER"},
		{"no number", with(base, "numeroFactureSaisi", ""), chorusprotest.CodeRequeteInvalide, "numéro"},
		{"missing totals", with(with(base, "numeroFactureSaisi", "F-17"), "montantTotal", map[string]any{}),
			chorusprotest.CodeRequeteInvalide, "montant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := h.call("factures/v1/soumettre", tc.body)
			if tc.wantCode == 0 {
				mustOK(t, tc.name, a)
				if a.num("identifiantFactureCPP") == 0 || a.str("statutFacture") != "DEPOSEE" {
					t.Errorf("got %s, want an identifiantFactureCPP and statutFacture DEPOSEE", a.raw)
				}
				return
			}
			if a.status != http.StatusBadRequest || a.codeRetour() != tc.wantCode || !strings.Contains(a.str("libelle"), tc.wantText) {
				t.Errorf("got %d %s, want 400 codeRetour %d with a libelle mentioning %q", a.status, a.raw, tc.wantCode, tc.wantText)
			}
		})
	}
}

func TestInvoiceLifecycles(t *testing.T) {
	t.Parallel()
	happy := []string{"DEPOSEE", "EN_COURS_ACHEMINEMENT", "MISE_A_DISPOSITION", "PRISE_EN_COMPTE_DESTINATAIRE", "SERVICE_FAIT", "MANDATEE", "MISE_EN_PAIEMENT"}
	for _, tc := range []struct {
		name, numero, commentaire string
		want                      []string
		wantComment               string
	}{
		{"happy path", "F-OK-1", "", happy, ""},
		{"rejected by number", "F-REJETEE-1", "", []string{"DEPOSEE", "EN_COURS_ACHEMINEMENT", "MISE_A_DISPOSITION", "REJETEE"}, "rejetée"},
		{"suspended by comment", "F-2", "merci de SUSPENDUE",
			[]string{"DEPOSEE", "EN_COURS_ACHEMINEMENT", "MISE_A_DISPOSITION", "SUSPENDUE", "COMPLETEE", "MISE_A_DISPOSITION",
				"PRISE_EN_COMPTE_DESTINATAIRE", "SERVICE_FAIT", "MANDATEE", "MISE_EN_PAIEMENT"}, "suspendue"},
		{"to recycle", "F-a_recycler-3", "",
			[]string{"DEPOSEE", "EN_COURS_ACHEMINEMENT", "A_RECYCLER", "EN_COURS_ACHEMINEMENT", "MISE_A_DISPOSITION",
				"PRISE_EN_COMPTE_DESTINATAIRE", "SERVICE_FAIT", "MANDATEE", "MISE_EN_PAIEMENT"}, "recycler"},
		{"abandoned", "F-ABANDONNEE", "", []string{"DEPOSEE", "EN_COURS_ACHEMINEMENT", "ABANDONNEE"}, "abandonnée"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := start(t, chorusprotest.Config{})
			body := invoiceBody(tc.numero)
			if tc.commentaire != "" {
				body = with(body, "commentaire", tc.commentaire)
			}
			id := mustOK(t, "soumettre", h.call("factures/v1/soumettre", body)).num("identifiantFactureCPP")
			t0 := h.clock.Now()
			var seen []string
			for step := 0; step < len(tc.want)+2; step++ {
				codes, entries, current := h.history(id)
				if current != codes[len(codes)-1] {
					t.Fatalf("step %d: got statutCourantCode %s, want the newest history entry %s", step, current, codes[len(codes)-1])
				}
				last := entries[len(entries)-1]
				if want := t0.Add(time.Duration(len(codes)-1) * testStep); last["histoStatutDatePassage"] != want.Format("2006-01-02T15:04:05.000Z07:00") {
					t.Errorf("step %d: got date %v, want %s", step, last["histoStatutDatePassage"], want)
				}
				seen = codes
				h.clock.Advance(testStep)
			}
			if !slices.Equal(seen, tc.want) {
				t.Errorf("got history %v, want %v", seen, tc.want)
			}
			if tc.wantComment != "" {
				_, entries, _ := h.history(id)
				found := false
				for _, e := range entries {
					c, _ := e["histoStatutCommentaire"].(string)
					found = found || strings.Contains(strings.ToLower(c), tc.wantComment)
				}
				if !found {
					t.Errorf("got history %v, want a comment mentioning %q", entries, tc.wantComment)
				}
			}
		})
	}
}

func TestRechercherFacturesFournisseur(t *testing.T) {
	t.Parallel()
	h := start(t, chorusprotest.Config{})
	for i := range 25 {
		mustOK(t, "soumettre", h.call("factures/v1/soumettre", invoiceBody("F-P-"+string(rune('A'+i)))))
	}
	h.clock.Advance(2 * testStep)

	for _, tc := range []struct {
		name      string
		body      map[string]any
		wantCount int
		wantTotal int
		wantFirst string
	}{
		{"by number", map[string]any{"numeroFacture": "F-P-C"}, 1, 1, "F-P-C"},
		{"first page", map[string]any{"rechercheFactureParFournisseur": map[string]any{"nbResultatsParPage": 10, "pageResultatDemandee": 1}}, 10, 25, "F-P-A"},
		{"last page", map[string]any{"rechercheFactureParFournisseur": map[string]any{"nbResultatsParPage": 10, "pageResultatDemandee": 3}}, 5, 25, "F-P-U"},
		{"descending", map[string]any{"rechercheFactureParFournisseur": map[string]any{"nbResultatsParPage": 1, "triColonne": "NumeroFacture", "triSens": "Descendant"}}, 1, 25, "F-P-Y"},
		{"by status", map[string]any{"statutCourant": []string{"MISE_A_DISPOSITION"}, "rechercheFactureParFournisseur": map[string]any{"nbResultatsParPage": 100}}, 25, 25, "F-P-A"},
		{"by other status", map[string]any{"statutCourant": "DEPOSEE"}, 0, 0, ""},
		{"by date", map[string]any{"periodeDateDepotDu": "2025-03-11"}, 0, 0, ""},
		{"no match", map[string]any{"numeroFacture": "nope"}, 0, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := mustOK(t, tc.name, h.call("factures/v1/rechercher/fournisseur", tc.body))
			list, _ := a.body["listeFactures"].([]any)
			total := int(a.body["parametresRetour"].(map[string]any)["total"].(float64))
			if len(list) != tc.wantCount || total != tc.wantTotal {
				t.Fatalf("got %d results of %d, want %d of %d", len(list), total, tc.wantCount, tc.wantTotal)
			}
			if tc.wantFirst != "" {
				first := list[0].(map[string]any)
				if first["numeroFacture"] != tc.wantFirst || first["statut"] != "MISE_A_DISPOSITION" {
					t.Errorf("got first %v, want %s in MISE_A_DISPOSITION", first, tc.wantFirst)
				}
			}
		})
	}
}

func TestDeposerPDF(t *testing.T) {
	t.Parallel()
	h := start(t, chorusprotest.Config{})
	pdf := []byte("%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF")
	b64 := base64.StdEncoding.EncodeToString(pdf)
	big := base64.StdEncoding.EncodeToString(append([]byte("%PDF-"), make([]byte, 10*1024*1024)...))
	for _, tc := range []struct {
		name       string
		file, nom  string
		wantStatus int
	}{
		{"valid", b64, "facture.pdf", 200},
		{"line breaks", b64[:8] + "\r\n" + b64[8:], "facture.pdf", 400},
		{"not base64", "%%%", "facture.pdf", 400},
		{"not a PDF", base64.StdEncoding.EncodeToString([]byte("hello")), "facture.pdf", 400},
		{"wrong extension", b64, "facture.docx", 400},
		{"name too long", b64, strings.Repeat("n", 47) + ".pdf", 400},
		{"too large", big, "facture.pdf", 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := slices.Concat([]byte(`{"formatDepot":"PDF_NON_SIGNE","nomFichier":"`+tc.nom+`","fichierFacture":"`), []byte(tc.file), []byte(`"}`))
			if tc.name == "line breaks" {
				body = []byte(`{"formatDepot":"PDF_NON_SIGNE","nomFichier":"facture.pdf","fichierFacture":"` + strings.ReplaceAll(tc.file, "\r\n", `\r\n`) + `"}`)
			}
			a := h.call("factures/v1/deposer/pdf", body)
			if a.status != tc.wantStatus {
				t.Fatalf("got %d %s, want %d", a.status, a.raw, tc.wantStatus)
			}
			if tc.wantStatus == 200 && a.num("pieceJointeId") == 0 {
				t.Errorf("got %s, want a pieceJointeId", a.raw)
			}
			if tc.wantStatus != 200 && a.codeRetour() != chorusprotest.CodeFichierInvalide {
				t.Errorf("got %s, want codeRetour %d", a.raw, chorusprotest.CodeFichierInvalide)
			}
		})
	}

	t.Run("reads Factur-X", func(t *testing.T) {
		a := mustOK(t, "deposer/pdf", h.call("factures/v1/deposer/pdf", map[string]any{
			"fichierFacture": base64.StdEncoding.EncodeToString(facturX(t, ciiInvoice("FX-OCR-1", chorusprotest.SeedSIRETNoRule, "", "100.00", "20.00", "120.00"))),
			"formatDepot":    "PDF_NON_SIGNE",
			"nomFichier":     "fx.pdf",
		}))
		if a.str("numeroFacture") != "FX-OCR-1" || a.str("codeDestinataire") != chorusprotest.SeedSIRETNoRule || a.str("dateFacture") != "2025-03-01" {
			t.Errorf("got %s, want the fields of the embedded XML", a.raw)
		}
	})
}
