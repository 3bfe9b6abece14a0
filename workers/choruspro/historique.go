package choruspro

import (
	"context"
	"net/http"
)

// ConsulterHistoriqueRequest asks for an invoice's status history
// (factures/v1/consulter/historique).
type ConsulterHistoriqueRequest struct {
	// IDFacture is the identifiantFactureCPP.
	IDFacture            int64 `json:"idFacture"`
	IDUtilisateurCourant int64 `json:"idUtilisateurCourant,omitempty"`
}

// ConsulterHistoriqueResponse is an invoice's current status and history.
type ConsulterHistoriqueResponse struct {
	Retour
	IDFacture             int64                 `json:"idFacture,omitempty"`
	NumeroFacture         string                `json:"numeroFacture,omitempty"`
	ModeDepot             string                `json:"modeDepot,omitempty"`
	StatutCourantCode     InvoiceStatus         `json:"statutCourantCode"`
	HistoriquesDesStatuts HistoriquesDesStatuts `json:"historiquesDesStatuts"`
}

// HistoriquesDesStatuts lists the statuses an invoice went through.
type HistoriquesDesStatuts struct {
	HistoStatut []HistoStatut `json:"histoStatut"`
}

// HistoStatut is one status and when the invoice reached it.
type HistoStatut struct {
	HistoStatutID          int64         `json:"histoStatutId,omitempty"`
	HistoStatutCode        InvoiceStatus `json:"histoStatutCode"`
	HistoStatutDatePassage string        `json:"histoStatutDatePassage"`
	HistoStatutCommentaire string        `json:"histoStatutCommentaire,omitempty"`
}

// ConsulterHistorique returns an invoice's status history. An unknown
// invoice is an *Error matching ErrBusiness.
func (c *Client) ConsulterHistorique(ctx context.Context, req ConsulterHistoriqueRequest) (*ConsulterHistoriqueResponse, error) {
	var out ConsulterHistoriqueResponse
	if err := c.call(ctx, "ConsulterHistorique", http.MethodPost, "/factures/v1/consulter/historique", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
