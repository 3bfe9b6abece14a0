//go:build unix

package chaos

import (
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/workers/choruspro/chorusprotest"
	"github.com/passerelle-dev/passerelle/workers/pasrau/pasrautest"
	"github.com/passerelle-dev/passerelle/workers/runtime"
)

// TestChecksFindFaults feeds the checks a run where everything that can go wrong
// did, once each, and a run where nothing did: a harness that cannot fail
// proves nothing. It needs no process: it runs even with -short.
func TestChecksFindFaults(t *testing.T) {
	inv := func(id, number string) *submission {
		return &submission{id: id, typ: events.TypeInvoiceSubmit, account: "acct1", number: number, mode: events.ModeStructured, want: "MISE_EN_PAIEMENT", deposits: 1}
	}
	decl := func(id, sha string) *submission {
		return &submission{id: id, typ: events.TypeDeclarationSubmit, account: "acct1", sha: sha, month: "2030-01", want: events.StateAccepted, deposits: 1}
	}
	status := func(seq uint64, id, sub string, n int, state string, final bool) record {
		return record{seq: seq, id: id, typ: events.TypeInvoiceStatus, status: &statusData{SubmitID: sub, Account: "acct1", State: state, Final: final, Sequence: n}}
	}
	ret := func(seq uint64, id, idflux, nature string, version int, statut string) record {
		return record{seq: seq, id: id, typ: events.TypeDeclarationReturn, ret: &returnData{Account: "acct1", IDFlux: idflux, SubmitID: "d1", Nature: nature, Statut: statut, Version: version}}
	}
	soumettre := func(seq uint64, number string, applied bool) chorusprotest.RequestRecord {
		return chorusprotest.RequestRecord{Seq: seq, Operation: "soumettre", NumeroFacture: number, IDFournisseur: 1, Applied: applied, Status: 200}
	}
	deposit := func(seq uint64, sha, idflux string) pasrautest.Request {
		return pasrautest.Request{Seq: seq, Op: "deposit", SHA256: sha, IDFlux: idflux, Status: 200}
	}
	dead := func(stream string, seq uint64) deadLetter {
		h := nats.Header{}
		h.Set(runtime.HeaderDeadStream, stream)
		h.Set(runtime.HeaderDeadSequence, strconv.FormatUint(seq, 10))
		return deadLetter{header: h, data: []byte("x")}
	}
	newLoad := func() *load {
		l := &load{byID: map[string]*submission{}}
		for _, s := range []*submission{inv("i1", "N1"), inv("i2", "N2"), decl("d1", "sha1")} {
			l.subs = append(l.subs, s)
			l.byID[s.id] = s
		}
		l.poison = []*poisonMsg{{what: "poison", stream: runtime.StreamInvoices, seq: 7}}
		return l
	}
	good := func() ([]record, []chorusprotest.RequestRecord, []pasrautest.Request, []deadLetter) {
		recs := []record{
			status(1, "e1", "i1", 1, "received", false), status(2, "e2", "i1", 2, "MISE_EN_PAIEMENT", true),
			status(3, "e3", "i2", 1, "received", false), status(4, "e4", "i2", 2, "MISE_EN_PAIEMENT", true),
			{seq: 5, id: "e5", typ: events.TypeDeclarationStatus, status: &statusData{SubmitID: "d1", State: events.StateAccepted, Final: true, Sequence: 1}},
			ret(6, "r1", "F1", "10", 1, "OK"), ret(7, "r2", "F1", "11", 1, "EN_COURS"), ret(8, "r3", "F1", "11", 2, "OK"),
		}
		return recs, []chorusprotest.RequestRecord{soumettre(1, "N1", true), soumettre(2, "N2", true)},
			[]pasrautest.Request{deposit(1, "sha1", "F1")}, []deadLetter{dead(runtime.StreamInvoices, 7)}
	}

	tests := []struct {
		name  string
		spoil func(recs []record, cp []chorusprotest.RequestRecord, pr []pasrautest.Request, dl []deadLetter) ([]record, []chorusprotest.RequestRecord, []pasrautest.Request, []deadLetter)
		kind  string // a finding expected ("" for none at all)
		want  string // in its text
	}{
		{"nothing wrong", nil, "", ""},
		{"no final status", func(r []record, c []chorusprotest.RequestRecord, p []pasrautest.Request, d []deadLetter) ([]record, []chorusprotest.RequestRecord, []pasrautest.Request, []deadLetter) {
			return append(r[:3:3], r[4:]...), c, p, d
		}, findLost, "no final status"},
		{"two final statuses", func(r []record, c []chorusprotest.RequestRecord, p []pasrautest.Request, d []deadLetter) ([]record, []chorusprotest.RequestRecord, []pasrautest.Request, []deadLetter) {
			return append(r, status(9, "e9", "i2", 3, "MISE_EN_PAIEMENT", true)), c, p, d
		}, findDuplicated, "2 final statuses"},
		{"an event stored twice", func(r []record, c []chorusprotest.RequestRecord, p []pasrautest.Request, d []deadLetter) ([]record, []chorusprotest.RequestRecord, []pasrautest.Request, []deadLetter) {
			return append(r, ret(9, "r1", "F1", "10", 1, "OK")), c, p, d
		}, findDuplicated, "stored 2 times"},
		{"ended failed", func(r []record, c []chorusprotest.RequestRecord, p []pasrautest.Request, d []deadLetter) ([]record, []chorusprotest.RequestRecord, []pasrautest.Request, []deadLetter) {
			r[3] = status(4, "e4", "i2", 2, events.StateFailed, true)
			return r, c, p, d
		}, findLost, "ended failed"},
		{"invoice created twice", func(r []record, c []chorusprotest.RequestRecord, p []pasrautest.Request, d []deadLetter) ([]record, []chorusprotest.RequestRecord, []pasrautest.Request, []deadLetter) {
			return r, append(c, soumettre(3, "N2", true)), p, d
		}, findDuplicated, "created the invoice 2 times"},
		{"invoice never created", func(r []record, c []chorusprotest.RequestRecord, p []pasrautest.Request, d []deadLetter) ([]record, []chorusprotest.RequestRecord, []pasrautest.Request, []deadLetter) {
			return r, c[:1], p, d
		}, findLost, "created the invoice 0 times"},
		{"invoice submitted again after its creation", func(r []record, c []chorusprotest.RequestRecord, p []pasrautest.Request, d []deadLetter) ([]record, []chorusprotest.RequestRecord, []pasrautest.Request, []deadLetter) {
			return r, append(c, soumettre(3, "N2", false)), p, d
		}, findDuplicated, "submitted again"},
		{"declaration registered twice", func(r []record, c []chorusprotest.RequestRecord, p []pasrautest.Request, d []deadLetter) ([]record, []chorusprotest.RequestRecord, []pasrautest.Request, []deadLetter) {
			return r, c, append(p, deposit(2, "sha1", "F2")), d
		}, findDuplicated, "registered the file 2 times"},
		{"a return version published twice", func(r []record, c []chorusprotest.RequestRecord, p []pasrautest.Request, d []deadLetter) ([]record, []chorusprotest.RequestRecord, []pasrautest.Request, []deadLetter) {
			return append(r, ret(9, "r9", "F1", "11", 2, "OK")), c, p, d
		}, findDuplicated, "published version 2 2 times"},
		{"a return never published", func(r []record, c []chorusprotest.RequestRecord, p []pasrautest.Request, d []deadLetter) ([]record, []chorusprotest.RequestRecord, []pasrautest.Request, []deadLetter) {
			return r[:5], c, p, d
		}, findLost, "never published return"},
		{"a wrong dead letter", func(r []record, c []chorusprotest.RequestRecord, p []pasrautest.Request, d []deadLetter) ([]record, []chorusprotest.RequestRecord, []pasrautest.Request, []deadLetter) {
			return r, c, p, append(d, dead(runtime.StreamInvoices, 3))
		}, findDead, "PASSERELLE_INVOICES#3"},
		{"a purposeful dead letter missing", func(r []record, c []chorusprotest.RequestRecord, p []pasrautest.Request, d []deadLetter) ([]record, []chorusprotest.RequestRecord, []pasrautest.Request, []deadLetter) {
			return r, c, p, nil
		}, findLost, "not in the dead-letter stream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, cp, pr, dl := good()
			if tt.spoil != nil {
				recs, cp, pr, dl = tt.spoil(recs, cp, pr, dl)
			}
			v := check(newLoad(), recs, cp, pr, dl, 1)
			var got []string
			found := false
			for _, f := range v.findings {
				got = append(got, f.kind+": "+f.what)
				found = found || f.kind == tt.kind && strings.Contains(f.what, tt.want)
			}
			switch {
			case tt.kind == "" && len(v.findings) > 0:
				t.Errorf("findings %q, want none", got)
			case tt.kind != "" && !found:
				t.Errorf("findings %q, want a %s finding saying %q", got, tt.kind, tt.want)
			}
			if tt.kind != "" && v.count(tt.kind) != 1 {
				t.Errorf("%d %s counted, want 1: one thing went wrong (findings %q)", v.count(tt.kind), tt.kind, got)
			}
		})
	}
}
