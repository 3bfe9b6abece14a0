package pasrau

import (
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Status is the statut of a listed return, or the etat of a return document.
type Status string

// The statuses of the guide (3.3.3).
const (
	// StatusOK: the step ended normally.
	StatusOK Status = "OK"
	// StatusKO: at least one blocking anomaly stopped the processing.
	StatusKO Status = "KO"
	// StatusANO: non-blocking anomalies; the processing went on.
	StatusANO Status = "ANO"
	// StatusInProgress (EN_COURS): the declaration is being distributed to the
	// body that will publish this return; publication, production, id and url
	// are empty.
	StatusInProgress Status = "EN_COURS"
)

// valid reports whether s is one of the four statuses.
func (s Status) valid() bool {
	switch s {
	case StatusOK, StatusKO, StatusANO, StatusInProgress:
		return true
	}
	return false
}

// Return natures (guide 1.3).
const (
	NatureAEE             = "10" // AEE, or rejection notice (statut KO)
	NatureConformity      = "11" // conformity certificate (CCO) or anomaly report (BAN)
	NatureBIS             = "20" // employee identification report
	NatureACOSSAggregated = "65" // ACOSS aggregated data receipt
	NatureACOSSAggReport  = "66" // ACOSS aggregated data business report
	NatureACOSSNominative = "67" // ACOSS nominative data receipt
	NatureACOSSNomReport  = "68" // ACOSS nominative data business report
	NatureDGFIPReceipt    = "92" // DGFIP receipt
	NatureDGFIPPayment    = "93" // DGFIP business report, payment data
	NatureDGFIPNominative = "94" // DGFIP business report, nominative data (PAS rates)
)

const (
	// maxReturnURLLength is the guide's limit on download urls (3.4.1).
	maxReturnURLLength = 256
	// maxFluxIDLength is the guide's limit on flux ids (3.3.3).
	maxFluxIDLength = 50
	// defaultPageWhenMissing: "si pas de pagination, la réponse a par
	// défaut la page numéro 1" (3.3.3).
	defaultPageWhenMissing = 1
)

// Listing is a parsed returns listing (guide 3.3.3).
type Listing struct {
	Flux []Flux `json:"flux"`
	// PageCurrent is pageencours, 1 when absent.
	PageCurrent int `json:"page_current"`
	// PagesTotal is pagestotal (or pagetotal, the guide's field table
	// spelling), 1 when absent.
	PagesTotal int `json:"pages_total"`
}

// Flux is one deposit and the returns listed for it.
type Flux struct {
	ID      string   `json:"id"`
	Returns []Return `json:"returns"`
}

// Return is one listed return of a flux. A poller keys returns by
// (flux id, Nature, OPS): a later listing may show the same key with other
// dates, statut or url when PASRAU overwrites the return (guide 5.1).
type Return struct {
	// Publication is when PASRAU published the return; zero while EN_COURS.
	Publication time.Time `json:"publication,omitzero"`
	// Production is the producer's business date; zero while EN_COURS.
	Production time.Time `json:"production,omitzero"`
	Nature     string    `json:"nature"`
	Statut     Status    `json:"statut"`
	// ID is the legacy return id; empty while EN_COURS.
	ID string `json:"id,omitempty"`
	// URL is the download address, unescaped and with any whitespace the
	// XML carried removed; empty when no document goes with the return.
	URL string `json:"url,omitempty"`
	// OPS and Delegataire are optional (DSN listings carry them).
	OPS         string `json:"ops,omitempty"`
	Delegataire string `json:"delegataire,omitempty"`
}

// Key returns the identity of a listed return within its flux:
// nature, and the OPS when there is one ("94" or "94/OPS").
func (r Return) Key() string {
	if r.OPS == "" {
		return r.Nature
	}
	return r.Nature + "/" + r.OPS
}

type xmlListing struct {
	XMLName     xml.Name  `xml:"retours"`
	Flux        []xmlFlux `xml:"flux"`
	PageEnCours string    `xml:"pageencours"`
	PagesTotal  string    `xml:"pagestotal"`
	PageTotal   string    `xml:"pagetotal"`
}

type xmlFlux struct {
	ID      string      `xml:"id"`
	Retours []xmlRetour `xml:"retour"`
}

type xmlRetour struct {
	Publication string `xml:"publication"`
	Production  string `xml:"production"`
	Nature      string `xml:"nature"`
	Statut      string `xml:"statut"`
	ID          string `xml:"id"`
	URL         string `xml:"url"`
	OPS         string `xml:"ops"`
	Delegataire string `xml:"delegataire"`
}

// ParseListing parses a returns listing (root <retours>), reading its
// zone-less times in loc (Paris when nil). Unknown elements are ignored.
//
// It returns an error matching ErrMalformed when the document is not XML,
// holds a DOCTYPE, exceeds MaxDocumentSize, has another root, or when a value
// it reads is wrong: a flux id outside [0-9A-Za-z._-]{1,50}, a nature that is
// not a number, an unknown statut, a time that is not yyyyMMddHHmmss, a
// return other than EN_COURS without publication time, a url longer than 256
// characters or not absolute, or page numbers that are not numbers.
func ParseListing(data []byte, loc *time.Location) (*Listing, error) {
	if loc == nil {
		loc = Paris()
	}
	var x xmlListing
	if err := decodeXML(data, &x); err != nil {
		return nil, fmt.Errorf("pasrau: parse listing: %w", err)
	}
	l := &Listing{PageCurrent: defaultPageWhenMissing, PagesTotal: defaultPageWhenMissing}
	var err error
	if l.PageCurrent, err = pageNumber("pageencours", x.PageEnCours); err != nil {
		return nil, err
	}
	total := x.PagesTotal
	if strings.TrimSpace(total) == "" {
		total = x.PageTotal
	}
	if l.PagesTotal, err = pageNumber("pagestotal", total); err != nil {
		return nil, err
	}
	for _, xf := range x.Flux {
		f := Flux{ID: strings.TrimSpace(xf.ID)}
		if !ValidFluxID(f.ID) {
			return nil, fmt.Errorf("pasrau: parse listing: %w: flux id %q is not [0-9A-Za-z._-]{1,50}", ErrMalformed, f.ID)
		}
		for i, xr := range xf.Retours {
			r, err := xr.parse(loc)
			if err != nil {
				return nil, fmt.Errorf("pasrau: parse listing: %w: flux %s, return %d: %w", ErrMalformed, f.ID, i+1, err)
			}
			f.Returns = append(f.Returns, r)
		}
		l.Flux = append(l.Flux, f)
	}
	return l, nil
}

// pageNumber parses an optional page number, 1 when empty.
func pageNumber(name, s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return defaultPageWhenMissing, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 999 {
		return 0, fmt.Errorf("pasrau: parse listing: %w: %s %q is not a page number", ErrMalformed, name, s)
	}
	return n, nil
}

// parse checks and converts one <retour>.
func (xr xmlRetour) parse(loc *time.Location) (Return, error) {
	r := Return{
		Nature:      strings.TrimSpace(xr.Nature),
		Statut:      Status(strings.TrimSpace(xr.Statut)),
		ID:          strings.TrimSpace(xr.ID),
		OPS:         strings.TrimSpace(xr.OPS),
		Delegataire: strings.TrimSpace(xr.Delegataire),
	}
	if !allDigits([]byte(r.Nature)) || len(r.Nature) > 3 {
		return Return{}, fmt.Errorf("nature %q is not a return nature", r.Nature)
	}
	if !r.Statut.valid() {
		return Return{}, fmt.Errorf("statut %q is not OK, KO, ANO or EN_COURS", r.Statut)
	}
	var err error
	if r.Publication, err = optionalTime(xr.Publication, loc); err != nil {
		return Return{}, fmt.Errorf("publication: %w", err)
	}
	if r.Production, err = optionalTime(xr.Production, loc); err != nil {
		return Return{}, fmt.Errorf("production: %w", err)
	}
	if r.Publication.IsZero() && r.Statut != StatusInProgress {
		return Return{}, fmt.Errorf("statut %s without publication time", r.Statut)
	}
	if r.URL, err = NormalizeReturnURL(xr.URL); err != nil {
		return Return{}, err
	}
	return r, nil
}

// optionalTime parses a yyyyMMddHHmmss time that may be empty.
func optionalTime(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	return ParseTime(s, loc)
}

// NormalizeReturnURL turns a download url as listed into the url to call:
// it removes any whitespace (the guide's own example breaks urls across
// lines), unescapes a literal "&amp;" left by double escaping, and checks the
// result is an absolute http(s) url of at most 256 characters. An empty
// input gives "" and no error. It returns an error matching ErrInvalidURL
// otherwise.
func NormalizeReturnURL(raw string) (string, error) {
	s := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\n', '\r':
			return -1
		}
		return r
	}, raw)
	if s == "" {
		return "", nil
	}
	s = strings.ReplaceAll(s, "&amp;", "&")
	if len(s) > maxReturnURLLength {
		return "", fmt.Errorf("%w: %d characters, over the %d the guide allows", ErrInvalidURL, len(s), maxReturnURLLength)
	}
	if !strings.HasPrefix(s, "https://") && !strings.HasPrefix(s, "http://") {
		return "", fmt.Errorf("%w: %q is not an absolute http(s) url", ErrInvalidURL, s)
	}
	return s, nil
}

// ValidFluxID reports whether id is a flux id as the guide defines it:
// 1 to 50 characters among [0-9A-Za-z._-].
func ValidFluxID(id string) bool {
	if len(id) == 0 || len(id) > maxFluxIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
