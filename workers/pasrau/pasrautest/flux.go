package pasrautest

import (
	"bytes"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/passerelle-dev/passerelle/workers/pasrau"
)

// flux is one deposit and the returns scheduled for it.
type flux struct {
	id        string
	siret     string // declarant who deposited
	declarant Declarant
	at        time.Time // reception
	rejected  bool
	decl      *pasrau.Declaration
	problems  pasrau.Problems // all problems Validate found
	facts     fileFacts
	returns   []*scheduled
}

// scheduled is one return of a flux (one nature) and its successive
// versions: EN_COURS, then final, then possibly an overwrite.
type scheduled struct {
	nature   string
	host     string // hostReturns, hostCRM or hostACOSS
	versions []*version
}

// Where a return's document is downloaded from.
const (
	hostReturns = "returns" // /telecharger-retour/1.0/{idflux}/{id}
	hostCRM     = "crm"     // same path on the CRM host (93, 94)
	hostACOSS   = "acoss"   // /downloadcr?idflux=...&idretour=...
)

// version is what a return looks like from a given time on.
type version struct {
	from   time.Time
	statut pasrau.Status
	id     string // return id; "" when there is no document
	doc    string // document kind (doc* constants); "" when none
}

// returnRef locates a return version by its id.
type returnRef struct {
	f *flux
	r *scheduled
	v *version
}

// current returns the version visible at now, nil before the first one.
func (s *scheduled) current(now time.Time) *version {
	var cur *version
	for _, v := range s.versions {
		if !v.from.After(now) {
			cur = v
		}
	}
	return cur
}

// fileFacts are the raw rubric values the emulator's documents and triggers
// use, converted from ISO-8859-1.
type fileFacts struct {
	contact     string // S10.G00.02.002
	siren       string // S21.G00.06.001
	nicSiege    string // S21.G00.06.002
	nicEtab     string // S21.G00.11.001
	month       string // S20.G00.05.005, 01MMAAAA
	organismes  []string
	individuals []individual
}

// individual is an S21.G00.30 block.
type individual struct {
	nir       string // S21.G00.30.001
	nom       string // S21.G00.30.002
	matricule string // S21.G00.30.019
}

// readFacts scans a declaration file for the rubrics fileFacts holds. It
// keeps the first value of each, except organisms and individuals.
func readFacts(file []byte) fileFacts {
	var f fileFacts
	for line := range bytes.Lines(file) {
		line = bytes.TrimRight(line, "\r\n")
		id, value, ok := bytes.Cut(line, []byte(",'"))
		if !ok || len(id) != 14 || !bytes.HasSuffix(value, []byte("'")) {
			continue
		}
		v := latin1(value[:len(value)-1])
		first := func(dst *string) {
			if *dst == "" {
				*dst = v
			}
		}
		switch string(id) {
		case "S10.G00.02.002":
			first(&f.contact)
		case "S20.G00.05.005":
			first(&f.month)
		case "S21.G00.06.001":
			first(&f.siren)
		case "S21.G00.06.002":
			first(&f.nicSiege)
		case "S21.G00.11.001":
			first(&f.nicEtab)
		case "S21.G00.20.001":
			f.organismes = append(f.organismes, v)
		case "S21.G00.30.001":
			f.individuals = append(f.individuals, individual{nir: v})
		case "S21.G00.30.002":
			if n := len(f.individuals); n > 0 {
				f.individuals[n-1].nom = v
			}
		case "S21.G00.30.019":
			if n := len(f.individuals); n > 0 {
				f.individuals[n-1].matricule = v
			}
		}
	}
	return f
}

// latin1 converts ISO-8859-1 bytes to a UTF-8 string.
func latin1(b []byte) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		out = utf8.AppendRune(out, rune(c))
	}
	return string(out)
}

// Triggers: markers in the contact name (S10.G00.02.002) that drive the
// returns. See the package documentation.
const (
	TriggerBANKO     = "BAN-KO"
	TriggerBANANO    = "BAN-ANO"
	TriggerBISANO    = "BIS-ANO"
	TriggerCRM93KO   = "CRM93-KO"
	TriggerCRM94ANO  = "CRM94-ANO"
	TriggerCRM94KO   = "CRM94-KO"
	TriggerACOSS66KO = "ACOSS66-KO"
	TriggerACOSS68KO = "ACOSS68-KO"
	TriggerACOSS68AN = "ACOSS68-ANO"
	TriggerOverwrite = "OVERWRITE"
	// TriggerAREKO rejects the deposit at once (422 and a rejection notice),
	// although the file's form is right: the rejection PASRAU's own controls
	// would give a file passerelle's checks cannot catch.
	TriggerAREKO = "ARE-KO"
)

// has reports whether the contact name carries a trigger.
func (f *fileFacts) has(trigger string) bool {
	return strings.Contains(strings.ToUpper(f.contact), trigger)
}

// acoss reports whether the declaration pays an organism other than DGFIP
// (S21.G00.20.001), which makes ACOSS publish returns 65 to 68.
func (f *fileFacts) acoss() bool {
	for _, o := range f.organismes {
		if !strings.EqualFold(strings.TrimSpace(o), "DGFIP") {
			return true
		}
	}
	return false
}

// blocking reports whether a problem makes the deposit rejected at once
// (422 and rejection notice) rather than reported in the anomaly report:
// the file's form (encoding, syntax, first line, S90 totals or a missing S90
// block). The norm's other checks come back in the BAN (nature 11).
func blocking(p pasrau.Problem) bool {
	switch p.Code {
	case pasrau.ProblemEmpty, pasrau.ProblemEncoding, pasrau.ProblemSyntax, pasrau.ProblemFirstLine, pasrau.ProblemTotals:
		return true
	case pasrau.ProblemMissing:
		return strings.HasPrefix(p.Rubric, "S90")
	}
	return false
}

// Document kinds.
const (
	docAEE   = "AEE"
	docARE   = "ARE"
	docCCO   = "CCO"
	docBAN   = "BAN"
	docBIS   = "BIS"
	docCRM93 = "CRM93"
	docCRM94 = "CRM94"
	docCRM66 = "CRM66"
	docCRM68 = "CRM68"
)

// newFlux registers a deposit and schedules its returns. The caller holds
// e.mu.
func (e *Emulator) newFlux(acc *account, file []byte, now time.Time) *flux {
	decl, problems := pasrau.Validate(file, pasrau.Latin1)
	f := &flux{
		id:        e.randomID(23),
		siret:     acc.SIRET,
		declarant: acc.Declarant,
		at:        now,
		decl:      decl,
		problems:  problems,
		facts:     readFacts(file),
	}
	for _, p := range problems {
		if blocking(p) {
			f.rejected = true
			break
		}
	}
	if f.facts.has(TriggerAREKO) {
		f.rejected = true
	}
	e.schedule(f)
	e.flux[f.id] = f
	e.fluxOrder = append(e.fluxOrder, f)
	for _, r := range f.returns {
		for _, v := range r.versions {
			if v.id != "" {
				e.returns[v.id] = returnRef{f: f, r: r, v: v}
			}
		}
	}
	return f
}

// schedule plans the returns of a flux (guide 5), Step apart:
//
//	t0      10 AEE OK (or ARE KO for a rejected deposit, and nothing else)
//	t0+1    11 EN_COURS
//	t0+2    11 CCO OK, or BAN ANO/KO; the flux stops at a KO or for a test
//	        declaration (returns 20 and beyond are for real ones)
//	t0+2    20 EN_COURS;  t0+3  20 BIS OK (no document) or ANO (document)
//	t0+3    92 OK (no document)
//	t0+3    94 EN_COURS;  t0+4  94 CRM nominatif OK/ANO/KO (PAS rates)
//	t0+5    94 overwritten (statut, dates, id and url change)   [OVERWRITE]
//	t0+4    93 CRM financier KO                                 [CRM93-KO]
//	t0+3    65 and 67 OK; t0+4 66 and 68 (ACOSS documents)     [organism other than DGFIP]
func (e *Emulator) schedule(f *flux) {
	at := func(steps int) time.Time { return f.at.Add(time.Duration(steps) * e.cfg.Step) }
	final := func(steps int, statut pasrau.Status, doc string) *version {
		v := &version{from: at(steps), statut: statut, doc: doc}
		if doc != "" {
			v.id = e.newReturnID()
		}
		return v
	}
	inProgress := func(steps int) *version {
		return &version{from: at(steps), statut: pasrau.StatusInProgress}
	}
	add := func(nature, host string, versions ...*version) {
		f.returns = append(f.returns, &scheduled{nature: nature, host: host, versions: versions})
	}
	if f.rejected {
		add(pasrau.NatureAEE, hostReturns, final(0, pasrau.StatusKO, docARE))
		return
	}
	add(pasrau.NatureAEE, hostReturns, final(0, pasrau.StatusOK, docAEE))

	s11, doc11 := pasrau.StatusOK, docCCO
	switch {
	case len(f.problems) > 0 || f.facts.has(TriggerBANKO):
		s11, doc11 = pasrau.StatusKO, docBAN
	case f.facts.has(TriggerBANANO):
		s11, doc11 = pasrau.StatusANO, docBAN
	}
	add(pasrau.NatureConformity, hostReturns, inProgress(1), final(2, s11, doc11))
	if s11 == pasrau.StatusKO || f.decl.EssaiReel != pasrau.EssaiReal {
		return
	}

	if f.facts.has(TriggerBISANO) {
		add(pasrau.NatureBIS, hostReturns, inProgress(2), final(3, pasrau.StatusANO, docBIS))
	} else {
		add(pasrau.NatureBIS, hostReturns, inProgress(2), final(3, pasrau.StatusOK, ""))
	}
	add(pasrau.NatureDGFIPReceipt, hostReturns, final(3, pasrau.StatusOK, ""))
	s94 := pasrau.StatusOK
	switch {
	case f.facts.has(TriggerCRM94KO):
		s94 = pasrau.StatusKO
	case f.facts.has(TriggerCRM94ANO):
		s94 = pasrau.StatusANO
	}
	versions94 := []*version{inProgress(3), final(4, s94, docCRM94)}
	if f.facts.has(TriggerOverwrite) {
		again := pasrau.StatusANO
		if s94 != pasrau.StatusOK {
			again = pasrau.StatusOK
		}
		versions94 = append(versions94, final(5, again, docCRM94))
	}
	add(pasrau.NatureDGFIPNominative, hostCRM, versions94...)
	if f.facts.has(TriggerCRM93KO) {
		add(pasrau.NatureDGFIPPayment, hostCRM, final(4, pasrau.StatusKO, docCRM93))
	}
	if f.facts.acoss() {
		s66 := pasrau.StatusOK
		if f.facts.has(TriggerACOSS66KO) {
			s66 = pasrau.StatusKO
		}
		s68 := pasrau.StatusOK
		switch {
		case f.facts.has(TriggerACOSS68KO):
			s68 = pasrau.StatusKO
		case f.facts.has(TriggerACOSS68AN):
			s68 = pasrau.StatusANO
		}
		add(pasrau.NatureACOSSAggregated, hostReturns, final(3, pasrau.StatusOK, ""))
		add(pasrau.NatureACOSSAggReport, hostACOSS, final(4, s66, docCRM66))
		add(pasrau.NatureACOSSNominative, hostReturns, final(3, pasrau.StatusOK, ""))
		add(pasrau.NatureACOSSNomReport, hostACOSS, final(4, s68, docCRM68))
	}
}

// newReturnID returns a fresh 10-digit return id. The caller holds e.mu.
func (e *Emulator) newReturnID() string {
	e.nextReturn++
	return fmt.Sprintf("%010d", e.nextReturn%10000000000)
}
