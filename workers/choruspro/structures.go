package choruspro

import (
	"context"
	"net/http"
)

// RechercherStructuresRequest looks structures up (structures/v1/rechercher),
// typically a recipient by SIRET.
type RechercherStructuresRequest struct {
	Structure  CritereStructure `json:"structure"`
	Parametres *Pagination      `json:"parametres,omitempty"`
}

// CritereStructure are the search criteria.
type CritereStructure struct {
	IdentifiantStructure string `json:"identifiantStructure,omitempty"`
	// TypeIdentifiantStructure is "SIRET" for a SIRET.
	TypeIdentifiantStructure string `json:"typeIdentifiantStructure,omitempty"`
	LibelleStructure         string `json:"libelleStructure,omitempty"`
}

// StructureTrouvee is one structure found.
type StructureTrouvee struct {
	IDStructureCPP           int64  `json:"idStructureCPP"`
	IdentifiantStructure     string `json:"identifiantStructure,omitempty"`
	TypeIdentifiantStructure string `json:"typeIdentifiantStructure,omitempty"`
	DesignationStructure     string `json:"designationStructure,omitempty"`
	Statut                   string `json:"statut,omitempty"`
}

// RechercherStructuresResponse lists the structures found.
type RechercherStructuresResponse struct {
	Retour
	ListeStructures  []StructureTrouvee `json:"listeStructures"`
	ParametresRetour ParametresRetour   `json:"parametresRetour"`
}

// RechercherStructures looks structures up. No match is an empty list.
func (c *Client) RechercherStructures(ctx context.Context, req RechercherStructuresRequest) (*RechercherStructuresResponse, error) {
	var out RechercherStructuresResponse
	if err := c.call(ctx, "RechercherStructures", http.MethodPost, "/structures/v1/rechercher", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ConsulterStructureRequest asks for a structure's details and invoicing
// rules (structures/v1/consulter).
type ConsulterStructureRequest struct {
	IDStructureCPP int64  `json:"idStructureCPP"`
	CodeLangue     string `json:"codeLangue,omitempty"`
}

// ConsulterStructureResponse holds a structure's details and rules.
type ConsulterStructureResponse struct {
	Retour
	IDStructureCPP       int64                `json:"idStructureCPP,omitempty"`
	InformationGenerales InformationGenerales `json:"informationGenerales"`
	Parametres           ParametresStructure  `json:"parametres"`
}

// InformationGenerales are a structure's identity.
type InformationGenerales struct {
	IDStructureCPP           int64  `json:"idStructureCPP,omitempty"`
	IdentifiantStructure     string `json:"identifiantStructure,omitempty"`
	TypeIdentifiantStructure string `json:"typeIdentifiantStructure,omitempty"`
	LibelleStructure         string `json:"libelleStructure,omitempty"`
	RaisonSocialeStructure   string `json:"raisonSocialeStructure,omitempty"`
}

// ParametresStructure are a recipient's rules: which references an invoice
// must carry.
type ParametresStructure struct {
	// CodeServiceDoitEtreRenseigne: destinataire.codeServiceExecutant is
	// required.
	CodeServiceDoitEtreRenseigne bool `json:"codeServiceDoitEtreRenseigne"`
	// NumeroEJDoitEtreRenseigne: references.numeroBonCommande (engagement
	// number) is required.
	NumeroEJDoitEtreRenseigne bool `json:"numeroEJDoitEtreRenseigne"`
	// GestionNumeroEJOuCodeService: one of the two is required.
	GestionNumeroEJOuCodeService       bool `json:"gestionNumeroEJOuCodeService"`
	StatutMiseEnPaiementNestPasRemonte bool `json:"statutMiseEnPaiementNestPasRemonte"`
}

// ConsulterStructure returns a structure's rules. An unknown structure is an
// *Error matching ErrBusiness.
func (c *Client) ConsulterStructure(ctx context.Context, req ConsulterStructureRequest) (*ConsulterStructureResponse, error) {
	var out ConsulterStructureResponse
	if err := c.call(ctx, "ConsulterStructure", http.MethodPost, "/structures/v1/consulter", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RechercherServicesStructureRequest lists a structure's services
// (structures/v1/rechercher/services).
type RechercherServicesStructureRequest struct {
	IDStructure int64       `json:"idStructure"`
	Parametres  *Pagination `json:"parametresRechercherServicesStructure,omitempty"`
}

// ServiceStructure is one service of a structure; only active services may
// be given as codeServiceExecutant.
type ServiceStructure struct {
	IDService      int64  `json:"idService"`
	CodeService    string `json:"codeService"`
	LibelleService string `json:"libelleService,omitempty"`
	EstActif       bool   `json:"estActif"`
}

// RechercherServicesStructureResponse lists a structure's services.
type RechercherServicesStructureResponse struct {
	Retour
	ListeServices    []ServiceStructure `json:"listeServices"`
	ParametresRetour ParametresRetour   `json:"parametresRetour"`
}

// RechercherServicesStructure lists a structure's services. An unknown
// structure is an *Error matching ErrBusiness.
func (c *Client) RechercherServicesStructure(ctx context.Context, req RechercherServicesStructureRequest) (*RechercherServicesStructureResponse, error) {
	var out RechercherServicesStructureResponse
	if err := c.call(ctx, "RechercherServicesStructure", http.MethodPost, "/structures/v1/rechercher/services", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
