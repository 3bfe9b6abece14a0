package chorusprotest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/passerelle-dev/passerelle/workers/choruspro/chorusprotest"
)

func TestResubmissions(t *testing.T) {
	t.Parallel()
	rec := func(seq uint64, op, numero string, applied bool, status int) chorusprotest.RequestRecord {
		return chorusprotest.RequestRecord{Seq: seq, Operation: op, NumeroFacture: numero, IDFournisseur: 1, Applied: applied, Status: status}
	}
	for _, tc := range []struct {
		name    string
		records []chorusprotest.RequestRecord
		want    int
	}{
		{"once", []chorusprotest.RequestRecord{rec(1, "soumettre", "A", true, 200)}, 0},
		{"retried after 503", []chorusprotest.RequestRecord{rec(1, "soumettre", "A", false, 503), rec(2, "soumettre", "A", true, 200)}, 0},
		{"resubmitted after a drop", []chorusprotest.RequestRecord{rec(1, "soumettre", "A", true, 0), rec(2, "soumettre", "A", false, 400)}, 1},
		{"flow then soumettre", []chorusprotest.RequestRecord{rec(1, "deposerFlux", "A,B", true, 200), rec(2, "soumettre", "B", false, 400)}, 1},
		{"searches do not count", []chorusprotest.RequestRecord{rec(1, "soumettre", "A", true, 200), rec(2, "rechercherFacturesFournisseur", "A", false, 200)}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := chorusprotest.Resubmissions(tc.records); len(got) != tc.want {
				t.Errorf("got %q, want %d lines", got, tc.want)
			}
		})
	}
}

func TestRetryAfterViolations(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)
	rec := func(seq uint64, at time.Duration, numero string, status, retryAfter int) chorusprotest.RequestRecord {
		return chorusprotest.RequestRecord{Seq: seq, Time: t0.Add(at), Operation: "soumettre", NumeroFacture: numero, Status: status, RetryAfterSeconds: retryAfter}
	}
	for _, tc := range []struct {
		name    string
		records []chorusprotest.RequestRecord
		want    int
	}{
		{"honoured", []chorusprotest.RequestRecord{rec(1, 0, "A", 429, 5), rec(2, 5*time.Second, "A", 200, 0)}, 0},
		{"too soon", []chorusprotest.RequestRecord{rec(1, 0, "A", 429, 5), rec(2, 4*time.Second, "A", 200, 0)}, 1},
		{"other invoice", []chorusprotest.RequestRecord{rec(1, 0, "A", 429, 5), rec(2, time.Second, "B", 200, 0)}, 0},
		{"only the next call", []chorusprotest.RequestRecord{rec(1, 0, "A", 429, 5), rec(2, 6*time.Second, "A", 503, 0), rec(3, 7*time.Second, "A", 200, 0)}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := chorusprotest.RetryAfterViolations(tc.records)
			if len(got) != tc.want {
				t.Errorf("got %q, want %d lines", got, tc.want)
			}
			for _, line := range got {
				if !strings.Contains(line, "Retry-After 5s") {
					t.Errorf("got %q, want the Retry-After named", line)
				}
			}
		})
	}
}
