//go:build unix

package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/workers/runtime"
)

// scenario is one run of the harness: its load and the faults it injects.
type scenario struct {
	name         string
	command      string // the one command that reproduces it
	invoices     int
	declarations int
	accounts     int
	workers      int           // workers at start
	kills        int           // workers killed (SIGKILL), or stopped with SIGTERM when drain
	drain        bool          // SIGTERM instead of SIGKILL, and check the drain; 30% of the calls answered after 1.5 s
	cluster      bool          // three NATS nodes, R3 streams
	nodeKills    int           // NATS nodes killed, one after the other (cluster)
	rate         float64       // submissions published per second
	deadline     time.Duration // for every submission to be final, once the load is published
	grace        time.Duration // PASSERELLE_SHUTDOWN_GRACE
	latency      time.Duration // the emulators' answer time to every business call
}

// envInt returns the integer environment variable name, or def.
func envInt(t testing.TB, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want a non-negative integer", name, v)
	}
	return n
}

// envString returns the environment variable name, or def.
func envString(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// fullSize returns the full-size load (CHAOS_INVOICES, CHAOS_DECLARATIONS,
// CHAOS_KILLS, CHAOS_RATE), after skipping the test unless CHAOS is set.
func fullSize(t *testing.T, name, command string) scenario {
	t.Helper()
	if testing.Short() {
		t.Skip("crash harness: skipped with -short")
	}
	if os.Getenv("CHAOS") == "" {
		t.Skip("full-size crash scenario: set CHAOS=1 to run it")
	}
	return scenario{
		name: name, command: command,
		invoices:     envInt(t, "CHAOS_INVOICES", 1000),
		declarations: envInt(t, "CHAOS_DECLARATIONS", 200),
		kills:        envInt(t, "CHAOS_KILLS", 10),
		rate:         float64(envInt(t, "CHAOS_RATE", 15)),
		accounts:     4,
		workers:      2,
		deadline:     20 * time.Minute,
		grace:        10 * time.Second,
	}
}

// TestCrashSmoke is the small scenario every `go test ./...` runs: one NATS
// server, two workers, 60 invoices and 20 declarations, three workers killed.
func TestCrashSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("crash harness: skipped with -short")
	}
	runScenario(t, scenario{
		name: "smoke: one NATS server, 2 workers, SIGKILL", command: "go test -run TestCrashSmoke ./workers/chaos/",
		invoices: 60, declarations: 20, kills: 3, rate: 8, accounts: 2, workers: 2,
		deadline: 90 * time.Second, grace: 5 * time.Second,
	})
}

// TestCrashSingleServer kills workers at random moments, deposits in flight or
// follow-ups polling, while the full load runs through one NATS server.
func TestCrashSingleServer(t *testing.T) {
	sc := fullSize(t, "one NATS server, 1-3 workers, SIGKILL", "CHAOS=1 go test -run TestCrashSingleServer -timeout 60m ./workers/chaos/")
	runScenario(t, sc)
}

// TestCrashCluster runs the full load through a three-node cluster (R3 streams),
// killing workers and, one after the other, the leader of PASSERELLE_INVOICES
// and another node, each restarted after a while.
func TestCrashCluster(t *testing.T) {
	sc := fullSize(t, "3-node NATS cluster (R3), 1-3 workers, SIGKILL workers and nodes", "CHAOS=1 go test -run TestCrashCluster -timeout 60m ./workers/chaos/")
	sc.cluster = true
	sc.nodeKills = envInt(t, "CHAOS_NODE_KILLS", 2)
	runScenario(t, sc)
}

// TestDrainOnSIGTERM stops workers with SIGTERM while they hold work: each must
// exit with code 0 within its grace period, and nothing it held is lost or
// duplicated.
func TestDrainOnSIGTERM(t *testing.T) {
	sc := fullSize(t, "one NATS server, 2 workers, SIGTERM (drain), 30% of calls answered after 1.5 s", "CHAOS=1 go test -run TestDrainOnSIGTERM -timeout 60m ./workers/chaos/")
	sc.drain = true
	runScenario(t, sc)
}

// run is a scenario under way.
type run struct {
	sc      scenario
	seed    uint64
	rng     *rand.Rand
	start   time.Time
	nats    *natsCluster
	emu     *emulators
	fleet   *fleet
	js      jetstream.JetStream
	load    *load
	col     *collector
	actions []string

	kills, terms, nodeKills int
	drainExits              []time.Duration
	// scale is what a scale-out scenario measured, for the summary.
	scale   *scaleFigures
	replica *replicaFigures
}

// act records what the harness did, and when.
func (r *run) act(t testing.TB, format string, args ...any) {
	t.Helper()
	line := fmt.Sprintf("%7.1fs ", time.Since(r.start).Seconds()) + fmt.Sprintf(format, args...)
	r.actions = append(r.actions, line)
	t.Log(line)
}

// runScenario runs sc from the build to the verdict.
func runScenario(t *testing.T, sc scenario) {
	r, _ := startRun(t, sc, false)
	r.load = buildLoad(t, sc, r.rng)
	r.act(t, "ready: %d NATS node(s), %d workers; publishing %d invoices, %d declarations and %d undeliverable messages at %.0f/s",
		len(r.nats.nodes), sc.workers, r.load.count(events.TypeInvoiceSubmit), r.load.count(events.TypeDeclarationSubmit), len(r.load.poison), sc.rate)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	published := make(chan error, 1)
	over := time.Duration(float64(len(r.load.order)) / sc.rate * float64(time.Second))
	loadStart := time.Now()
	go func() { published <- publishLoad(ctx, r.js, r.load, over) }()
	r.inject(t, published, over)

	final := r.waitFinal(t)
	loadTime := time.Since(loadStart)
	r.waitReturns(t)
	r.verdict(t, loadTime, final)
}

// startRun builds the binaries, starts NATS (one server, or three in a cluster),
// the emulators and sc.workers workers, and follows the events stream. With
// tapped, every worker reaches the emulators through a tap (returned), with an
// accounts file of its own.
func startRun(t *testing.T, sc scenario, tapped bool) (*run, *tap) {
	t.Helper()
	seed := uint64(envInt(t, "CHAOS_SEED", int(time.Now().UnixNano()%1e9)))
	t.Logf("scenario %q, seed %d (CHAOS_SEED=%d reproduces the load's order and the victims)", sc.name, seed, seed)
	r := &run{sc: sc, seed: seed, rng: rand.New(rand.NewPCG(seed, seed)), start: time.Now()}
	bins := buildBinaries(t)
	dir, logDir := t.TempDir(), logDirFor(t)
	if os.Getenv("CHAOS_LOGDIR") != "" {
		dir = logDir // the stores too are kept, for inspection
	}
	ps := &ports{}
	size := 1
	if sc.cluster {
		size = 3
	}
	r.nats = startNATS(t, bins.natsServer, dir, logDir, ps, size)
	r.emu = startEmulators(t, bins.passerelle, dir, logDir, ps, sc.drain, sc.latency)
	r.fleet = &fleet{bin: bins.passerelle, logDir: logDir, env: workerEnv(sc, r.nats.url(), writeAccounts(t, dir, r.emu, sc.accounts)), ports: ps}
	var tp *tap
	if tapped {
		tp = startTap(t, r.emu, ps)
		r.fleet.perWorker = func(t testing.TB, n int) []string {
			path := filepath.Join(dir, fmt.Sprintf("accounts-w%d.json", n))
			writeAccountsVia(t, path, r.emu, sc.accounts, func(account, upstream string) string { return tp.base(n, account, upstream) })
			return []string{"PASSERELLE_ACCOUNTS_FILE=" + path}
		}
	}
	for range sc.workers {
		r.fleet.start(t)
	}
	nc, err := nats.Connect(r.nats.url(), nats.Name("chaos harness"), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if r.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	r.col = collect(t, r.js)
	return r, tp
}

// logDirFor returns where the processes' logs go: CHAOS_LOGDIR/<test> when set
// (kept after the test), else a temporary directory.
func logDirFor(t *testing.T) string {
	t.Helper()
	base := os.Getenv("CHAOS_LOGDIR")
	if base == "" {
		return t.TempDir()
	}
	dir := filepath.Join(base, fmt.Sprintf("%s-%s", t.Name(), time.Now().Format("20060102-150405")))
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	t.Logf("process logs in %s", dir)
	return dir
}

// inject runs the fault plan: two thirds of the worker kills while deposits are
// in flight (a deposit reached an emulator in the last 100 ms) during the
// publishing, the rest once only follow-ups poll; in a cluster, the NATS node
// kills and restarts go in between.
func (r *run) inject(t *testing.T, published <-chan error, over time.Duration) {
	t.Helper()
	depositKills := r.sc.kills - r.sc.kills/3
	pollKills := r.sc.kills - depositKills
	steps := r.nodeSteps()
	done := false
	checkPublished := func(block bool) {
		if done {
			return
		}
		var err error
		if block {
			select {
			case err = <-published:
			case <-time.After(10 * time.Minute):
				t.Fatal("the load is not published after 10 minutes")
			}
		} else {
			select {
			case err = <-published:
			default:
				return
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		done = true
		r.act(t, "load published")
	}
	gap := over / time.Duration(depositKills+1)
	next := 0
	for i := range depositKills {
		time.Sleep(gap/2 + time.Duration(r.rng.Int64N(int64(gap)+1)))
		checkPublished(false)
		// Once everything is published and deposited, the rest strike while polling.
		lastDeposit, _ := r.lastActivity()
		r.hit(t, r.waitMoment(t, !done || time.Since(lastDeposit) < 2*time.Second))
		for next < len(steps) && i+1 >= 1+next*(depositKills-1)/len(steps) {
			steps[next](t)
			next++
		}
	}
	checkPublished(true)
	for range pollKills {
		time.Sleep(2*time.Second + time.Duration(r.rng.Int64N(int64(3*time.Second))))
		r.hit(t, r.waitMoment(t, false))
	}
	for ; next < len(steps); next++ {
		steps[next](t)
	}
}

// waitMoment waits (at most 30 s) for the moment to strike: a deposit received
// by an emulator in the last 100 ms, or, when deposit is false, a follow-up poll
// in the last 100 ms and no deposit in the last second. It describes the moment.
func (r *run) waitMoment(t testing.TB, deposit bool) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		cd, cp := r.emu.chorusLog.activity()
		pd, pp := r.emu.pasrauLog.activity()
		now := time.Now()
		lastDeposit, lastPoll := later(cd, pd), later(cp, pp)
		switch {
		case deposit && now.Sub(lastDeposit) < 100*time.Millisecond:
			where := "Chorus Pro"
			if pd.After(cd) {
				where = "PASRAU"
			}
			return fmt.Sprintf("deposit at %s %dms ago", where, now.Sub(lastDeposit).Milliseconds())
		case !deposit && now.Sub(lastDeposit) > time.Second && now.Sub(lastPoll) < 100*time.Millisecond:
			where := "Chorus Pro"
			if pp.After(cp) {
				where = "PASRAU"
			}
			return fmt.Sprintf("polls only: %s polled %dms ago, last deposit %.1fs ago", where, now.Sub(lastPoll).Milliseconds(), now.Sub(lastDeposit).Seconds())
		case now.After(deadline):
			return "no such moment within 30s"
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// lastActivity returns when an emulator last received a deposit, and a poll.
func (r *run) lastActivity() (deposit, poll time.Time) {
	cd, cp := r.emu.chorusLog.activity()
	pd, pp := r.emu.pasrauLog.activity()
	return later(cd, pd), later(cp, pp)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// hit kills a worker (or stops it with SIGTERM when draining) and restarts one,
// keeping one to three workers: when three run, two may be killed at once, and a
// fourth start is sometimes added.
func (r *run) hit(t testing.TB, moment string) {
	t.Helper()
	alive := r.fleet.alive()
	if len(alive) == 0 {
		t.Fatal("no worker running")
	}
	victim := alive[r.rng.IntN(len(alive))]
	if r.sc.drain {
		victim.terminate(t)
		r.terms++
		sent := time.Now()
		r.act(t, "SIGTERM worker %d (%s)", victim.n, moment)
		w := r.fleet.start(t)
		code, ok := victim.exit(r.sc.grace + 30*time.Second)
		took := victim.exitedAt.Sub(sent)
		switch {
		case !ok:
			t.Errorf("worker %d still running %v after SIGTERM (grace %v)", victim.n, r.sc.grace+30*time.Second, r.sc.grace)
			victim.kill(t)
		case code != 0:
			t.Errorf("worker %d exited with code %d after SIGTERM, want 0\n%s", victim.n, code, victim.tail(20))
		case took > r.sc.grace+2*time.Second:
			t.Errorf("worker %d took %v to exit after SIGTERM, want at most its grace period %v (+2s)", victim.n, took.Round(time.Millisecond), r.sc.grace)
		}
		r.drainExits = append(r.drainExits, took)
		r.act(t, "worker %d exited with code %d %v after SIGTERM; worker %d started", victim.n, code, took.Round(time.Millisecond), w.n)
		return
	}
	victims := []*worker{victim}
	if len(alive) == 3 && r.rng.IntN(3) == 0 {
		for _, w := range alive {
			if w != victim {
				victims = append(victims, w)
				break
			}
		}
	}
	var names []string
	for _, v := range victims {
		v.kill(t)
		r.kills++
		names = append(names, strconv.Itoa(v.n))
	}
	r.act(t, "SIGKILL worker %s (%s)", strings.Join(names, " and "), moment)
	starts := 1
	if len(alive)-len(victims)+1 < 3 && r.rng.IntN(3) == 0 {
		starts = 2
	}
	for range starts {
		w := r.fleet.start(t)
		r.act(t, "worker %d started and ready (%d running)", w.n, len(r.fleet.alive()))
	}
}

// nodeSteps returns the NATS node kills and restarts of a cluster scenario: the
// leader of PASSERELLE_INVOICES first, then another node (the leader of
// PASSERELLE_EVENTS when it is another one), each restarted at least 10 s later.
func (r *run) nodeSteps() []func(testing.TB) {
	if !r.sc.cluster {
		return nil
	}
	var steps []func(testing.TB)
	victim, killedAt := -1, time.Time{}
	for k := range r.sc.nodeKills {
		steps = append(steps, func(t testing.TB) {
			t.Helper()
			stream := runtime.StreamInvoices
			if k > 0 {
				stream = runtime.StreamEvents
			}
			leader := r.leader(t, stream)
			i := r.nats.index(leader)
			if i < 0 || i == victim {
				i = (victim + 1) % len(r.nats.nodes)
			}
			victim, killedAt = i, time.Now()
			r.nats.kill(t, i)
			r.nodeKills++
			r.act(t, "SIGKILL NATS node %s (leader of %s: %s)", r.nats.nodes[i].name, stream, leader)
		}, func(t testing.TB) {
			t.Helper()
			time.Sleep(time.Until(killedAt.Add(10 * time.Second)))
			r.nats.start(t, victim)
			r.nats.waitHealthy(t, victim, 3*time.Minute)
			r.act(t, "NATS node %s restarted, healthy (caught up)", r.nats.nodes[victim].name)
		})
	}
	return steps
}

// leader returns the name of the server leading stream.
func (r *run) leader(t testing.TB, stream string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s, err := r.js.Stream(ctx, stream)
		var info *jetstream.StreamInfo
		if err == nil {
			info, err = s.Info(ctx)
		}
		cancel()
		if err == nil && info.Cluster != nil && info.Cluster.Leader != "" {
			return info.Cluster.Leader
		}
		if time.Now().After(deadline) {
			t.Fatalf("no leader for %s: %v", stream, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitFinal waits until every submission of the load has a final status, or the
// scenario's deadline. It returns whether they all have.
func (r *run) waitFinal(t testing.TB) bool {
	t.Helper()
	deadline := time.Now().Add(r.sc.deadline)
	report := time.Now().Add(30 * time.Second)
	for {
		missing := r.col.notFinal(r.load.subs)
		if len(missing) == 0 {
			r.act(t, "every submission is final")
			return true
		}
		if time.Now().After(deadline) {
			r.act(t, "%d submissions not final after %v", len(missing), r.sc.deadline)
			return false
		}
		if time.Now().After(report) {
			r.act(t, "%d of %d submissions not final yet, e.g. %s", len(missing), len(r.load.subs), missing[0].what())
			report = time.Now().Add(30 * time.Second)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// waitReturns waits (at most three minutes) until every account published every
// return of every flux in a final version and no event came for 15 s.
func (r *run) waitReturns(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		recs, lastAt := r.col.snapshot()
		v := &verdict{}
		fluxes := checkPASRAU(&verdict{}, r.load, r.emu.pasrauLog.entries())
		checkReturns(v, r.load, recs, fluxes, r.sc.accounts, nil)
		quiet := time.Since(lastAt) > 15*time.Second
		if v.count(findLost) == 0 && quiet {
			r.act(t, "every return published; no event for 15s")
			return
		}
		if time.Now().After(deadline) {
			r.act(t, "returns still incomplete after 3m (%d missing), or events still flowing", v.count(findLost))
			return
		}
		time.Sleep(time.Second)
	}
}

// summary is what a scenario measured, for docs/reliability.md.
type summary struct {
	Scenario            string          `json:"scenario"`
	Test                string          `json:"test"`
	Command             string          `json:"command"`
	Seed                uint64          `json:"seed"`
	Invoices            int             `json:"invoices"`
	Declarations        int             `json:"declarations"`
	Undeliverable       int             `json:"undeliverable"`
	Submissions         int             `json:"submissions"`
	Accounts            int             `json:"accounts"`
	WorkerKills         int             `json:"workerKills"`
	WorkerTerms         int             `json:"workerTerms"`
	NodeKills           int             `json:"natsNodeKills"`
	WorkersStarted      int             `json:"workersStarted"`
	WorkerStartFailures []string        `json:"workerStartFailures,omitempty"`
	DrainSeconds        []float64       `json:"drainSeconds,omitempty"`
	ChorusProDeposits   int             `json:"chorusProDeposits"`
	PASRAUDeposits      int             `json:"pasrauDeposits"`
	StatusEvents        int             `json:"statusEvents"`
	ReturnEvents        int             `json:"returnEvents"`
	DeadLetters         int             `json:"deadLetters"`
	FinalStates         map[string]int  `json:"finalStates"`
	Lost                int             `json:"lost"`
	LostSubmissions     int             `json:"lostSubmissions"`
	LostReturns         int             `json:"lostReturns"` // declarations whose returns an account missed
	DuplicatedReturns   int             `json:"duplicatedReturns"`
	Duplicated          int             `json:"duplicated"`
	WronglyDeadLettered int             `json:"wronglyDeadLettered"`
	Unexpected          int             `json:"unexpected"`
	LoadSeconds         float64         `json:"loadSeconds"`
	TotalSeconds        float64         `json:"totalSeconds"`
	Race                bool            `json:"race"`
	Actions             []string        `json:"actions"`
	ScaleOut            *scaleFigures   `json:"scaleOut,omitempty"`
	Replica             *replicaFigures `json:"replica,omitempty"`
}

// verdict reads everything back, runs the checks, reports each finding with
// its evidence, and writes the summary.
func (r *run) verdict(t *testing.T, loadTime time.Duration, allFinal bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	recs, bad, err := readEvents(ctx, r.js)
	if err != nil {
		t.Fatalf("read the events stream: %v", err)
	}
	for _, err := range bad {
		t.Errorf("undecodable event: %v", err)
	}
	msgs, err := readStream(ctx, r.js, runtime.StreamDeadLetter)
	if err != nil {
		t.Fatalf("read the dead letters: %v", err)
	}
	dead := make([]deadLetter, len(msgs))
	for i, m := range msgs {
		dead[i] = deadLetter{header: m.Headers(), data: m.Data()}
	}
	late, err := r.emu.chorusLog.reread()
	if err != nil {
		t.Errorf("Chorus Pro emulator request log: %v", err)
	}
	for _, e := range late {
		t.Logf("Chorus Pro emulator request log: call #%d (%s %s at %s, status %d, fault %q) was logged more than 10s after it arrived",
			e.Seq, e.Operation, e.NumeroFacture, e.Time.Format("15:04:05.000"), e.Status, e.Fault)
	}
	lateP, err := r.emu.pasrauLog.reread()
	if err != nil {
		t.Errorf("PASRAU emulator request log: %v", err)
	}
	for _, e := range lateP {
		t.Logf("PASRAU emulator request log: call #%d (%s) was logged more than 10s after it arrived", e.Seq, e.Op)
	}
	for _, l := range []struct {
		name string
		log  interface{ gaps() ([]uint64, error) }
	}{{"Chorus Pro", r.emu.chorusLog}, {"PASRAU", r.emu.pasrauLog}} {
		if skipped, err := l.log.gaps(); len(skipped) > 0 || err != nil {
			t.Errorf("%s emulator request log incomplete: sequence numbers never logged %v, last error %v", l.name, skipped, err)
		}
	}
	chorus, pas := r.emu.chorusLog.entries(), r.emu.pasrauLog.entries()
	v := check(r.load, recs, chorus, pas, dead, r.sc.accounts)
	if dir := os.Getenv("CHAOS_LOGDIR"); dir != "" {
		writeJSON(t, filepath.Join(r.fleet.logDir, "emulator-choruspro-requests.json"), chorus)
		writeJSON(t, filepath.Join(r.fleet.logDir, "emulator-pasrau-requests.json"), pas)
	}
	sort.SliceStable(v.findings, func(i, j int) bool { return v.findings[i].kind < v.findings[j].kind })
	for i, f := range v.findings {
		if f.sub != nil && i < 15 {
			t.Errorf("%s: %s\n%s", f.kind, f.what, evidence(f.sub, recs, chorus, pas, r.fleet.logs()))
		} else {
			t.Errorf("%s: %s", f.kind, f.what)
		}
	}
	for _, f := range r.fleet.startFailures {
		t.Logf("restarted: %s", f)
	}
	if !allFinal {
		t.Errorf("not every submission reached a final status within %v", r.sc.deadline)
	}
	for _, path := range r.fleet.logs() {
		for _, line := range grepFile(path, func(l string) bool {
			return strings.Contains(l, "DATA RACE") || strings.HasPrefix(l, "panic:") || strings.HasPrefix(l, "fatal error:")
		}) {
			t.Errorf("%s: %s", filepath.Base(path), line)
		}
	}
	yes, no := true, false
	s := summary{
		Scenario: r.sc.name, Test: t.Name(), Command: r.sc.command, Seed: r.seed,
		Invoices: r.load.count(events.TypeInvoiceSubmit), Declarations: r.load.count(events.TypeDeclarationSubmit),
		Undeliverable: len(r.load.poison), Submissions: len(r.load.subs), Accounts: r.sc.accounts,
		WorkerKills: r.kills, WorkerTerms: r.terms, NodeKills: r.nodeKills, WorkersStarted: len(r.fleet.workers), WorkerStartFailures: r.fleet.startFailures,
		ChorusProDeposits: v.chorusDeposits, PASRAUDeposits: v.pasrauDeposits,
		StatusEvents: v.statusEvents, ReturnEvents: v.returnEvents, DeadLetters: v.deadLetters, FinalStates: v.finals,
		Lost: v.count(findLost), LostSubmissions: v.countOf(findLost, &no), LostReturns: v.countOf(findLost, &yes),
		DuplicatedReturns: v.countOf(findDuplicated, &yes), Duplicated: v.count(findDuplicated), WronglyDeadLettered: v.count(findDead), Unexpected: v.count(findUnexpected),
		LoadSeconds: loadTime.Round(100 * time.Millisecond).Seconds(), TotalSeconds: time.Since(r.start).Round(100 * time.Millisecond).Seconds(),
		Race: raceBuild, Actions: r.actions, ScaleOut: r.scale, Replica: r.replica,
	}
	for _, d := range r.drainExits {
		s.DrainSeconds = append(s.DrainSeconds, d.Round(time.Millisecond).Seconds())
	}
	t.Logf("%s: %d submissions (%d invoices, %d declarations, %d undeliverable), %d worker kills, %d SIGTERMs, %d NATS node kills, %d workers started; "+
		"%d invoices created at Chorus Pro, %d fluxes registered by PASRAU, %d status and %d return events, %d dead letters; final states %v; "+
		"lost %d (submissions %d, declarations with returns missed %d), duplicated %d, wrongly dead-lettered %d, unexpected %d; load %.0fs, total %.0fs",
		s.Scenario, s.Submissions, s.Invoices, s.Declarations, s.Undeliverable, s.WorkerKills, s.WorkerTerms, s.NodeKills, s.WorkersStarted,
		s.ChorusProDeposits, s.PASRAUDeposits, s.StatusEvents, s.ReturnEvents, s.DeadLetters, s.FinalStates,
		s.Lost, s.LostSubmissions, s.LostReturns, s.Duplicated, s.WronglyDeadLettered, s.Unexpected, s.LoadSeconds, s.TotalSeconds)
	if path := os.Getenv("CHAOS_SUMMARY"); path != "" {
		writeSummary(t, path, s)
	}
}

// writeJSON writes v to path as JSON.
func writeJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// writeSummary appends s to path as one line of JSON.
func writeSummary(t testing.TB, path string, s summary) {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}
