package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/workers/devstack"
	passerelleruntime "github.com/passerelle-dev/passerelle/workers/runtime"
)

// FollowUpResult is what planned follow-ups cost while they wait.
type FollowUpResult struct {
	N int `json:"n"`
	// PlanSeconds is how long writing the ledger records and planning the
	// follow-ups took.
	PlanSeconds float64 `json:"planSeconds"`
	// IdleSeconds is the length of each idle measurement.
	IdleSeconds float64 `json:"idleSeconds"`
	// IdleCPUEmpty and IdleCPU are the process's CPU seconds per second while
	// idle, before anything was planned and with the N follow-ups planned.
	IdleCPUEmpty float64 `json:"idleCpuEmpty"`
	IdleCPU      float64 `json:"idleCpu"`
	// RSSEmptyMiB and RSSMiB are the resident memory idle, before and after.
	RSSEmptyMiB float64 `json:"rssEmptyMiB"`
	RSSMiB      float64 `json:"rssMiB"`
	// HeapEmptyMiB and HeapMiB are the Go heap in use after a collection.
	HeapEmptyMiB float64 `json:"heapEmptyMiB"`
	HeapMiB      float64 `json:"heapMiB"`
	// StoreMiB is the size of JetStream's files.
	StoreMiB float64 `json:"storeMiB"`
	// Goroutines counts the goroutines of the process, after.
	Goroutines int `json:"goroutines"`
}

// followUpRecord is the size of a submitted invoice's ledger record.
type followUpRecord struct {
	SubmitID              string `json:"submitId"`
	Account               string `json:"account"`
	Number                string `json:"number"`
	Mode                  string `json:"mode"`
	Hash                  string `json:"hash"`
	Step                  string `json:"step"`
	MayHaveDeposited      bool   `json:"mayHaveDeposited"`
	IdentifiantFactureCPP int64  `json:"identifiantFactureCPP"`
	DateDepot             string `json:"dateDepot"`
	InvoiceStatus         string `json:"invoiceStatus"`
	State                 string `json:"state"`
	Seq                   int    `json:"seq"`
	TraceParent           string `json:"traceparent"`
	CreatedAt             string `json:"createdAt"`
	UpdatedAt             string `json:"updatedAt"`
}

// FollowUps runs passerelle (tracing on, polls planned an hour ahead) on a stack of
// its own, measures it idle, then writes n invoice ledger records and plans n
// follow-ups a day ahead with passerelle's scheduler, and measures it idle again:
// CPU between polls and memory. progress receives a line per phase.
func FollowUps(ctx context.Context, n int, idle time.Duration, opts Options) (*FollowUpResult, error) {
	if n < 1 || idle <= 0 {
		return nil, errors.New("bench: follow-ups need n ≥ 1 and a positive idle time")
	}
	progress := opts.progress()
	stack, dir, stop, err := opts.startStack(devstack.Config{RelaxedSync: true})
	if err != nil {
		return nil, err
	}
	defer stop()
	sc := Scenario{Kind: KindInvoice, System: SystemPasserelle, Mode: ModeSubmit, N: 1, Concurrency: 32, Tracing: true}.withDefaults()
	svc, err := startPasserelle(ctx, stack, sc)
	if err != nil {
		return nil, err
	}
	defer func() { _ = svc.stop() }()
	nc, err := stack.Connect("bench follow-ups")
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	kv, err := js.KeyValue(ctx, passerelleruntime.BucketLedger)
	if err != nil {
		return nil, err
	}
	r := &FollowUpResult{N: n, IdleSeconds: idle.Seconds()}
	fmt.Fprintf(progress, "  follow-ups: idle %s with nothing planned\n", idle)
	r.IdleCPUEmpty, r.RSSEmptyMiB, r.HeapEmptyMiB = idleFor(ctx, idle)

	fmt.Fprintf(progress, "  follow-ups: writing %d ledger records and planning %d follow-ups\n", n, n)
	begin := time.Now()
	if err := plan(ctx, js, kv, n, progress); err != nil {
		return nil, err
	}
	r.PlanSeconds = time.Since(begin).Seconds()
	fmt.Fprintf(progress, "  follow-ups: idle %s with %d planned\n", idle, n)
	r.IdleCPU, r.RSSMiB, r.HeapMiB = idleFor(ctx, idle)
	r.Goroutines = runtime.NumGoroutine()
	r.StoreMiB = float64(dirSize(dir)) / (1 << 20)
	return r, nil
}

// plan writes n ledger records and plans n follow-ups a day ahead, 64 at a time.
func plan(ctx context.Context, js jetstream.JetStream, kv jetstream.KeyValue, n int, progress io.Writer) error {
	ledger := passerelleruntime.NewLedger(kv, nil)
	sched := passerelleruntime.NewScheduler(js)
	at := time.Now().Add(24 * time.Hour)
	header := events.TraceHeader("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "")
	body := []byte(`{"publishedThrough":2}`)
	var next, done atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	stopTick := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stopTick:
				return
			case <-t.C:
				fmt.Fprintf(progress, "    %d/%d planned\n", done.Load(), n)
			}
		}
	}()
	defer close(stopTick)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				number := "FOLLOW-" + strconv.Itoa(i)
				key := passerelleruntime.Key("invoice", "26300001", number)
				rec := followUpRecord{
					SubmitID: submitID(i), Account: devstack.DemoAccount, Number: number, Mode: events.ModeStructured,
					Hash: "3f79bb7b435b05321651daefd374cdc681dc06faa65e374e38337b88ca046dea", Step: "submitted", MayHaveDeposited: true,
					IdentifiantFactureCPP: int64(8000000 + i), DateDepot: "2026-11-20", InvoiceStatus: "DEPOSEE", State: "submitted", Seq: 2,
					TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", CreatedAt: time.Now().UTC().Format(time.RFC3339Nano), UpdatedAt: time.Now().UTC().Format(time.RFC3339Nano),
				}
				_, err := ledger.Create(ctx, key, rec)
				if err == nil {
					err = sched.At(ctx, "invoice", key, at, header, body)
				}
				if err != nil {
					select {
					case errc <- err:
					default:
					}
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// idleFor collects garbage, waits d and returns the CPU seconds per second spent
// meanwhile, the resident memory and the heap in use, in MiB.
func idleFor(ctx context.Context, d time.Duration) (cpu, rssMiB, heapMiB float64) {
	runtime.GC()
	debug.FreeOSMemory()
	before := readUsage()
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
	after := readUsage()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return (after.cpu - before.cpu).Seconds() / after.wall.Sub(before.wall).Seconds(),
		float64(currentRSS()) / (1 << 20), float64(ms.HeapInuse) / (1 << 20)
}

func dirSize(dir string) int64 {
	var total int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	return total
}
