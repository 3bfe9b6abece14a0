//go:build unix

package chaos

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/passerelle-dev/passerelle/events"
)

// scaleFigures is what a scale-out scenario measured: how the work spread over
// the workers (from the tap: who called the emulators, for which account), and
// how fast it went.
type scaleFigures struct {
	Workers int `json:"workers"`
	// Deposits are the deposits answered 2xx (Chorus Pro soumettre and
	// deposerFlux, PASRAU deposit) and FollowUps the follow-up calls (Chorus Pro
	// consultations, PASRAU flux listings) by worker ("w1"...) while every
	// first worker ran (until a worker is killed); Listings the listings of
	// returns by declarant by worker, during the whole run.
	Deposits  map[string]int `json:"deposits"`
	FollowUps map[string]int `json:"followUps"`
	Listings  map[string]int `json:"returnsListings"`
	// ListingsByAccount counts each account's listings by worker (whole run).
	ListingsByAccount map[string]map[string]int `json:"returnsListingsByAccount"`
	// Overlaps counts the listings of an account that started while another
	// listing of the same account was in flight: two pollers at once.
	Overlaps int `json:"overlappingListings"`
	// PublishSeconds is how long publishing the load took; DepositSeconds the
	// time from the first deposit to the last, and DepositsPerSecond their rate;
	// LastDepositSeconds and FinalSeconds the time from the first publish to the
	// last deposit and to the last final status.
	PublishSeconds     float64 `json:"publishSeconds"`
	DepositSeconds     float64 `json:"depositSeconds"`
	DepositsPerSecond  float64 `json:"depositsPerSecond"`
	LastDepositSeconds float64 `json:"lastDepositSeconds"`
	FinalSeconds       float64 `json:"finalSeconds"`
	// CPUSeconds is the CPU time used by each process still running at the end
	// (workers "w1"..., NATS nodes "n1"...), where the system tells it.
	CPUSeconds map[string]float64 `json:"cpuSeconds,omitempty"`
	Takeover   *takeoverFigures   `json:"takeover,omitempty"`
}

// takeoverFigures is what the takeover of an account's poller measured.
type takeoverFigures struct {
	Account   string `json:"account"`
	Victim    int    `json:"victim"`
	Successor int    `json:"successor"`
	// Seconds from the SIGKILL to the successor's first listing of the account;
	// AckWaitSeconds is the bound (PASSERELLE_ACK_WAIT).
	Seconds        float64 `json:"seconds"`
	AckWaitSeconds float64 `json:"ackWaitSeconds"`
}

// TestScaleOutSmoke is the small scale-out scenario every `go test ./...` runs:
// one NATS server, three workers sharing 45 invoices and 15 declarations of
// three accounts; then the worker polling one account's returns is killed in the
// middle of a listing, and another must take the account over.
func TestScaleOutSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("crash harness: skipped with -short")
	}
	runScaleOut(t, scenario{
		name: "scale-out smoke: one NATS server, 3 workers", command: "go test -run TestScaleOutSmoke ./workers/chaos/",
		invoices: 45, declarations: 15, rate: 10, accounts: 3, workers: 3,
		deadline: 2 * time.Minute, grace: 5 * time.Second,
	}, true)
}

// TestScaleOutSingleServer runs a larger load through three workers (CHAOS_WORKERS)
// and one NATS server, then the takeover of a poller (CHAOS_TAKEOVER=0: none,
// for throughput measurements).
func TestScaleOutSingleServer(t *testing.T) {
	sc, takeover := scaleSize(t, "scale-out: one NATS server", "CHAOS=1 go test -run TestScaleOutSingleServer -timeout 30m ./workers/chaos/")
	runScaleOut(t, sc, takeover)
}

// TestScaleOutCluster is TestScaleOutSingleServer on a three-node NATS cluster
// (R3 streams and buckets).
func TestScaleOutCluster(t *testing.T) {
	sc, takeover := scaleSize(t, "scale-out: 3-node NATS cluster (R3)", "CHAOS=1 go test -run TestScaleOutCluster -timeout 30m ./workers/chaos/")
	sc.cluster = true
	runScaleOut(t, sc, takeover)
}

// scaleSize returns the full-size scale-out load (CHAOS_INVOICES,
// CHAOS_DECLARATIONS, CHAOS_RATE, CHAOS_WORKERS) and whether to test a takeover
// (unless CHAOS_TAKEOVER=0), after skipping the test unless CHAOS is set.
func scaleSize(t *testing.T, name, command string) (scenario, bool) {
	t.Helper()
	if testing.Short() {
		t.Skip("crash harness: skipped with -short")
	}
	if os.Getenv("CHAOS") == "" {
		t.Skip("full-size scale-out scenario: set CHAOS=1 to run it")
	}
	sc := scenario{
		name: name, command: command,
		invoices:     envInt(t, "CHAOS_INVOICES", 600),
		declarations: envInt(t, "CHAOS_DECLARATIONS", 120),
		rate:         float64(envInt(t, "CHAOS_RATE", 30)),
		workers:      max(envInt(t, "CHAOS_WORKERS", 3), 1),
		accounts:     4,
		deadline:     20 * time.Minute,
		grace:        10 * time.Second,
	}
	sc.name = fmt.Sprintf("%s, %d workers", name, sc.workers)
	return sc, sc.workers > 1 && os.Getenv("CHAOS_TAKEOVER") != "0"
}

// runScaleOut runs a scale-out scenario: sc.workers workers reaching the
// emulators through a tap, the load published at sc.rate, then (takeover) the
// SIGKILL of an account's poller in the middle of a listing; then the checks of
// every scenario (one final status per submission, one deposit per business
// key, returns once per version) and those of the spread.
func runScaleOut(t *testing.T, sc scenario, takeover bool) {
	r, tp := startRun(t, sc, true)
	r.load = buildLoad(t, sc, r.rng)
	r.act(t, "ready: %d NATS node(s), %d workers; publishing %d invoices, %d declarations and %d undeliverable messages at %.0f/s",
		len(r.nats.nodes), sc.workers, r.load.count(events.TypeInvoiceSubmit), r.load.count(events.TypeDeclarationSubmit), len(r.load.poison), sc.rate)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	over := time.Duration(float64(len(r.load.order)) / sc.rate * float64(time.Second))
	loadStart := time.Now()
	if err := publishLoad(ctx, r.js, r.load, over); err != nil {
		t.Fatal(err)
	}
	published := time.Since(loadStart)
	r.act(t, "load published in %.1fs", published.Seconds())
	var to *takeoverFigures
	spreadUntil := time.Time{} // the whole run, unless a worker is killed
	if takeover {
		to, spreadUntil = r.takeOver(t, tp)
	}
	final := r.waitFinal(t)
	loadTime := time.Since(loadStart)
	r.waitReturns(t)

	calls := tp.snapshot()
	fig := scaleOf(calls, sc.workers, loadStart, spreadUntil)
	fig.PublishSeconds = published.Round(100 * time.Millisecond).Seconds()
	fig.FinalSeconds = loadTime.Round(100 * time.Millisecond).Seconds()
	fig.Takeover = to
	fig.CPUSeconds = map[string]float64{}
	for _, w := range r.fleet.alive() {
		if d, ok := cpuTime(w.cmd.Process.Pid); ok {
			fig.CPUSeconds[fmt.Sprintf("w%d", w.n)] = d.Round(100 * time.Millisecond).Seconds()
		}
	}
	for _, n := range r.nats.nodes {
		if d, ok := cpuTime(n.proc.cmd.Process.Pid); ok && n.proc.alive() {
			fig.CPUSeconds[n.name] = d.Round(100 * time.Millisecond).Seconds()
		}
	}
	r.scale = fig
	t.Logf("spread over %d workers: deposits %v, follow-up calls %v, returns listings %v (by account %v); %d overlapping listings; "+
		"published in %.1fs; %d deposits in %.1fs (%.1f/s), the last %.1fs after the first publish; every submission final after %.1fs; CPU seconds %v",
		fig.Workers, fig.Deposits, fig.FollowUps, fig.Listings, fig.ListingsByAccount, fig.Overlaps,
		fig.PublishSeconds, sum(fig.Deposits), fig.DepositSeconds, fig.DepositsPerSecond, fig.LastDepositSeconds, fig.FinalSeconds, fig.CPUSeconds)
	checkSpread(t, fig, sc.workers)
	for _, o := range overlaps(calls, time.Now()) {
		t.Errorf("two pollers at once: %s", o)
	}
	r.verdict(t, loadTime, final)
}

// Operations that deposit, and follow-up operations, by upstream.
var (
	depositOps  = map[string]bool{upChorusPro + "/soumettre": true, upChorusPro + "/deposerFlux": true, upPASRAU + "/deposit": true}
	followUpOps = map[string]bool{
		upChorusPro + "/consulterCRDetaille": true, upChorusPro + "/consulterHistorique": true,
		upChorusPro + "/rechercherFacturesFournisseur": true, upPASRAU + "/list-flux": true,
	}
)

// scaleOf counts the deposits and follow-up calls of the first workers workers
// that started before until (every call when zero) and the returns listings of
// every worker, and times the deposits from loadStart.
func scaleOf(calls []tapCall, workers int, loadStart, until time.Time) *scaleFigures {
	f := &scaleFigures{Workers: workers, Deposits: map[string]int{}, FollowUps: map[string]int{}, Listings: map[string]int{}, ListingsByAccount: map[string]map[string]int{}}
	for n := 1; n <= workers; n++ {
		w := fmt.Sprintf("w%d", n)
		f.Deposits[w], f.FollowUps[w], f.Listings[w] = 0, 0, 0
	}
	var first, last time.Time
	deposits := 0
	for _, c := range calls {
		op := c.upstream + "/" + c.op
		ok := c.status >= 200 && c.status < 300
		if depositOps[op] && ok {
			deposits++
			if first.IsZero() || c.start.Before(first) {
				first = c.start
			}
			if c.start.After(last) {
				last = c.start
			}
		}
		w := fmt.Sprintf("w%d", c.worker)
		if op == upPASRAU+"/list-declarant" {
			f.Listings[w]++
			if f.ListingsByAccount[c.account] == nil {
				f.ListingsByAccount[c.account] = map[string]int{}
			}
			f.ListingsByAccount[c.account][w]++
		}
		if c.worker > workers || !until.IsZero() && !c.start.Before(until) {
			continue
		}
		switch {
		case depositOps[op] && ok:
			f.Deposits[w]++
		case followUpOps[op]:
			f.FollowUps[w]++
		}
	}
	if deposits > 0 {
		f.DepositSeconds = last.Sub(first).Round(100 * time.Millisecond).Seconds()
		f.LastDepositSeconds = last.Sub(loadStart).Round(100 * time.Millisecond).Seconds()
		if d := last.Sub(first); d > 0 {
			f.DepositsPerSecond = float64(int(float64(deposits-1)/d.Seconds()*10)) / 10
		}
	}
	f.Overlaps = len(overlaps(calls, time.Now()))
	return f
}

// checkSpread fails the test unless each of the workers made at least half of an
// even share of the deposits and of the follow-up calls, and unless the returns
// of every account were listed by at least two workers.
func checkSpread(t *testing.T, f *scaleFigures, workers int) {
	t.Helper()
	if workers < 2 {
		return
	}
	for _, c := range []struct {
		what string
		by   map[string]int
	}{{"deposits", f.Deposits}, {"follow-up calls", f.FollowUps}} {
		total := sum(c.by)
		for w, n := range c.by {
			if float64(n) < float64(total)/float64(workers)/2 {
				t.Errorf("worker %s made %d of the %d %s, less than half of an even share (%v)", w, n, total, c.what, c.by)
			}
		}
	}
	for acct, by := range f.ListingsByAccount {
		if len(by) < 2 {
			t.Errorf("the returns of %s were listed by one worker only: %v", acct, by)
		}
	}
}

// overlaps returns, for each account, the returns listings that started while
// another listing of the account was in flight (a call in flight ends now).
func overlaps(calls []tapCall, now time.Time) []string {
	byAccount := map[string][]tapCall{}
	for _, c := range calls {
		if c.upstream == upPASRAU && c.op == "list-declarant" {
			byAccount[c.account] = append(byAccount[c.account], c)
		}
	}
	var out []string
	for _, acct := range slices.Sorted(maps.Keys(byAccount)) {
		cs := byAccount[acct]
		sort.Slice(cs, func(i, j int) bool { return cs[i].start.Before(cs[j].start) })
		var open tapCall
		var openEnd time.Time
		for _, c := range cs {
			end := c.end
			if end.IsZero() {
				end = now
			}
			if c.start.Before(openEnd) {
				out = append(out, fmt.Sprintf("%s: worker %d listed its returns at %s while worker %d's listing (%s to %s) was in flight",
					acct, c.worker, c.start.Format("15:04:05.000"), open.worker, open.start.Format("15:04:05.000"), openEnd.Format("15:04:05.000")))
			}
			if end.After(openEnd) {
				open, openEnd = c, end
			}
		}
	}
	return out
}

// takeOver holds an account's returns listings at the tap, SIGKILLs the worker
// whose listing is in flight (it holds the account's poll message), and waits
// for another worker to list the account: it must within the ack wait (+2 s).
// It returns what it measured, and the moment of the kill.
func (r *run) takeOver(t *testing.T, tp *tap) (*takeoverFigures, time.Time) {
	t.Helper()
	account := accountName(r.rng.IntN(r.sc.accounts))
	const held = 3 * time.Second
	tp.hold(upPASRAU, "list-declarant", account, held)
	r.act(t, "holding %s's returns listings %v at the tap; waiting for one in flight", account, held)
	alive := map[int]*worker{}
	for _, w := range r.fleet.alive() {
		alive[w.n] = w
	}
	deadline := time.Now().Add(time.Minute)
	var c tapCall
	for {
		var ok bool
		if c, ok = tp.inFlight(upPASRAU, "list-declarant", account, func(n int) bool { return alive[n] != nil }); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no listing of %s's returns in flight within a minute", account)
		}
		time.Sleep(10 * time.Millisecond)
	}
	victim := alive[c.worker]
	killed := time.Now()
	victim.kill(t)
	r.kills++
	tp.hold(upPASRAU, "list-declarant", account, 0)
	r.act(t, "SIGKILL worker %d, %s's poller, its listing in flight for %dms", victim.n, account, killed.Sub(c.start).Milliseconds())
	fig := &takeoverFigures{Account: account, Victim: victim.n, Seconds: -1, AckWaitSeconds: ackWait.Seconds()}
	limit := killed.Add(ackWait + 20*time.Second)
	for time.Now().Before(limit) {
		for _, s := range tp.snapshot() {
			if s.upstream == upPASRAU && s.op == "list-declarant" && s.account == account && s.worker != victim.n && s.start.After(killed) {
				took := s.start.Sub(killed)
				fig.Successor, fig.Seconds = s.worker, took.Round(100*time.Millisecond).Seconds()
				r.act(t, "worker %d took %s's poller over %.1fs after the kill", s.worker, account, took.Seconds())
				if took > ackWait+2*time.Second {
					t.Errorf("worker %d took %s's poller over %v after the kill, want at most the ack wait %v (+2s)", s.worker, account, took.Round(100*time.Millisecond), ackWait)
				}
				return fig, killed
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("no worker listed %s's returns within %v of the SIGKILL of its poller", account, limit.Sub(killed))
	return fig, killed
}

// sum adds the counts up.
func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
