package pasrautest

import (
	"net/http"
	"strings"
	"time"
)

// serveDownload serves /telecharger-retour/1.0/{idflux}/{id} and the
// ACOSS-style /downloadcr?idflux=...&idretour=...: 406, 401, 404 (unknown
// id, a version since overwritten, or older than Retention: purged), 403
// (another declarant's return), else 200 with the document, gzip-compressed.
func (e *Emulator) serveDownload(w http.ResponseWriter, r *http.Request) {
	entry := newEntry(opDownload, r)
	e.business(w, r, entry, http.MethodGet, func(w http.ResponseWriter, now time.Time, entry *Request) {
		acc := e.authorizeGzip(w, r, now, entry)
		if acc == nil {
			return
		}
		var idflux, id string
		if r.URL.Path == PathDownloadACOSS {
			idflux, id = r.URL.Query().Get("idflux"), r.URL.Query().Get("idretour")
		} else {
			idflux, id, _ = strings.Cut(strings.TrimPrefix(r.URL.Path, PathDownload), "/")
		}
		entry.IDFlux, entry.ReturnID = idflux, id
		ref, ok := e.returns[id]
		switch {
		case !ok || ref.f.id != idflux:
			w.WriteHeader(http.StatusNotFound)
			return
		case ref.f.siret != acc.SIRET:
			w.WriteHeader(http.StatusForbidden)
			return
		case ref.r.current(now) != ref.v, now.Sub(ref.v.from) > e.cfg.Retention:
			w.WriteHeader(http.StatusNotFound) // overwritten, not yet published, or purged
			return
		}
		doc, err := e.render(ref.f, ref.v)
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		writeGzip(w, http.StatusOK, "application/xml; charset=UTF-8", doc)
	})
}
