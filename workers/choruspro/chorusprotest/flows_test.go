package chorusprotest_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/passerelle-dev/passerelle/workers/choruspro/chorusprotest"
)

// ublInvoice is a small UBL 2.1 invoice.
func ublInvoice(numero, buyer, ht, tva, ttc string) []byte {
	return fmt.Appendf(nil, `<?xml version="1.0" encoding="UTF-8"?>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
 xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
 xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <cbc:CustomizationID>urn:cen.eu:en16931:2017</cbc:CustomizationID>
  <cbc:ID>%s</cbc:ID>
  <cbc:IssueDate>2025-03-01</cbc:IssueDate>
  <cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>
  <cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>
  <cac:AccountingSupplierParty><cac:Party>
    <cac:PartyLegalEntity><cbc:RegistrationName>PASSERELLE DEMO</cbc:RegistrationName><cbc:CompanyID schemeID="0009">%s</cbc:CompanyID></cac:PartyLegalEntity>
  </cac:Party></cac:AccountingSupplierParty>
  <cac:AccountingCustomerParty><cac:Party>
    <cac:PartyLegalEntity><cbc:RegistrationName>ACHETEUR</cbc:RegistrationName><cbc:CompanyID schemeID="0009">%s</cbc:CompanyID></cac:PartyLegalEntity>
  </cac:Party></cac:AccountingCustomerParty>
  <cac:TaxTotal><cbc:TaxAmount currencyID="EUR">%s</cbc:TaxAmount></cac:TaxTotal>
  <cac:LegalMonetaryTotal>
    <cbc:LineExtensionAmount currencyID="EUR">%s</cbc:LineExtensionAmount>
    <cbc:TaxExclusiveAmount currencyID="EUR">%s</cbc:TaxExclusiveAmount>
    <cbc:TaxInclusiveAmount currencyID="EUR">%s</cbc:TaxInclusiveAmount>
    <cbc:PayableAmount currencyID="EUR">%s</cbc:PayableAmount>
  </cac:LegalMonetaryTotal>
  <cac:InvoiceLine><cbc:ID>1</cbc:ID></cac:InvoiceLine>
</Invoice>`, numero, chorusprotest.SeedSIRETFournisseur, buyer, tva, ht, ht, ttc, ttc)
}

// ciiInvoice is a small CII D16B invoice; service is the BuyerReference.
func ciiInvoice(numero, buyer, service, ht, tva, ttc string) []byte {
	return fmt.Appendf(nil, `<?xml version="1.0" encoding="UTF-8"?>
<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
 xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
 xmlns:udt="urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100">
  <rsm:ExchangedDocumentContext><ram:GuidelineSpecifiedDocumentContextParameter><ram:ID>urn:cen.eu:en16931:2017</ram:ID></ram:GuidelineSpecifiedDocumentContextParameter></rsm:ExchangedDocumentContext>
  <rsm:ExchangedDocument>
    <ram:ID>%s</ram:ID>
    <ram:TypeCode>380</ram:TypeCode>
    <ram:IssueDateTime><udt:DateTimeString format="102">20250301</udt:DateTimeString></ram:IssueDateTime>
  </rsm:ExchangedDocument>
  <rsm:SupplyChainTradeTransaction>
    <ram:ApplicableHeaderTradeAgreement>
      <ram:BuyerReference>%s</ram:BuyerReference>
      <ram:SellerTradeParty><ram:Name>PASSERELLE DEMO</ram:Name><ram:SpecifiedLegalOrganization><ram:ID schemeID="0009">%s</ram:ID></ram:SpecifiedLegalOrganization></ram:SellerTradeParty>
      <ram:BuyerTradeParty><ram:Name>ACHETEUR</ram:Name><ram:SpecifiedLegalOrganization><ram:ID schemeID="0009">%s</ram:ID></ram:SpecifiedLegalOrganization></ram:BuyerTradeParty>
    </ram:ApplicableHeaderTradeAgreement>
    <ram:ApplicableHeaderTradeSettlement>
      <ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode>
      <ram:SpecifiedTradeSettlementHeaderMonetarySummation>
        <ram:TaxBasisTotalAmount>%s</ram:TaxBasisTotalAmount>
        <ram:TaxTotalAmount currencyID="EUR">%s</ram:TaxTotalAmount>
        <ram:GrandTotalAmount>%s</ram:GrandTotalAmount>
        <ram:DuePayableAmount>%s</ram:DuePayableAmount>
      </ram:SpecifiedTradeSettlementHeaderMonetarySummation>
    </ram:ApplicableHeaderTradeSettlement>
  </rsm:SupplyChainTradeTransaction>
</rsm:CrossIndustryInvoice>`, numero, service, chorusprotest.SeedSIRETFournisseur, buyer, ht, tva, ttc, ttc)
}

// facturX wraps a CII invoice, Flate-compressed, in a minimal PDF.
func facturX(t *testing.T, cii []byte) []byte {
	t.Helper()
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	if _, err := zw.Write(cii); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n")
	b.WriteString("2 0 obj\n<< /Length 12 >>\nstream\nBT /F1 12 Tf ET\nendstream\nendobj\n")
	fmt.Fprintf(&b, "3 0 obj\n<< /Type /EmbeddedFile /Subtype /text#2Fxml /Filter /FlateDecode /Length %d >>\nstream\n", z.Len())
	b.Write(z.Bytes())
	b.WriteString("\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")
	return b.Bytes()
}

// tarGz packs files into a .tar.gz.
func tarGz(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var b bytes.Buffer
	gz := gzip.NewWriter(&b)
	tw := tar.NewWriter(gz)
	for _, name := range []string{"a.xml", "b.xml", "c.xml", "visuel.pdf"} {
		data, ok := files[name]
		if !ok {
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestFlows(t *testing.T) {
	t.Parallel()
	noRule := chorusprotest.SeedSIRETNoRule
	for _, tc := range []struct {
		name, syntaxe, nom string
		file               func(t *testing.T) []byte
		wantState          string
		wantFound          []string // invoices findable once integrated
		wantDP             []string // numeroDP of listeErreurDP
		wantTech           string   // codeErreur
	}{
		{"UBL", "IN_DP_E1_UBL_INVOICE", "f.xml",
			func(*testing.T) []byte { return ublInvoice("UBL-1", noRule, "100.00", "20.00", "120.00") },
			"IN_INTEGRE", []string{"UBL-1"}, nil, ""},
		{"CII", "IN_DP_E1_CII_16B", "f.xml",
			func(*testing.T) []byte {
				return ciiInvoice("CII-1", chorusprotest.SeedSIRETServiceRequired, chorusprotest.SeedCodeServiceActif, "10", "2", "12")
			},
			"IN_INTEGRE", []string{"CII-1"}, nil, ""},
		{"Factur-X", "IN_DP_E2_CII_FACTURX", "f.pdf",
			func(t *testing.T) []byte { return facturX(t, ciiInvoice("FX-1", noRule, "", "10", "2", "12")) },
			"IN_INTEGRE", []string{"FX-1"}, nil, ""},
		{"partial", "IN_DP_E1_UBL_INVOICE", "lot.tar.gz",
			func(t *testing.T) []byte {
				return tarGz(t, map[string][]byte{
					"a.xml":      ublInvoice("LOT-1", noRule, "10", "2", "12"),
					"b.xml":      ublInvoice("LOT-2", "99999999999999", "10", "2", "12"),
					"c.xml":      ublInvoice("LOT-3", noRule, "10", "2", "13"),
					"visuel.pdf": []byte("%PDF-1.4 visual"),
				})
			},
			"IN_INTEGRE_PARTIEL", []string{"LOT-1"}, []string{"LOT-2", "LOT-3"}, ""},
		{"all rejected", "IN_DP_E1_UBL_INVOICE", "f.xml",
			func(*testing.T) []byte {
				return ublInvoice("REJ-1", chorusprotest.SeedSIRETServiceRequired, "10", "2", "12")
			},
			"IN_REJETE", nil, []string{"REJ-1"}, ""},
		{"syntax mismatch", "IN_DP_E1_UBL_INVOICE", "f.xml",
			func(*testing.T) []byte { return ciiInvoice("CII-2", noRule, "", "10", "2", "12") },
			"IN_REJETE", nil, nil, "REJ_SYNTAXE"},
		{"malformed", "IN_DP_E1_CII_16B", "f.xml",
			func(*testing.T) []byte { return []byte("<rsm:CrossIndustryInvoice><unclosed>") },
			"IN_REJETE", nil, nil, "REJ_FORMAT"},
		{"PDF without XML", "IN_DP_E2_CII_FACTURX", "f.pdf",
			func(*testing.T) []byte { return []byte("%PDF-1.7\n%%EOF") },
			"IN_REJETE", nil, nil, "REJ_FACTURX"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := start(t, chorusprotest.Config{})
			dep := mustOK(t, "deposer/flux", h.call("factures/v1/deposer/flux", map[string]any{
				"fichierFlux":   base64.StdEncoding.EncodeToString(tc.file(t)),
				"nomFichier":    tc.nom,
				"syntaxeFlux":   tc.syntaxe,
				"avecSignature": false,
			}))
			numero := dep.str("numeroFluxDepot")
			if len(numero) != 25 || !strings.HasPrefix(numero, "CPP") {
				t.Fatalf("got numeroFluxDepot %q, want CPP and 22 digits", numero)
			}
			cr := func() answer {
				return mustOK(t, "consulterCRDetaille", h.call("transverses/v1/consulterCRDetaille",
					map[string]any{"numeroFluxDepot": numero, "syntaxeFlux": tc.syntaxe}))
			}
			for _, want := range []string{"IN_RECU", "IN_EN_ATTENTE_TRAITEMENT_CPP", "IN_EN_COURS_TRAITEMENT_CPP"} {
				if got := cr().str("etatCourantDepotFlux"); got != want {
					t.Fatalf("got state %s, want %s", got, want)
				}
				if n := len(h.findByFlow(numero)); n != 0 {
					t.Fatalf("in %s: got %d invoices, want none before integration", want, n)
				}
				h.clock.Advance(testStep)
			}
			final := cr()
			if got := final.str("etatCourantDepotFlux"); got != tc.wantState {
				t.Fatalf("got final state %s (%s), want %s", got, final.raw, tc.wantState)
			}
			if got := h.findByFlow(numero); strings.Join(got, ",") != strings.Join(tc.wantFound, ",") {
				t.Errorf("got invoices %v, want %v", got, tc.wantFound)
			}
			var dps []string
			if list, ok := final.body["listeErreurDP"].([]any); ok {
				for _, e := range list {
					m := e.(map[string]any)
					dps = append(dps, m["numeroDP"].(string))
					if m["libelleErreurDP"] == "" || m["identifiantFournisseur"] != chorusprotest.SeedSIRETFournisseur {
						t.Errorf("got erreur DP %v, want a libelle and the supplier's SIRET", m)
					}
				}
			}
			if strings.Join(dps, ",") != strings.Join(tc.wantDP, ",") {
				t.Errorf("got listeErreurDP %v, want %v", dps, tc.wantDP)
			}
			tech := ""
			if list, ok := final.body["listeErreurTechnique"].([]any); ok && len(list) > 0 {
				tech = list[0].(map[string]any)["codeErreur"].(string)
			}
			if tech != tc.wantTech {
				t.Errorf("got listeErreurTechnique code %q (%s), want %q", tech, final.raw, tc.wantTech)
			}
			for _, n := range tc.wantFound {
				a := mustOK(t, "rechercher", h.call("factures/v1/rechercher/fournisseur", map[string]any{"numeroFacture": n}))
				if list := a.body["listeFactures"].([]any); len(list) != 1 || list[0].(map[string]any)["statut"] != "DEPOSEE" {
					t.Errorf("search by %s: got %s, want one invoice in DEPOSEE", n, a.raw)
				}
			}
		})
	}

	t.Run("refused at deposit", func(t *testing.T) {
		t.Parallel()
		h := start(t, chorusprotest.Config{})
		good := base64.StdEncoding.EncodeToString(ublInvoice("X", noRule, "1", "0", "1"))
		for _, tc := range []struct {
			name                string
			file, nom, syntaxe  string
			wantStatus, wantRet int
		}{
			{"unknown syntax", good, "f.xml", "IN_DP_E9", 400, chorusprotest.CodeRequeteInvalide},
			{"line breaks", good[:10] + "\n" + good[10:], "f.xml", "IN_DP_E1_UBL_INVOICE", 400, chorusprotest.CodeFichierInvalide},
			{"bad extension", good, "f.txt", "IN_DP_E1_UBL_INVOICE", 400, chorusprotest.CodeFichierInvalide},
			{"unknown flow", "", "", "", 400, chorusprotest.CodeFluxInconnu},
		} {
			var a answer
			if tc.name == "unknown flow" {
				a = h.call("transverses/v1/consulterCRDetaille", map[string]any{"numeroFluxDepot": "CPP0"})
			} else {
				a = h.call("factures/v1/deposer/flux", map[string]any{"fichierFlux": tc.file, "nomFichier": tc.nom, "syntaxeFlux": tc.syntaxe})
			}
			if a.status != tc.wantStatus || a.codeRetour() != tc.wantRet {
				t.Errorf("%s: got %d %s, want %d codeRetour %d", tc.name, a.status, a.raw, tc.wantStatus, tc.wantRet)
			}
		}
	})

	t.Run("duplicate of a submitted invoice", func(t *testing.T) {
		t.Parallel()
		h := start(t, chorusprotest.Config{})
		mustOK(t, "soumettre", h.call("factures/v1/soumettre", invoiceBody("DUP-1")))
		numero := mustOK(t, "deposer/flux", h.call("factures/v1/deposer/flux", map[string]any{
			"fichierFlux": base64.StdEncoding.EncodeToString(ublInvoice("DUP-1", noRule, "1", "0", "1")),
			"nomFichier":  "dup.xml", "syntaxeFlux": "IN_DP_E1_UBL_INVOICE",
		})).str("numeroFluxDepot")
		h.clock.Advance(3 * testStep)
		a := mustOK(t, "cr", h.call("transverses/v1/consulterCRDetaille", map[string]any{"numeroFluxDepot": numero}))
		if a.str("etatCourantDepotFlux") != "IN_REJETE" || !strings.Contains(string(a.raw), "existe déjà") {
			t.Errorf("got %s, want IN_REJETE with a duplicate error", a.raw)
		}
		recs := h.emu.Requests(0)
		last := recs[len(recs)-1]
		if last.NumeroFluxDepot != numero || last.Operation != "consulterCRDetaille" {
			t.Errorf("got last record %+v, want consulterCRDetaille of %s", last, numero)
		}
	})
}

// findByFlow returns the numbers of the invoices of a flow, by search.
func (h *harness) findByFlow(numeroFlux string) []string {
	h.t.Helper()
	a := mustOK(h.t, "rechercher", h.call("factures/v1/rechercher/fournisseur", map[string]any{"numeroFluxDepot": numeroFlux}))
	var out []string
	for _, f := range a.body["listeFactures"].([]any) {
		out = append(out, f.(map[string]any)["numeroFacture"].(string))
	}
	return out
}
