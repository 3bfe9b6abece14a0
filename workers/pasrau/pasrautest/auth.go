package pasrautest

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/xml"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// identifiants is the authentication request body (guide 3.1.1).
type identifiants struct {
	XMLName    xml.Name `xml:"identifiants"`
	SIRET      string   `xml:"siret"`
	Nom        string   `xml:"nom"`
	Prenom     string   `xml:"prenom"`
	MotDePasse string   `xml:"motdepasse"`
	Service    string   `xml:"service"`
}

// serveAuth is the authentication service: 503 when the AuthDown fault is
// on, 422 for a body that is not <identifiants> or values outside the
// guide's lengths (siret 14 digits, nom 1-64, prenom 1-39, motdepasse 8-30,
// service 1-2 digits), 401 Basic realm="net-entreprises.fr" for unknown
// credentials, 401 PASRAULogin realm="Utilisateur non-inscrit au service"
// for a declarant not registered or a service code not accepted, else 200
// with a base64 token (with '=' padding) and its Expires.
func (e *Emulator) serveAuth(w http.ResponseWriter, r *http.Request) {
	entry := newEntry(opAuth, r)
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		w.WriteHeader(http.StatusMethodNotAllowed)
		e.logLocked(entry, http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.faults.AuthDown {
		w.Header().Set("Retry-After", seconds(e.faults.retryAfter()))
		w.WriteHeader(http.StatusServiceUnavailable)
		entry.Fault = FaultAuthDown
		e.recordStatus(entry, http.StatusServiceUnavailable)
		return
	}
	var id identifiants
	if err != nil || xml.Unmarshal(body, &id) != nil || !validIdentifiants(id) {
		w.WriteHeader(http.StatusUnprocessableEntity)
		e.recordStatus(entry, http.StatusUnprocessableEntity)
		return
	}
	entry.SIRET = id.SIRET
	acc := e.declarants[id.SIRET]
	if acc == nil || acc.Nom != id.Nom || acc.Prenom != id.Prenom || acc.MotDePasse != id.MotDePasse {
		w.Header().Set("WWW-Authenticate", `Basic realm="net-entreprises.fr"`)
		w.WriteHeader(http.StatusUnauthorized)
		e.recordStatus(entry, http.StatusUnauthorized)
		return
	}
	if acc.NotRegistered || !slices.Contains(e.cfg.ServiceCodes, id.Service) {
		unauthorized(w, "Utilisateur non-inscrit au service")
		e.recordStatus(entry, http.StatusUnauthorized)
		return
	}
	now := e.cfg.Now()
	raw := make([]byte, 0, 32)
	for range 4 {
		raw = binary.BigEndian.AppendUint64(raw, e.rng.Uint64())
	}
	token := base64.StdEncoding.EncodeToString(raw) // 44 characters, one '='
	// Whole seconds, as Expires says them: the client and the emulator agree.
	expires := now.Add(e.cfg.TokenLifetime).Truncate(time.Second)
	e.sessions[token] = &session{siret: acc.SIRET, expires: expires}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Expires", expires.UTC().Format(http.TimeFormat))
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, token)
	e.recordStatus(entry, http.StatusOK)
}

// validIdentifiants checks the guide's lengths.
func validIdentifiants(id identifiants) bool {
	digits := func(s string) bool {
		return s != "" && strings.Trim(s, "0123456789") == ""
	}
	between := func(s string, lo, hi int) bool {
		n := utf8.RuneCountInString(s)
		return n >= lo && n <= hi
	}
	return len(id.SIRET) == 14 && digits(id.SIRET) &&
		between(id.Nom, 1, 64) && between(id.Prenom, 1, 39) &&
		between(id.MotDePasse, 8, 30) &&
		len(id.Service) >= 1 && len(id.Service) <= 2 && digits(id.Service)
}

// recordStatus logs entry with its status. The caller holds e.mu.
func (e *Emulator) recordStatus(entry Request, status int) {
	entry.Status = status
	e.record(entry)
}

// logLocked logs entry with its status, taking e.mu.
func (e *Emulator) logLocked(entry Request, status int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.recordStatus(entry, status)
}
