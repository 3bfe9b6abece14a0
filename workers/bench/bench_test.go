package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestRun runs a few submissions of each kind through the baseline and through
// passerelle in both modes, and checks that every one is counted, that none
// failed, and that the report has a row for each. It times nothing.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole stack six times")
	}
	p := Plan{N: 12, Kinds: []Kind{KindInvoice, KindDeclaration, KindMix}, Latencies: []time.Duration{5 * time.Millisecond},
		Concurrency: 4, Baseline: true, Final: true, Tracing: true}
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
		if r.System == SystemPasserelle && r.SpansPerSubmission == 0 {
			t.Errorf("%s: tracing on exported no span", r.Name)
		}
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
