package declaration_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/workers/devstack"
	"github.com/passerelle-dev/passerelle/workers/devstack/devstacktest"
	"github.com/passerelle-dev/passerelle/workers/pasrau"
	"github.com/passerelle-dev/passerelle/workers/pasrau/pasrautest"
	"github.com/passerelle-dev/passerelle/workers/runtime"
)

// harness is the shared end-to-end harness with the declaration flow's helpers.
type harness struct {
	*devstacktest.Harness
	t *testing.T
}

func newHarness(t *testing.T, cfg pasrautest.Config) *harness {
	t.Helper()
	if cfg.MinInterval == 0 {
		cfg.MinInterval = time.Second // PASRAU's polling constraints, announced and enforced
	}
	return &harness{Harness: devstacktest.New(t, devstack.Config{PASRAU: cfg}), t: t}
}

// validText returns the valid declaration of the pasrau package's test data, for
// the month mm/yyyy, with extra text appended to the contact name (the
// emulator's triggers).
func validText(t *testing.T, month, year int, contact string) string {
	t.Helper()
	b, err := os.ReadFile("../pasrau/testdata/valid-declaration.txt")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "S20.G00.05.005,'01112026'", fmt.Sprintf("S20.G00.05.005,'01%02d%04d'", month, year), 1)
	if contact != "" {
		s = strings.Replace(s, "S10.G00.02.002,'Test PASRAU'", "S10.G00.02.002,'Test PASRAU "+contact+"'", 1)
	}
	return s
}

func (h *harness) publish(file events.DeclarationFile) string {
	h.t.Helper()
	e, err := events.NewDeclarationSubmit("", events.DeclarationSubmit{Account: devstack.DemoAccount, File: file})
	if err != nil {
		h.t.Fatal(err)
	}
	return h.Publish(e)
}

func (h *harness) final(id string) events.DeclarationStatus {
	h.t.Helper()
	st, ok := h.Final(id)
	if !ok {
		h.t.Fatalf("no final status for %s", id)
	}
	var s events.DeclarationStatus
	if err := json.Unmarshal(st.Raw, &s); err != nil {
		h.t.Fatal(err)
	}
	return s
}

// returns lists the declaration.return events received, by flux.
func (h *harness) returns() map[string][]events.DeclarationReturn {
	out := map[string][]events.DeclarationReturn{}
	for _, e := range h.Events(events.TypeDeclarationReturn) {
		var r events.DeclarationReturn
		if err := json.Unmarshal(e.Data, &r); err != nil {
			h.t.Fatal(err)
		}
		out[r.IDFlux] = append(out[r.IDFlux], r)
	}
	return out
}

// deposits counts the deposits PASRAU registered, by SHA-256 of the file.
func (h *harness) deposits() map[string]int {
	out := map[string]int{}
	for _, r := range h.Stack.PASRAU.Requests(0) {
		if r.Op == "deposit" && r.IDFlux != "" {
			out[r.SHA256]++
		}
	}
	return out
}

func sha(text string) string {
	b, err := pasrau.ToLatin1([]byte(text), pasrau.UTF8)
	if err != nil {
		panic(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// checkReturnVersions asserts that each return of each flux was published once per
// version, versions numbered 1, 2... in order.
func checkReturnVersions(t *testing.T, byFlux map[string][]events.DeclarationReturn) {
	t.Helper()
	for flux, rs := range byFlux {
		next := map[string]int{}
		for _, r := range rs {
			k := r.Nature + "/" + r.OPS
			next[k]++
			if r.Version != next[k] {
				t.Errorf("flux %s return %s: version %d published where %d was expected (once per version, in order)", flux, k, r.Version, next[k])
			}
		}
	}
}

// TestDeclarationOutcomes deposits declarations that end every way and checks
// their statuses, their returns and the emulator's deposits.
func TestDeclarationOutcomes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, pasrautest.Config{})
	h.StartService()

	guide, err := os.ReadFile("../pasrau/testdata/guide-sample.txt")
	if err != nil {
		t.Fatal(err)
	}
	latin1, err := pasrau.ToLatin1([]byte(validText(t, 3, 2026, "BIS-ANO")), pasrau.UTF8)
	if err != nil {
		t.Fatal(err)
	}
	big := validText(t, 4, 2026, "")
	obs, err := h.JS.ObjectStore(context.Background(), events.DocumentsBucket)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := events.NewDocument(context.Background(), obs, "big.txt", "text/plain", []byte(big), 16)
	if err != nil || doc.Object == nil {
		t.Fatalf("NewDocument: %+v %v", doc, err)
	}
	tests := []struct {
		name      string
		file      events.DeclarationFile
		state     string
		deposited int
		check     func(t *testing.T, s events.DeclarationStatus)
	}{
		{"valid, as text", events.DeclarationFile{Encoding: events.EncodingUTF8, Text: validText(t, 1, 2026, "")}, events.StateAccepted, 1, func(t *testing.T, s events.DeclarationStatus) {
			if s.IDFlux == "" || s.Report == nil || s.Report.Type != "CCO" || s.Declaration == nil || s.Declaration.Month != "2026-01" {
				t.Errorf("accepted status lacks its flux, conformity report or identity: %+v", s)
			}
		}},
		{"valid, ISO-8859-1 bytes", events.DeclarationFile{Encoding: events.EncodingLatin1, Content: base64.StdEncoding.EncodeToString(latin1)}, events.StateAccepted, 1, nil},
		{"valid, through the Object Store", events.DeclarationFile{Encoding: events.EncodingUTF8, Object: doc.Object}, events.StateAccepted, 1, nil},
		{"the guide's sample", events.DeclarationFile{Encoding: events.EncodingUTF8, Text: string(guide)}, events.StateInvalid, 0, func(t *testing.T, s events.DeclarationStatus) {
			found := false
			for _, p := range s.Problems {
				found = found || p.Line == 48 && p.Rubric == "S21.G00.20.007" && strings.Contains(p.Message, "stray quote")
			}
			if !found {
				t.Errorf("problems %+v do not report the stray quote of line 48", s.Problems)
			}
		}},
		{"rejection notice", events.DeclarationFile{Encoding: events.EncodingUTF8, Text: validText(t, 5, 2026, pasrautest.TriggerAREKO)}, events.StateRejected, 1, func(t *testing.T, s events.DeclarationStatus) {
			if s.Report == nil || s.Report.Type != "ARE" || len(s.Report.Anomalies) == 0 || s.Report.Anomalies[0].Code != "B1-105-15" {
				t.Errorf("rejection lacks the avis de rejet's anomalies: %+v", s.Report)
			}
		}},
		{"blocking anomalies", events.DeclarationFile{Encoding: events.EncodingUTF8, Text: validText(t, 6, 2026, pasrautest.TriggerBANKO)}, events.StateRejected, 1, func(t *testing.T, s events.DeclarationStatus) {
			if s.Report == nil || s.Report.Type != "BAN" || s.Report.Etat != "KO" {
				t.Errorf("rejection lacks the anomaly report: %+v", s.Report)
			}
		}},
		{"non-blocking anomalies", events.DeclarationFile{Encoding: events.EncodingUTF8, Text: validText(t, 7, 2026, pasrautest.TriggerBANANO)}, events.StateAccepted, 1, func(t *testing.T, s events.DeclarationStatus) {
			if s.Report == nil || s.Report.Type != "BAN" || s.Report.Etat != "ANO" || len(s.Report.Anomalies) == 0 {
				t.Errorf("acceptance lacks the anomalies: %+v", s.Report)
			}
		}},
	}
	ids := make([]string, len(tests))
	for i, tt := range tests {
		ids[i] = h.publish(tt.file)
	}
	h.WaitFinal(time.Minute, ids...)
	h.CheckSequences(ids...)
	deposits := h.deposits()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := h.final(ids[i])
			if s.State != tt.state {
				t.Fatalf("ended %s, want %s (history %v)", s.State, tt.state, h.History(ids[i]))
			}
			text := tt.file.Text
			switch {
			case tt.file.Content != "":
				text = validText(t, 3, 2026, "BIS-ANO")
			case tt.file.Object != nil:
				text = big
			}
			if got := deposits[sha(strings.ToValidUTF8(text, ""))]; tt.state != events.StateInvalid && got != tt.deposited {
				t.Errorf("%d deposits registered, want %d", got, tt.deposited)
			}
			if tt.check != nil {
				tt.check(t, s)
			}
		})
	}

	// The returns of the valid declarations arrive, each version once, the DGFIP's
	// PAS rates among them.
	accepted := h.final(ids[0])
	h.WaitFor(time.Minute, "the DGFIP's nominative report of the first declaration", func() bool {
		for _, r := range h.returns()[accepted.IDFlux] {
			if r.Nature == pasrau.NatureDGFIPNominative && r.Statut == "OK" {
				return true
			}
		}
		return false
	})
	byFlux := h.returns()
	checkReturnVersions(t, byFlux)
	natures := map[string]events.DeclarationReturn{}
	for _, r := range byFlux[accepted.IDFlux] {
		natures[r.Nature] = r
	}
	for _, n := range []string{"10", "11", "20", "92", "94"} {
		r, ok := natures[n]
		switch {
		case !ok:
			t.Errorf("no return of nature %s for flux %s", n, accepted.IDFlux)
		case r.SubmitID != ids[0] || r.Declaration == nil:
			t.Errorf("return %s does not name its submission: %+v", n, r)
		}
	}
	if r := natures["94"]; r.Summary == nil || len(r.Summary.Rates) == 0 || r.Document == nil {
		t.Errorf("nature 94 lacks its PAS rates or its document: %+v", r)
	}
	if r := natures["10"]; r.Document == nil || r.Document.Content == "" && r.Document.Object == nil {
		t.Errorf("nature 10 lacks its document: %+v", r)
	}
	// Nothing was refused for polling too often or too wide.
	for _, r := range h.Stack.PASRAU.Requests(0) {
		if r.Status == 429 && (r.Reason429 == "interval" || r.Reason429 == "range") {
			t.Errorf("listing refused (%s): %+v", r.Reason429, r)
		}
	}
	if dl := h.DeadLetters(); len(dl) != 1 {
		t.Errorf("%d dead letters, want the guide's sample only", len(dl))
	}
}

// TestOverwrittenReturn checks that a return PASRAU overwrites (new statut, dates,
// id and url) is published again as a new version, and an unchanged one never.
func TestOverwrittenReturn(t *testing.T) {
	t.Parallel()
	h := newHarness(t, pasrautest.Config{Step: 3 * time.Second})
	h.Config.Declaration.AccountPoll = time.Second
	h.StartService()
	id := h.publish(events.DeclarationFile{Encoding: events.EncodingUTF8, Text: validText(t, 8, 2026, pasrautest.TriggerOverwrite)})
	h.WaitFinal(time.Minute, id)
	flux := h.final(id).IDFlux
	var versions []events.DeclarationReturn
	h.WaitFor(time.Minute, "the second version of return 94", func() bool {
		versions = versions[:0]
		for _, r := range h.returns()[flux] {
			if r.Nature == pasrau.NatureDGFIPNominative && r.Statut != "EN_COURS" {
				versions = append(versions, r)
			}
		}
		return len(versions) == 2
	})
	if versions[0].Statut == versions[1].Statut || versions[0].ReturnID == versions[1].ReturnID {
		t.Errorf("the two versions do not differ: %+v", versions)
	}
	before := len(h.returns()[flux])
	time.Sleep(4 * time.Second) // a few more polls: nothing unchanged is published again
	checkReturnVersions(t, h.returns())
	if after := len(h.returns()[flux]); after != before {
		t.Errorf("%d returns published for the flux after more polls of unchanged returns, want %d", after, before)
	}
}

// TestDeclarationsUnderFaults deposits 100 declarations through 503s, 429s, token
// expiry and connections dropped after PASRAU registered the deposit: each is
// deposited exactly once, every return is published once per version, and no
// listing is refused for polling too often or too wide.
func TestDeclarationsUnderFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("100 declarations through injected faults")
	}
	t.Parallel()
	h := newHarness(t, pasrautest.Config{Faults: pasrautest.Faults{Seed: 5, UnavailableProbability: 0.2, RateLimitProbability: 0.1, RetryAfterSeconds: 1,
		DropProbability: 0.15, TokenExpiresAfterCalls: 40}})
	// A deposit whose answer was lost before PASRAU registered it can only be
	// proven absent once its window is over; under these faults, and -race, that
	// takes a few minutes (production waits up to two hours).
	h.Config.Declaration.ReconcileWindow = 6 * time.Minute
	h.StartService()
	ids, texts := make([]string, 100), make([]string, 100)
	for i := range ids {
		texts[i] = validText(t, 1+i%12, 2001+i/12, "")
		ids[i] = h.publish(events.DeclarationFile{Encoding: events.EncodingUTF8, Text: texts[i]})
	}
	h.WaitFinal(7*time.Minute, ids...)
	h.CheckSequences(ids...)
	deposits := h.deposits()
	drops := 0
	for _, r := range h.Stack.PASRAU.Requests(0) {
		if r.Op == "deposit" && r.Fault == "drop" {
			drops++
		}
	}
	for i, id := range ids {
		if s := h.final(id); s.State != events.StateAccepted {
			t.Errorf("declaration %d ended %s (history %v) %+v", i, s.State, h.History(id), s.Failure)
		}
		if n := deposits[sha(texts[i])]; n != 1 {
			t.Errorf("declaration %d was deposited %d times, want 1", i, n)
			for _, r := range h.Stack.PASRAU.Requests(0) {
				if r.Op == "deposit" && r.Month == fmt.Sprintf("%04d-%02d", 2001+i/12, 1+i%12) {
					t.Logf("  %+v", r)
				}
			}
		}
	}
	if drops == 0 {
		t.Error("no deposit lost its answer: the reconciliation was not exercised")
	}
	checkReturnVersions(t, h.returns())
	// A listing whose answer was lost leaves passerelle without PASRAU's Expires,
	// and one served after passerelle gave up on it counts from then: only after
	// such a listing, the last that PASRAU counted (listings refused before
	// counting, by a 401 or a 503, do not), may the next one come too soon.
	var listings []pasrautest.Request
	for _, r := range h.Stack.PASRAU.Requests(0) {
		if r.Op == "list-declarant" {
			listings = append(listings, r)
		}
	}
	counted := -1 // the last page-1 listing PASRAU served, its answer delivered or not
	for i, r := range listings {
		if r.Status == 429 && r.Reason429 != "fault" && counted >= 0 && listings[counted].Fault != "drop" && !listings[counted].ClientGone {
			t.Errorf("listing refused (%s) after an answered listing: %+v", r.Reason429, r)
			for _, p := range listings[max(0, i-4):i] {
				t.Logf("  %.3f s before: %+v", time.Duration(r.TimeNS-p.TimeNS).Seconds(), p)
			}
		}
		if r.Status == 200 && r.Page <= 1 {
			counted = i
		}
	}
	t.Logf("%d deposits lost their answer and were found among the returns instead of being sent again", drops)
}

// TestDeclarationRestart stops the worker abruptly with 40 declarations in flight
// and starts another: nothing lost, nothing deposited or published twice.
func TestDeclarationRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts a worker mid-run")
	}
	t.Parallel()
	h := newHarness(t, pasrautest.Config{Faults: pasrautest.Faults{Seed: 9, SlowProbability: 0.3, SlowDelayMS: 300}})
	h.Config.Grace = 0
	stop := h.StartService()
	ids, texts := make([]string, 40), make([]string, 40)
	for i := range ids {
		texts[i] = validText(t, 1+i%12, 2030+i/12, "")
		ids[i] = h.publish(events.DeclarationFile{Encoding: events.EncodingUTF8, Text: texts[i]})
	}
	h.WaitFor(time.Minute, "some declarations under way", func() bool {
		n := 0
		for _, id := range ids {
			if len(h.History(id)) > 1 {
				n++
			}
		}
		return n >= 8
	})
	stop()
	h.StartService()
	h.WaitFinal(3*time.Minute, ids...)
	h.CheckSequences(ids...)
	deposits := h.deposits()
	for i, id := range ids {
		if s := h.final(id); s.State != events.StateAccepted {
			t.Errorf("declaration %d ended %s (history %v)", i, s.State, h.History(id))
		}
		if n := deposits[sha(texts[i])]; n != 1 {
			t.Errorf("declaration %d deposited %d times", i, n)
		}
	}
	checkReturnVersions(t, h.returns())
}

// TestTwoReplicasShareOnePoller runs two replicas: they share the work, one of
// them at a time polls the account (PASRAU never refuses a listing for coming too
// soon, which two pollers would make it do), and when the replicas stop one after
// the other the survivor takes the polling over.
func TestTwoReplicasShareOnePoller(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two replicas")
	}
	t.Parallel()
	h := newHarness(t, pasrautest.Config{MinInterval: 2 * time.Second})
	h.Config.AckWait = 3 * time.Second // a dead poller's poll is taken over quickly
	h.Config.Declaration.AccountPoll = time.Second
	stopA := h.StartService()
	h.StartService()
	var ids []string
	for i := range 20 {
		ids = append(ids, h.publish(events.DeclarationFile{Encoding: events.EncodingUTF8, Text: validText(t, 1+i%12, 2040+i/12, "")}))
	}
	h.WaitFinal(2*time.Minute, ids...)
	stopA()
	last := h.publish(events.DeclarationFile{Encoding: events.EncodingUTF8, Text: validText(t, 1, 2050, "")})
	h.WaitFinal(time.Minute, last)
	flux := h.final(last).IDFlux
	h.WaitFor(time.Minute, "the returns of a declaration deposited after a replica stopped", func() bool {
		for _, r := range h.returns()[flux] {
			if r.Nature == pasrau.NatureDGFIPNominative && r.Statut == "OK" {
				return true
			}
		}
		return false
	})
	for _, r := range h.Stack.PASRAU.Requests(0) {
		if r.Op == "list-declarant" && r.Status == 429 {
			t.Errorf("a listing was refused (%s): two replicas polled at once", r.Reason429)
		}
	}
	checkReturnVersions(t, h.returns())
}

// TestReplayedDeclarationStartsAgain makes a declaration fail through a PASRAU
// deposit service answering 503, then replays its dead letter once PASRAU is back:
// it starts again, its statuses following the failed one, and is deposited once.
func TestReplayedDeclarationStartsAgain(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	t.Parallel()
	h := newHarness(t, pasrautest.Config{Faults: pasrautest.Faults{Ops: []string{"deposit"}, UnavailableProbability: 1}})
	h.Config.Policy.MaxDeliveries = 2
	h.Config.Policy.BackoffBase = 100 * time.Millisecond
	h.Config.Declaration.Retry.Budget = 300 * time.Millisecond
	h.StartService()
	text := validText(t, 3, 2027, "")
	id := h.publish(events.DeclarationFile{Encoding: events.EncodingUTF8, Text: text})
	h.WaitFinal(time.Minute, id)
	failed := h.final(id)
	if failed.State != events.StateFailed || failed.Failure == nil || failed.Failure.DeadLetter == 0 {
		t.Fatalf("final %s %+v, want failed with its dead letter", failed.State, failed.Failure)
	}
	if err := h.Stack.PASRAU.SetFaults(pasrautest.Faults{}); err != nil {
		t.Fatal(err)
	}
	if err := runtime.NewDeadLetters(h.JS, nil, nil).Replay(context.Background(), failed.Failure.DeadLetter, false); err != nil {
		t.Fatal(err)
	}

	h.WaitFor(time.Minute, "the replayed declaration accepted", func() bool {
		hist := h.History(id)
		return len(hist) > 0 && strings.HasSuffix(hist[len(hist)-1], events.StateAccepted)
	})
	hist := h.History(id)
	for i, s := range hist {
		if !strings.HasPrefix(s, fmt.Sprintf("#%d ", i+1)) {
			t.Errorf("history %v: status %d numbered out of turn", hist, i+1)
		}
	}
	if n := h.deposits()[sha(text)]; n != 1 {
		t.Errorf("deposited %d times, want 1", n)
	}
	if dl := h.DeadLetters(); len(dl) != 0 {
		t.Errorf("%d dead letters left after the replay, want 0", len(dl))
	}
}

// TestPollerReadsEveryReturn deposits declarations whose returns fill listing
// windows many pages deep (25 returns a page), while PASRAU keeps overwriting
// EN_COURS returns with their final versions: the account's poller publishes the
// final version of every return PASRAU holds for each flux.
func TestPollerReadsEveryReturn(t *testing.T) {
	if testing.Short() {
		t.Skip("40 declarations and their returns")
	}
	t.Parallel()
	// PASRAU's minimum interval between polls is kept short: the listings are
	// many, and what is under test is where they start and end.
	h := newHarness(t, pasrautest.Config{MinInterval: 10 * time.Millisecond})
	h.Config.Declaration.PollPageIndex = pasrau.PerPage25
	h.Config.Declaration.AccountPoll = time.Second
	h.StartService()
	ids := make([]string, 40)
	for i := range ids {
		ids[i] = h.publish(events.DeclarationFile{Encoding: events.EncodingUTF8, Text: validText(t, 1+i%12, 2060+i/12, "")})
	}
	h.WaitFinal(3*time.Minute, ids...)
	reg, err := h.Stack.Accounts(nil)
	if err != nil {
		t.Fatal(err)
	}
	acct, _ := reg.PASRAU(devstack.DemoAccount)
	// What PASRAU holds for each flux, final versions only once every return is final.
	want := map[string]map[string]pasrau.Status{}
	h.WaitFor(time.Minute, "every return final at PASRAU", func() bool {
		for _, id := range ids {
			flux := h.final(id).IDFlux
			l, err := acct.Client.ListByFlux(context.Background(), flux, 1, pasrau.PerPage100)
			if err != nil {
				return false
			}
			want[flux] = map[string]pasrau.Status{}
			for _, f := range l.Flux {
				for _, r := range f.Returns {
					if r.Statut == pasrau.StatusInProgress {
						return false
					}
					want[flux][r.Nature+"/"+r.OPS] = r.Statut
				}
			}
		}
		return true
	})
	latest := func() map[string]map[string]string {
		got := map[string]map[string]string{}
		for flux, rs := range h.returns() {
			got[flux] = map[string]string{}
			for _, r := range rs {
				got[flux][r.Nature+"/"+r.OPS] = r.Statut
			}
		}
		return got
	}
	h.WaitFor(3*time.Minute, "the final version of every return published", func() bool {
		got := latest()
		for flux, rs := range want {
			for k, st := range rs {
				if got[flux][k] != string(st) {
					return false
				}
			}
		}
		return true
	})
	checkReturnVersions(t, h.returns())
	// The load must have made listings too long for a page: a window listed again
	// from the same start with a nearer end (narrowed), or later pages read.
	ends := map[string]map[string]bool{}
	paged := 0
	for _, r := range h.Stack.PASRAU.Requests(0) {
		if r.Op != "list-declarant" {
			continue
		}
		if r.Page > 1 {
			paged++
		}
		if ends[r.RangeStart] == nil {
			ends[r.RangeStart] = map[string]bool{}
		}
		ends[r.RangeStart][r.RangeEnd] = true
	}
	narrowed := 0
	for _, e := range ends {
		if len(e) > 1 {
			narrowed++
		}
	}
	if narrowed == 0 && paged == 0 {
		t.Error("no listing held more than a page: the test did not exercise narrowing or paging")
	}
	t.Logf("%d windows narrowed, %d listings of later pages", narrowed, paged)
}
