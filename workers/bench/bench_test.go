package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestRun runs a few submissions of each kind through the baseline and through
// passerelle in both modes, after a warm-up, and checks that every one is counted
// (and no warm-up one), that none failed, and that the report has a row for each.
// It times nothing.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole stack six times")
	}
	p := Plan{N: 12, Kinds: []Kind{KindInvoice, KindDeclaration, KindMix}, Latencies: []time.Duration{5 * time.Millisecond},
		Concurrency: 4, Warmup: 3, Baseline: true, Final: true, Tracing: true}
	var progress bytes.Buffer
	results, err := RunPlan(context.Background(), p, Options{Progress: &progress, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 9 {
		t.Fatalf("got %d results, want 9", len(results))
	}
	for _, r := range results {
		if r.Failed != 0 || r.Throughput <= 0 {
			t.Errorf("%s: %d failed (%s), throughput %g", r.Name, r.Failed, r.FailedState, r.Throughput)
		}
		if r.Mode == ModeFinal && (r.Final == nil || r.FinalThroughput <= 0) {
			t.Errorf("%s: no final figures", r.Name)
		}
		if r.System == SystemBaseline && r.StatusesPerSubmission != 1 {
			t.Errorf("%s: %g statuses per submission, want 1 (warm-up ones counted?)", r.Name, r.StatusesPerSubmission)
		}
		if r.System == SystemPasserelle && r.SpansPerSubmission == 0 {
			t.Errorf("%s: tracing on exported no span", r.Name)
		}
	}
	if got := strings.Count(progress.String(), "warmed up with 3 submissions"); got != 9 {
		t.Errorf("%d runs warmed up, want 9:\n%s", got, progress.String())
	}
	var table bytes.Buffer
	WriteTable(&table, results)
	for _, r := range results {
		if !strings.Contains(table.String(), r.Name) {
			t.Errorf("the table has no row for %s:\n%s", r.Name, table.String())
		}
	}
	if got := len(Ratios(results)); got != 3 {
		t.Errorf("got %d ratios, want 3:\n%s", got, table.String())
	}
	t.Log("\n" + table.String())
}
