package choruspro

import (
	"context"
	"net/http"
)

// ConsulterCRDetailleRequest asks for a flow's detailed report
// (transverses/v1/consulterCRDetaille).
type ConsulterCRDetailleRequest struct {
	NumeroFluxDepot string      `json:"numeroFluxDepot"`
	SyntaxeFlux     SyntaxeFlux `json:"syntaxeFlux,omitempty"`
}

// ConsulterCRDetailleResponse is a flow's detailed report. The error lists
// are Chorus Pro's verbatim: surface them as they are.
type ConsulterCRDetailleResponse struct {
	Retour
	NumeroFluxDepot          string            `json:"numeroFluxDepot,omitempty"`
	EtatCourantDepotFlux     FlowState         `json:"etatCourantDepotFlux"`
	DateHeureEtatCourantFlux string            `json:"dateHeureEtatCourantFlux,omitempty"`
	DateDepotFlux            string            `json:"dateDepotFlux,omitempty"`
	CodeInterfaceDepotFlux   string            `json:"codeInterfaceDepotFlux,omitempty"`
	NomFichier               string            `json:"nomFichier,omitempty"`
	ListeErreurDP            []ErreurDP        `json:"listeErreurDP,omitempty"`
	ListeErreurTechnique     []ErreurTechnique `json:"listeErreurTechnique,omitempty"`
}

// ErreurDP is the rejection of one invoice (demande de paiement) of a flow.
type ErreurDP struct {
	NumeroDP                string `json:"numeroDP"`
	IdentifiantFournisseur  string `json:"identifiantFournisseur,omitempty"`
	IdentifiantDestinataire string `json:"identifiantDestinataire,omitempty"`
	LibelleErreurDP         string `json:"libelleErreurDP"`
}

// ErreurTechnique is a technical error that rejected a whole flow.
type ErreurTechnique struct {
	CodeErreur    string `json:"codeErreur"`
	LibelleErreur string `json:"libelleErreur"`
	NatureErreur  string `json:"natureErreur,omitempty"`
}

// ConsulterCRDetaille returns a flow's state and, once final, its errors.
// An unknown flow number is an *Error matching ErrBusiness.
func (c *Client) ConsulterCRDetaille(ctx context.Context, req ConsulterCRDetailleRequest) (*ConsulterCRDetailleResponse, error) {
	var out ConsulterCRDetailleResponse
	if err := c.call(ctx, "ConsulterCRDetaille", http.MethodPost, "/transverses/v1/consulterCRDetaille", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
