package pasrautest

import (
	"encoding/json"
	"net/http"

	"github.com/passerelle-dev/passerelle/workers/emulog"
)

// Request is one call the emulator received, as GET /emulator/requests
// returns it (a JSON array of these):
//
//	{"seq": 3, "time_ns": 1795000000000000000, "op": "deposit",
//	 "method": "POST", "path": "/deposer-pasrau/1.0/", "siret": "53755096400010",
//	 "status": 200, "month": "2026-11", "sha256": "9f86...", "idflux": "Ab3...",
//	 "user_agent": "Client-PASRAU (passerelle/1.0; passerelle)"}
//
// Listings add range_start, range_end (yyyyMMddHHmmss as sent), page and
// per_page; downloads add idflux and return_id; a 429 adds reason_429
// ("interval", "range" or "fault"); an injected fault adds fault (see the
// Fault constants). With fault "drop", status is what the emulator had
// computed: the client received nothing. client_gone says that the client
// had given up (closed its connection) before the answer was ready: the
// call was served all the same, as a real server may do.
type Request struct {
	Seq       uint64 `json:"seq"`
	TimeNS    int64  `json:"time_ns"`
	Op        string `json:"op"`
	Method    string `json:"method"`
	Path      string `json:"path"`
	SIRET     string `json:"siret,omitempty"`
	Status    int    `json:"status"`
	UserAgent string `json:"user_agent,omitempty"`

	// Deposits: the declared month (YYYY-MM, from S20.G00.05.005 when it is
	// valid), the SHA-256 of the decompressed file (hex) and the flux id
	// answered (also for a rejected deposit, which is registered as a flux
	// with a KO nature 10).
	Month  string `json:"month,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	IDFlux string `json:"idflux,omitempty"`

	// Listings.
	RangeStart string `json:"range_start,omitempty"`
	RangeEnd   string `json:"range_end,omitempty"`
	Page       int    `json:"page,omitempty"`
	PerPage    int    `json:"per_page,omitempty"`

	// Downloads.
	ReturnID string `json:"return_id,omitempty"`

	Fault      string `json:"fault,omitempty"`
	Reason429  string `json:"reason_429,omitempty"`
	ClientGone bool   `json:"client_gone,omitempty"`
}

// Operation names in the request log.
const (
	opAuth          = "auth"
	opDeposit       = "deposit"
	opListFlux      = "list-flux"
	opListDeclarant = "list-declarant"
	opDownload      = "download"
	opOther         = "other"
)

// newEntry starts the log entry of a call to operation op.
func newEntry(op string, r *http.Request) Request {
	return Request{Op: op, Method: r.Method, Path: r.URL.Path, UserAgent: r.UserAgent()}
}

// Requests returns the calls logged with a sequence number above since, in
// order (0 returns them all). Control calls (/emulator/...) are not logged;
// past 100,000 entries the oldest half is dropped.
func (e *Emulator) Requests(since uint64) []Request {
	return e.log.Since(since)
}

// ClearRequests empties the request log; sequence numbers keep growing.
func (e *Emulator) ClearRequests() {
	e.log.Clear()
}

// maxLog bounds the request log of a long-running emulator: past it, the
// oldest entries are dropped.
const maxLog = 100000

// newRequestLog returns the emulator's request log: past maxLog entries the
// oldest half is dropped (the newest half and the entry just added are
// kept), and GET /emulator/requests answers a JSON array of Request.
func newRequestLog() *emulog.Log[Request] {
	return emulog.New(emulog.Config[Request]{
		Max:       maxLog,
		Keep:      maxLog/2 + 1,
		WriteJSON: writeJSON,
	})
}

// record logs an entry, numbering and timing it. The caller holds e.mu.
func (e *Emulator) record(r Request) {
	r.Seq = e.log.Next()
	r.TimeNS = e.cfg.Now().UnixNano()
	e.log.Add(r.Seq, r)
}

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
