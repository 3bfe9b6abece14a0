package choruspro_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/passerelle-dev/passerelle/workers/choruspro"
	"github.com/passerelle-dev/passerelle/workers/choruspro/chorusprotest"
	"github.com/passerelle-dev/passerelle/workers/clocktest"
	"software.sslmate.com/src/go-pkcs12"
)

// invoice is a valid submission for the no-rule seed recipient.
func invoice(numero string) choruspro.SoumettreRequest {
	return choruspro.SoumettreRequest{
		ModeDepot:            choruspro.ModeDepotSaisieAPI,
		NumeroFactureSaisi:   numero,
		DateFacture:          "2025-03-01",
		IDUtilisateurCourant: chorusprotest.SeedIDUtilisateurCourant,
		CadreDeFacturation:   choruspro.CadreDeFacturation{CodeCadreFacturation: choruspro.CadreFactureFournisseur},
		Destinataire:         choruspro.Destinataire{CodeDestinataire: chorusprotest.SeedSIRETNoRule},
		Fournisseur:          choruspro.Fournisseur{IDFournisseur: chorusprotest.SeedIDFournisseur},
		References: choruspro.References{DeviseFacture: "EUR", TypeFacture: choruspro.TypeFactureFacture,
			TypeTva: "TVA_SUR_DEBIT", ModePaiement: "VIREMENT"},
		LignePoste: []choruspro.LignePoste{{LignePosteNumero: 1, LignePosteDenomination: "Prestation",
			LignePosteQuantite: "1", LignePosteMontantUnitaireHT: "1000.10", LignePosteTauxTvaManuel: "20"}},
		LigneTva:     []choruspro.LigneTva{{LigneTvaMontantBaseHtParTaux: "1000.10", LigneTvaMontantTvaParTaux: "200.02", LigneTvaTauxManuel: "20"}},
		MontantTotal: choruspro.MontantTotal{MontantHtTotal: "1000.10", MontantTVA: "200.02", MontantTtcTotal: "1200.12", MontantAPayer: "1200.12"},
	}
}

// ublFlow is a UBL invoice for the no-rule recipient.
func ublFlow(numero string) []byte {
	return fmt.Appendf(nil, `<?xml version="1.0" encoding="UTF-8"?>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
 xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
 xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <cbc:ID>%s</cbc:ID><cbc:IssueDate>2025-03-01</cbc:IssueDate>
  <cac:AccountingCustomerParty><cac:Party><cbc:EndpointID schemeID="0009">%s</cbc:EndpointID></cac:Party></cac:AccountingCustomerParty>
  <cac:TaxTotal><cbc:TaxAmount currencyID="EUR">20.00</cbc:TaxAmount></cac:TaxTotal>
  <cac:LegalMonetaryTotal><cbc:TaxExclusiveAmount currencyID="EUR">100.00</cbc:TaxExclusiveAmount>
  <cbc:TaxInclusiveAmount currencyID="EUR">120.00</cbc:TaxInclusiveAmount></cac:LegalMonetaryTotal>
</Invoice>`, numero, chorusprotest.SeedSIRETNoRule)
}

// facturXPDF is a minimal PDF embedding a compressed CII invoice.
func facturXPDF(t *testing.T, numero string) []byte {
	t.Helper()
	cii := fmt.Sprintf(`<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100" xmlns:ram="r" xmlns:udt="u">
<rsm:ExchangedDocument><ram:ID>%s</ram:ID><ram:IssueDateTime><udt:DateTimeString format="102">20250301</udt:DateTimeString></ram:IssueDateTime></rsm:ExchangedDocument>
<rsm:SupplyChainTradeTransaction><ram:ApplicableHeaderTradeAgreement><ram:BuyerTradeParty><ram:SpecifiedLegalOrganization><ram:ID>%s</ram:ID></ram:SpecifiedLegalOrganization></ram:BuyerTradeParty></ram:ApplicableHeaderTradeAgreement></rsm:SupplyChainTradeTransaction>
</rsm:CrossIndustryInvoice>`, numero, chorusprotest.SeedSIRETNoRule)
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	_, _ = zw.Write([]byte(cii))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return slices.Concat([]byte("%PDF-1.7\n1 0 obj\n<< /Filter /FlateDecode >>\nstream\n"), z.Bytes(), []byte("\nendstream\nendobj\n%%EOF\n"))
}

func TestEveryEndpointPISTE(t *testing.T) {
	t.Parallel()
	clock := clocktest.New(time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC))
	e := startEmulator(t, chorusprotest.Config{Now: clock.Now, Step: time.Minute})
	c := newClient(t, e.pisteConfig())
	ctx := context.Background()

	if err := c.HealthCheck(ctx); err != nil {
		t.Fatalf("HealthCheck: %v", err)
	}

	found, err := c.RechercherStructures(ctx, choruspro.RechercherStructuresRequest{
		Structure: choruspro.CritereStructure{IdentifiantStructure: chorusprotest.SeedSIRETServiceRequired, TypeIdentifiantStructure: "SIRET"}})
	if err != nil || len(found.ListeStructures) != 1 || found.ListeStructures[0].IDStructureCPP != chorusprotest.SeedIDStructureServiceRequired {
		t.Fatalf("RechercherStructures: got %+v, %v; want the seeded recipient", found, err)
	}
	rules, err := c.ConsulterStructure(ctx, choruspro.ConsulterStructureRequest{IDStructureCPP: found.ListeStructures[0].IDStructureCPP, CodeLangue: "fr"})
	if err != nil || !rules.Parametres.CodeServiceDoitEtreRenseigne || rules.Parametres.NumeroEJDoitEtreRenseigne {
		t.Fatalf("ConsulterStructure: got %+v, %v; want a service code required, no engagement", rules, err)
	}
	services, err := c.RechercherServicesStructure(ctx, choruspro.RechercherServicesStructureRequest{IDStructure: chorusprotest.SeedIDStructureServiceRequired})
	if err != nil || len(services.ListeServices) != 2 || services.ListeServices[0].CodeService != chorusprotest.SeedCodeServiceActif || !services.ListeServices[0].EstActif {
		t.Fatalf("RechercherServicesStructure: got %+v, %v", services, err)
	}

	pdf, err := c.DeposerPDF(ctx, choruspro.DeposerPDFRequest{
		IDUtilisateurCourant: chorusprotest.SeedIDUtilisateurCourant, FichierFacture: facturXPDF(t, "FX-OCR"), NomFichier: "facture.pdf"})
	if err != nil || pdf.PieceJointeID == 0 || pdf.NumeroFacture != "FX-OCR" {
		t.Fatalf("DeposerPDF: got %+v, %v; want an attachment id and the number read", pdf, err)
	}
	req := invoice("F-2025-0042")
	req.ModeDepot = choruspro.ModeDepotPDFAPI
	req.PieceJointePrincipale = []choruspro.PieceJointePrincipale{{PieceJointePrincipaleDesignation: "Facture", PieceJointePrincipaleID: pdf.PieceJointeID}}
	sub, err := c.Soumettre(ctx, req)
	if err != nil || sub.IdentifiantFactureCPP == 0 || sub.StatutFacture != choruspro.StatusDeposee || sub.NumeroFacture != "F-2025-0042" {
		t.Fatalf("Soumettre: got %+v, %v; want a DEPOSEE invoice", sub, err)
	}

	flux, err := c.DeposerFlux(ctx, choruspro.DeposerFluxRequest{FichierFlux: ublFlow("UBL-0042"), NomFichier: "ubl.xml", SyntaxeFlux: choruspro.SyntaxeUBL})
	if err != nil || !strings.HasPrefix(flux.NumeroFluxDepot, "CPP") {
		t.Fatalf("DeposerFlux: got %+v, %v", flux, err)
	}
	var states []choruspro.FlowState
	for range 5 {
		cr, err := c.ConsulterCRDetaille(ctx, choruspro.ConsulterCRDetailleRequest{NumeroFluxDepot: flux.NumeroFluxDepot, SyntaxeFlux: choruspro.SyntaxeUBL})
		if err != nil {
			t.Fatalf("ConsulterCRDetaille: %v", err)
		}
		states = append(states, cr.EtatCourantDepotFlux)
		if choruspro.FlowFinal(cr.EtatCourantDepotFlux) {
			break
		}
		clock.Advance(time.Minute)
	}
	want := []choruspro.FlowState{choruspro.FlowRecu, choruspro.FlowEnAttenteTraitement, choruspro.FlowEnCoursTraitement, choruspro.FlowIntegre}
	if !slices.Equal(states, want) {
		t.Fatalf("flow states: got %v, want %v", states, want)
	}
	byFlow, err := c.RechercherFacturesFournisseur(ctx, choruspro.RechercherFacturesFournisseurRequest{NumeroFluxDepot: flux.NumeroFluxDepot,
		RechercheFactureParFournisseur: &choruspro.Pagination{NbResultatsParPage: 10, PageResultatDemandee: 1}})
	if err != nil || len(byFlow.ListeFactures) != 1 || byFlow.ListeFactures[0].NumeroFacture != "UBL-0042" || byFlow.ParametresRetour.Total != 1 {
		t.Fatalf("RechercherFacturesFournisseur by flow: got %+v, %v", byFlow, err)
	}
	byNumber, err := c.RechercherFacturesFournisseur(ctx, choruspro.RechercherFacturesFournisseurRequest{NumeroFacture: "F-2025-0042"})
	if err != nil || len(byNumber.ListeFactures) != 1 || byNumber.ListeFactures[0].MontantTTC.String() != "1200.12" {
		t.Fatalf("RechercherFacturesFournisseur by number: got %+v, %v; want the exact amount 1200.12", byNumber, err)
	}

	for range 10 {
		clock.Advance(time.Minute)
	}
	hist, err := c.ConsulterHistorique(ctx, choruspro.ConsulterHistoriqueRequest{IDFacture: sub.IdentifiantFactureCPP})
	if err != nil || hist.StatutCourantCode != choruspro.StatusMiseEnPaiement || !choruspro.InvoiceFinal(hist.StatutCourantCode) ||
		len(hist.HistoriquesDesStatuts.HistoStatut) != 7 || hist.HistoriquesDesStatuts.HistoStatut[0].HistoStatutDatePassage == "" {
		t.Fatalf("ConsulterHistorique: got %+v, %v; want 7 dated statuses up to MISE_EN_PAIEMENT", hist, err)
	}
}

func TestHeadersOnEveryCall(t *testing.T) {
	t.Parallel()
	e := startEmulator(t, chorusprotest.Config{})
	var rec headerRecorder
	c := newClient(t, e.pisteConfig(), choruspro.WithTransportWrapper(rec.wrap))
	ctx := context.Background()
	for i := range 3 {
		if _, err := c.Soumettre(ctx, invoice(fmt.Sprintf("H-%d", i))); err != nil {
			t.Fatalf("Soumettre: %v", err)
		}
	}
	if err := c.HealthCheck(ctx); err != nil {
		t.Fatalf("HealthCheck: %v", err)
	}
	wantAccount := base64.StdEncoding.EncodeToString([]byte(chorusprotest.SeedLogin + ":" + chorusprotest.SeedPassword))
	business := 0
	for i, h := range rec.headers {
		if strings.HasSuffix(rec.paths[i], "/api/oauth/token") {
			continue
		}
		business++
		if !strings.HasPrefix(h.Get("Authorization"), "Bearer ") || h.Get("cpro-account") != wantAccount {
			t.Errorf("call %d (%s): got Authorization %q cpro-account %q, want a bearer token and the account", i, rec.paths[i], h.Get("Authorization"), h.Get("cpro-account"))
		}
		if h.Get("Accept") != "application/json;charset=utf-8" {
			t.Errorf("call %d: got Accept %q", i, h.Get("Accept"))
		}
		if strings.HasSuffix(rec.paths[i], "/soumettre") && h.Get("Content-Type") != "application/json;charset=utf-8" {
			t.Errorf("call %d: got Content-Type %q", i, h.Get("Content-Type"))
		}
	}
	if business != 4 || e.count("token") != 1 {
		t.Errorf("got %d business calls and %d token fetches, want 4 and 1", business, e.count("token"))
	}
}

func TestDirectModeWithClientCertificate(t *testing.T) {
	t.Parallel()
	ca := newPKI(t)
	e := startMTLS(t, ca, chorusprotest.Config{})
	directConfig := func(p12 []byte) choruspro.Config {
		return choruspro.Config{
			BaseURL: e.srv.URL + "/service-qualif", Auth: choruspro.AuthDirect,
			Login: chorusprotest.SeedLogin, Password: chorusprotest.SeedPassword,
			P12: p12, P12Password: secretP12, ExtraCAPEM: ca.pem, Timeout: 10 * time.Second,
		}
	}
	valid := func(enc *pkcs12.Encoder) []byte {
		return ca.clientP12(t, enc, secretP12, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), x509.ExtKeyUsageClientAuth)
	}
	for _, tc := range []struct {
		name string
		enc  *pkcs12.Encoder
	}{{"modern .p12", pkcs12.Modern}, {"legacy RC2 .p12", pkcs12.LegacyRC2}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newClient(t, directConfig(valid(tc.enc)))
			res, err := c.Soumettre(context.Background(), invoice("D-"+strings.ReplaceAll(tc.name, " ", "-")))
			if err != nil || res.IdentifiantFactureCPP == 0 {
				t.Fatalf("Soumettre: got %+v, %v; want an invoice", res, err)
			}
		})
	}

	t.Run("wrong technical password", func(t *testing.T) {
		t.Parallel()
		cfg := directConfig(valid(pkcs12.Modern))
		cfg.Password = secretPassword
		_, err := newClient(t, cfg).Soumettre(context.Background(), invoice("D-bad"))
		var ce *choruspro.Error
		if !errors.As(err, &ce) || !errors.Is(err, choruspro.ErrAuth) || ce.HTTPStatus != 401 || !strings.Contains(ce.WWWAuthenticate, "login or password incorrects") {
			t.Fatalf("got %v, want ErrAuth 401 with the WWW-Authenticate text", err)
		}
		assertNoSecret(t, err.Error())
	})

	t.Run("certificate from another CA", func(t *testing.T) {
		t.Parallel()
		other := newPKI(t)
		p12 := other.clientP12(t, pkcs12.Modern, secretP12, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), x509.ExtKeyUsageClientAuth)
		_, err := newClient(t, directConfig(p12)).Soumettre(context.Background(), invoice("D-other"))
		var ce *choruspro.Error
		if !errors.As(err, &ce) || ce.Retryable() || ce.OutcomeUnknown() {
			t.Fatalf("got %v, want a non-retryable TLS error with a known outcome", err)
		}
		for _, r := range e.emu.Requests(0) {
			if r.NumeroFacture == "D-other" {
				t.Errorf("got %+v, want the call refused during the TLS handshake", r)
			}
		}
	})

	t.Run("server not trusted without ExtraCAPEM", func(t *testing.T) {
		t.Parallel()
		cfg := directConfig(valid(pkcs12.Modern))
		cfg.ExtraCAPEM = nil
		err := newClient(t, cfg).HealthCheck(context.Background())
		var ce *choruspro.Error
		if !errors.As(err, &ce) || ce.Retryable() || ce.OutcomeUnknown() || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("got %v, want a non-retryable certificate error", err)
		}
	})
}

func TestHealthCheckAcceptsAnyBody(t *testing.T) {
	t.Parallel()
	for _, body := range []string{"OK", `{"status":"ok"}`, ""} {
		srv := stubServer(t, http.StatusOK, body, nil)
		if err := stubClient(t, srv).HealthCheck(context.Background()); err != nil {
			t.Errorf("body %q: got %v, want nil", body, err)
		}
	}
}
