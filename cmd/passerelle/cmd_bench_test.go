package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestBenchUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"kind", []string{"bench", "--kind", "pdf"}, `unknown kind "pdf"`},
		{"latency", []string{"bench", "--latency", "soon"}, `--latency "soon"`},
		{"tracing", []string{"bench", "--tracing", "maybe"}, `--tracing "maybe"`},
		{"sync", []string{"bench", "--sync", "never"}, `--sync "never"`},
		{"n", []string{"bench", "-n", "0"}, "must be at least 1"},
		{"arguments", []string{"bench", "extra"}, "unexpected arguments extra"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := run(context.Background(), tt.args, envOf(nil), nil, io.Discard, io.Discard)
			var ue *usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run(%q) = %v, want a usage error containing %q", tt.args, err, tt.want)
			}
		})
	}
}

// TestBenchJSON runs a tiny plan and checks the shape of the JSON report. It
// times nothing.
func TestBenchJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole stack three times")
	}
	t.Parallel()
	var out bytes.Buffer
	args := []string{"bench", "-n", "4", "--kind", "invoice", "--latency", "0", "--concurrency", "2", "--json"}
	if err := run(context.Background(), args, envOf(nil), nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var report struct {
		Machine map[string]any `json:"machine"`
		Results []struct {
			Name       string  `json:"name"`
			Throughput float64 `json:"throughput"`
		} `json:"results"`
		Ratios []struct {
			Throughput float64 `json:"throughput"`
		} `json:"ratios"`
	}
	if err := json.Unmarshal(out.Bytes(), &report); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	if len(report.Results) != 3 || len(report.Ratios) != 1 || report.Machine["cpus"] == nil {
		t.Errorf("got %d results, %d ratios, machine %v; want 3, 1 and the CPU count:\n%s", len(report.Results), len(report.Ratios), report.Machine, out.String())
	}
	for _, r := range report.Results {
		if r.Throughput <= 0 {
			t.Errorf("%s: no throughput", r.Name)
		}
	}
}
