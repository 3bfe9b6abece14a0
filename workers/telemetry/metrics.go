package telemetry

import (
	"context"
	"errors"
	"log/slog"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Metrics are passerelle's domain metrics, under the passerelle. namespace
// (passerelle_* in Prometheus). Labels are bounded: flows, upstreams, configured
// accounts, outcomes and causes; never an invoice number nor a flux id. A nil
// *Metrics records nothing.
type Metrics struct {
	submissions metric.Int64Counter
	retries     metric.Int64Counter
	tokens      metric.Int64Counter
	deadLetters metric.Int64Counter
	ledger      metric.Int64Counter
	polls       metric.Int64Counter
	rateLimited metric.Int64Counter
	sent        metric.Int64Counter
	authFailing metric.Int64UpDownCounter
	circuitOpen metric.Int64UpDownCounter
	attrs       AttributeSets
}

// NewMetrics creates the instruments on mp.
func NewMetrics(mp metric.MeterProvider) (*Metrics, error) {
	m := mp.Meter("github.com/passerelle-dev/passerelle")
	var errs []error
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, err := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	out := &Metrics{
		submissions: counter("passerelle.submissions", "{submission}", "Submissions that reached a final state, by flow, account and outcome (the final state)."),
		retries:     counter("passerelle.retries", "{retry}", "Calls to an administration retried in-process, by upstream and cause (429, 503, 5xx, network...)."),
		tokens:      counter("passerelle.token.refreshes", "{refresh}", "Authentication tokens fetched, by upstream, account and outcome."),
		deadLetters: counter("passerelle.dead_letters", "{message}", "Messages dead-lettered, by stream and kind (rejected or failed)."),
		ledger:      counter("passerelle.ledger.transitions", "{transition}", "Ledger steps reached by submissions, by flow and step."),
		polls:       counter("passerelle.pasrau.polls", "{poll}", "Listings of a declarant's PASRAU returns, by account and outcome."),
		rateLimited: counter("passerelle.pasrau.rate_limited", "{answer}", "Polls PASRAU asked to delay (429), or that passerelle held back to honour its Expires, by account and by whom."),
		sent:        counter("messaging.client.sent.messages", "{message}", "Events published by passerelle."),
	}
	var err error
	out.authFailing, err = m.Int64UpDownCounter("passerelle.auth.failing", metric.WithUnit("{account}"),
		metric.WithDescription("Accounts whose credentials an administration currently refuses, by upstream."))
	errs = append(errs, err)
	out.circuitOpen, err = m.Int64UpDownCounter("passerelle.circuit.open", metric.WithUnit("{account}"),
		metric.WithDescription("Accounts whose circuit to an administration is open (the upstream is unavailable), by upstream."))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

func (m *Metrics) add(ctx context.Context, c metric.Int64Counter, kv ...attribute.KeyValue) {
	c.Add(ctx, 1, m.attrs.Of(kv...))
}

// Submission counts a submission that reached its final state.
func (m *Metrics) Submission(ctx context.Context, flow, account, outcome string) {
	if m != nil {
		m.add(ctx, m.submissions, attribute.String("flow", flow), attribute.String("account", account), attribute.String("outcome", outcome))
	}
}

// Retry counts an in-process retry of a call to upstream.
func (m *Metrics) Retry(ctx context.Context, upstream, cause string) {
	if m != nil {
		m.add(ctx, m.retries, attribute.String("upstream", upstream), attribute.String("cause", cause))
	}
}

// TokenRefresh counts a token fetch.
func (m *Metrics) TokenRefresh(ctx context.Context, upstream, account string, err error) {
	if m != nil {
		outcome := "ok"
		if err != nil {
			outcome = "error"
		}
		m.add(ctx, m.tokens, attribute.String("upstream", upstream), attribute.String("account", account), attribute.String("outcome", outcome))
	}
}

// DeadLetter counts a dead-lettered message.
func (m *Metrics) DeadLetter(ctx context.Context, stream, kind string) {
	if m != nil {
		m.add(ctx, m.deadLetters, attribute.String("stream", stream), attribute.String("kind", kind))
	}
}

// LedgerStep counts a submission reaching a ledger step.
func (m *Metrics) LedgerStep(ctx context.Context, flow, step string) {
	if m != nil {
		m.add(ctx, m.ledger, attribute.String("flow", flow), attribute.String("step", step))
	}
}

// Poll counts a listing of a declarant's returns.
func (m *Metrics) Poll(ctx context.Context, account, outcome string) {
	if m != nil {
		m.add(ctx, m.polls, attribute.String("account", account), attribute.String("outcome", outcome))
	}
}

// RateLimited counts a poll delayed by PASRAU ("pasrau": a 429) or held back by
// passerelle ("passerelle": before Expires).
func (m *Metrics) RateLimited(ctx context.Context, account, by string) {
	if m != nil {
		m.add(ctx, m.rateLimited, attribute.String("account", account), attribute.String("by", by))
	}
}

// Sent counts an event published on a destination (its type).
func (m *Metrics) Sent(ctx context.Context, destination string) {
	if m != nil {
		m.add(ctx, m.sent, attribute.String("messaging.system", "nats"), attribute.String("messaging.destination.name", destination))
	}
}

// AuthFailing moves the count of accounts whose credentials upstream refuses
// (+1 when one starts failing, -1 when it recovers).
func (m *Metrics) AuthFailing(ctx context.Context, upstream string, delta int64) {
	if m != nil {
		m.authFailing.Add(ctx, delta, metric.WithAttributes(attribute.String("upstream", upstream)))
	}
}

// CircuitOpen moves the count of accounts whose circuit to upstream is open.
func (m *Metrics) CircuitOpen(ctx context.Context, upstream string, delta int64) {
	if m != nil {
		m.circuitOpen.Add(ctx, delta, metric.WithAttributes(attribute.String("upstream", upstream)))
	}
}

// CircuitHook returns the hook the retry gates of upstream call when an account's
// circuit opens or closes: it logs the change and counts open circuits.
func (m *Metrics) CircuitHook(log *slog.Logger, upstream string) func(key string, open bool) {
	return func(key string, open bool) {
		if open {
			log.Warn("upstream unavailable: circuit open, calls held back", "gate", key)
			m.CircuitOpen(context.Background(), upstream, 1)
			return
		}
		log.Info("upstream available again: circuit closed", "gate", key)
		m.CircuitOpen(context.Background(), upstream, -1)
	}
}

// Zero makes the series that alerts and dashboards read exist from the start, at
// 0, rather than appear at their first event: refused accounts per upstream, and
// the PASRAU waits of each account.
func (m *Metrics) Zero(ctx context.Context, pasrauAccounts []string) {
	if m == nil {
		return
	}
	for _, upstream := range []string{"choruspro", "pasrau"} {
		m.authFailing.Add(ctx, 0, metric.WithAttributes(attribute.String("upstream", upstream)))
		m.circuitOpen.Add(ctx, 0, metric.WithAttributes(attribute.String("upstream", upstream)))
	}
	for _, account := range pasrauAccounts {
		for _, by := range []string{"pasrau", "passerelle"} {
			m.rateLimited.Add(ctx, 0, metric.WithAttributes(attribute.String("account", account), attribute.String("by", by)))
		}
	}
}
