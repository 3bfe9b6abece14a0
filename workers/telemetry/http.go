package telemetry

import (
	"errors"
	"net/http"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/passerelle-dev/passerelle/workers/retry"
)

// HTTPTransport returns a wrapper for the transport of an administration's client:
// one client span per attempt (otelhttp), named after the API operation and
// carrying http.request.resend_count and the retry's reason from the second
// attempt on, and the http.client.request.duration metric labelled with the
// upstream and the operation. No trace context is sent to the administrations.
//
// The fetches of authentication tokens that go through it (PASRAU's
// authentication service) are counted in passerelle.token.refreshes for account.
func (t *Telemetry) HTTPTransport(upstream, account string) func(http.RoundTripper) http.RoundTripper {
	return func(base http.RoundTripper) http.RoundTripper {
		return otelhttp.NewTransport(attemptAnnotator{base: base, upstream: upstream, account: account, metrics: t.Metrics},
			otelhttp.WithTracerProvider(t.TracerProvider),
			otelhttp.WithMeterProvider(t.MeterProvider),
			otelhttp.WithPropagators(propagation.NewCompositeTextMapPropagator()),
			otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
				return upstream + " " + Operation(upstream, r.URL.Path)
			}),
		)
	}
}

// attemptAnnotator runs inside otelhttp's span: it labels the span with the
// attempt the retry layer is at.
type attemptAnnotator struct {
	base              http.RoundTripper
	upstream, account string
	metrics           *Metrics
}

func (a attemptAnnotator) RoundTrip(r *http.Request) (*http.Response, error) {
	span := trace.SpanFromContext(r.Context())
	op := Operation(a.upstream, r.URL.Path)
	labels := []attribute.KeyValue{attribute.String("passerelle.upstream", a.upstream), attribute.String("passerelle.operation", op)}
	span.SetAttributes(labels...)
	if l, ok := otelhttp.ClientLabelerFromContext(r.Context()); ok {
		l.Add(labels...) // on http.client.request.duration
	}
	if n, cause := retry.AttemptFrom(r.Context()); n > 1 {
		span.SetAttributes(attribute.Int("http.request.resend_count", n-1), attribute.String("passerelle.retry.reason", cause))
	}
	resp, err := a.base.RoundTrip(r)
	if op == "auth" {
		failure := err
		if err == nil && resp.StatusCode != http.StatusOK {
			failure = errors.New(resp.Status)
		}
		a.metrics.TokenRefresh(r.Context(), a.upstream, a.account, failure)
	}
	return resp, err
}

// Operation names an administration's API operation from a request path, with no
// identifier in it (bounded cardinality).
func Operation(upstream, path string) string {
	switch upstream {
	case "pasrau":
		for _, op := range []struct{ prefix, name string }{
			{"/authentifier/", "auth"}, {"/authentifieur/", "auth"}, {"/deposer-pasrau/", "deposit"},
			{"/lister-retours-flux/", "list-flux"}, {"/lister-retours-declarant/", "list-declarant"},
		} {
			if strings.Contains(path, op.prefix) {
				return op.name
			}
		}
		return "download"
	case "choruspro":
		if strings.HasSuffix(path, "/oauth/token") {
			return "token"
		}
		// .../<api>/v1/<operation...>
		if i := strings.Index(path, "/v1/"); i > 0 {
			api := path[strings.LastIndex(path[:i], "/")+1 : i]
			return api + "/" + strings.Trim(path[i+len("/v1/"):], "/")
		}
	}
	return "other"
}
