package choruspro

import (
	"context"
	"encoding/json"
	"net/http"
)

// SoumettreRequest submits an invoice (factures/v1/soumettre).
type SoumettreRequest struct {
	// ModeDepot is ModeDepotSaisieAPI, ModeDepotPDFAPI or
	// ModeDepotPDFSigneAPI.
	ModeDepot string `json:"modeDepot"`
	// NumeroFactureSaisi is the supplier's invoice number; Chorus Pro refuses
	// a second invoice with the same supplier and number.
	NumeroFactureSaisi string `json:"numeroFactureSaisi,omitempty"`
	// DateFacture is YYYY-MM-DD.
	DateFacture           string                  `json:"dateFacture,omitempty"`
	IDUtilisateurCourant  int64                   `json:"idUtilisateurCourant,omitempty"`
	Commentaire           string                  `json:"commentaire,omitempty"`
	CadreDeFacturation    CadreDeFacturation      `json:"cadreDeFacturation"`
	Destinataire          Destinataire            `json:"destinataire"`
	Fournisseur           Fournisseur             `json:"fournisseur"`
	References            References              `json:"references"`
	LignePoste            []LignePoste            `json:"lignePoste,omitempty"`
	LigneTva              []LigneTva              `json:"ligneTva,omitempty"`
	MontantTotal          MontantTotal            `json:"montantTotal"`
	PieceJointePrincipale []PieceJointePrincipale `json:"pieceJointePrincipale,omitempty"`
}

// CadreDeFacturation is the billing frame of an invoice.
type CadreDeFacturation struct {
	// CodeCadreFacturation is e.g. CadreFactureFournisseur.
	CodeCadreFacturation  string `json:"codeCadreFacturation"`
	CodeServiceValideur   string `json:"codeServiceValideur,omitempty"`
	CodeStructureValideur string `json:"codeStructureValideur,omitempty"`
}

// Destinataire is the invoice's recipient: its SIRET and, when its rules ask
// for it, the executing service's code.
type Destinataire struct {
	CodeDestinataire     string `json:"codeDestinataire"`
	CodeServiceExecutant string `json:"codeServiceExecutant,omitempty"`
}

// Fournisseur is the invoicing supplier: its Chorus Pro structure id.
type Fournisseur struct {
	IDFournisseur                       int64 `json:"idFournisseur"`
	CodeCoordonneesBancairesFournisseur int64 `json:"codeCoordonneesBancairesFournisseur,omitempty"`
	IDServiceFournisseur                int64 `json:"idServiceFournisseur,omitempty"`
}

// References are the invoice's references. NumeroBonCommande is the
// engagement number some recipients require.
type References struct {
	DeviseFacture        string `json:"deviseFacture,omitempty"`
	TypeFacture          string `json:"typeFacture,omitempty"`
	TypeTva              string `json:"typeTva,omitempty"`
	ModePaiement         string `json:"modePaiement,omitempty"`
	NumeroBonCommande    string `json:"numeroBonCommande,omitempty"`
	NumeroMarche         string `json:"numeroMarche,omitempty"`
	MotifExonerationTva  string `json:"motifExonerationTva,omitempty"`
	NumeroFactureOrigine string `json:"numeroFactureOrigine,omitempty"`
}

// LignePoste is an invoice line.
type LignePoste struct {
	LignePosteNumero            int         `json:"lignePosteNumero"`
	LignePosteReference         string      `json:"lignePosteReference,omitempty"`
	LignePosteDenomination      string      `json:"lignePosteDenomination,omitempty"`
	LignePosteQuantite          json.Number `json:"lignePosteQuantite,omitempty"`
	LignePosteUnite             string      `json:"lignePosteUnite,omitempty"`
	LignePosteMontantUnitaireHT json.Number `json:"lignePosteMontantUnitaireHT,omitempty"`
	LignePosteMontantRemiseHT   json.Number `json:"lignePosteMontantRemiseHT,omitempty"`
	LignePosteTauxTva           string      `json:"lignePosteTauxTva,omitempty"`
	LignePosteTauxTvaManuel     json.Number `json:"lignePosteTauxTvaManuel,omitempty"`
}

// LigneTva is a VAT summary line.
type LigneTva struct {
	LigneTvaTauxRefCode          string      `json:"ligneTvaTauxRefCode,omitempty"`
	LigneTvaTauxManuel           json.Number `json:"ligneTvaTauxManuel,omitempty"`
	LigneTvaMontantBaseHtParTaux json.Number `json:"ligneTvaMontantBaseHtParTaux,omitempty"`
	LigneTvaMontantTvaParTaux    json.Number `json:"ligneTvaMontantTvaParTaux,omitempty"`
}

// MontantTotal holds the invoice totals; Chorus Pro checks that
// montantHtTotal + montantTVA = montantTtcTotal.
type MontantTotal struct {
	MontantHtTotal          json.Number `json:"montantHtTotal"`
	MontantTVA              json.Number `json:"montantTVA"`
	MontantTtcTotal         json.Number `json:"montantTtcTotal"`
	MontantRemiseGlobaleTTC json.Number `json:"montantRemiseGlobaleTTC,omitempty"`
	MotifRemiseGlobaleTTC   string      `json:"motifRemiseGlobaleTTC,omitempty"`
	MontantAPayer           json.Number `json:"montantAPayer,omitempty"`
}

// PieceJointePrincipale references a PDF deposited with DeposerPDF.
type PieceJointePrincipale struct {
	PieceJointePrincipaleDesignation string `json:"pieceJointePrincipaleDesignation,omitempty"`
	PieceJointePrincipaleID          int64  `json:"pieceJointePrincipaleId"`
}

// SoumettreResponse is the answer to Soumettre.
type SoumettreResponse struct {
	Retour
	IdentifiantFactureCPP    int64         `json:"identifiantFactureCPP"`
	NumeroFacture            string        `json:"numeroFacture"`
	StatutFacture            InvoiceStatus `json:"statutFacture"`
	DateDepot                string        `json:"dateDepot,omitempty"`
	IdentifiantStructure     string        `json:"identifiantStructure,omitempty"`
	EmpreinteCertificatDepot string        `json:"empreinteCertificatDepot,omitempty"`
}

// Soumettre submits an invoice. Business refusals (unknown recipient,
// missing service code or engagement number, inconsistent totals, duplicate
// number...) are *Error matching ErrBusiness with codeRetour and libelle.
// A non-idempotent operation: after an error whose OutcomeUnknown is true,
// look the invoice up (RechercherFacturesFournisseur by numeroFacture) before
// submitting again.
func (c *Client) Soumettre(ctx context.Context, req SoumettreRequest) (*SoumettreResponse, error) {
	var out SoumettreResponse
	if err := c.call(ctx, "Soumettre", http.MethodPost, "/factures/v1/soumettre", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
