//go:build unix

package chaos

import (
	"context"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/workers/runtime"
)

// replicaFigures is what TestReplicaMemory measured of the one replica.
type replicaFigures struct {
	Concurrency int `json:"concurrency"`
	// LatencyMS is the emulators' answer time to every business call.
	LatencyMS float64 `json:"latencyMs"`
	// MaxInFlight is the most invoice.submit messages the replica held at once
	// (the intake consumer's unacknowledged messages, sampled every 100 ms).
	MaxInFlight int `json:"maxInFlight"`
	// PeakRSSMiB is the replica process's peak resident set (VmHWM), and
	// RSSAtMaxInFlightMiB its resident set when MaxInFlight was sampled.
	PeakRSSMiB          float64 `json:"peakRssMiB"`
	RSSAtMaxInFlightMiB float64 `json:"rssAtMaxInFlightMiB"`
	CPUSeconds          float64 `json:"cpuSeconds"`
	// DepositsPerSecond is the rate of the invoice deposits the emulator
	// answered, from the first to the last.
	DepositsPerSecond float64 `json:"depositsPerSecond"`
}

// TestReplicaMemory runs one replica, in a process of its own as in production,
// with about a thousand invoices in flight against emulators answering every
// business call after 200 ms, and measures its peak resident memory, the
// submissions it held at once, its CPU and its deposit rate; then it runs every
// scenario's checks (one final status per submission, one deposit per invoice).
// CHAOS_INVOICES (10,000), CHAOS_CONCURRENCY (1,000) and CHAOS_RATE (4,000/s)
// size it.
func TestReplicaMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("crash harness: skipped with -short")
	}
	if os.Getenv("CHAOS") == "" {
		t.Skip("full-size replica measurement: set CHAOS=1 to run it")
	}
	concurrency := envInt(t, "CHAOS_CONCURRENCY", 1000)
	t.Setenv("CHAOS_CONCURRENCY", strconv.Itoa(concurrency))
	sc := scenario{
		name: "one replica, 1,000 invoices in flight, 200 ms upstream", command: "CHAOS=1 go test -run TestReplicaMemory -timeout 30m ./workers/chaos/",
		invoices: envInt(t, "CHAOS_INVOICES", 10000), accounts: 1, workers: 1,
		rate: float64(envInt(t, "CHAOS_RATE", 4000)), latency: 200 * time.Millisecond,
		deadline: 20 * time.Minute, grace: 10 * time.Second,
	}
	r, _ := startRun(t, sc, false)
	r.load = buildLoad(t, sc, r.rng)
	pid := r.fleet.alive()[0].cmd.Process.Pid
	fig := &replicaFigures{Concurrency: concurrency, LatencyMS: float64(sc.latency.Milliseconds())}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			c, err := r.js.Consumer(ctx, runtime.StreamInvoices, "invoice-submit")
			if err != nil {
				continue
			}
			info, err := c.Info(ctx)
			if err != nil {
				continue
			}
			rss, _ := residentMiB(pid)
			mu.Lock()
			if n := info.NumAckPending; n > fig.MaxInFlight {
				fig.MaxInFlight, fig.RSSAtMaxInFlightMiB = n, rss
			}
			mu.Unlock()
		}
	}()

	r.act(t, "ready: one worker (concurrency %d); publishing %d invoices and %d undeliverable messages at %.0f/s",
		concurrency, r.load.count(events.TypeInvoiceSubmit), len(r.load.poison), sc.rate)
	over := time.Duration(float64(len(r.load.order)) / sc.rate * float64(time.Second))
	loadStart := time.Now()
	if err := publishLoad(ctx, r.js, r.load, over); err != nil {
		t.Fatal(err)
	}
	r.act(t, "load published in %.1fs", time.Since(loadStart).Seconds())
	final := r.waitFinal(t)
	loadTime := time.Since(loadStart)
	cancel()
	wg.Wait()

	if peak, ok := peakResidentMiB(pid); ok {
		fig.PeakRSSMiB = peak
	}
	if d, ok := cpuTime(pid); ok {
		fig.CPUSeconds = d.Round(100 * time.Millisecond).Seconds()
	}
	var first, last time.Time
	deposits := 0
	for _, c := range r.emu.chorusLog.entries() {
		if !chorusDepositOps[c.Operation] || c.Status < 200 || c.Status > 299 {
			continue
		}
		deposits++
		if first.IsZero() || c.Time.Before(first) {
			first = c.Time
		}
		if c.Time.After(last) {
			last = c.Time
		}
	}
	if s := last.Sub(first).Seconds(); s > 0 {
		fig.DepositsPerSecond = float64(deposits) / s
	}
	r.replica = fig
	r.act(t, "replica: at most %d invoices in flight (RSS then %.0f MiB); peak RSS %.0f MiB; CPU %.1fs; %d deposits at %.0f/s",
		fig.MaxInFlight, fig.RSSAtMaxInFlightMiB, fig.PeakRSSMiB, fig.CPUSeconds, deposits, fig.DepositsPerSecond)
	if fig.MaxInFlight < concurrency*9/10 {
		t.Errorf("at most %d invoices in flight: the measurement needs about %d (publish faster: CHAOS_RATE)", fig.MaxInFlight, concurrency)
	}
	r.verdict(t, loadTime, final)
}
