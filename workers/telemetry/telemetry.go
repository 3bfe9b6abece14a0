// Package telemetry sets up OpenTelemetry for passerelle in one call: traces (OTLP,
// configured by the standard OTEL_* environment variables; nothing is exported when
// nothing is configured), metrics (a Prometheus scrape handler, and OTLP when
// configured), and structured logs (log/slog, JSON or text) that carry the trace
// and span ids of the span they are written in. Shutdown flushes everything.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Config configures telemetry.
type Config struct {
	// Getenv reads the OTEL_* variables that decide what is exported.
	Getenv func(string) string
	// ServiceName is the default service.name (OTEL_SERVICE_NAME wins).
	ServiceName string
	// Version is service.version.
	Version string
	// LogLevel is debug, info, warn or error; LogFormat is json or text.
	LogLevel  string
	LogFormat string
	// LogOutput receives the logs.
	LogOutput io.Writer
	// SpanExporter, when set, receives the spans instead of what OTEL_* says
	// (tests use an in-memory exporter).
	SpanExporter sdktrace.SpanExporter
	// SyncSpans exports each span as it ends instead of in batches (tests).
	SyncSpans bool
}

// Telemetry holds the providers passerelle's parts use.
type Telemetry struct {
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	Logger         *slog.Logger
	// MetricsHandler serves the Prometheus exposition of every metric.
	MetricsHandler http.Handler
	// Metrics are passerelle's domain metrics.
	Metrics *Metrics

	shutdowns []func(context.Context) error
}

// Setup builds the providers. It returns an error when an OTEL_* setting or the log
// settings are invalid.
func Setup(ctx context.Context, cfg Config) (*Telemetry, error) {
	getenv := cfg.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	t := &Telemetry{}
	logger, err := newLogger(cfg)
	if err != nil {
		return nil, err
	}
	t.Logger = logger

	name := getenv("OTEL_SERVICE_NAME")
	if name == "" {
		name = cfg.ServiceName
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		semconv.ServiceName(name), semconv.ServiceVersion(cfg.Version), attribute.String("service.namespace", "passerelle")))
	if err != nil {
		res = resource.Default()
	}

	// Traces.
	exporter := cfg.SpanExporter
	if exporter == nil && tracesConfigured(getenv) {
		exporter, err = autoexport.NewSpanExporter(ctx)
		if err != nil {
			return nil, fmt.Errorf("telemetry: trace exporter from OTEL_* settings: %w", err)
		}
		if autoexport.IsNoneSpanExporter(exporter) {
			exporter = nil
		}
	}
	if exporter != nil {
		opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
		if cfg.SyncSpans {
			opts = append(opts, sdktrace.WithSyncer(exporter))
		} else {
			opts = append(opts, sdktrace.WithBatcher(exporter))
		}
		tp := sdktrace.NewTracerProvider(opts...)
		t.TracerProvider = tp
		t.shutdowns = append(t.shutdowns, tp.Shutdown)
	} else {
		t.TracerProvider = noop.NewTracerProvider()
	}

	// Metrics: always scrapeable, pushed over OTLP when asked.
	reg := prometheus.NewRegistry()
	promExporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, fmt.Errorf("telemetry: prometheus exporter: %w", err)
	}
	mopts := []sdkmetric.Option{sdkmetric.WithResource(res), sdkmetric.WithReader(promExporter)}
	if metricsOTLP(getenv) {
		reader, err := autoexport.NewMetricReader(ctx)
		if err != nil {
			return nil, fmt.Errorf("telemetry: metric exporter from OTEL_* settings: %w", err)
		}
		mopts = append(mopts, sdkmetric.WithReader(reader))
	}
	mp := sdkmetric.NewMeterProvider(mopts...)
	t.MeterProvider = mp
	t.shutdowns = append(t.shutdowns, mp.Shutdown)
	t.MetricsHandler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	if t.Metrics, err = NewMetrics(mp); err != nil {
		return nil, fmt.Errorf("telemetry: metrics: %w", err)
	}
	return t, nil
}

// Shutdown flushes and stops every provider.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	var errs []error
	for i := len(t.shutdowns) - 1; i >= 0; i-- {
		if err := t.shutdowns[i](ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// tracesConfigured tells whether the OTEL_* settings ask for trace export.
func tracesConfigured(getenv func(string) string) bool {
	switch v := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); v {
	case "none":
		return false
	case "":
		return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
	default:
		return true
	}
}

// metricsOTLP tells whether the OTEL_* settings ask for OTLP metric export (the
// Prometheus endpoint is always served).
func metricsOTLP(getenv func(string) string) bool {
	switch v := strings.TrimSpace(getenv("OTEL_METRICS_EXPORTER")); v {
	case "", "none", "prometheus":
		return v == "" && getenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") != ""
	default:
		return strings.Contains(v, "otlp")
	}
}
