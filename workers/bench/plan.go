package bench

import (
	"cmp"
	"context"
	"slices"
	"time"
)

// Plan is the set of scenarios `passerelle bench` runs: for each latency and kind,
// the baseline, passerelle's submission path (ModeSubmit) and, when Final,
// passerelle to the final status (ModeFinal).
type Plan struct {
	N           int
	Kinds       []Kind
	Latencies   []time.Duration
	Concurrency int
	// Window is the submissions in flight; 2 × Concurrency when zero.
	Window int
	// Warmup is the uncounted submissions of each run before the clock starts
	// (see Scenario.Warmup).
	Warmup   int
	Baseline bool
	// SkipSubmit leaves out passerelle's submission path (ModeSubmit).
	SkipSubmit bool
	Final      bool
	Tracing    bool
	SyncAlways bool
	// Repeat runs the whole plan this many times (at least once), the scenarios of
	// a kind and latency side by side each time, and keeps for each scenario the
	// run of median throughput: on a shared machine one run proves little.
	Repeat int
	// Timeout bounds each run (see Scenario.Timeout).
	Timeout time.Duration
}

// DefaultPlan is what `passerelle bench` runs without flags: 2,000 submissions of
// each kind at 0 and 200 ms, 200 at a time.
func DefaultPlan() Plan {
	return Plan{
		N: 2000, Kinds: []Kind{KindInvoice, KindDeclaration, KindMix},
		Latencies: []time.Duration{0, 200 * time.Millisecond}, Concurrency: 200, Warmup: 200,
		Baseline: true, Final: true, Tracing: true,
	}
}

// Scenarios lists the plan's scenarios in the order they run.
func (p Plan) Scenarios() []Scenario {
	var out []Scenario
	for _, l := range p.Latencies {
		for _, k := range p.Kinds {
			base := Scenario{Kind: k, N: p.N, Latency: l, Concurrency: p.Concurrency, Window: p.Window, Warmup: p.Warmup, Tracing: p.Tracing, SyncAlways: p.SyncAlways, Timeout: p.Timeout}
			if p.Baseline {
				b := base
				b.System = SystemBaseline
				out = append(out, b)
			}
			if !p.SkipSubmit {
				s := base
				s.System, s.Mode = SystemPasserelle, ModeSubmit
				out = append(out, s)
			}
			if p.Final {
				f := base
				f.System, f.Mode = SystemPasserelle, ModeFinal
				out = append(out, f)
			}
		}
	}
	return out
}

// RunPlan runs every scenario of p in turn, p.Repeat times, and returns for each
// the run of median throughput, with the spread of the repeats; it stops at the
// first failure.
func RunPlan(ctx context.Context, p Plan, opts Options) ([]*Result, error) {
	scenarios := p.Scenarios()
	runs := make([][]*Result, len(scenarios))
	for range max(p.Repeat, 1) {
		for i, sc := range scenarios {
			r, err := Run(ctx, sc, opts)
			if err != nil {
				return nil, err
			}
			runs[i] = append(runs[i], r)
		}
	}
	results := make([]*Result, len(scenarios))
	for i, rs := range runs {
		results[i] = median(rs)
	}
	return results, nil
}

// median returns the result of median throughput among the runs of a scenario,
// with the lowest and highest throughput and CPU of all of them.
func median(rs []*Result) *Result {
	sorted := slices.Clone(rs)
	slices.SortFunc(sorted, func(a, b *Result) int { return cmp.Compare(a.Throughput, b.Throughput) })
	m := *sorted[len(sorted)/2]
	m.Runs = len(rs)
	if len(rs) > 1 {
		m.Spread = &Spread{ThroughputMin: sorted[0].Throughput, ThroughputMax: sorted[len(sorted)-1].Throughput}
		m.Spread.CPUMin, m.Spread.CPUMax = rs[0].CPUSecondsPer1000, rs[0].CPUSecondsPer1000
		for _, r := range rs {
			m.Spread.CPUMin = min(m.Spread.CPUMin, r.CPUSecondsPer1000)
			m.Spread.CPUMax = max(m.Spread.CPUMax, r.CPUSecondsPer1000)
		}
	}
	return &m
}
