package chorusprotest

import (
	"errors"
	"io"
	"net/http"
	"sort"
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
			defer e.commit(rec)
			rec.Status = http.StatusNotFound
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such operation"})
			return
		}
		e.serveBusiness(w, r, mode, op)
	}
}

// serveBusiness runs a business call: gateway faults, authentication, body,
// operation, then the faults that hit the answer (drop, slow).
func (e *Emulator) serveBusiness(w http.ResponseWriter, r *http.Request, mode string, op operation) {
	rec := e.newRecord(r, op.name, mode)
	defer e.commit(rec)
	if r.Method != op.method {
		w.Header().Set("Allow", op.method)
		rec.Status = http.StatusMethodNotAllowed
		writeJSON(w, rec.Status, map[string]string{"error": "method not allowed"})
		return
	}

	e.mu.Lock()
	fault := e.drawFault(op.name)
	retryAfter, delay := e.faults.RetryAfterSeconds, e.slowDelay()
	e.mu.Unlock()
	if fault == faultExpireToken && mode != modePISTE {
		fault = "" // tokens exist in PISTE mode only
	}
	if writeFault(w, fault, retryAfter, rec) {
		return
	}

	acct := e.authenticate(w, r, mode, op, fault, rec)
	if acct == nil {
		return
	}

	var body []byte
	if op.method == http.MethodPost {
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "application/json") {
			rec.Status = http.StatusUnsupportedMediaType
			writeJSON(w, rec.Status, retour{CodeRetour: CodeRequeteInvalide, Libelle: "Content-Type application/json attendu"})
			return
		}
		data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			rec.Status = http.StatusRequestEntityTooLarge
			writeJSON(w, rec.Status, retour{CodeRetour: CodeFichierInvalide, Libelle: "La requête dépasse la taille maximale autorisée"})
			return
		case err != nil:
			rec.Status = http.StatusBadRequest
			return // the client went away
		}
		body = data
	}

	e.mu.Lock()
	status, answer := op.handle(e, &callCtx{now: e.now(), account: acct, body: body, rec: rec})
	e.mu.Unlock()

	if e.postFault(w, r, fault, delay, rec) {
		return
	}
	rec.Status = status
	if c, ok := answer.(coded); ok {
		rec.CodeRetour = c.code()
	}
	writeJSON(w, status, answer)
}

// postFault applies the faults that hit an answer once the operation is
// applied: drop closes the connection without answering (it reports true),
// slow waits delay or until the client goes away.
func (e *Emulator) postFault(w http.ResponseWriter, r *http.Request, fault string, delay time.Duration, rec *RequestRecord) bool {
	switch fault {
	case faultDrop:
		rec.Fault, rec.Status = faultDrop, 0
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			// HTTP/2 cannot hijack; aborting the handler resets the stream,
			// which is what net/http documents for this case.
			panic(http.ErrAbortHandler)
		}
		_ = conn.Close()
		return true
	case faultSlow:
		rec.Fault = faultSlow
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
		}
	}
	return false
}

// healthCheck answers GET transverses/v1/health-check.
func (e *Emulator) healthCheck(*callCtx) (int, any) {
	return http.StatusOK, ok()
}
