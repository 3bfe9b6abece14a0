package bench

import (
	"fmt"
	"io"
	"strings"
)

// Result is what a run measured. Throughputs are submissions per second from the
// first publication to the last status counted; CPU and memory are the whole
// process's (see the package documentation).
type Result struct {
	Name        string  `json:"name"`
	Kind        Kind    `json:"kind"`
	System      System  `json:"system"`
	Mode        Mode    `json:"mode"`
	N           int     `json:"n"`
	LatencyMS   float64 `json:"latencyMs"`
	Concurrency int     `json:"concurrency"`
	Window      int     `json:"window"`
	Warmup      int     `json:"warmup"`
	Tracing     bool    `json:"tracing"`
	SyncAlways  bool    `json:"syncAlways"`

	// Seconds is the run's duration, from the first publication to the last
	// status counted (accepted, or final in ModeFinal).
	Seconds float64 `json:"seconds"`
	// Throughput is accepted submissions per second: their status after the
	// deposit (submitted, deposited; the baseline's only status).
	Throughput float64 `json:"throughput"`
	// SteadyThroughput is the accepted throughput once the pipeline is full: the
	// middle 80 % of the acceptances over the time they took (from the 10th to
	// the 90th percentile of acceptance times), without the first latency that
	// Throughput includes (nothing is accepted before the first submissions have
	// gone through: at 200 ms, 0.2 s of a 6 s run).
	SteadyThroughput float64 `json:"steadyThroughput"`
	// FinalThroughput is submissions per second to their final status (ModeFinal).
	FinalThroughput float64 `json:"finalThroughput,omitempty"`
	// First, Accepted and Final are the latencies from publication to the first
	// status (received), to the accepted one, and to the final one.
	First    Latencies  `json:"first"`
	Accepted Latencies  `json:"accepted"`
	Final    *Latencies `json:"final,omitempty"`
	// Failed counts submissions that ended other than as expected.
	Failed      int    `json:"failed"`
	FailedState string `json:"failedState,omitempty"`
	// StatusesPerSubmission counts the status messages received.
	StatusesPerSubmission float64 `json:"statusesPerSubmission"`
	// CPUSecondsPer1000 is the process's CPU time per 1,000 submissions.
	CPUSecondsPer1000 float64 `json:"cpuSecondsPer1000"`
	// CPUUtilisation is CPU seconds per second of the run (2 = two cores busy).
	CPUUtilisation float64 `json:"cpuUtilisation"`
	PeakRSSMiB     float64 `json:"peakRssMiB"`
	// StealPercent is the share of the machine's CPU time that its hypervisor
	// gave to other machines during the run: above a few percent, the run
	// measured the neighbours as much as passerelle, and is better repeated.
	StealPercent float64 `json:"stealPercent"`
	// AllocsPerSubmission and AllocBytesPerSubmission are the process's heap
	// allocations per submission.
	AllocsPerSubmission     float64 `json:"allocsPerSubmission"`
	AllocBytesPerSubmission float64 `json:"allocBytesPerSubmission"`
	// SpansPerSubmission counts the spans passerelle exported (tracing on), after
	// the warm-up; Spans gives each span name's count per submission and
	// durations: where a submission's time goes.
	SpansPerSubmission float64     `json:"spansPerSubmission,omitempty"`
	Spans              []SpanTimes `json:"spans,omitempty"`
	// Runs is how many times the scenario ran; this is the run of median
	// throughput, Spread the range of all of them.
	Runs   int     `json:"runs"`
	Spread *Spread `json:"spread,omitempty"`
}

// SpanTimes are the durations of the spans of one name.
type SpanTimes struct {
	Name          string    `json:"name"`
	PerSubmission float64   `json:"perSubmission"`
	Durations     Latencies `json:"durations"`
}

// Spread is the range of a scenario's repeated runs.
type Spread struct {
	ThroughputMin float64 `json:"throughputMin"`
	ThroughputMax float64 `json:"throughputMax"`
	CPUMin        float64 `json:"cpuSecondsPer1000Min"`
	CPUMax        float64 `json:"cpuSecondsPer1000Max"`
}

func (c *collector) result(sc Scenario, before, after usage, peak uint64) *Result {
	n := float64(sc.N)
	r := &Result{
		Name: sc.Name(), Kind: sc.Kind, System: sc.System, Mode: sc.Mode, N: sc.N,
		LatencyMS: float64(sc.Latency.Microseconds()) / 1000, Concurrency: sc.Concurrency, Window: sc.Window, Warmup: sc.Warmup,
		Tracing: sc.Tracing && sc.System == SystemPasserelle, SyncAlways: sc.SyncAlways, Runs: 1,
		First: c.latencies(c.first), Accepted: c.latencies(c.accepted),
		PeakRSSMiB:              float64(peak) / (1 << 20),
		AllocsPerSubmission:     float64(after.allocs-before.allocs) / n,
		AllocBytesPerSubmission: float64(after.allocBytes-before.allocBytes) / n,
	}
	c.mu.Lock()
	r.Failed, r.FailedState, r.StatusesPerSubmission = c.nFailed, c.failedState, float64(c.statuses)/n
	r.Seconds = float64(c.last) / 1e9
	c.mu.Unlock()
	if acc := c.lastOf(c.accepted); acc > 0 {
		r.Throughput = n / acc
	}
	r.SteadyThroughput = c.steady(c.accepted)
	if sc.System == SystemPasserelle && sc.Mode == ModeFinal {
		f := c.latencies(c.final)
		r.Final = &f
		if last := c.lastOf(c.final); last > 0 {
			r.FinalThroughput = n / last
		}
	} else if sc.System == SystemBaseline {
		r.First = r.Accepted
		f := r.Accepted
		r.Final = &f
	}
	if ticks := after.ticks - before.ticks; ticks > 0 {
		r.StealPercent = 100 * float64(after.steal-before.steal) / float64(ticks)
	}
	cpu := after.cpu - before.cpu
	r.CPUSecondsPer1000 = cpu.Seconds() / n * 1000
	if wall := after.wall.Sub(before.wall).Seconds(); wall > 0 {
		r.CPUUtilisation = cpu.Seconds() / wall
	}
	return r
}

// Ratio compares passerelle with the baseline of the same kind and latency.
type Ratio struct {
	Kind      Kind    `json:"kind"`
	LatencyMS float64 `json:"latencyMs"`
	// Throughput is passerelle's accepted throughput (ModeSubmit) over the baseline's.
	Throughput float64 `json:"throughput"`
	// CPU is passerelle's CPU per submission over the baseline's.
	CPU float64 `json:"cpu"`
}

// Ratios pairs each passerelle ModeSubmit result with the baseline of its kind and
// latency.
func Ratios(results []*Result) []Ratio {
	var out []Ratio
	for _, p := range results {
		if p.System != SystemPasserelle || p.Mode != ModeSubmit {
			continue
		}
		for _, b := range results {
			if b.System == SystemBaseline && b.Kind == p.Kind && b.LatencyMS == p.LatencyMS && b.Throughput > 0 && b.CPUSecondsPer1000 > 0 {
				out = append(out, Ratio{Kind: p.Kind, LatencyMS: p.LatencyMS, Throughput: p.Throughput / b.Throughput, CPU: p.CPUSecondsPer1000 / b.CPUSecondsPer1000})
				break
			}
		}
	}
	return out
}

// WriteTable writes results and ratios as a Markdown table.
func WriteTable(w io.Writer, results []*Result) {
	fmt.Fprintln(w, "| scenario | n | conc | subs/s accepted | steady | subs/s final | first p50/p90/p99 ms | accepted p50/p90/p99 ms | final p50/p90/p99 ms | CPU s/1000 | CPU cores | peak RSS MiB | allocs/sub | failed | steal % |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---|---|---|---:|---:|---:|---:|---:|---:|")
	for _, r := range results {
		final, finalLat := "", ""
		if r.FinalThroughput > 0 {
			final = fmt.Sprintf("%.0f", r.FinalThroughput)
		}
		if r.Final != nil {
			finalLat = lat(*r.Final)
		}
		name := r.Name
		if r.System == SystemPasserelle && !r.Tracing {
			name += " (tracing off)"
		}
		if r.SyncAlways {
			name += " (sync always)"
		}
		tput, cpu := fmt.Sprintf("%.0f", r.Throughput), fmt.Sprintf("%.2f", r.CPUSecondsPer1000)
		if r.Spread != nil {
			tput += fmt.Sprintf(" (%.0f–%.0f)", r.Spread.ThroughputMin, r.Spread.ThroughputMax)
			cpu += fmt.Sprintf(" (%.2f–%.2f)", r.Spread.CPUMin, r.Spread.CPUMax)
		}
		fmt.Fprintf(w, "| %s | %d | %d | %s | %.0f | %s | %s | %s | %s | %s | %.2f | %.0f | %.0f | %d | %.1f |\n",
			name, r.N, r.Concurrency, tput, r.SteadyThroughput, final, lat(r.First), lat(r.Accepted), finalLat,
			cpu, r.CPUUtilisation, r.PeakRSSMiB, r.AllocsPerSubmission, r.Failed, r.StealPercent)
	}
	ratios := Ratios(results)
	if len(ratios) == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| passerelle / baseline | throughput | CPU per submission |")
	fmt.Fprintln(w, "|---|---:|---:|")
	for _, q := range ratios {
		fmt.Fprintf(w, "| %s, %gms | %.2f | %.2f |\n", q.Kind, q.LatencyMS, q.Throughput, q.CPU)
	}
}

func lat(l Latencies) string {
	return strings.Join([]string{fmt.Sprintf("%.1f", l.P50), fmt.Sprintf("%.1f", l.P90), fmt.Sprintf("%.1f", l.P99)}, " / ")
}
