package events

import (
	"encoding/json"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
)

// Invoice submission modes.
const (
	ModePDF        = "pdf"        // deposit a PDF, then submit the invoice data (DEPOT_PDF_API)
	ModeStructured = "structured" // submit the invoice data only (SAISIE_API)
	ModeFlow       = "flow"       // deposit a flow file: Factur-X, UBL or CII (deposer/flux)
)

// InvoiceSubmit is the data of an invoice.submit event.
type InvoiceSubmit struct {
	// Account names the configured Chorus Pro account (supplier and credentials).
	Account string `json:"account"`
	// Mode is ModePDF, ModeStructured or ModeFlow.
	Mode    string  `json:"mode"`
	Invoice Invoice `json:"invoice"`
	// Document is the PDF (ModePDF) or the flow file (ModeFlow).
	Document *Document `json:"document,omitempty"`
	// FlowSyntax is Chorus Pro's syntaxeFlux of the flow file (ModeFlow), such as
	// IN_DP_E2_CII_FACTURX.
	FlowSyntax string `json:"flowSyntax,omitempty"`
}

// Invoice is the invoice data submitted to Chorus Pro. In ModeFlow only Number is
// required: the flow file carries the rest.
type Invoice struct {
	// Number is the supplier's invoice number (numeroFactureSaisi); with the account's
	// supplier it is the submission's business key.
	Number string `json:"number"`
	// Date is the invoice date, YYYY-MM-DD.
	Date string `json:"date,omitempty"`
	// Type is FACTURE or AVOIR.
	Type string `json:"type,omitempty"`
	// Currency is an ISO 4217 code, EUR by default.
	Currency string `json:"currency,omitempty"`
	// Framework is codeCadreFacturation, A1_FACTURE_FOURNISSEUR by default.
	Framework string     `json:"framework,omitempty"`
	Recipient *Recipient `json:"recipient,omitempty"`
	// PurchaseOrder is the engagement number (numeroBonCommande), required by some recipients.
	PurchaseOrder string `json:"purchaseOrder,omitempty"`
	// Contract is the public contract number (numeroMarche).
	Contract string `json:"contract,omitempty"`
	// VATType is typeTva: TVA_SUR_DEBIT, TVA_SUR_ENCAISSEMENT, EXONERATION or SANS_TVA.
	VATType string `json:"vatType,omitempty"`
	// VATExemptionReason is motifExonerationTva.
	VATExemptionReason string `json:"vatExemptionReason,omitempty"`
	// PaymentMode is modePaiement: VIREMENT, CHEQUE, PRELEVEMENT, ESPECE, AUTRE or REPORT.
	PaymentMode string `json:"paymentMode,omitempty"`
	// BankAccountCode is codeCoordonneesBancairesFournisseur.
	BankAccountCode *int64 `json:"bankAccountCode,omitempty"`
	// SupplierServiceID is idServiceFournisseur.
	SupplierServiceID *int64    `json:"supplierServiceId,omitempty"`
	Lines             []Line    `json:"lines,omitempty"`
	VAT               []VATLine `json:"vat,omitempty"`
	Totals            *Totals   `json:"totals,omitempty"`
	Comment           string    `json:"comment,omitempty"`
}

// Recipient is the public entity invoiced.
type Recipient struct {
	// SIRET is the recipient's SIRET (codeDestinataire).
	SIRET string `json:"siret"`
	// ServiceCode is codeServiceExecutant, required by some recipients.
	ServiceCode string `json:"serviceCode,omitempty"`
}

// Line is one invoice line (lignePoste). Amounts are exact decimals.
type Line struct {
	Reference   string      `json:"reference,omitempty"`
	Designation string      `json:"designation"`
	Quantity    json.Number `json:"quantity"`
	Unit        string      `json:"unit,omitempty"`
	UnitPrice   json.Number `json:"unitPrice"`
	Discount    json.Number `json:"discount,omitempty"`
	VATRate     json.Number `json:"vatRate"`
}

// VATLine is the VAT summary for one rate (ligneTva).
type VATLine struct {
	Rate   json.Number `json:"rate"`
	Base   json.Number `json:"base"`
	Amount json.Number `json:"amount"`
}

// Totals are the invoice totals (montantTotal).
type Totals struct {
	Net      json.Number `json:"net"`
	VAT      json.Number `json:"vat"`
	Gross    json.Number `json:"gross"`
	Discount json.Number `json:"discount,omitempty"`
	Payable  json.Number `json:"payable"`
}

// Invoice states of invoice.status events. Besides these, State takes every Chorus
// Pro flow state (IN_RECU ... IN_INTEGRE) and invoice status (DEPOSEE ...
// MISE_EN_PAIEMENT) verbatim as the submission progresses.
const (
	StateReceived  = "received"  // the event was accepted and recorded
	StateSubmitted = "submitted" // the administration accepted the deposit
	StateRejected  = "rejected"  // final: refused by passerelle's checks or by the administration
	StateFailed    = "failed"    // final: could not be processed after every retry; dead-lettered
	StateUnknown   = "unknown"   // final: the deposit may or may not have happened; an operator decides
	StateDuplicate = "duplicate" // final: the same submission was already received under another id
	StateConflict  = "conflict"  // final: the business key was already used with different content
)

// InvoiceStatus is the data of an invoice.status event.
type InvoiceStatus struct {
	// SubmitID is the id of the invoice.submit event this status follows.
	SubmitID string `json:"submitId"`
	Account  string `json:"account"`
	// InvoiceNumber is the submission's invoice number.
	InvoiceNumber string `json:"invoiceNumber"`
	// Mode is the submission mode, when the submit event could be read.
	Mode string `json:"mode,omitempty"`
	// State is one of the State* constants or a Chorus Pro status.
	State string `json:"state"`
	// Final is true on the last event of a submission.
	Final bool `json:"final"`
	// Sequence numbers the status events of one submission from 1, so that
	// subscribers can order them.
	Sequence int `json:"sequence"`
	// OccurredAt is when passerelle observed the state (RFC 3339).
	OccurredAt string `json:"occurredAt"`
	// ChorusPro holds Chorus Pro's identifiers and status once known.
	ChorusPro *ChorusProRef `json:"choruspro,omitempty"`
	// Rejection explains a rejected or conflict state.
	Rejection *Rejection `json:"rejection,omitempty"`
	// Failure explains a failed or unknown state.
	Failure *Failure `json:"failure,omitempty"`
	// DuplicateOf is the submit id of the original submission, for a duplicate state.
	DuplicateOf string `json:"duplicateOf,omitempty"`
}

// ChorusProRef holds what Chorus Pro said about a submission.
type ChorusProRef struct {
	NumeroFluxDepot       string `json:"numeroFluxDepot,omitempty"`
	IdentifiantFactureCPP int64  `json:"identifiantFactureCPP,omitempty"`
	// FlowState is the flow's etatCourantDepotFlux (flow mode).
	FlowState string `json:"flowState,omitempty"`
	// InvoiceStatus is the invoice's current Chorus Pro status.
	InvoiceStatus string `json:"invoiceStatus,omitempty"`
	// StatusDate is when Chorus Pro recorded the status, as Chorus Pro gave it.
	StatusDate string `json:"statusDate,omitempty"`
	// Comment is the status history's comment, verbatim.
	Comment   string `json:"comment,omitempty"`
	DateDepot string `json:"dateDepot,omitempty"`
}

// Rejection tells why a submission was refused. Source is "passerelle" for refusals
// by passerelle's own checks (with Errors listing each problem and where it is) and
// "choruspro" or "pasrau" for the administration's, with its reasons verbatim.
type Rejection struct {
	Source string `json:"source"`
	Reason string `json:"reason"`
	// Errors lists each problem found by passerelle's checks.
	Errors []Problem `json:"errors,omitempty"`
	// CodeRetour and Libelle are Chorus Pro's answer, verbatim.
	CodeRetour int    `json:"codeRetour,omitempty"`
	Libelle    string `json:"libelle,omitempty"`
	// ListeErreurDP and ListeErreurTechnique are Chorus Pro's flow report, verbatim.
	ListeErreurDP        []json.RawMessage `json:"listeErreurDP,omitempty"`
	ListeErreurTechnique []json.RawMessage `json:"listeErreurTechnique,omitempty"`
}

// Problem is one thing wrong with an input, and where it is: a JSON pointer into the
// event data, a header name, or a line of a file.
type Problem struct {
	Location string `json:"location"`
	Message  string `json:"message"`
}

// Failure tells why a submission could not be brought to an answer.
type Failure struct {
	Reason string `json:"reason"`
	// Deliveries is how many times the message was delivered before giving up.
	Deliveries int `json:"deliveries,omitempty"`
	// DeadLetter is the sequence of the message's copy in the dead-letter stream.
	DeadLetter uint64 `json:"deadLetter,omitempty"`
}

// NewInvoiceSubmit builds an invoice.submit event with the given id (a fresh UUID
// when empty): publish it on TypeInvoiceSubmit with Publisher.Publish, which sets
// the id as Nats-Msg-Id so that a retried publish is stored once.
func NewInvoiceSubmit(id string, data InvoiceSubmit) (*event.Event, error) {
	if id == "" {
		id = uuid.NewString()
	}
	return New(TypeInvoiceSubmit, id, data.Invoice.Number, data)
}
