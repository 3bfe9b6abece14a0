package pasrautest

import (
	"encoding/xml"
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/passerelle-dev/passerelle/workers/pasrau"
)

// The documents are written from these types, independently of the
// package's parser, so that tests of the parser against the emulator compare
// two readings of the format.
type xRapport struct {
	XMLName      xml.Name       `xml:"gipmds:rapport"`
	Namespace    string         `xml:"xmlns:gipmds,attr"`
	Type         string         `xml:"type,attr"`
	Profil       string         `xml:"profil,attr"`
	Version      string         `xml:"version,attr"`
	Message      string         `xml:"message,attr,omitempty"`
	Envoi        xEnvoi         `xml:"envoi"`
	Declarations []xDeclaration `xml:"declaration,omitempty"`
}

type xEnvoi struct {
	Identification xIdentification `xml:"envoi_identification"`
	Bilan          xEnvoiBilan     `xml:"envoi_bilan"`
	Anomalies      []xAnomalie     `xml:"envoi_anomalie,omitempty"`
}

type xIdentification struct {
	Declarant           *xDeclarant `xml:"declarant,omitempty"`
	IDFlux              string      `xml:"idflux"`
	Identifiant         string      `xml:"identifiant,omitempty"`
	VersionNorme        string      `xml:"version_norme,omitempty"`
	PointDeDepot        string      `xml:"point_de_depot,omitempty"`
	TypeEnvoi           string      `xml:"type_envoi,omitempty"`
	EssaiReel           *string     `xml:"essai_reel"`
	EmetteurSIRET       string      `xml:"emetteur_siret,omitempty"`
	NomLogiciel         string      `xml:"nom_logiciel,omitempty"`
	EditeurLogiciel     string      `xml:"editeur_logiciel,omitempty"`
	VersionLogiciel     string      `xml:"version_logiciel,omitempty"`
	DateReception       string      `xml:"date_reception,omitempty"`
	HeureReception      string      `xml:"heure_reception,omitempty"`
	DateEnregistrement  string      `xml:"date_enregistrement,omitempty"`
	HeureEnregistrement string      `xml:"heure_enregistrement,omitempty"`
}

type xDeclarant struct {
	SIRET  string `xml:"siret"`
	Nom    string `xml:"nom"`
	Prenom string `xml:"prenom"`
}

type xEnvoiBilan struct {
	Etat    string     `xml:"envoi_etat"`
	Contenu *xContenus `xml:"envoi_contenu,omitempty"`
}

type xContenus struct {
	Declarations int `xml:"declarations"`
	Salaries     int `xml:"salaries"`
}

type xAnomalie struct {
	Code        string       `xml:"description>code"`
	Categorie   string       `xml:"description>categorie"`
	Message     string       `xml:"description>message"`
	NumeroLigne int          `xml:"description>numero_ligne,omitempty"`
	Rubriques   []xRubriqueV `xml:"valeurs>rubrique_declenchante,omitempty"`
}

type xRubriqueV struct {
	Identifiant string `xml:"identifiant"`
	Valeur      string `xml:"valeur,omitempty"`
}

type xDeclaration struct {
	Identification xDeclIdent  `xml:"declaration_identification"`
	Bilan          xDeclBilan  `xml:"declaration_bilan"`
	Anomalies      []xAnomalie `xml:"declaration_anomalie,omitempty"`
}

type xDeclIdent struct {
	Rang              string `xml:"rang"`
	Nature            string `xml:"nature,omitempty"`
	Type              string `xml:"type,omitempty"`
	Fraction          string `xml:"fraction,omitempty"`
	Ordre             string `xml:"ordre,omitempty"`
	Mois              string `xml:"mois,omitempty"`
	IdentifiantMetier string `xml:"identifiant_metier,omitempty"`
	SIREN             string `xml:"SIREN,omitempty"`
	NICSiege          string `xml:"nic_siege,omitempty"`
	NICAffectation    string `xml:"nic_affectation,omitempty"`
}

type xDeclBilan struct {
	Etat       string     `xml:"etat"`
	Salaries   int        `xml:"declaration_contenu>salaries"`
	Conformite *xNiveau   `xml:"niveau_conformite,omitempty"`
	Salarie    []xSalarie `xml:"salarie,omitempty"`
}

type xNiveau struct {
	Etat string `xml:"etat_conformite"`
}

type xSalarie struct {
	NIR       string `xml:"NIR"`
	Matricule string `xml:"matricule,omitempty"`
	Taux      string `xml:"taux_imposition_PAS"`
}

// render writes the document of a return version. The caller holds e.mu.
func (e *Emulator) render(f *flux, v *version) ([]byte, error) {
	var doc xRapport
	switch v.doc {
	case docAEE:
		doc = e.rapport(f, pasrau.ReportAEE, pasrau.StatusOK)
		doc.Envoi.Identification.DateEnregistrement = doc.Envoi.Identification.DateReception
		doc.Envoi.Identification.HeureEnregistrement = doc.Envoi.Identification.HeureReception
	case docARE:
		doc = e.rapport(f, pasrau.ReportARE, pasrau.StatusKO)
		for _, p := range f.problems {
			if blocking(p) {
				doc.Envoi.Anomalies = append(doc.Envoi.Anomalies, problemAnomaly(p, "B1-105-15"))
			}
		}
		if len(doc.Envoi.Anomalies) == 0 && f.facts.has(TriggerAREKO) {
			doc.Envoi.Anomalies = append(doc.Envoi.Anomalies, xAnomalie{Code: "B1-105-15", Categorie: "bloquant",
				Message: "Le format du fichier depot_mtom n'est pas reconnu. (rejet simulé, déclencheur " + TriggerAREKO + ")"})
		}
	case docCCO, docBAN:
		typ := pasrau.ReportBAN
		if v.doc == docCCO {
			typ = pasrau.ReportCCO
		}
		doc = e.rapport(f, typ, v.statut)
		doc.Envoi.Bilan.Contenu = &xContenus{Declarations: f.decl.Declarations, Salaries: len(f.facts.individuals)}
		for _, p := range f.problems {
			doc.Envoi.Anomalies = append(doc.Envoi.Anomalies, problemAnomaly(p, "EMU-"+strings.ToUpper(string(p.Code))))
		}
		d := e.declaration(f, v.statut)
		d.Bilan.Conformite = &xNiveau{Etat: string(v.statut)}
		switch {
		case f.facts.has(TriggerBANKO):
			d.Anomalies = append(d.Anomalies, xAnomalie{Code: "EMU-BAN-KO", Categorie: "bloquant", Message: "Anomalie bloquante simulée (déclencheur " + TriggerBANKO + ")."})
		case v.statut == pasrau.StatusANO:
			d.Anomalies = append(d.Anomalies, xAnomalie{Code: "EMU-BAN-ANO", Categorie: "non-bloquant", Message: "Anomalie non bloquante simulée (déclencheur " + TriggerBANANO + ")."})
		}
		doc.Declarations = []xDeclaration{d}
	case docBIS:
		doc = e.rapport(f, pasrau.ReportBIS, pasrau.StatusOK)
		d := e.declaration(f, v.statut)
		for _, ind := range f.facts.individuals {
			d.Anomalies = append(d.Anomalies, xAnomalie{Code: "I0320", Categorie: "non-bloquant", Message: "SALARIE_INCONNU",
				Rubriques: []xRubriqueV{{Identifiant: "S21.G00.30.001", Valeur: ind.nir}}})
		}
		doc.Declarations = []xDeclaration{d}
	case docCRM94:
		doc = e.crm(f, pasrau.ReportCRMNominative, v.statut)
		d := &doc.Declarations[0]
		for _, ind := range f.facts.individuals {
			d.Bilan.Salarie = append(d.Bilan.Salarie, xSalarie{NIR: ind.nir, Matricule: ind.matricule, Taux: rateFor(ind.nir)})
		}
		switch v.statut {
		case pasrau.StatusANO:
			d.Anomalies = append(d.Anomalies, xAnomalie{Code: "ADR05", Categorie: "non-bloquant",
				Message: "Échec de reconnaissance de la personne par la DGFiP : la localité n'est pas reconnue par la DGFiP."})
		case pasrau.StatusKO:
			d.Anomalies = append(d.Anomalies, xAnomalie{Code: "EMU-CRM94-KO", Categorie: "bloquant", Message: "Données nominatives rejetées (déclencheur " + TriggerCRM94KO + ")."})
		}
	case docCRM93:
		doc = e.crm(f, pasrau.ReportCRMPayment, v.statut)
		doc.Declarations[0].Anomalies = []xAnomalie{{Code: "CBS03", Categorie: "bloquant",
			Message:   "La DGFiP ne peut pas prendre en compte votre paiement du prélèvement à la source : prélèvement SEPA invalide.",
			Rubriques: []xRubriqueV{{Identifiant: "S21.G00.20.004"}}}}
	case docCRM66, docCRM68:
		doc = e.crm(f, pasrau.ReportCRM, v.statut)
		if v.statut != pasrau.StatusOK {
			cat := "bloquant"
			if v.statut == pasrau.StatusANO {
				cat = "non-bloquant"
			}
			doc.Declarations[0].Anomalies = []xAnomalie{{Code: "EMU-ACOSS-" + string(v.statut), Categorie: cat, Message: "Anomalie ACOSS simulée."}}
		}
	default:
		return nil, fmt.Errorf("no document of kind %q", v.doc)
	}
	body, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("rendering %s: %w", v.doc, err)
	}
	return append([]byte(xml.Header), body...), nil
}

// rapport returns the envelope common to PASRAU's technical documents.
func (e *Emulator) rapport(f *flux, typ string, etat pasrau.Status) xRapport {
	at := f.at.In(e.cfg.Location)
	essai := f.decl.EssaiReel
	return xRapport{
		Namespace: pasrau.ReportNamespace, Type: typ, Profil: "PASRAU", Version: "v02r03",
		Envoi: xEnvoi{
			Identification: xIdentification{
				Declarant:       &xDeclarant{SIRET: f.declarant.SIRET, Nom: f.declarant.Nom, Prenom: f.declarant.Prenom},
				IDFlux:          f.id,
				Identifiant:     "MtoM",
				VersionNorme:    latin1([]byte(f.decl.NormVersion)),
				PointDeDepot:    "01",
				TypeEnvoi:       "01",
				EssaiReel:       &essai,
				EmetteurSIRET:   f.decl.SenderSIRET,
				NomLogiciel:     latin1([]byte(f.decl.Software.Name)),
				EditeurLogiciel: latin1([]byte(f.decl.Software.Editor)),
				VersionLogiciel: latin1([]byte(f.decl.Software.Version)),
				DateReception:   at.Format("2006-01-02"),
				HeureReception:  at.Format("15:04:05"),
			},
			Bilan: xEnvoiBilan{Etat: string(etat)},
		},
	}
}

// crm returns the envelope of a business report of DGFIP or ACOSS.
func (e *Emulator) crm(f *flux, typ string, etat pasrau.Status) xRapport {
	doc := xRapport{
		Namespace: pasrau.ReportNamespace, Type: typ, Profil: "PASRAU", Version: "v02r03",
		Envoi: xEnvoi{
			Identification: xIdentification{IDFlux: f.id, VersionNorme: f.decl.NormVersion, EmetteurSIRET: f.decl.SenderSIRET},
			Bilan:          xEnvoiBilan{Etat: string(etat)},
		},
	}
	d := e.declaration(f, etat)
	d.Identification.Nature, d.Identification.Fraction, d.Identification.Ordre = "", "", ""
	doc.Declarations = []xDeclaration{d}
	return doc
}

// declaration returns the identification and result of the flux's
// declaration.
func (e *Emulator) declaration(f *flux, etat pasrau.Status) xDeclaration {
	return xDeclaration{
		Identification: xDeclIdent{
			Rang: "1", Nature: f.decl.Nature, Type: f.decl.Type, Fraction: f.decl.Fraction, Ordre: "1",
			Mois: f.facts.month, SIREN: f.facts.siren, NICSiege: f.facts.nicSiege, NICAffectation: f.facts.nicEtab,
		},
		Bilan: xDeclBilan{Etat: string(etat), Salaries: len(f.facts.individuals)},
	}
}

// problemAnomaly turns a validator problem into a blocking anomaly.
func problemAnomaly(p pasrau.Problem, code string) xAnomalie {
	a := xAnomalie{Code: code, Categorie: "bloquant", Message: p.Message, NumeroLigne: p.Line}
	if p.Rubric != "" {
		a.Rubriques = []xRubriqueV{{Identifiant: p.Rubric}}
	}
	return a
}

// rateFor returns a stable PAS rate for a NIR, between 0.00 and 42.99.
func rateFor(nir string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(nir))
	n := h.Sum32() % 4300
	return fmt.Sprintf("%d.%02d", n/100, n%100)
}
