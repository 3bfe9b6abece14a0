//go:build unix

package chaos

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/workers/choruspro/chorusprotest"
	"github.com/passerelle-dev/passerelle/workers/pasrau"
	"github.com/passerelle-dev/passerelle/workers/pasrau/pasrautest"
	"github.com/passerelle-dev/passerelle/workers/runtime"
)

// Kinds of finding.
const (
	findLost       = "lost"          // a submission, status, return or dead letter that should exist and does not
	findDuplicated = "duplicated"    // something sent, stored or published twice
	findDead       = "dead-lettered" // a dead letter that was not made undeliverable on purpose
	findUnexpected = "unexpected"    // an outcome other than the expected one
)

// finding is one thing wrong, with the submission it concerns when known.
type finding struct {
	kind string
	sub  *submission
	what string
	// ofReturn: about a declaration.return of an account, not the submission itself.
	ofReturn bool
}

// verdict is the result of the checks.
type verdict struct {
	findings       []finding
	finals         map[string]int // final states, counted
	chorusDeposits int            // invoices created at Chorus Pro
	pasrauDeposits int            // fluxes registered by PASRAU for the load
	statusEvents   int
	returnEvents   int
	returnGroups   int // (account, flux, nature, OPS) published
	deadLetters    int
}

func (v *verdict) add(kind string, s *submission, format string, args ...any) {
	v.findings = append(v.findings, finding{kind: kind, sub: s, what: fmt.Sprintf(format, args...)})
}

// addReturn adds a finding about a return an account published (or not).
func (v *verdict) addReturn(kind string, s *submission, format string, args ...any) {
	v.findings = append(v.findings, finding{kind: kind, sub: s, what: fmt.Sprintf(format, args...), ofReturn: true})
}

// count returns how many submissions (or messages, for findings about no
// submission) a kind of finding concerns: a lost deposit also misses its
// returns, but it is one thing lost.
func (v *verdict) count(kind string) int { return v.countOf(kind, nil) }

// countOf is count restricted to the findings about returns (ofReturn true) or
// about the rest (false); nil counts both.
func (v *verdict) countOf(kind string, ofReturn *bool) int {
	n := 0
	subs := map[*submission]bool{}
	for _, f := range v.findings {
		switch {
		case f.kind != kind, ofReturn != nil && f.ofReturn != *ofReturn:
		case f.sub == nil:
			n++
		case !subs[f.sub]:
			subs[f.sub] = true
			n++
		}
	}
	return n
}

// check runs every check on the events stream's records, the emulators' logs and
// the dead letters.
func check(l *load, recs []record, chorus []chorusprotest.RequestRecord, pas []pasrautest.Request, dead []deadLetter, accounts int) *verdict {
	v := &verdict{finals: map[string]int{}}
	checkEvents(v, l, recs)
	checkChorusPro(v, l, chorus)
	fluxes := checkPASRAU(v, l, pas)
	checkReturns(v, l, recs, fluxes, accounts, pas)
	checkDeadLetters(v, l, dead)
	return v
}

// checkEvents: no event stored twice; every submission has its statuses numbered
// 1..n once each, exactly one final, the last, in the state expected.
func checkEvents(v *verdict, l *load, recs []record) {
	ids := map[string]int{}
	bySub := map[string][]*statusData{}
	for _, r := range recs {
		ids[r.id]++
		switch {
		case r.status != nil:
			v.statusEvents++
			bySub[r.status.SubmitID] = append(bySub[r.status.SubmitID], r.status)
		case r.ret != nil:
			v.returnEvents++
		}
	}
	for _, r := range recs {
		if n := ids[r.id]; n > 1 {
			var s *submission
			switch {
			case r.status != nil:
				s = l.byID[r.status.SubmitID]
			case r.ret != nil:
				s = l.byID[r.ret.SubmitID]
			}
			v.add(findDuplicated, s, "event %s (%s on %s) stored %d times", r.id, r.typ, r.subject, n)
			ids[r.id] = 0 // once per id
		}
	}
	for id := range bySub {
		if l.byID[id] == nil {
			v.add(findUnexpected, nil, "status events for submission %s, which the load does not hold: %s", id, history(recs, id))
		}
	}
	for _, s := range l.subs {
		sts := bySub[s.id]
		var finals []*statusData
		seqs := map[int]int{}
		top := 0
		for _, st := range sts {
			seqs[st.Sequence]++
			top = max(top, st.Sequence)
			if st.Final {
				finals = append(finals, st)
			}
		}
		switch {
		case len(finals) == 0:
			v.add(findLost, s, "no final status (%s)", history(recs, s.id))
			continue
		case len(finals) > 1:
			v.add(findDuplicated, s, "%d final statuses (%s)", len(finals), history(recs, s.id))
		}
		final := finals[0]
		v.finals[final.State]++
		for n := 1; n <= top; n++ {
			switch seqs[n] {
			case 0:
				v.add(findLost, s, "status #%d never published (%s)", n, history(recs, s.id))
			case 1:
			default:
				v.add(findDuplicated, s, "status #%d published %d times (%s)", n, seqs[n], history(recs, s.id))
			}
		}
		if final.Sequence != top {
			v.add(findUnexpected, s, "final status #%d is not the last (%s)", final.Sequence, history(recs, s.id))
		}
		switch final.State {
		case s.want:
		case events.StateFailed, events.StateUnknown:
			v.add(findLost, s, "ended %s, want %s (%s)", final.State, s.want, history(recs, s.id))
		default:
			v.add(findUnexpected, s, "ended %s, want %s (%s)", final.State, s.want, history(recs, s.id))
		}
	}
}

// checkChorusPro: Chorus Pro created each invoice of the load exactly once, and
// nothing else; no invoice was submitted again after it was created.
func checkChorusPro(v *verdict, l *load, log []chorusprotest.RequestRecord) {
	created := map[string]int{}
	for _, r := range log {
		if r.Applied && (r.Operation == "soumettre" || r.Operation == "deposerFlux") {
			for _, n := range strings.Split(r.NumeroFacture, ",") {
				created[n]++
				v.chorusDeposits++
			}
		}
	}
	known := map[string]bool{}
	for _, s := range l.subs {
		if s.typ != events.TypeInvoiceSubmit {
			continue
		}
		known[s.number] = true
		switch got := created[s.number]; {
		case got == s.deposits:
		case got < s.deposits:
			v.add(findLost, s, "Chorus Pro created the invoice %d times, want %d", got, s.deposits)
		default:
			v.add(findDuplicated, s, "Chorus Pro created the invoice %d times, want %d", got, s.deposits)
		}
	}
	for n := range created {
		if !known[n] {
			v.add(findUnexpected, nil, "Chorus Pro created invoice %q, which the load does not hold", n)
		}
	}
	bySub := map[string]*submission{}
	for _, s := range l.subs {
		if s.typ == events.TypeInvoiceSubmit {
			bySub[s.number] = s
		}
	}
	for _, line := range chorusprotest.Resubmissions(log) {
		var s *submission
		for n, sub := range bySub {
			if strings.Contains(line, "invoice "+n+" ") {
				s = sub
			}
		}
		v.add(findDuplicated, s, "%s", line)
	}
}

// checkPASRAU: PASRAU registered each declaration file of the load exactly once.
// It returns the fluxes registered for the load's declarations.
func checkPASRAU(v *verdict, l *load, log []pasrautest.Request) map[string]*submission {
	bySHA := map[string]*submission{}
	for _, s := range l.subs {
		if s.typ == events.TypeDeclarationSubmit && s.sha != "" {
			bySHA[s.sha] = s
		}
	}
	registered := map[string][]string{}
	fluxes := map[string]*submission{}
	for _, r := range log {
		if r.Op != "deposit" || r.IDFlux == "" {
			continue
		}
		registered[r.SHA256] = append(registered[r.SHA256], r.IDFlux)
		if s := bySHA[r.SHA256]; s != nil {
			fluxes[r.IDFlux] = s
			v.pasrauDeposits++
		} else {
			v.add(findUnexpected, nil, "PASRAU registered flux %s for a file (sha256 %s) the load does not hold", r.IDFlux, r.SHA256)
		}
	}
	for sha, s := range bySHA {
		switch got := len(registered[sha]); {
		case got == s.deposits:
		case got < s.deposits:
			v.add(findLost, s, "PASRAU registered the file %d times, want %d", got, s.deposits)
		default:
			v.add(findDuplicated, s, "PASRAU registered the file %d times (fluxes %s), want %d", got, strings.Join(registered[sha], ", "), s.deposits)
		}
	}
	return fluxes
}

// returnKey groups the versions of one return as one account published them.
type returnKey struct{ account, idflux, nature, ops string }

// checkReturns: each return of each flux was published by every account once
// per version (versions 1..n, none twice), its last version final, and every
// account published every return any account published for the flux, the
// acknowledgement (10) and the conformity answer (11) at least.
//
// pas, when given, adds to a missing version the by-declarant listings whose
// range held its publication, as evidence.
func checkReturns(v *verdict, l *load, recs []record, fluxes map[string]*submission, accounts int, pas []pasrautest.Request) {
	versions := map[returnKey][]int{}
	last := map[returnKey]*returnData{}     // the highest version
	natures := map[string]map[string]bool{} // by flux: nature/OPS
	for _, r := range recs {
		if r.ret == nil {
			continue
		}
		k := returnKey{r.ret.Account, r.ret.IDFlux, r.ret.Nature, r.ret.OPS}
		versions[k] = append(versions[k], r.ret.Version)
		if last[k] == nil || r.ret.Version > last[k].Version {
			last[k] = r.ret
		}
		if natures[r.ret.IDFlux] == nil {
			natures[r.ret.IDFlux] = map[string]bool{}
		}
		natures[r.ret.IDFlux][r.ret.Nature+"/"+r.ret.OPS] = true
	}
	v.returnGroups = len(versions)
	for k, vs := range versions {
		sort.Ints(vs)
		s := fluxes[k.idflux]
		counts := map[int]int{}
		for _, n := range vs {
			counts[n]++
		}
		for n := 1; n <= vs[len(vs)-1]; n++ {
			switch counts[n] {
			case 0:
				v.addReturn(findLost, s, "return %s/%s of flux %s: account %s never published version %d (versions %v)", k.nature, k.ops, k.idflux, k.account, n, vs)
			case 1:
			default:
				v.addReturn(findDuplicated, s, "return %s/%s of flux %s: account %s published version %d %d times (versions %v)", k.nature, k.ops, k.idflux, k.account, n, counts[n], vs)
			}
		}
		if last[k].Statut == "EN_COURS" && s != nil {
			v.addReturn(findLost, s, "return %s/%s of flux %s: account %s published no final version (versions %v)%s", k.nature, k.ops, k.idflux, k.account, vs, listingsOf(k, last, pas))
		}
	}
	for idflux, s := range fluxes {
		want := natures[idflux]
		if want == nil {
			want = map[string]bool{}
		}
		want["10/"], want["11/"] = true, true
		for i := range accounts {
			for nat := range want {
				nature, ops, _ := strings.Cut(nat, "/")
				if _, ok := versions[returnKey{accountName(i), idflux, nature, ops}]; !ok {
					v.addReturn(findLost, s, "flux %s: account %s never published return %s", idflux, accountName(i), nat)
				}
			}
		}
	}
}

// deadLetter is a message of the dead-letter stream.
type deadLetter struct {
	header nats.Header
	data   []byte
}

// listingsOf describes the final version another account published of the
// return k, and the by-declarant listings whose range held its publication time:
// one of them should have brought it to k's account.
func listingsOf(k returnKey, last map[returnKey]*returnData, pas []pasrautest.Request) string {
	var final *returnData
	for o, r := range last {
		if o.idflux == k.idflux && o.nature == k.nature && o.ops == k.ops && r.Statut != "EN_COURS" && r.Publication != "" {
			final = r
			break
		}
	}
	if final == nil {
		return "; no account published a final version"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "; account %s published version %d %s, publication %s", final.Account, final.Version, final.Statut, final.Publication)
	pub, err := time.Parse(time.RFC3339, final.Publication)
	if err != nil {
		return b.String()
	}
	at := pasrau.FormatTime(pub, nil)
	for _, r := range pas {
		if r.Op == "list-declarant" && r.RangeStart <= at && (r.RangeEnd == "" || at <= r.RangeEnd) {
			fmt.Fprintf(&b, "\n    listing #%d at %s: range %s-%s page %d, status %d %s", r.Seq,
				time.Unix(0, r.TimeNS).UTC().Format("15:04:05.000"), r.RangeStart, r.RangeEnd, r.Page, r.Status, r.Reason429)
		}
	}
	return b.String()
}

// checkDeadLetters: the dead-letter stream holds exactly the messages made
// undeliverable on purpose, each once.
func checkDeadLetters(v *verdict, l *load, dead []deadLetter) {
	v.deadLetters = len(dead)
	want := map[string]*poisonMsg{}
	for _, p := range l.poison {
		want[deadLetterKey(p.stream, p.seq)] = p
	}
	got := map[string]int{}
	for _, m := range dead {
		h := m.header
		seq, _ := strconv.ParseUint(h.Get(runtime.HeaderDeadSequence), 10, 64)
		key := deadLetterKey(h.Get(runtime.HeaderDeadStream), seq)
		got[key]++
		if want[key] != nil {
			continue
		}
		var s *submission
		if e, _, err := events.Decode(context.Background(), runtime.OriginalHeader(h), m.data); err == nil {
			s = l.byID[e.ID()]
		}
		v.add(findDead, s, "dead letter of %s (%s, after %s deliveries): %s", key, h.Get(runtime.HeaderDeadKind), h.Get(runtime.HeaderDeadDeliveries), h.Get(runtime.HeaderDeadReason))
	}
	for key, p := range want {
		switch got[key] {
		case 0:
			v.add(findLost, p.sub, "%s (%s) is not in the dead-letter stream", p.what, key)
		case 1:
		default:
			v.add(findDuplicated, p.sub, "%s (%s) is %d times in the dead-letter stream", p.what, key, got[key])
		}
	}
}

// evidence gathers what a bug report needs about a submission: its status
// events, the emulators' log entries about it, and the workers' log lines about
// it (found by its trace id, event id or invoice number).
func evidence(s *submission, recs []record, chorus []chorusprotest.RequestRecord, pas []pasrautest.Request, workerLogs []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n  status events: %s\n", s.what(), history(recs, s.id))
	if s.typ == events.TypeInvoiceSubmit {
		for _, r := range chorus {
			if r.NumeroFacture != "" && containsField(r.NumeroFacture, s.number) {
				fmt.Fprintf(&b, "  Chorus Pro #%d %s %s status %d applied=%t codeRetour=%d fault=%q flux=%s cpp=%d\n",
					r.Seq, r.Time.Format("15:04:05.000"), r.Operation, r.Status, r.Applied, r.CodeRetour, r.Fault, r.NumeroFluxDepot, r.IdentifiantFactureCPP)
			}
		}
	} else {
		flux := map[string]bool{}
		for _, r := range pas {
			if r.SHA256 != "" && r.SHA256 == s.sha && r.IDFlux != "" {
				flux[r.IDFlux] = true
			}
		}
		for _, r := range pas {
			if r.SHA256 != "" && r.SHA256 == s.sha || flux[r.IDFlux] {
				fmt.Fprintf(&b, "  PASRAU #%d %d %s status %d idflux=%s fault=%q\n", r.Seq, r.TimeNS, r.Op, r.Status, r.IDFlux, r.Fault)
			}
		}
	}
	keys := []string{s.traceID, s.id}
	if s.number != "" {
		keys = append(keys, `"`+s.number+`"`)
	}
	var lines []string
	for _, path := range workerLogs {
		for _, line := range grepFile(path, func(line string) bool {
			for _, k := range keys {
				if strings.Contains(line, k) {
					return true
				}
			}
			return false
		}) {
			if len(line) > 600 {
				line = line[:600] + "..."
			}
			lines = append(lines, filepath.Base(path)+": "+line)
		}
	}
	if len(lines) > 40 {
		lines = append(append(lines[:20:20], fmt.Sprintf("... %d lines ...", len(lines)-40)), lines[len(lines)-20:]...)
	}
	for _, line := range lines {
		fmt.Fprintf(&b, "  %s\n", line)
	}
	return b.String()
}

// containsField reports whether a comma-separated list holds s.
func containsField(list, s string) bool {
	for _, f := range strings.Split(list, ",") {
		if f == s {
			return true
		}
	}
	return false
}
