package pasrautest

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/passerelle-dev/passerelle/workers/pasrau"
)

type xRetours struct {
	XMLName     xml.Name `xml:"retours"`
	Flux        []xFlux  `xml:"flux"`
	PageEnCours int      `xml:"pageencours,omitempty"`
	PagesTotal  int      `xml:"pagestotal,omitempty"`
}

type xFlux struct {
	ID      string    `xml:"id"`
	Retours []xRetour `xml:"retour"`
}

type xRetour struct {
	Publication string  `xml:"publication"`
	Production  string  `xml:"production"`
	Nature      string  `xml:"nature"`
	Statut      string  `xml:"statut"`
	ID          *string `xml:"id,omitempty"`
	URL         *string `xml:"url,omitempty"`
}

// listed is one visible return, ready to be listed.
type listed struct {
	f *flux
	r *scheduled
	v *version
}

// pagination reads page (1..99, default 1) and retourspage (1..6, default
// 3: 100 returns) from the query and notes them in entry; ok is false, and
// entry left alone, when a value is out of range.
func pagination(r *http.Request, entry *Request) (page, size int, ok bool) {
	q := r.URL.Query()
	page, index := 1, pasrau.PerPage100
	if s := q.Get("page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > pasrau.MaxPage {
			return 0, 0, false
		}
		page = n
	}
	if s := strings.TrimSpace(q.Get("retourspage")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || pasrau.PerPageSize(n) == 0 {
			return 0, 0, false
		}
		index = n
	}
	size = pasrau.PerPageSize(index)
	entry.Page, entry.PerPage = page, size
	return page, size, true
}

// serveListFlux is the listing by flux: 406, 401, 422 (pagination), 404
// (unknown flux), 403 (another declarant's flux), else 200.
func (e *Emulator) serveListFlux(w http.ResponseWriter, r *http.Request) {
	entry := newEntry(opListFlux, r)
	e.business(w, r, entry, http.MethodGet, func(w http.ResponseWriter, now time.Time, entry *Request) {
		acc := e.authorizeGzip(w, r, now, entry)
		if acc == nil {
			return
		}
		page, size, ok := pagination(r, entry)
		idflux := strings.TrimPrefix(r.URL.Path, PathListFlux)
		entry.IDFlux = idflux
		if !ok || !pasrau.ValidFluxID(idflux) {
			w.WriteHeader(http.StatusUnprocessableEntity)
			return
		}
		f := e.flux[idflux]
		switch {
		case f == nil:
			w.WriteHeader(http.StatusNotFound)
			return
		case f.siret != acc.SIRET:
			w.WriteHeader(http.StatusForbidden)
			return
		}
		var items []listed
		for _, rs := range f.returns {
			if v := rs.current(now); v != nil {
				items = append(items, listed{f: f, r: rs, v: v})
			}
		}
		e.writeListing(w, r, now, items, page, size)
	})
}

// serveListDeclarant is the listing by declarant: 422 (dates), 406, 401,
// 422 (pagination), 429 (range wider than MaxRangeMinutes, then poll sooner
// than MinInterval after the last accepted page-1 poll of this declarant;
// later pages of a listing are not limited), else 200 with the returns whose
// publication (to the second) is within the range. An EN_COURS return, which
// has no publication, is listed when the time it entered that state is.
func (e *Emulator) serveListDeclarant(w http.ResponseWriter, r *http.Request) {
	entry := newEntry(opListDeclarant, r)
	e.business(w, r, entry, http.MethodGet, func(w http.ResponseWriter, now time.Time, entry *Request) {
		startS, endS, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, PathListDeclarant), "/")
		entry.RangeStart, entry.RangeEnd = startS, endS
		start, err := pasrau.ParseTime(startS, e.cfg.Location)
		end := now
		if err == nil && endS != "" {
			end, err = pasrau.ParseTime(endS, e.cfg.Location)
		}
		if err != nil || end.Before(start) {
			w.WriteHeader(http.StatusUnprocessableEntity)
			return
		}
		acc := e.authorizeGzip(w, r, now, entry)
		if acc == nil {
			return
		}
		page, size, ok := pagination(r, entry)
		if !ok {
			w.WriteHeader(http.StatusUnprocessableEntity)
			return
		}
		if m := e.cfg.MaxRangeMinutes; m > 0 && end.Sub(start) > time.Duration(m)*time.Minute {
			e.tooMany(w, now, time.Minute)
			entry.Reason429 = "range"
			return
		}
		if wait := acc.lastPoll.Add(e.cfg.MinInterval).Sub(now); page == 1 && !acc.lastPoll.IsZero() && wait > 0 {
			e.tooMany(w, now, wait)
			entry.Reason429 = "interval"
			return
		}
		if page == 1 {
			acc.lastPoll = now
		}
		endSecond := end.Truncate(time.Second)
		if endS == "" {
			endSecond = now // "up to now"
		}
		var items []listed
		for _, f := range e.fluxOrder {
			if f.siret != acc.SIRET {
				continue
			}
			for _, rs := range f.returns {
				v := rs.current(now)
				if v == nil {
					continue
				}
				if pub := v.from.Truncate(time.Second); pub.Before(start) || pub.After(endSecond) {
					continue
				}
				items = append(items, listed{f: f, r: rs, v: v})
			}
		}
		e.writeListing(w, r, now, items, page, size)
	})
}

// tooMany answers 429 with Retry-After and Expires.
func (e *Emulator) tooMany(w http.ResponseWriter, now time.Time, wait time.Duration) {
	w.Header().Set("Retry-After", seconds(wait))
	w.Header().Set("Expires", httpTime(now.Add(wait)))
	w.WriteHeader(http.StatusTooManyRequests)
}

// writeListing answers 200 with one page of items, grouped by flux, and the
// polling constraints.
func (e *Emulator) writeListing(w http.ResponseWriter, r *http.Request, now time.Time, items []listed, page, size int) {
	doc := xRetours{}
	if len(items) > 0 {
		total := (len(items) + size - 1) / size
		doc.PageEnCours, doc.PagesTotal = page, total
		lo := min((page-1)*size, len(items))
		hi := min(lo+size, len(items))
		for _, it := range items[lo:hi] {
			if n := len(doc.Flux); n == 0 || doc.Flux[n-1].ID != it.f.id {
				doc.Flux = append(doc.Flux, xFlux{ID: it.f.id})
			}
			fx := &doc.Flux[len(doc.Flux)-1]
			fx.Retours = append(fx.Retours, e.listedReturn(r, it))
		}
	}
	body, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	h := w.Header()
	if m := e.cfg.MaxRangeMinutes; m > 0 {
		h.Set("Accept-Ranges", "minutes=0-"+strconv.Itoa(m))
	}
	if e.cfg.MinInterval > 0 {
		h.Set("Expires", httpTime(now.Add(e.cfg.MinInterval)))
	}
	writeGzip(w, http.StatusOK, "application/xml; charset=UTF-8", append([]byte(xml.Header), body...))
}

// listedReturn renders one return of a listing.
func (e *Emulator) listedReturn(r *http.Request, it listed) xRetour {
	x := xRetour{Nature: it.r.nature, Statut: string(it.v.statut)}
	if it.v.statut == pasrau.StatusInProgress {
		empty := ""
		x.ID, x.URL = &empty, &empty
		return x
	}
	x.Publication = pasrau.FormatTime(it.v.from, e.cfg.Location)
	x.Production = x.Publication
	if it.v.id != "" {
		id, u := it.v.id, e.downloadURL(r, it)
		x.ID, x.URL = &id, &u
	}
	return x
}

// downloadURL returns where a return version is downloaded from.
func (e *Emulator) downloadURL(r *http.Request, it listed) string {
	base := e.cfg.ReturnsBaseURL
	if base == "" {
		base = baseURL(r)
	}
	switch it.r.host {
	case hostCRM:
		if e.cfg.CRMBaseURL != "" {
			base = e.cfg.CRMBaseURL
		}
	case hostACOSS:
		return strings.TrimRight(base, "/") + PathDownloadACOSS + "?idflux=" + url.QueryEscape(it.f.id) + "&idretour=" + url.QueryEscape(it.v.id)
	}
	return strings.TrimRight(base, "/") + PathDownload + it.f.id + "/" + it.v.id
}
