package chorusprotest

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/passerelle-dev/passerelle/workers/emulog"
)

// RequestRecord is one entry of the request log: a call received by the
// token endpoint or a business endpoint. It never holds passwords, secrets,
// tokens nor file contents.
type RequestRecord struct {
	// Seq numbers the calls from 1, in the order they were received.
	Seq uint64 `json:"seq"`
	// Time is when the call was received, by the emulator's clock.
	Time time.Time `json:"time"`
	// Operation is "token", "deposerPDF", "soumettre", "deposerFlux",
	// "consulterCRDetaille", "rechercherFacturesFournisseur",
	// "consulterHistorique", "rechercherStructures", "consulterStructure",
	// "rechercherServicesStructure", "healthCheck", or "unknown".
	Operation string `json:"operation"`
	Method    string `json:"method"`
	Path      string `json:"path"`
	// AuthMode is "oauth" (token endpoint), "piste" or "direct".
	AuthMode string `json:"authMode"`
	// ClientID is the PISTE application, Login the technical account.
	ClientID string `json:"clientId,omitempty"`
	Login    string `json:"login,omitempty"`
	// IDFournisseur is the supplier the call acted for, when relevant.
	IDFournisseur int64 `json:"idFournisseur,omitempty"`
	// NumeroFacture is the invoice number (numeroFactureSaisi, numeroFacture,
	// or the numbers read from a flow, comma-separated), also for calls
	// answered by a fault or refused at authentication.
	NumeroFacture string `json:"numeroFacture,omitempty"`
	// Structure is the structure looked up (SIRET or idStructureCPP).
	Structure string `json:"structure,omitempty"`
	// NomFichier is the file deposited (deposerPDF, deposerFlux).
	NomFichier string `json:"nomFichier,omitempty"`
	// NumeroFluxDepot is the flow created or consulted.
	NumeroFluxDepot string `json:"numeroFluxDepot,omitempty"`
	// IdentifiantFactureCPP is the invoice created or consulted.
	IdentifiantFactureCPP int64 `json:"identifiantFactureCPP,omitempty"`
	// PieceJointeID is the attachment created by deposerPDF.
	PieceJointeID int64 `json:"pieceJointeId,omitempty"`
	// Applied reports that the call changed the emulator's state (invoice,
	// flow or attachment created), even if the answer was then lost.
	Applied bool `json:"applied"`
	// Status is the HTTP status answered; 0 when the connection was closed
	// without an answer (fault drop, or a slow answer the client gave up
	// waiting for).
	Status int `json:"status"`
	// CodeRetour is the answer's codeRetour, when not 0.
	CodeRetour int `json:"codeRetour,omitempty"`
	// Fault is the fault injected, if any: "429", "503", "502", "504",
	// "drop", "slow", "expire-token", "outage", "token-endpoint-down".
	Fault string `json:"fault,omitempty"`
	// RetryAfterSeconds is the Retry-After given with a 429.
	RetryAfterSeconds int `json:"retryAfterSeconds,omitempty"`
}

// requestLog is the body of GET /emulator/requests.
type requestLog struct {
	// LastSeq is the sequence number of the last call received; pass it as
	// ?since= to get only later calls.
	LastSeq  uint64          `json:"lastSeq"`
	Requests []RequestRecord `json:"requests"`
}

// newRequestLog returns the request log of an emulator configured by cfg:
// beyond cfg.MaxLogEntries the oldest quarter is dropped, and GET
// /emulator/requests answers {"lastSeq":N,"requests":[...]}.
func newRequestLog(cfg Config) *emulog.Log[RequestRecord] {
	return emulog.New(emulog.Config[RequestRecord]{
		Max:  cfg.MaxLogEntries,
		Keep: cfg.MaxLogEntries - cfg.MaxLogEntries/4,
		Body: func(lastSeq uint64, records []RequestRecord) any {
			return requestLog{LastSeq: lastSeq, Requests: records}
		},
		WriteJSON:  writeJSON,
		JSONErrors: true,
	})
}

// Requests returns the logged calls whose Seq is greater than since (0 for
// all), oldest first.
func (e *Emulator) Requests(since uint64) []RequestRecord {
	return e.log.Since(since)
}

// ClearRequests empties the request log; sequence numbers keep growing.
func (e *Emulator) ClearRequests() {
	e.log.Clear()
}

// callRecord is the record of a call in progress. It is committed to the
// log before the answer is written, so that a client that got its answer
// finds the call in the log.
type callRecord struct {
	RequestRecord
	committed bool
}

// newRecord starts the record of a call, numbering it. Numbering and
// timing under e.mu keep Seq and Time in the same order, and read the clock
// under the lock as the rest of the emulator does.
func (e *Emulator) newRecord(r *http.Request, op, mode string) *callRecord {
	e.mu.Lock()
	defer e.mu.Unlock()
	return &callRecord{RequestRecord: RequestRecord{Seq: e.log.Next(), Time: e.cfg.Now(), Operation: op, Method: r.Method, Path: r.URL.Path, AuthMode: mode}}
}

// commit adds a finished record to the log, once, in Seq order. Beyond
// Config.MaxLogEntries the oldest quarter of the log is dropped.
func (e *Emulator) commit(cr *callRecord) {
	if cr.committed {
		return
	}
	cr.committed = true
	e.log.Add(cr.Seq, cr.RequestRecord)
}

// reply commits the record then answers status with v as JSON.
func (e *Emulator) reply(w http.ResponseWriter, cr *callRecord, status int, v any) {
	cr.Status = status
	if c, ok := v.(coded); ok {
		cr.CodeRetour = c.code()
	}
	body, err := json.Marshal(v)
	if err != nil {
		cr.Status = http.StatusInternalServerError
		e.commit(cr)
		http.Error(w, "encoding the answer: "+err.Error(), http.StatusInternalServerError)
		return
	}
	e.commit(cr)
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// refuse commits the record then answers an authentication failure with an
// empty body.
func (e *Emulator) refuse(w http.ResponseWriter, cr *callRecord, status int, wwwAuthenticate string) {
	cr.Status = status
	e.commit(cr)
	if wwwAuthenticate != "" {
		w.Header().Set("WWW-Authenticate", wwwAuthenticate)
	}
	w.WriteHeader(status)
}
