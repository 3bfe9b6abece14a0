package pasrautest

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/passerelle-dev/passerelle/workers/emulog"
)

// Paths served by the emulator, all from one listener.
const (
	PathAuth          = "/authentifier/1.0/"
	PathDeposit       = "/deposer-pasrau/1.0/"
	PathListFlux      = "/lister-retours-flux/1.0/"
	PathListDeclarant = "/lister-retours-declarant/1.0/"
	PathDownload      = "/telecharger-retour/1.0/"
	PathDownloadACOSS = "/downloadcr"
	PathFaults        = "/emulator/faults"
	PathRequests      = "/emulator/requests"
)

// Emulator is a stateful PASRAU platform: an http.Handler serving
// authentication, deposit, both listings and downloads, with returns that
// appear over time, polling constraints, purges, overwrites and injected
// faults. It is safe for concurrent use and starts no goroutine: the state of
// each flux is computed from the clock when asked.
type Emulator struct {
	cfg Config
	mux *http.ServeMux
	log *emulog.Log[Request] // has its own lock

	mu         sync.Mutex
	rng        *rand.Rand // ids and tokens
	faultRNG   *rand.Rand
	faults     Faults
	declarants map[string]*account
	sessions   map[string]*session
	flux       map[string]*flux
	fluxOrder  []*flux
	returns    map[string]returnRef // return id -> version
	nextReturn uint64
}

// account is a declarant and its polling state.
type account struct {
	Declarant
	lastPoll time.Time // last accepted listing by declarant (page 1)
}

// session is a token.
type session struct {
	siret   string
	expires time.Time
	calls   int
}

// New returns an Emulator for cfg (see Config for the defaults). It returns
// an error for declarants without SIRET, nom, prenom or password, duplicate
// SIRETs, negative durations and invalid faults.
func New(cfg Config) (*Emulator, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("pasrautest: new emulator: %w", err)
	}
	e := &Emulator{
		cfg:        cfg,
		rng:        rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5851f42d4c957f2d)),
		declarants: map[string]*account{},
		sessions:   map[string]*session{},
		flux:       map[string]*flux{},
		returns:    map[string]returnRef{},
		nextReturn: 1000000000 + cfg.Seed%1000000,
		log:        newRequestLog(),
	}
	for _, d := range cfg.Declarants {
		e.declarants[d.SIRET] = &account{Declarant: d}
	}
	if err := e.SetFaults(cfg.Faults); err != nil {
		return nil, fmt.Errorf("pasrautest: new emulator: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc(PathAuth, e.serveAuth)
	mux.HandleFunc(PathDeposit, e.serveDeposit)
	mux.HandleFunc(PathListFlux, e.serveListFlux)
	mux.HandleFunc(PathListDeclarant, e.serveListDeclarant)
	mux.HandleFunc(PathDownload, e.serveDownload)
	mux.HandleFunc(PathDownloadACOSS, e.serveDownload)
	mux.HandleFunc(PathFaults, e.serveFaults)
	mux.Handle(PathRequests, e.log)
	e.mux = mux
	return e, nil
}

// ServeHTTP serves every PASRAU service and the /emulator/ control paths.
// Every answer carries a Date from the emulator's clock, so that a client
// measuring Expires against Date works with an injected clock too.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Date", e.cfg.Now().UTC().Format(http.TimeFormat))
	e.mux.ServeHTTP(w, r)
}

// SetRegistered changes whether a declarant is registered for PASRAU; it
// takes effect at the next call (authentication and business calls check
// it). It returns an error for an unknown SIRET.
func (e *Emulator) SetRegistered(siret string, registered bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	a, ok := e.declarants[siret]
	if !ok {
		return fmt.Errorf("pasrautest: set registered: unknown declarant")
	}
	a.NotRegistered = !registered
	return nil
}

// Flux returns the ids of the flux deposited so far by a declarant, oldest
// first.
func (e *Emulator) Flux(siret string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var ids []string
	for _, f := range e.fluxOrder {
		if f.siret == siret {
			ids = append(ids, f.id)
		}
	}
	return ids
}

// randomID returns n characters of [0-9A-Za-z]. The caller holds e.mu.
func (e *Emulator) randomID(n int) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[e.rng.IntN(len(alphabet))]
	}
	return string(b)
}

// checkToken resolves the Authorization header of a business call:
// "PASRAULogin jeton=<token>", split on the first '=' only (the base64 token
// ends with '=' padding). It returns the account, or writes the 401 (realm
// "Jeton manquant ou invalide", "Expiration du jeton" or "Utilisateur
// non-inscrit au service") and returns the fault to log. The caller holds
// e.mu.
func (e *Emulator) checkToken(w http.ResponseWriter, r *http.Request, now time.Time) (acc *account, siret, fault string) {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	scheme, params, _ := strings.Cut(h, " ")
	key, token, found := strings.Cut(strings.TrimSpace(params), "=")
	s, ok := e.sessions[token]
	if !strings.EqualFold(scheme, "PASRAULogin") || !found || strings.TrimSpace(key) != "jeton" || !ok {
		unauthorized(w, "Jeton manquant ou invalide")
		return nil, "", ""
	}
	s.calls++
	if n := e.faults.TokenExpiresAfterCalls; n > 0 && s.calls > n {
		unauthorized(w, "Expiration du jeton")
		return nil, s.siret, FaultTokenExpired
	}
	if !now.Before(s.expires) {
		unauthorized(w, "Expiration du jeton")
		return nil, s.siret, ""
	}
	a := e.declarants[s.siret]
	if a == nil || a.NotRegistered {
		unauthorized(w, "Utilisateur non-inscrit au service")
		return nil, s.siret, ""
	}
	return a, s.siret, ""
}

// authorize runs checkToken and notes the declarant and any fault in entry.
// The caller holds e.mu.
func (e *Emulator) authorize(w http.ResponseWriter, r *http.Request, now time.Time, entry *Request) *account {
	acc, siret, fault := e.checkToken(w, r, now)
	entry.SIRET = siret
	if fault != "" {
		entry.Fault = fault
	}
	return acc
}

// authorizeGzip answers 406 unless the client takes gzip, then runs
// authorize: the first checks of the listings and the download. The caller
// holds e.mu.
func (e *Emulator) authorizeGzip(w http.ResponseWriter, r *http.Request, now time.Time, entry *Request) *account {
	if !acceptsGzip(r) {
		w.WriteHeader(http.StatusNotAcceptable)
		return nil
	}
	return e.authorize(w, r, now, entry)
}

// unauthorized answers 401 with a PASRAULogin realm.
func unauthorized(w http.ResponseWriter, realm string) {
	w.Header().Set("WWW-Authenticate", `PASRAULogin realm="`+realm+`"`)
	w.WriteHeader(http.StatusUnauthorized)
}

// acceptsGzip applies the guide's rule: Accept-Encoding absent, or naming
// gzip.
func acceptsGzip(r *http.Request) bool {
	v, present := r.Header["Accept-Encoding"]
	if !present {
		return true
	}
	return strings.Contains(strings.ToLower(strings.Join(v, ",")), "gzip")
}

// writeGzip answers status with body gzip-compressed.
func writeGzip(w http.ResponseWriter, status int, contentType string, body []byte) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(body)
	_ = zw.Close()
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Encoding", "gzip")
	w.Header().Set("Content-Length", fmt.Sprint(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// httpTime formats t for Expires, rounded up to the second so that a client
// honouring it is never early.
func httpTime(t time.Time) string {
	if r := t.Truncate(time.Second); !r.Equal(t) {
		t = r.Add(time.Second)
	}
	return t.UTC().Format(http.TimeFormat)
}

// seconds rounds d up to whole seconds, at least 1, for Retry-After.
func seconds(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return fmt.Sprint(s)
}

// baseURL returns scheme://host of the request.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// business runs the common part of every business call: the random faults
// (slow, 503, 429) before serve, the drop fault after it, and the log entry.
// serve runs with e.mu held, makes the service's own checks (token
// included, in the service's order), answers, and completes entry; the
// caller sets the entry fields known before (op, path, user agent).
func (e *Emulator) business(w http.ResponseWriter, r *http.Request, entry Request, method string,
	serve func(w http.ResponseWriter, now time.Time, entry *Request)) {
	if r.Method != method {
		w.Header().Set("Allow", method)
		w.WriteHeader(http.StatusMethodNotAllowed)
		e.logLocked(entry, http.StatusMethodNotAllowed)
		return
	}
	if method == http.MethodGet {
		w.Header().Set("Cache-Control", "no-cache") // guide 2.2: every GET answer
	}
	e.mu.Lock()
	d := e.draw(entry.Op)
	e.mu.Unlock()
	if e.cfg.Latency > 0 {
		t := time.NewTimer(e.cfg.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
		}
		t.Stop()
	}
	if d.slow > 0 {
		select {
		case <-time.After(d.slow):
		case <-r.Context().Done():
		}
		entry.Fault = FaultSlow
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.cfg.Now()
	switch {
	case d.unavailable:
		w.Header().Set("Retry-After", seconds(d.retryAfter))
		w.WriteHeader(http.StatusServiceUnavailable)
		entry.Status, entry.Fault = http.StatusServiceUnavailable, FaultUnavailable
		e.record(entry)
		return
	case d.rateLimit:
		w.Header().Set("Retry-After", seconds(d.retryAfter))
		w.Header().Set("Expires", httpTime(now.Add(d.retryAfter)))
		w.WriteHeader(http.StatusTooManyRequests)
		entry.Status, entry.Fault, entry.Reason429 = http.StatusTooManyRequests, FaultRateLimit, "fault"
		e.record(entry)
		return
	}
	out := w
	if d.drop {
		out = &discardWriter{header: http.Header{}}
	}
	rec := &emulog.StatusWriter{ResponseWriter: out}
	serve(rec, now, &entry)
	entry.Status = rec.Status
	entry.ClientGone = r.Context().Err() != nil
	if d.drop {
		entry.Fault = FaultDrop
	}
	e.record(entry)
	if d.drop {
		dropConnection(w)
	}
}

// discardWriter swallows an answer that will never be sent.
type discardWriter struct{ header http.Header }

// Header returns the headers, never sent.
func (d *discardWriter) Header() http.Header { return d.header }

// Write discards b.
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }

// WriteHeader discards the status.
func (d *discardWriter) WriteHeader(int) {}

// dropConnection closes the client's connection without an answer.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler) // the server closes the connection (HTTP/2 too)
}
