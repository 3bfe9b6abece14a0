package pasrau

import (
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ReportNamespace is the namespace of the root element of return documents.
const ReportNamespace = "http://www.gip-mds.fr/"

// Report types seen in the type attribute of return documents.
const (
	ReportAEE           = "AEE"           // nature 10, deposit registered
	ReportARE           = "ARE"           // nature 10, deposit rejected
	ReportCCO           = "CCO"           // nature 11, conformity certificate
	ReportBAN           = "BAN"           // nature 11, anomaly report
	ReportBIS           = "20"            // nature 20, employee identification
	ReportCRMPayment    = "CRM financier" // nature 93
	ReportCRMNominative = "CRM nominatif" // nature 94, PAS rates
	ReportCRM           = "CRM"           // ACOSS business reports (66, 68)
)

// Anomaly levels.
const (
	AnomalyLevelEnvoi       = "envoi"
	AnomalyLevelDeclaration = "declaration"
)

// Report is the summary of a return document in the GIP-MDS "format
// harmonisé" (dsn_bilans): what the event layer publishes about a return.
type Report struct {
	// Type, Profil and Version are the root's attributes (e.g. "AEE",
	// "PASRAU", "v02r03").
	Type    string `json:"type"`
	Profil  string `json:"profil,omitempty"`
	Version string `json:"version,omitempty"`
	// Message is the root's optional message attribute.
	Message string `json:"message,omitempty"`

	// IDFlux is envoi/envoi_identification/idflux.
	IDFlux        string   `json:"idflux,omitempty"`
	Declarant     Person   `json:"declarant,omitzero"`
	EssaiReel     string   `json:"essai_reel,omitempty"`
	EmetteurSIRET string   `json:"emetteur_siret,omitempty"`
	NormVersion   string   `json:"version_norme,omitempty"`
	Software      Software `json:"software,omitzero"`
	// Received and Registered are the reception and registration date and
	// time of the deposit, when the document says them.
	Received   time.Time `json:"received,omitzero"`
	Registered time.Time `json:"registered,omitzero"`

	// Etat is envoi/envoi_bilan/envoi_etat: OK, KO or ANO.
	Etat Status `json:"etat,omitempty"`
	// Declarations are the declaration elements (one per S20 block).
	Declarations []ReportDeclaration `json:"declarations,omitempty"`
	// Anomalies are every anomaly: those of the envoi first, then those of
	// each declaration.
	Anomalies []Anomaly `json:"anomalies,omitempty"`
	// Rates are the PAS rates per individual of a nominative report (94).
	Rates []PASRate `json:"rates,omitempty"`
}

// Person is the declarant named in a return document.
type Person struct {
	SIRET  string `json:"siret,omitempty"`
	Nom    string `json:"nom,omitempty"`
	Prenom string `json:"prenom,omitempty"`
}

// ReportDeclaration is the identification and result of one declaration.
type ReportDeclaration struct {
	Rang     string `json:"rang,omitempty"`
	Nature   string `json:"nature,omitempty"`
	Type     string `json:"type,omitempty"`
	Fraction string `json:"fraction,omitempty"`
	// Month is mois (01MMAAAA) as "YYYY-MM".
	Month             string `json:"month,omitempty"`
	IdentifiantMetier string `json:"identifiant_metier,omitempty"`
	SIREN             string `json:"siren,omitempty"`
	NICSiege          string `json:"nic_siege,omitempty"`
	NICAffectation    string `json:"nic_affectation,omitempty"`
	// Etat is declaration_bilan/etat; Conformity is
	// niveau_conformite/etat_conformite.
	Etat       Status `json:"etat,omitempty"`
	Conformity Status `json:"conformity,omitempty"`
	// Individuals is declaration_contenu/salaries.
	Individuals int `json:"individuals,omitempty"`
}

// Anomaly is one anomaly of a return document.
type Anomaly struct {
	// Level is AnomalyLevelEnvoi or AnomalyLevelDeclaration.
	Level string `json:"level"`
	Code  string `json:"code"`
	// Category is "bloquant" or "non-bloquant" when given.
	Category string `json:"category,omitempty"`
	Message  string `json:"message"`
	// Line is numero_ligne, the line of the declaration file; 0 if absent.
	Line int `json:"line,omitempty"`
	// Count is nombre, when given.
	Count int `json:"count,omitempty"`
	// Rubric and Value are the first rubrique_declenchante, when given.
	Rubric string `json:"rubric,omitempty"`
	Value  string `json:"value,omitempty"`
}

// PASRate is the withholding rate DGFIP tells for one individual.
type PASRate struct {
	NIR       string `json:"nir,omitempty"`
	Matricule string `json:"matricule,omitempty"`
	// Rate is taux_imposition_PAS as written, e.g. "14.00".
	Rate string `json:"rate"`
}

// Conformity returns the conformity level of the first declaration, "" when
// the document has none.
func (r *Report) Conformity() Status {
	if len(r.Declarations) == 0 {
		return ""
	}
	return r.Declarations[0].Conformity
}

// Identity returns the identity of the declaration the document is about,
// from its first declaration_identification (SIREN + nic_affectation, mois,
// nature, type, fraction) and essai_reel; false when the document does not
// identify a declaration (an AEE or an ARE does not).
func (r *Report) Identity() (Identity, bool) {
	if len(r.Declarations) == 0 {
		return Identity{}, false
	}
	d := r.Declarations[0]
	if d.SIREN == "" || d.NICAffectation == "" || d.Month == "" {
		return Identity{}, false
	}
	return Identity{
		SIRET: d.SIREN + d.NICAffectation, Month: d.Month,
		Nature: d.Nature, Type: d.Type, Fraction: d.Fraction, EssaiReel: r.EssaiReel,
	}, true
}

type xmlReport struct {
	XMLName      xml.Name         `xml:"rapport"`
	Type         string           `xml:"type,attr"`
	Profil       string           `xml:"profil,attr"`
	Version      string           `xml:"version,attr"`
	Message      string           `xml:"message,attr"`
	Envoi        xmlEnvoi         `xml:"envoi"`
	Declarations []xmlDeclaration `xml:"declaration"`
}

type xmlEnvoi struct {
	Identification struct {
		Declarant struct {
			SIRET  string `xml:"siret"`
			Nom    string `xml:"nom"`
			Prenom string `xml:"prenom"`
		} `xml:"declarant"`
		IDFlux              string `xml:"idflux"`
		VersionNorme        string `xml:"version_norme"`
		EssaiReel           string `xml:"essai_reel"`
		EmetteurSIRET       string `xml:"emetteur_siret"`
		NomLogiciel         string `xml:"nom_logiciel"`
		EditeurLogiciel     string `xml:"editeur_logiciel"`
		VersionLogiciel     string `xml:"version_logiciel"`
		DateReception       string `xml:"date_reception"`
		HeureReception      string `xml:"heure_reception"`
		DateEnregistrement  string `xml:"date_enregistrement"`
		HeureEnregistrement string `xml:"heure_enregistrement"`
	} `xml:"envoi_identification"`
	Bilan struct {
		Etat string `xml:"envoi_etat"`
	} `xml:"envoi_bilan"`
	Anomalies []xmlAnomaly `xml:"envoi_anomalie"`
}

type xmlAnomaly struct {
	Description struct {
		Code        string `xml:"code"`
		Categorie   string `xml:"categorie"`
		Message     string `xml:"message"`
		NumeroLigne string `xml:"numero_ligne"`
		Nombre      string `xml:"nombre"`
	} `xml:"description"`
	Rubriques []struct {
		Identifiant string `xml:"identifiant"`
		Valeur      string `xml:"valeur"`
	} `xml:"valeurs>rubrique_declenchante"`
}

type xmlDeclaration struct {
	Identification struct {
		Rang              string `xml:"rang"`
		Nature            string `xml:"nature"`
		Type              string `xml:"type"`
		Fraction          string `xml:"fraction"`
		Mois              string `xml:"mois"`
		IdentifiantMetier string `xml:"identifiant_metier"`
		SIREN             string `xml:"SIREN"`
		NICSiege          string `xml:"nic_siege"`
		NICAffectation    string `xml:"nic_affectation"`
	} `xml:"declaration_identification"`
	Bilan struct {
		Etat     string `xml:"etat"`
		Salaries string `xml:"declaration_contenu>salaries"`
		Niveau   string `xml:"niveau_conformite>etat_conformite"`
		Salarie  []struct {
			NIR       string `xml:"NIR"`
			Matricule string `xml:"matricule"`
			Taux      string `xml:"taux_imposition_PAS"`
		} `xml:"salarie"`
	} `xml:"declaration_bilan"`
	Anomalies []xmlAnomaly `xml:"declaration_anomalie"`
}

// ParseReport parses a return document (root gipmds:rapport in namespace
// http://www.gip-mds.fr/, children unqualified), reading its dates in loc
// (Paris when nil). Unknown elements and attributes are ignored.
//
// It returns an error matching ErrMalformed when the document is not XML,
// holds a DOCTYPE, exceeds MaxDocumentSize, has another root or namespace,
// lacks the type attribute, or when a value it reads is wrong: an etat other
// than OK, KO or ANO, a flux id outside [0-9A-Za-z._-]{1,50}, a numero_ligne,
// nombre or salaries that is not a number, a rate that is not a decimal, a
// mois that is not 01MMAAAA, a date or time that does not parse.
func ParseReport(data []byte, loc *time.Location) (*Report, error) {
	if loc == nil {
		loc = Paris()
	}
	var x xmlReport
	if err := decodeXML(data, &x); err != nil {
		return nil, fmt.Errorf("pasrau: parse report: %w", err)
	}
	r, err := x.summary(loc)
	if err != nil {
		return nil, fmt.Errorf("pasrau: parse report: %w: %w", ErrMalformed, err)
	}
	return r, nil
}

// summary checks and converts the decoded document.
func (x *xmlReport) summary(loc *time.Location) (*Report, error) {
	if x.XMLName.Space != ReportNamespace {
		return nil, fmt.Errorf("root element in namespace %q, want %q", x.XMLName.Space, ReportNamespace)
	}
	id := &x.Envoi.Identification
	r := &Report{
		Type:          clean(x.Type),
		Profil:        clean(x.Profil),
		Version:       clean(x.Version),
		Message:       clean(x.Message),
		IDFlux:        clean(id.IDFlux),
		Declarant:     Person{SIRET: clean(id.Declarant.SIRET), Nom: clean(id.Declarant.Nom), Prenom: clean(id.Declarant.Prenom)},
		EssaiReel:     clean(id.EssaiReel),
		EmetteurSIRET: clean(id.EmetteurSIRET),
		NormVersion:   clean(id.VersionNorme),
		Software:      Software{Name: clean(id.NomLogiciel), Editor: clean(id.EditeurLogiciel), Version: clean(id.VersionLogiciel)},
		Etat:          Status(clean(x.Envoi.Bilan.Etat)),
	}
	if r.Type == "" {
		return nil, fmt.Errorf("no type attribute on the root element")
	}
	if r.IDFlux != "" && !ValidFluxID(r.IDFlux) {
		return nil, fmt.Errorf("idflux %q is not [0-9A-Za-z._-]{1,50}", r.IDFlux)
	}
	if err := checkEtat("envoi_etat", r.Etat); err != nil {
		return nil, err
	}
	var err error
	if r.Received, err = reportTime(id.DateReception, id.HeureReception, loc); err != nil {
		return nil, fmt.Errorf("reception: %w", err)
	}
	if r.Registered, err = reportTime(id.DateEnregistrement, id.HeureEnregistrement, loc); err != nil {
		return nil, fmt.Errorf("registration: %w", err)
	}
	for _, xa := range x.Envoi.Anomalies {
		a, err := xa.anomaly(AnomalyLevelEnvoi)
		if err != nil {
			return nil, err
		}
		r.Anomalies = append(r.Anomalies, a)
	}
	for i := range x.Declarations {
		if err := r.addDeclaration(&x.Declarations[i]); err != nil {
			return nil, fmt.Errorf("declaration %d: %w", i+1, err)
		}
	}
	return r, nil
}

// addDeclaration checks and appends one declaration element.
func (r *Report) addDeclaration(xd *xmlDeclaration) error {
	xi := &xd.Identification
	d := ReportDeclaration{
		Rang: clean(xi.Rang), Nature: clean(xi.Nature), Type: clean(xi.Type), Fraction: clean(xi.Fraction),
		IdentifiantMetier: clean(xi.IdentifiantMetier), SIREN: clean(xi.SIREN),
		NICSiege: clean(xi.NICSiege), NICAffectation: clean(xi.NICAffectation),
		Etat: Status(clean(xd.Bilan.Etat)), Conformity: Status(clean(xd.Bilan.Niveau)),
	}
	if mois := clean(xi.Mois); mois != "" {
		v := []byte(mois)
		if dateProblem(v, false) != "" || mois[:2] != "01" {
			return fmt.Errorf("mois %q is not 01MMAAAA", mois)
		}
		d.Month = mois[4:8] + "-" + mois[2:4]
	}
	if err := checkEtat("etat", d.Etat); err != nil {
		return err
	}
	if err := checkEtat("etat_conformite", d.Conformity); err != nil {
		return err
	}
	var err error
	if d.Individuals, err = optionalInt("salaries", xd.Bilan.Salaries); err != nil {
		return err
	}
	for _, s := range xd.Bilan.Salarie {
		rate := clean(s.Taux)
		if rate == "" {
			continue
		}
		if !decimal(rate) {
			return fmt.Errorf("taux_imposition_PAS %q is not a decimal number", rate)
		}
		r.Rates = append(r.Rates, PASRate{NIR: clean(s.NIR), Matricule: clean(s.Matricule), Rate: rate})
	}
	for _, xa := range xd.Anomalies {
		a, err := xa.anomaly(AnomalyLevelDeclaration)
		if err != nil {
			return err
		}
		r.Anomalies = append(r.Anomalies, a)
	}
	r.Declarations = append(r.Declarations, d)
	return nil
}

// anomaly checks and converts one anomaly element.
func (xa *xmlAnomaly) anomaly(level string) (Anomaly, error) {
	d := &xa.Description
	a := Anomaly{Level: level, Code: clean(d.Code), Category: clean(d.Categorie), Message: clean(d.Message)}
	var err error
	if a.Line, err = optionalInt("numero_ligne", d.NumeroLigne); err != nil {
		return Anomaly{}, err
	}
	if a.Count, err = optionalInt("nombre", d.Nombre); err != nil {
		return Anomaly{}, err
	}
	if len(xa.Rubriques) > 0 {
		a.Rubric, a.Value = clean(xa.Rubriques[0].Identifiant), clean(xa.Rubriques[0].Valeur)
	}
	return a, nil
}

// checkEtat accepts "", OK, KO and ANO.
func checkEtat(name string, s Status) error {
	switch s {
	case "", StatusOK, StatusKO, StatusANO:
		return nil
	}
	return fmt.Errorf("%s %q is not OK, KO or ANO", name, s)
}

// optionalInt parses a non-negative number that may be absent.
func optionalInt(name, s string) (int, error) {
	s = clean(s)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s %q is not a number", name, s)
	}
	return n, nil
}

// reportTime combines an optional yyyy-MM-dd date and HH:mm:ss time.
func reportTime(date, clock string, loc *time.Location) (time.Time, error) {
	date, clock = clean(date), clean(clock)
	if date == "" {
		return time.Time{}, nil
	}
	if clock == "" {
		clock = "00:00:00"
	}
	t, err := time.ParseInLocation("2006-01-02 15:04:05", date+" "+clock, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("date %q time %q: %w", date, clock, err)
	}
	return t, nil
}

// decimal reports whether s is digits with an optional dot and decimals.
func decimal(s string) bool {
	intPart, frac, found := strings.Cut(s, ".")
	if !allDigits([]byte(intPart)) {
		return false
	}
	return !found || allDigits([]byte(frac))
}

// clean trims a value and folds the runs of whitespace the documents carry
// inside messages (line breaks and indentation) into single spaces.
func clean(s string) string {
	if !strings.ContainsAny(s, " \t\r\n") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}
