package events

import (
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
)

// Encodings of a declaration file.
const (
	EncodingUTF8   = "UTF-8"
	EncodingLatin1 = "ISO-8859-1"
)

// DeclarationSubmit is the data of a declaration.submit event: one PASRAU
// declaration file to deposit for a configured account (the declarant).
type DeclarationSubmit struct {
	// Account names the configured PASRAU account (declarant credentials, service
	// code and platform).
	Account string          `json:"account"`
	File    DeclarationFile `json:"file"`
}

// DeclarationFile is a declaration file: as text, as base64 bytes in the declared
// encoding, or as a reference to an Object Store object holding those bytes.
// Exactly one of Text, Content and Object is set.
type DeclarationFile struct {
	FileName string `json:"fileName,omitempty"`
	// Encoding is EncodingUTF8 or EncodingLatin1: the encoding of Content's and
	// Object's bytes. Text is Unicode whatever it says.
	Encoding string `json:"encoding"`
	// Text is the declaration itself, one rubric per line.
	Text    string     `json:"text,omitempty"`
	Content string     `json:"content,omitempty"`
	Object  *ObjectRef `json:"object,omitempty"`
}

// DeclarationIdentity identifies a declaration: the declared establishment, the
// month, the S20 nature, type and fraction, and whether it is a test.
type DeclarationIdentity struct {
	SIRET string `json:"siret"`
	// Month is YYYY-MM.
	Month    string `json:"month"`
	Nature   string `json:"nature"`
	Type     string `json:"type"`
	Fraction string `json:"fraction"`
	Test     bool   `json:"test"`
}

// Complete reports whether the identity was read whole from a file: a SIRET of 14
// digits and a month YYYY-MM. Events name a declaration's identity only then.
func (id DeclarationIdentity) Complete() bool {
	digits := func(s string) bool {
		for _, c := range []byte(s) {
			if c < '0' || c > '9' {
				return false
			}
		}
		return true
	}
	m := id.Month
	return len(id.SIRET) == 14 && digits(id.SIRET) &&
		len(m) == 7 && digits(m[:4]) && m[4] == '-' && digits(m[5:]) && m[5:] >= "01" && m[5:] <= "12"
}

// Declaration states of declaration.status events.
const (
	StateInvalid   = "invalid"   // final: the file breaks the norm's checks; never deposited
	StateDeposited = "deposited" // PASRAU registered the deposit (AEE); idflux is known
	StateAccepted  = "accepted"  // final: conform (nature 11 OK), or with non-blocking anomalies (ANO)
)

// DeclarationStatus is the data of a declaration.status event. Its state is
// received, deposited, accepted, invalid, rejected, failed, unknown, duplicate or
// conflict.
type DeclarationStatus struct {
	SubmitID string `json:"submitId"`
	Account  string `json:"account"`
	// Declaration is the declaration's identity, once the file could be read.
	Declaration *DeclarationIdentity `json:"declaration,omitempty"`
	State       string               `json:"state"`
	Final       bool                 `json:"final"`
	Sequence    int                  `json:"sequence"`
	OccurredAt  string               `json:"occurredAt"`
	// IDFlux is PASRAU's flux id, once deposited.
	IDFlux string `json:"idflux,omitempty"`
	// Report summarises the AEE, the rejection notice, or the conformity report
	// that decided the state.
	Report *ReturnSummary `json:"report,omitempty"`
	// Problems lists what the validator found in an invalid file.
	Problems []FileProblem `json:"problems,omitempty"`
	// Rejection explains a rejected or conflict state.
	Rejection *Rejection `json:"rejection,omitempty"`
	// Failure explains a failed or unknown state.
	Failure     *Failure `json:"failure,omitempty"`
	DuplicateOf string   `json:"duplicateOf,omitempty"`
}

// FileProblem is one defect of a declaration file.
type FileProblem struct {
	// Line is the 1-based line number (0: the file as a whole).
	Line int `json:"line"`
	// Rubric is the rubric at fault, when known.
	Rubric  string `json:"rubric,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ReturnSummary is what passerelle read in a PASRAU return document.
type ReturnSummary struct {
	// Type is the document's type: AEE, ARE, CCO, BAN, BIS, CRM...
	Type string `json:"type"`
	// Etat is the envoi's state: OK, KO or ANO.
	Etat string `json:"etat,omitempty"`
	// Conformity is the declaration's conformity level, when given.
	Conformity string          `json:"conformity,omitempty"`
	Anomalies  []ReturnAnomaly `json:"anomalies,omitempty"`
	// Rates are the withholding rates of a DGFIP nominative report (nature 94).
	Rates []PASRate `json:"rates,omitempty"`
}

// ReturnAnomaly is one anomaly of a return document.
type ReturnAnomaly struct {
	Code     string `json:"code"`
	Category string `json:"category,omitempty"`
	Message  string `json:"message"`
	// Line is the line of the declaration file, when given.
	Line   int    `json:"line,omitempty"`
	Rubric string `json:"rubric,omitempty"`
	Value  string `json:"value,omitempty"`
}

// PASRate is the withholding rate DGFIP tells for one individual.
type PASRate struct {
	NIR       string `json:"nir,omitempty"`
	Matricule string `json:"matricule,omitempty"`
	Rate      string `json:"rate"`
}

// DeclarationReturn is the data of a declaration.return event: one return of a
// deposited flux, or a new version of it (PASRAU may overwrite a return).
type DeclarationReturn struct {
	Account string `json:"account"`
	IDFlux  string `json:"idflux"`
	// SubmitID and Declaration link the return to the submission passerelle
	// deposited, when it did.
	SubmitID    string               `json:"submitId,omitempty"`
	Declaration *DeclarationIdentity `json:"declaration,omitempty"`
	Nature      string               `json:"nature"`
	// NatureLabel says what the nature means.
	NatureLabel string `json:"natureLabel"`
	OPS         string `json:"ops,omitempty"`
	// Statut is OK, KO, ANO or EN_COURS.
	Statut string `json:"statut"`
	// Publication and Production are PASRAU's dates (RFC 3339), empty while EN_COURS.
	Publication string `json:"publication,omitempty"`
	Production  string `json:"production,omitempty"`
	// ReturnID is PASRAU's legacy return id.
	ReturnID string `json:"returnId,omitempty"`
	// Version numbers the versions of this return seen by passerelle, from 1.
	Version int `json:"version"`
	// Summary is what passerelle read in the document, when there is one.
	Summary *ReturnSummary `json:"summary,omitempty"`
	// Document is the return document itself, when there is one.
	Document *Document `json:"document,omitempty"`
	// DocumentUnavailable says why a listed document could not be fetched (purged).
	DocumentUnavailable string `json:"documentUnavailable,omitempty"`
}

// NatureLabel returns what a return nature means (guide 1.3).
func NatureLabel(nature string) string {
	switch nature {
	case "10":
		return "AEE (accusé d'enregistrement électronique) or rejection notice"
	case "11":
		return "conformity certificate or anomaly report"
	case "20":
		return "BIS (employee identification report)"
	case "65":
		return "ACOSS receipt, aggregated data"
	case "66":
		return "ACOSS business report, aggregated data"
	case "67":
		return "ACOSS receipt, nominative data"
	case "68":
		return "ACOSS business report, nominative data"
	case "92":
		return "DGFIP receipt"
	case "93":
		return "DGFIP business report, payment data"
	case "94":
		return "DGFIP business report, nominative data (PAS rates)"
	}
	return "return nature " + nature
}

// NewDeclarationSubmit builds a declaration.submit event with the given id (a fresh
// UUID when empty).
func NewDeclarationSubmit(id string, data DeclarationSubmit) (*event.Event, error) {
	if id == "" {
		id = uuid.NewString()
	}
	return New(TypeDeclarationSubmit, id, data.File.FileName, data)
}
