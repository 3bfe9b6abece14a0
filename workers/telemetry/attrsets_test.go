package telemetry_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/passerelle-dev/passerelle/workers/telemetry"
)

// TestAttributeSets records through cached sets and reads the counts back from a
// real SDK reader: each distinct set of attributes keeps a series of its own,
// whatever the order the sets were first met in.
func TestAttributeSets(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	c, err := mp.Meter("test").Int64Counter("c")
	if err != nil {
		t.Fatal(err)
	}
	var sets telemetry.AttributeSets
	ctx := context.Background()
	for range 3 {
		c.Add(ctx, 1, sets.Of(attribute.String("flow", "invoice"), attribute.String("step", "sending")))
	}
	c.Add(ctx, 1, sets.Of(attribute.String("flow", "invoice"), attribute.String("step", "submitted")))
	// Same values, other keys: another series.
	c.Add(ctx, 1, sets.Of(attribute.String("step", "invoice"), attribute.String("flow", "sending")))

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
				flow, _ := p.Attributes.Value("flow")
				step, _ := p.Attributes.Value("step")
				got[flow.AsString()+"/"+step.AsString()] += p.Value
			}
		}
	}
	want := map[string]int64{"invoice/sending": 3, "invoice/submitted": 1, "sending/invoice": 1}
	if len(got) != len(want) {
		t.Fatalf("series %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
}
