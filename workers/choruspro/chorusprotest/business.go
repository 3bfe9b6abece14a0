package chorusprotest

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// operation is one business endpoint.
type operation struct {
	name   string
	api    string // factures, transverses or structures
	method string
	handle func(e *Emulator, c *callCtx) (int, any)
}

// callCtx is what a business handler gets. Handlers run with e.mu held.
type callCtx struct {
	now     time.Time
	account *TechnicalAccount
	body    []byte
	rec     *RequestRecord
}

// operationTable maps the path after the mode prefix to its operation.
func operationTable() map[string]operation {
	return map[string]operation{
		"factures/v1/deposer/pdf":            {"deposerPDF", "factures", http.MethodPost, (*Emulator).deposerPDF},
		"factures/v1/soumettre":              {"soumettre", "factures", http.MethodPost, (*Emulator).soumettre},
		"factures/v1/deposer/flux":           {"deposerFlux", "factures", http.MethodPost, (*Emulator).deposerFlux},
		"factures/v1/rechercher/fournisseur": {"rechercherFacturesFournisseur", "factures", http.MethodPost, (*Emulator).rechercherFactures},
		"factures/v1/consulter/historique":   {"consulterHistorique", "factures", http.MethodPost, (*Emulator).consulterHistorique},
		"transverses/v1/consulterCRDetaille": {"consulterCRDetaille", "transverses", http.MethodPost, (*Emulator).consulterCRDetaille},
		"transverses/v1/health-check":        {"healthCheck", "transverses", http.MethodGet, (*Emulator).healthCheck},
		"structures/v1/rechercher":           {"rechercherStructures", "structures", http.MethodPost, (*Emulator).rechercherStructures},
		"structures/v1/consulter":            {"consulterStructure", "structures", http.MethodPost, (*Emulator).consulterStructure},
		"structures/v1/rechercher/services":  {"rechercherServicesStructure", "structures", http.MethodPost, (*Emulator).rechercherServices},
	}
}

// businessOperationNames lists the business operations' names, sorted.
func businessOperationNames() []string {
	var names []string
	for _, op := range operationTable() {
		names = append(names, op.name)
	}
	sort.Strings(names)
	return names
}

// maxBodyBytes bounds a request body: a 10 MB file in base64 plus the JSON
// around it.
const maxBodyBytes = 16 << 20

// retour is the outcome every answer carries.
type retour struct {
	CodeRetour int    `json:"codeRetour"`
	Libelle    string `json:"libelle"`
}

// code returns the answer's codeRetour, for the request log.
func (r retour) code() int { return r.CodeRetour }

// coded is implemented by answers embedding retour.
type coded interface{ code() int }

// ok is the outcome of a success.
func ok() retour { return retour{CodeRetour: 0, Libelle: LibelleOK} }

// refusal answers a business refusal: 400 with codeRetour and libelle.
func refusal(code int, libelle string) (int, any) {
	return http.StatusBadRequest, retour{CodeRetour: code, Libelle: libelle}
}

// businessHandler serves the business endpoints under prefix in one mode.
func (e *Emulator) businessHandler(mode, prefix string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		op, found := e.ops[strings.TrimPrefix(r.URL.Path, prefix)]
		if !found {
			rec := e.newRecord(r, "unknown", mode)
			e.reply(w, rec, http.StatusNotFound, map[string]string{"error": "no such operation"})
			return
		}
		e.serveBusiness(w, r, mode, op)
	}
}

// serveBusiness runs a business call: body, gateway faults,
// authentication, operation, then the faults that hit the answer (drop,
// slow). Calls answered by a fault or refused are still logged with the
// invoice they were about.
func (e *Emulator) serveBusiness(w http.ResponseWriter, r *http.Request, mode string, op operation) {
	rec := e.newRecord(r, op.name, mode)
	defer e.commit(rec)
	if r.Method != op.method {
		w.Header().Set("Allow", op.method)
		e.reply(w, rec, http.StatusMethodNotAllowed, map[string]string{"error": "method not allowed"})
		return
	}

	var body []byte
	if op.method == http.MethodPost {
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "application/json") {
			e.reply(w, rec, http.StatusUnsupportedMediaType, retour{CodeRetour: CodeRequeteInvalide, Libelle: "Content-Type application/json attendu"})
			return
		}
		data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			e.reply(w, rec, http.StatusRequestEntityTooLarge, retour{CodeRetour: CodeFichierInvalide, Libelle: "La requête dépasse la taille maximale autorisée"})
			return
		case err != nil:
			rec.Status = http.StatusBadRequest
			return // the client went away
		}
		body = data
	}

	e.mu.Lock()
	fault := e.drawFault(op.name)
	retryAfter, delay := e.faults.RetryAfterSeconds, e.slowDelay()
	e.mu.Unlock()
	if fault == faultExpireToken && mode != modePISTE {
		fault = "" // tokens exist in PISTE mode only
	}
	if isImmediate(fault) {
		describeCall(op.name, body, &rec.RequestRecord)
		e.writeFault(w, fault, retryAfter, rec)
		return
	}

	acct, refused := e.authenticate(r, mode, op, fault, rec)
	if refused != nil {
		describeCall(op.name, body, &rec.RequestRecord)
		e.refuse(w, rec, refused.status, refused.www)
		return
	}

	e.mu.Lock()
	status, answer := op.handle(e, &callCtx{now: e.now(), account: acct, body: body, rec: &rec.RequestRecord})
	e.mu.Unlock()

	if e.postFault(w, r, fault, delay, rec) {
		return
	}
	if e.cfg.Latency > 0 && !e.wait(r, e.cfg.Latency) {
		e.hangUp(w, rec)
		return
	}
	e.reply(w, rec, status, answer)
}

// wait waits d, or less if the client goes away first; it reports whether
// the whole delay passed.
func (e *Emulator) wait(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// postFault applies the faults that hit an answer once the operation is
// applied: drop closes the connection without answering; slow waits delay,
// or hangs up if the client goes away first. It reports true when the call
// got no answer.
func (e *Emulator) postFault(w http.ResponseWriter, r *http.Request, fault string, delay time.Duration, rec *callRecord) bool {
	switch fault {
	case faultDrop:
		rec.Fault = faultDrop
		e.hangUp(w, rec)
		return true
	case faultSlow:
		rec.Fault = faultSlow
		if !e.wait(r, delay) {
			// The client gave up: answering now could still reach it
			// and turn its timeout into a success.
			e.hangUp(w, rec)
			return true
		}
	}
	return false
}

// hangUp logs the call as unanswered (status 0), then closes the connection
// without answering.
func (e *Emulator) hangUp(w http.ResponseWriter, rec *callRecord) {
	rec.Status = 0
	e.commit(rec)
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// HTTP/2 cannot hijack; aborting the handler resets the stream,
		// which is what net/http documents for this case.
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// describeCall fills the record of a call that the operation will not
// handle (fault, refused authentication) with what the body says it is
// about: invoice number (read from the flow file for deposerFlux), flow
// number, invoice id, supplier. Best effort: a malformed body leaves it
// empty.
func describeCall(op string, body []byte, rec *RequestRecord) {
	var in struct {
		NumeroFactureSaisi string `json:"numeroFactureSaisi"`
		NumeroFacture      string `json:"numeroFacture"`
		NumeroFluxDepot    string `json:"numeroFluxDepot"`
		IDFacture          int64  `json:"idFacture"`
		IDFournisseur      int64  `json:"idFournisseur"`
		Fournisseur        struct {
			IDFournisseur int64 `json:"idFournisseur"`
		} `json:"fournisseur"`
		FichierFlux string `json:"fichierFlux"`
		SyntaxeFlux string `json:"syntaxeFlux"`
		NomFichier  string `json:"nomFichier"`
		Structure   struct {
			IdentifiantStructure string `json:"identifiantStructure"`
		} `json:"structure"`
		IDStructureCPP int64 `json:"idStructureCPP"`
		IDStructure    int64 `json:"idStructure"`
	}
	if len(body) == 0 || json.Unmarshal(body, &in) != nil {
		return
	}
	rec.NumeroFacture = orDefault(in.NumeroFactureSaisi, in.NumeroFacture)
	rec.NomFichier = in.NomFichier
	switch {
	case in.Structure.IdentifiantStructure != "":
		rec.Structure = in.Structure.IdentifiantStructure
	case in.IDStructureCPP != 0:
		rec.Structure = strconv.FormatInt(in.IDStructureCPP, 10)
	case in.IDStructure != 0:
		rec.Structure = strconv.FormatInt(in.IDStructure, 10)
	}
	rec.NumeroFluxDepot, rec.IdentifiantFactureCPP = in.NumeroFluxDepot, in.IDFacture
	rec.IDFournisseur = in.Fournisseur.IDFournisseur
	if rec.IDFournisseur == 0 {
		rec.IDFournisseur = in.IDFournisseur
	}
	if op == "deposerFlux" && in.FichierFlux != "" {
		if data, ferr := decodeFile("fichierFlux", in.FichierFlux); ferr == nil {
			if docs, techErr := parseFlow(data, in.SyntaxeFlux); techErr == nil {
				numeros := make([]string, 0, len(docs))
				for _, d := range docs {
					numeros = append(numeros, d.numero)
				}
				rec.NumeroFacture = strings.Join(numeros, ",")
			}
		}
	}
}

// healthCheck answers GET transverses/v1/health-check.
func (e *Emulator) healthCheck(*callCtx) (int, any) {
	return http.StatusOK, ok()
}
