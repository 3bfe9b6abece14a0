package chorusprotest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/passerelle-dev/passerelle/workers/emulog"
)

// Emulator is a stateful emulation of Chorus Pro, served as an http.Handler.
// It is safe for concurrent use and starts no goroutine: lifecycles are
// computed from the clock when read.
type Emulator struct {
	cfg Config
	mux *http.ServeMux
	ops map[string]operation

	apps      map[string]PisteApp
	accounts  map[string]*TechnicalAccount
	suppliers map[int64]Supplier
	bySIRET   map[string]structureRef
	byID      map[int64]structureRef

	log *emulog.Log[RequestRecord] // has its own lock

	mu          sync.Mutex
	faults      Faults
	rng         *rand.Rand
	gatewayFlip bool
	tokens      map[string]*accessToken

	invoices     map[int64]*invoice
	invoiceOrder []*invoice
	byNumber     map[invoiceKey]*invoice
	flows        map[string]*flow
	attachments  map[int64]*attachment
	nextInvoice  int64
	nextFlow     int64
	nextAttach   int64
}

// structureRef points at a recipient or a supplier.
type structureRef struct {
	recipient *Recipient
	supplier  *Supplier
}

// New builds an Emulator from cfg (see Config for the defaults). It returns
// an error when cfg is inconsistent: duplicate or incomplete accounts or
// structures, an account attached to an unknown supplier, invalid faults, a
// negative Step.
func New(cfg Config) (*Emulator, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("chorusprotest: New: %w", err)
	}
	e := &Emulator{
		cfg:         cfg,
		ops:         operationTable(),
		apps:        map[string]PisteApp{},
		accounts:    map[string]*TechnicalAccount{},
		suppliers:   map[int64]Supplier{},
		bySIRET:     map[string]structureRef{},
		byID:        map[int64]structureRef{},
		tokens:      map[string]*accessToken{},
		invoices:    map[int64]*invoice{},
		byNumber:    map[invoiceKey]*invoice{},
		flows:       map[string]*flow{},
		attachments: map[int64]*attachment{},
		nextInvoice: 8000000,
		nextFlow:    1000,
		nextAttach:  10000000,
		log:         newRequestLog(cfg),
	}
	for _, a := range cfg.PisteApps {
		e.apps[a.ClientID] = a
	}
	for i := range cfg.TechnicalAccounts {
		a := cfg.TechnicalAccounts[i]
		e.accounts[a.Login] = &a
	}
	for i := range cfg.Suppliers {
		s := cfg.Suppliers[i]
		e.suppliers[s.IDFournisseur] = s
		ref := structureRef{supplier: &s}
		e.bySIRET[s.SIRET], e.byID[s.IDFournisseur] = ref, ref
	}
	for i := range cfg.Recipients {
		r := cfg.Recipients[i]
		ref := structureRef{recipient: &r}
		e.bySIRET[r.SIRET], e.byID[r.IDStructureCPP] = ref, ref
	}
	e.faults = cfg.Faults
	e.rng = newRand(cfg.Faults.Seed)

	mux := http.NewServeMux()
	mux.HandleFunc("/api/oauth/token", e.handleToken)
	mux.HandleFunc("/emulator/faults", e.handleFaults)
	mux.Handle("/emulator/requests", e.log)
	mux.HandleFunc("/cpro/", e.businessHandler(modePISTE, "/cpro/"))
	mux.HandleFunc("/service/", e.businessHandler(modeDirect, "/service/"))
	mux.HandleFunc("/service-qualif/", e.businessHandler(modeDirect, "/service-qualif/"))
	e.mux = mux
	return e, nil
}

// ServeHTTP serves the emulator's endpoints:
//
//	POST /api/oauth/token                     PISTE OAuth2 token endpoint
//	/cpro/<api>/v1/...                        business calls, PISTE mode
//	/service/<api>/v1/..., /service-qualif/... business calls, direct mode
//	GET, PUT /emulator/faults                 fault injection
//	GET, DELETE /emulator/requests[?since=N]  request log
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.mux.ServeHTTP(w, r)
}

// now reads the emulator's clock.
func (e *Emulator) now() time.Time { return e.cfg.Now() }

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encoding the answer: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Date formats used in answers.
const (
	dateLayout     = "2006-01-02"
	dateTimeLayout = "2006-01-02T15:04:05.000Z07:00"
)
