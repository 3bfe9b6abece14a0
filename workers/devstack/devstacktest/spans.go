package devstacktest

import (
	"context"
	"io"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/passerelle-dev/passerelle/workers/telemetry"
)

// CollectSpans gives the services StartService starts a telemetry that records
// every span in memory, exported as each span ends, and returns the exporter.
func (h *Harness) CollectSpans() *tracetest.InMemoryExporter {
	h.T.Helper()
	exp := tracetest.NewInMemoryExporter()
	tel, err := telemetry.Setup(context.Background(), telemetry.Config{LogOutput: io.Discard, LogLevel: "error", SpanExporter: exp, SyncSpans: true, ServiceName: "passerelle"})
	if err != nil {
		h.T.Fatal(err)
	}
	h.T.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	h.Telemetry = tel
	return exp
}
