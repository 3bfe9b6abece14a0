package choruspro

import (
	"context"
	"encoding/json"
	"net/http"
)

// Pagination asks for one page of results.
type Pagination struct {
	// NbResultatsParPage is the page size; PageResultatDemandee starts at 1.
	NbResultatsParPage   int    `json:"nbResultatsParPage,omitempty"`
	PageResultatDemandee int    `json:"pageResultatDemandee,omitempty"`
	TriColonne           string `json:"triColonne,omitempty"`
	// TriSens is "Ascendant" or "Descendant".
	TriSens string `json:"triSens,omitempty"`
}

// ParametresRetour describes the page returned.
type ParametresRetour struct {
	PageCourante       int `json:"pageCourante"`
	Pages              int `json:"pages"`
	Total              int `json:"total"`
	NbResultatsParPage int `json:"nbResultatsParPage"`
}

// RechercherFacturesFournisseurRequest searches the supplier's invoices
// (factures/v1/rechercher/fournisseur). Every criterion is optional.
type RechercherFacturesFournisseurRequest struct {
	IDUtilisateurCourant int64  `json:"idUtilisateurCourant,omitempty"`
	IDFournisseur        int64  `json:"idFournisseur,omitempty"`
	NumeroFluxDepot      string `json:"numeroFluxDepot,omitempty"`
	NumeroFacture        string `json:"numeroFacture,omitempty"`
	// StatutCourant keeps the invoices in one of these statuses.
	StatutCourant []InvoiceStatus `json:"statutCourant,omitempty"`
	// PeriodeDateDepotDu and PeriodeDateDepotAu bound the deposit date,
	// YYYY-MM-DD, inclusive.
	PeriodeDateDepotDu             string      `json:"periodeDateDepotDu,omitempty"`
	PeriodeDateDepotAu             string      `json:"periodeDateDepotAu,omitempty"`
	TypeFacture                    string      `json:"typeFacture,omitempty"`
	RechercheFactureParFournisseur *Pagination `json:"rechercheFactureParFournisseur,omitempty"`
}

// FactureFournisseur is one invoice found.
type FactureFournisseur struct {
	IdentifiantFactureCPP   int64         `json:"identifiantFactureCPP"`
	NumeroFacture           string        `json:"numeroFacture"`
	Statut                  InvoiceStatus `json:"statut"`
	NumeroFluxDepot         string        `json:"numeroFluxDepot,omitempty"`
	DateDepot               string        `json:"dateDepot,omitempty"`
	DateFacture             string        `json:"dateFacture,omitempty"`
	DateHeureEtatCourant    string        `json:"dateHeureEtatCourant,omitempty"`
	CommentaireEtatCourant  string        `json:"commentaireEtatCourant,omitempty"`
	ModeDepot               string        `json:"modeDepot,omitempty"`
	TypeFacture             string        `json:"typeFacture,omitempty"`
	Devise                  string        `json:"devise,omitempty"`
	MontantHT               json.Number   `json:"montantHT,omitempty"`
	MontantTTC              json.Number   `json:"montantTTC,omitempty"`
	MontantAPayer           json.Number   `json:"montantAPayer,omitempty"`
	IDDestinataire          int64         `json:"idDestinataire,omitempty"`
	CodeDestinataire        string        `json:"codeDestinataire,omitempty"`
	DesignationDestinataire string        `json:"designationDestinataire,omitempty"`
	CodeServiceExecutant    string        `json:"codeServiceExecutant,omitempty"`
	IDFournisseur           int64         `json:"idFournisseur,omitempty"`
	CodeFournisseur         string        `json:"codeFournisseur,omitempty"`
}

// RechercherFacturesFournisseurResponse is one page of invoices found.
type RechercherFacturesFournisseurResponse struct {
	Retour
	ListeFactures    []FactureFournisseur `json:"listeFactures"`
	ParametresRetour ParametresRetour     `json:"parametresRetour"`
}

// RechercherFacturesFournisseur searches the invoices of the technical
// account's suppliers. No match is an empty list, not an error.
func (c *Client) RechercherFacturesFournisseur(ctx context.Context, req RechercherFacturesFournisseurRequest) (*RechercherFacturesFournisseurResponse, error) {
	var out RechercherFacturesFournisseurResponse
	if err := c.call(ctx, "RechercherFacturesFournisseur", http.MethodPost, "/factures/v1/rechercher/fournisseur", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
