package chorusprotest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// structureView is a recipient or a supplier as answers show it.
type structureView struct {
	id          int64
	siret       string
	designation string
	recipient   *Recipient
}

// views lists every structure, sorted by id.
func (e *Emulator) views() []structureView {
	var out []structureView
	for _, ref := range e.byID {
		if ref.recipient != nil {
			r := ref.recipient
			out = append(out, structureView{r.IDStructureCPP, r.SIRET, r.Designation, r})
		} else {
			s := ref.supplier
			out = append(out, structureView{s.IDFournisseur, s.SIRET, s.Designation, nil})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// rechercherStructuresIn is the body of structures/v1/rechercher.
type rechercherStructuresIn struct {
	Structure struct {
		IdentifiantStructure     string `json:"identifiantStructure"`
		TypeIdentifiantStructure string `json:"typeIdentifiantStructure"`
		LibelleStructure         string `json:"libelleStructure"`
	} `json:"structure"`
	Parametres *pagination `json:"parametres"`
}

// structureTrouvee is one structure of a search answer.
type structureTrouvee struct {
	IDStructureCPP           int64  `json:"idStructureCPP"`
	IdentifiantStructure     string `json:"identifiantStructure"`
	TypeIdentifiantStructure string `json:"typeIdentifiantStructure"`
	DesignationStructure     string `json:"designationStructure"`
	Statut                   string `json:"statut"`
}

// rechercherStructures serves structures/v1/rechercher: by SIRET (or SIREN
// with typeIdentifiantStructure SIREN) and by a part of the name.
func (e *Emulator) rechercherStructures(c *callCtx) (int, any) {
	var in rechercherStructuresIn
	if err := json.Unmarshal(c.body, &in); err != nil {
		return refusal(CodeRequeteInvalide, "Requête invalide : "+err.Error())
	}
	id := strings.TrimSpace(in.Structure.IdentifiantStructure)
	siren := strings.EqualFold(in.Structure.TypeIdentifiantStructure, "SIREN")
	name := strings.ToLower(in.Structure.LibelleStructure)
	var found []structureTrouvee
	for _, v := range e.views() {
		switch {
		case id != "" && siren && !strings.HasPrefix(v.siret, id),
			id != "" && !siren && v.siret != id,
			name != "" && !strings.Contains(strings.ToLower(v.designation), name):
			continue
		}
		found = append(found, structureTrouvee{v.id, v.siret, "SIRET", v.designation, "ACTIF"})
	}
	start, end, pr := in.Parametres.page(len(found))
	return http.StatusOK, struct {
		retour
		ListeStructures  []structureTrouvee `json:"listeStructures"`
		ParametresRetour parametresRetour   `json:"parametresRetour"`
	}{ok(), append([]structureTrouvee{}, found[start:end]...), pr}
}

// consulterStructureIn is the body of structures/v1/consulter.
type consulterStructureIn struct {
	IDStructureCPP int64  `json:"idStructureCPP"`
	CodeLangue     string `json:"codeLangue"`
}

// consulterStructure serves structures/v1/consulter: identity and rules.
func (e *Emulator) consulterStructure(c *callCtx) (int, any) {
	var in consulterStructureIn
	if err := json.Unmarshal(c.body, &in); err != nil {
		return refusal(CodeRequeteInvalide, "Requête invalide : "+err.Error())
	}
	ref, found := e.byID[in.IDStructureCPP]
	if !found {
		return refusal(CodeStructureInconnue, fmt.Sprintf("La structure %d n'existe pas", in.IDStructureCPP))
	}
	type informationGenerales struct {
		IDStructureCPP           int64  `json:"idStructureCPP"`
		IdentifiantStructure     string `json:"identifiantStructure"`
		TypeIdentifiantStructure string `json:"typeIdentifiantStructure"`
		LibelleStructure         string `json:"libelleStructure"`
		RaisonSocialeStructure   string `json:"raisonSocialeStructure"`
		StructurePriveePublique  string `json:"structurePriveePublique"`
	}
	type parametres struct {
		CodeServiceDoitEtreRenseigne       bool `json:"codeServiceDoitEtreRenseigne"`
		NumeroEJDoitEtreRenseigne          bool `json:"numeroEJDoitEtreRenseigne"`
		GestionNumeroEJOuCodeService       bool `json:"gestionNumeroEJOuCodeService"`
		StatutMiseEnPaiementNestPasRemonte bool `json:"statutMiseEnPaiementNestPasRemonte"`
	}
	info := informationGenerales{TypeIdentifiantStructure: "SIRET"}
	var params parametres
	if r := ref.recipient; r != nil {
		info.IDStructureCPP, info.IdentifiantStructure, info.StructurePriveePublique = r.IDStructureCPP, r.SIRET, "PUBLIQUE"
		info.LibelleStructure, info.RaisonSocialeStructure = r.Designation, r.Designation
		params = parametres{r.CodeServiceDoitEtreRenseigne, r.NumeroEJDoitEtreRenseigne, r.GestionNumeroEJOuCodeService, false}
	} else {
		s := ref.supplier
		info.IDStructureCPP, info.IdentifiantStructure, info.StructurePriveePublique = s.IDFournisseur, s.SIRET, "PRIVEE"
		info.LibelleStructure, info.RaisonSocialeStructure = s.Designation, s.Designation
	}
	return http.StatusOK, struct {
		retour
		IDStructureCPP       int64                `json:"idStructureCPP"`
		InformationGenerales informationGenerales `json:"informationGenerales"`
		Parametres           parametres           `json:"parametres"`
	}{ok(), info.IDStructureCPP, info, params}
}

// rechercherServicesIn is the body of structures/v1/rechercher/services.
type rechercherServicesIn struct {
	IDStructure int64       `json:"idStructure"`
	Parametres  *pagination `json:"parametresRechercherServicesStructure"`
}

// serviceOut is one service of an answer.
type serviceOut struct {
	IDService      int64  `json:"idService"`
	CodeService    string `json:"codeService"`
	LibelleService string `json:"libelleService"`
	EstActif       bool   `json:"estActif"`
}

// rechercherServices serves structures/v1/rechercher/services.
func (e *Emulator) rechercherServices(c *callCtx) (int, any) {
	var in rechercherServicesIn
	if err := json.Unmarshal(c.body, &in); err != nil {
		return refusal(CodeRequeteInvalide, "Requête invalide : "+err.Error())
	}
	ref, found := e.byID[in.IDStructure]
	if !found {
		return refusal(CodeStructureInconnue, fmt.Sprintf("La structure %d n'existe pas", in.IDStructure))
	}
	services := []serviceOut{}
	if ref.recipient != nil {
		for _, s := range ref.recipient.Services {
			services = append(services, serviceOut(s))
		}
	}
	start, end, pr := in.Parametres.page(len(services))
	return http.StatusOK, struct {
		retour
		ListeServices    []serviceOut     `json:"listeServices"`
		ParametresRetour parametresRetour `json:"parametresRetour"`
	}{ok(), services[start:end], pr}
}
