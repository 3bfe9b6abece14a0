package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/passerelle-dev/passerelle/workers/bench"
)

const benchUsage = `Usage: passerelle bench [flags]

Measures passerelle in one process against the ceiling beside it: an embedded
JetStream server, the Chorus Pro and PASRAU emulators answering every call after
--latency, and N submissions pushed through passerelle's service and through a
baseline with nothing of passerelle (a raw JetStream pull consumer that decodes
the JSON, makes the same HTTP call to the same emulator, publishes one raw status
and acks). For each latency and kind it runs the baseline, passerelle's
submission path (follow-ups planned an hour ahead: the same work as the
baseline, plus passerelle's guarantees) and passerelle to the final status
(follow-ups polled every second). It reports throughput (over the whole run,
and steady: the middle 80 % of the acceptances), latency to the first,
accepted and final status (p50, p90, p99), CPU seconds per 1,000 submissions,
peak RSS and allocations per submission, the machine's steal time, and the
passerelle/baseline ratios; the JSON adds each span's count and durations per
submission. CPU and memory are the whole process's. On a shared machine,
alternate and repeat the runs you compare. docs/performance.md explains the
figures.

Flags:
  -n N                submissions per run (default 2000)
  --kind LIST         invoice, declaration, mix, comma-separated (default all three)
  --latency LIST      the emulators' answer time, comma-separated (default 0,200ms)
  --concurrency N     submissions handled at once (default 200)
  --window N          submissions in flight (default twice the concurrency)
  --warmup N          submissions pushed through before each run's clock starts,
                      not counted: connections and caches warm (default the
                      concurrency; 0 for none)
  --baseline=false    skip the baseline
  --submit=false      skip passerelle's submission path (with --final=false: the
                      baseline alone, e.g. to count its instructions)
  --final=false       skip the runs to the final status
  --tracing on|off    passerelle's tracing, spans batched to a discarding exporter (default on)
  --sync always|default
                      JetStream flushes to disk before each acknowledgement, or
                      every two minutes (default default)
  --profile DIR       write a CPU and an allocation profile per run into DIR
  --json              print the results as JSON instead of a table
  --followups N       instead: plan N invoice follow-ups a day ahead and measure the
                      process idle, before and after (CPU between polls, memory)
  --idle DURATION     idle time of --followups (default 10s)
  --repeat N          run everything N times, side by side, and report for each
                      scenario the run of median throughput and the range (default 1)
  --timeout DURATION  longest run (default 10m)

Progress goes to stderr, once a second.

Examples:
  passerelle bench
  passerelle bench --kind invoice --latency 0 --tracing off
  passerelle bench --kind invoice --latency 200ms --concurrency 1000 -n 10000 --baseline=false --final=false
  passerelle bench --sync always --latency 0 --final=false
  passerelle bench --followups 100000 --idle 30s --json
`

func runBench(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	p := bench.DefaultPlan()
	fs.IntVar(&p.N, "n", p.N, "")
	kinds := fs.String("kind", "invoice,declaration,mix", "")
	latencies := fs.String("latency", "0,200ms", "")
	fs.IntVar(&p.Concurrency, "concurrency", p.Concurrency, "")
	fs.IntVar(&p.Window, "window", 0, "")
	warmup := fs.Int("warmup", -1, "")
	fs.BoolVar(&p.Baseline, "baseline", p.Baseline, "")
	fs.BoolVar(&p.Final, "final", p.Final, "")
	submit := fs.Bool("submit", true, "")
	tracing := fs.String("tracing", "on", "")
	syncMode := fs.String("sync", "default", "")
	profileDir := fs.String("profile", "", "")
	asJSON := fs.Bool("json", false, "")
	followUps := fs.Int("followups", 0, "")
	idle := fs.Duration("idle", 10*time.Second, "")
	timeout := fs.Duration("timeout", 10*time.Minute, "")
	fs.IntVar(&p.Repeat, "repeat", 1, "")
	if err := parseFlags(fs, benchUsage, e, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return &usageError{"bench: unexpected arguments " + strings.Join(fs.Args(), " ") + "\n\n" + benchUsage}
	}
	p.SkipSubmit = !*submit
	switch *tracing {
	case "on", "off":
		p.Tracing = *tracing == "on"
	default:
		return &usageError{fmt.Sprintf("bench: --tracing %q is not on or off", *tracing)}
	}
	switch *syncMode {
	case "always", "default":
		p.SyncAlways = *syncMode == "always"
	default:
		return &usageError{fmt.Sprintf("bench: --sync %q is not always or default", *syncMode)}
	}
	opts := bench.Options{Progress: e.stderr, ProfileDir: *profileDir}
	if *followUps > 0 {
		r, err := bench.FollowUps(ctx, *followUps, *idle, opts)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(e, map[string]any{"machine": machine(), "followUps": r})
		}
		fmt.Fprintf(e.stdout, "%d follow-ups planned in %.1fs (ledger records and schedules)\n", r.N, r.PlanSeconds)
		fmt.Fprintf(e.stdout, "idle CPU: %.4f s/s with nothing planned, %.4f s/s with %d planned (over %.0fs)\n", r.IdleCPUEmpty, r.IdleCPU, r.N, r.IdleSeconds)
		fmt.Fprintf(e.stdout, "RSS: %.0f MiB, then %.0f MiB; Go heap in use: %.0f MiB, then %.0f MiB; JetStream files: %.0f MiB; %d goroutines\n",
			r.RSSEmptyMiB, r.RSSMiB, r.HeapEmptyMiB, r.HeapMiB, r.StoreMiB, r.Goroutines)
		return nil
	}
	p.Kinds = nil
	for _, k := range strings.Split(*kinds, ",") {
		kind, err := bench.ParseKind(k)
		if err != nil {
			return &usageError{err.Error()}
		}
		p.Kinds = append(p.Kinds, kind)
	}
	p.Latencies = nil
	for _, l := range strings.Split(*latencies, ",") {
		l = strings.TrimSpace(l)
		if l == "0" {
			l = "0s"
		}
		d, err := time.ParseDuration(l)
		if err != nil || d < 0 {
			return &usageError{fmt.Sprintf("bench: --latency %q is not a duration", l)}
		}
		p.Latencies = append(p.Latencies, d)
	}
	if p.N < 1 || p.Concurrency < 1 || p.Window < 0 || p.Repeat < 1 || *warmup < -1 {
		return &usageError{"bench: -n, --concurrency and --repeat must be at least 1, --window and --warmup not negative"}
	}
	p.Warmup = p.Concurrency
	if *warmup >= 0 {
		p.Warmup = *warmup
	}
	p.Timeout = *timeout
	results, err := bench.RunPlan(ctx, p, opts)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(e, map[string]any{"machine": machine(), "results": results, "ratios": bench.Ratios(results)})
	}
	bench.WriteTable(e.stdout, results)
	return nil
}

func writeJSON(e env, v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// machine describes what the figures were measured on.
func machine() map[string]any {
	return map[string]any{"goos": runtime.GOOS, "goarch": runtime.GOARCH, "cpus": runtime.NumCPU(), "gomaxprocs": runtime.GOMAXPROCS(0), "go": runtime.Version(), "passerelle": version}
}
