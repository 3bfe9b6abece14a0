package choruspro

import (
	"context"
	"encoding/json"
	"net/http"
)

// DeposerPDFRequest deposits an invoice PDF (factures/v1/deposer/pdf). The
// answer's pieceJointeId is then given to Soumettre in
// pieceJointePrincipale.
type DeposerPDFRequest struct {
	IDUtilisateurCourant int64 `json:"idUtilisateurCourant,omitempty"`
	// FichierFacture is the PDF itself, sent as base64 without line breaks.
	FichierFacture []byte `json:"fichierFacture"`
	// FormatDepot is FormatDepotPDFNonSigne when empty.
	FormatDepot string `json:"formatDepot"`
	NomFichier  string `json:"nomFichier"`
}

// DeposerPDFResponse is the answer to DeposerPDF: the attachment id and what
// Chorus Pro read in the PDF (empty fields when it read nothing).
type DeposerPDFResponse struct {
	Retour
	PieceJointeID        int64       `json:"pieceJointeId"`
	NumeroFacture        string      `json:"numeroFacture,omitempty"`
	DateFacture          string      `json:"dateFacture,omitempty"`
	CodeDestinataire     string      `json:"codeDestinataire,omitempty"`
	CodeServiceExecutant string      `json:"codeServiceExecutant,omitempty"`
	CodeFournisseur      string      `json:"codeFournisseur,omitempty"`
	CodeDeviseFacture    string      `json:"codeDeviseFacture,omitempty"`
	TypeFacture          string      `json:"typeFacture,omitempty"`
	TypeTva              string      `json:"typeTva,omitempty"`
	NumeroBonCommande    string      `json:"numeroBonCommande,omitempty"`
	NumeroMarche         string      `json:"numeroMarche,omitempty"`
	MontantHtTotal       json.Number `json:"montantHtTotal,omitempty"`
	MontantTVA           json.Number `json:"montantTVA,omitempty"`
	MontantTtcTotal      json.Number `json:"montantTtcTotal,omitempty"`
	MontantAPayer        json.Number `json:"montantAPayer,omitempty"`
}

// DeposerPDF deposits an invoice PDF. The file is checked first with
// ValidateDocument(KindPDF): a refusal is an *Error matching
// ErrInvalidDocument (and ErrTooLarge), without any call. Other errors are
// *Error as described in the package documentation.
func (c *Client) DeposerPDF(ctx context.Context, req DeposerPDFRequest) (*DeposerPDFResponse, error) {
	const op = "DeposerPDF"
	if err := ValidateDocument(req.NomFichier, req.FichierFacture, KindPDF); err != nil {
		return nil, documentError(op, err)
	}
	if req.FormatDepot == "" {
		req.FormatDepot = FormatDepotPDFNonSigne
	}
	var out DeposerPDFResponse
	if err := c.call(ctx, op, http.MethodPost, "/factures/v1/deposer/pdf", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeposerFluxRequest deposits a flow (factures/v1/deposer/flux): a UBL or CII
// XML invoice, a Factur-X PDF, or several invoices as .tar.gz.
type DeposerFluxRequest struct {
	// FichierFlux is the file itself, sent as base64 without line breaks.
	FichierFlux          []byte      `json:"fichierFlux"`
	NomFichier           string      `json:"nomFichier"`
	SyntaxeFlux          SyntaxeFlux `json:"syntaxeFlux"`
	AvecSignature        bool        `json:"avecSignature"`
	IDUtilisateurCourant int64       `json:"idUtilisateurCourant,omitempty"`
}

// DeposerFluxResponse is the answer to DeposerFlux: the flow number to follow
// with ConsulterCRDetaille.
type DeposerFluxResponse struct {
	Retour
	NumeroFluxDepot string      `json:"numeroFluxDepot"`
	DateDepot       string      `json:"dateDepot,omitempty"`
	SyntaxeFlux     SyntaxeFlux `json:"syntaxeFlux,omitempty"`
}

// DeposerFlux deposits a flow. The file is checked first with
// ValidateDocument(KindFlux): a refusal is an *Error matching
// ErrInvalidDocument, without any call. A non-idempotent operation: after an
// error whose OutcomeUnknown is true, look the invoice up before depositing
// again.
func (c *Client) DeposerFlux(ctx context.Context, req DeposerFluxRequest) (*DeposerFluxResponse, error) {
	const op = "DeposerFlux"
	if err := ValidateDocument(req.NomFichier, req.FichierFlux, KindFlux); err != nil {
		return nil, documentError(op, err)
	}
	var out DeposerFluxResponse
	if err := c.call(ctx, op, http.MethodPost, "/factures/v1/deposer/flux", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
