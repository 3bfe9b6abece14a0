package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/passerelle-dev/passerelle/workers/telemetry"
)

func TestLogsCarryTraceIDs(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	tel, err := telemetry.Setup(context.Background(), telemetry.Config{LogOutput: &buf, LogLevel: "debug", SpanExporter: tracetest.NewInMemoryExporter(), SyncSpans: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, span := tel.TracerProvider.Tracer("test").Start(context.Background(), "work")
	tel.Logger.InfoContext(ctx, "inside")
	span.End()
	tel.Logger.InfoContext(context.Background(), "outside")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d log lines, want 2: %s", len(lines), buf.String())
	}
	var inside, outside map[string]any
	_ = json.Unmarshal([]byte(lines[0]), &inside)
	_ = json.Unmarshal([]byte(lines[1]), &outside)
	if inside["trace_id"] != span.SpanContext().TraceID().String() || inside["span_id"] != span.SpanContext().SpanID().String() {
		t.Errorf("a line inside a span lacks its ids: %s", lines[0])
	}
	if _, ok := outside["trace_id"]; ok {
		t.Errorf("a line outside any span has a trace id: %s", lines[1])
	}
}

func TestNothingExportedWithoutConfiguration(t *testing.T) {
	t.Parallel()
	tel, err := telemetry.Setup(context.Background(), telemetry.Config{Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	_, span := tel.TracerProvider.Tracer("test").Start(context.Background(), "work")
	if span.IsRecording() {
		t.Error("spans are recorded although no exporter is configured")
	}
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestSettingsErrors(t *testing.T) {
	t.Parallel()
	for _, cfg := range []telemetry.Config{{LogLevel: "loud"}, {LogFormat: "xml"}} {
		if _, err := telemetry.Setup(context.Background(), cfg); err == nil {
			t.Errorf("Setup(%+v) accepted a wrong setting", cfg)
		}
	}
}

func TestOperationNames(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ upstream, path, want string }{
		{"choruspro", "/cpro/factures/v1/soumettre", "factures/soumettre"},
		{"choruspro", "/service-qualif/factures/v1/deposer/pdf", "factures/deposer/pdf"},
		{"choruspro", "/api/oauth/token", "token"},
		{"pasrau", "/lister-retours-flux/1.0/F1spdeAilkR4q3UU1QA7haa", "list-flux"},
		{"pasrau", "/lister-retours-declarant/1.0/20260101000000/20260101010000", "list-declarant"},
		{"pasrau", "/telecharger-retour/1.0/abc/123", "download"},
		{"pasrau", "/authentifier/1.0/", "auth"},
	} {
		if got := telemetry.Operation(tt.upstream, tt.path); got != tt.want {
			t.Errorf("Operation(%s, %s) = %q, want %q", tt.upstream, tt.path, got, tt.want)
		}
	}
}
