// Package service assembles passerelle's workers: it sets up the JetStream topology,
// builds each flow with its intake and follow-up workers, serves /healthz, /readyz
// and /metrics, and runs everything until its context ends, then drains.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/schemas"
	"github.com/passerelle-dev/passerelle/workers/declaration"
	"github.com/passerelle-dev/passerelle/workers/invoice"
	"github.com/passerelle-dev/passerelle/workers/runtime"
	"github.com/passerelle-dev/passerelle/workers/telemetry"
)

// Config configures the service. DefaultConfig documents every default.
type Config struct {
	Topology runtime.Topology
	// Concurrency is the number of submissions handled at once per flow by this
	// replica; FollowUpConcurrency the number of follow-ups.
	Concurrency         int
	FollowUpConcurrency int
	// AckWait is the consumers' ack wait; it must exceed one attempt's budget.
	AckWait time.Duration
	// MaxAckPending bounds the unacknowledged messages of each consumer, all
	// replicas together.
	MaxAckPending int
	// Policy is the redelivery schedule of the intake consumers.
	Policy runtime.Policy
	// FollowUpPolicy is the redelivery schedule of the follow-up consumers.
	FollowUpPolicy runtime.Policy
	// Grace is how long a stopping replica lets in-flight work finish.
	Grace       time.Duration
	Invoice     invoice.Config
	Declaration declaration.Config
	// HTTPListen is the address of /healthz, /readyz and /metrics ("" serves nothing).
	HTTPListen string
	// ChorusProRateLimit and PASRAURateLimit are the calls per second allowed to
	// each account, all replicas together (0: no limit); each replica takes its
	// share of the replicas running.
	ChorusProRateLimit float64
	PASRAURateLimit    float64
}

// DefaultConfig returns the production defaults.
func DefaultConfig() Config {
	return Config{
		Topology:            runtime.DefaultTopology(),
		Concurrency:         32,
		FollowUpConcurrency: 32,
		AckWait:             60 * time.Second,
		MaxAckPending:       1000,
		Policy:              runtime.DefaultPolicy(),
		FollowUpPolicy:      runtime.Policy{MaxDeliveries: 0, BackoffBase: 30 * time.Second, BackoffMax: time.Hour},
		Grace:               30 * time.Second,
		Invoice:             invoice.DefaultConfig(),
		Declaration:         declaration.DefaultConfig(),
		HTTPListen:          ":8080",
	}
}

// Accounts finds the configured accounts of both flows.
type Accounts interface {
	invoice.Accounts
	declaration.Accounts
}

// Deps are what the service runs with.
type Deps struct {
	NATS      *nats.Conn
	Accounts  Accounts
	Telemetry *telemetry.Telemetry
}

// Service is passerelle's worker process.
type Service struct {
	cfg    Config
	deps   Deps
	log    *slog.Logger
	health *health
	// Ready is closed once the topology is set up and the workers run.
	Ready chan struct{}
	// HTTPAddr is the address the HTTP server listens on, once Ready.
	HTTPAddr string
}

// setupPatience is how long a starting replica waits for JetStream to set up its
// streams and buckets (a node down, leaders being elected) before it gives up.
const setupPatience = 2 * time.Minute

// New returns a service. It returns an error when a dependency is missing.
func New(cfg Config, deps Deps) (*Service, error) {
	if deps.NATS == nil || deps.Accounts == nil || deps.Telemetry == nil {
		return nil, errors.New("service: NATS connection, accounts and telemetry are required")
	}
	return &Service{cfg: cfg, deps: deps, log: deps.Telemetry.Logger, Ready: make(chan struct{})}, nil
}

// Run sets up the topology, starts the workers and the HTTP server, and runs until
// ctx ends (then drains) or a part fails.
func (s *Service) Run(ctx context.Context) error {
	tel := s.deps.Telemetry
	js, err := jetstream.New(s.deps.NATS)
	if err != nil {
		return fmt.Errorf("service: jetstream: %w", err)
	}
	assets, err := runtime.SetupPatiently(ctx, js, s.cfg.Topology, setupPatience, func(err error, attempt int) {
		s.log.WarnContext(ctx, "JetStream cannot set up passerelle's streams yet; trying again", "attempt", attempt, "err", err)
	})
	if err != nil {
		return err
	}
	documents := runtime.TracedObjectStore(assets.Documents, tel.TracerProvider)
	validator, err := schemas.New()
	if err != nil {
		return err
	}
	pub := events.NewPublisher(js, events.WithTracerProvider(tel.TracerProvider), events.WithSentCounter(tel.Metrics.Sent))
	dead := runtime.NewDeadLetters(js, documents, tel.Metrics.DeadLetter)
	s.health = newHealth(s.deps.NATS, js, tel.Metrics)
	flow, err := invoice.New(s.cfg.Invoice, invoice.Deps{
		Accounts: s.deps.Accounts, Publisher: pub, Ledger: runtime.NewLedger(assets.Ledger, tel.TracerProvider),
		Scheduler: runtime.NewScheduler(js), Documents: documents, Schemas: validator, Logger: s.log,
		Metrics: tel.Metrics, Auth: s.health,
	})
	if err != nil {
		return err
	}
	followUps, err := js.Stream(ctx, runtime.StreamFollowUps)
	if err != nil {
		return fmt.Errorf("service: %w", err)
	}
	decl, err := declaration.New(s.cfg.Declaration, declaration.Deps{
		Accounts: s.deps.Accounts, Publisher: pub, Ledger: runtime.NewLedger(assets.Ledger, tel.TracerProvider),
		Scheduler: runtime.NewScheduler(js), Documents: documents, Schemas: validator, Logger: s.log, FollowUps: followUps,
		Metrics: tel.Metrics, Auth: s.health,
	})
	if err != nil {
		return err
	}

	var g group
	specs := []struct {
		consumer    runtime.ConsumerSpec
		handler     runtime.Handler
		concurrency int
		policy      runtime.Policy
		followUp    bool
	}{
		{runtime.ConsumerSpec{Stream: runtime.StreamInvoices, Durable: "invoice-submit", Filter: events.TypeInvoiceSubmit}, flow.Intake(), s.cfg.Concurrency, s.cfg.Policy, false},
		{runtime.ConsumerSpec{Stream: runtime.StreamFollowUps, Durable: "invoice-followup", Filter: invoice.FollowUpSubjects()}, flow.FollowUp(), s.cfg.FollowUpConcurrency, s.cfg.FollowUpPolicy, true},
		{runtime.ConsumerSpec{Stream: runtime.StreamDeclarations, Durable: "declaration-submit", Filter: events.TypeDeclarationSubmit}, decl.Intake(), s.cfg.Concurrency, s.cfg.Policy, false},
		{runtime.ConsumerSpec{Stream: runtime.StreamFollowUps, Durable: "declaration-followup", Filter: declaration.FollowUpSubjects()}, decl.FollowUp(), s.cfg.FollowUpConcurrency, s.cfg.FollowUpPolicy, true},
		{runtime.ConsumerSpec{Stream: runtime.StreamFollowUps, Durable: "pasrau-poll", Filter: declaration.PollSubjects()}, decl.Poller(), s.cfg.FollowUpConcurrency, s.cfg.FollowUpPolicy, true},
	}
	meter := tel.MeterProvider.Meter("github.com/passerelle-dev/passerelle/workers/runtime")
	for _, sp := range specs {
		sp.consumer.AckWait, sp.consumer.MaxAckPending = s.cfg.AckWait, s.cfg.MaxAckPending
		c, err := runtime.Consumer(ctx, js, sp.consumer)
		if err != nil {
			return err
		}
		s.health.watch(sp.consumer.Stream, sp.consumer.Durable)
		w, err := runtime.NewWorker(runtime.WorkerConfig{
			Name: sp.consumer.Durable, Concurrency: sp.concurrency, AckWait: s.cfg.AckWait, Grace: s.cfg.Grace, Policy: sp.policy,
			NewTrace: sp.followUp,
		}, c, sp.handler, dead, runtime.WithLogger(s.log), runtime.WithTracing(tel.TracerProvider), runtime.WithMeter(meter))
		if err != nil {
			return err
		}
		g.add("worker "+sp.consumer.Durable, w.Run)
	}
	if err := decl.EnsurePolls(ctx); err != nil {
		return err
	}
	var pasrauAccounts []string
	for _, a := range s.deps.Accounts.PASRAUAccounts() {
		pasrauAccounts = append(pasrauAccounts, a.Name)
	}
	tel.Metrics.Zero(ctx, pasrauAccounts)
	if err := s.health.observeFollowUps(tel.MeterProvider, followUps, map[string]string{"invoice": "invoice-followup", "declaration": "declaration-followup", "pasrau-poll": "pasrau-poll"}); err != nil {
		return err
	}
	if s.cfg.HTTPListen != "" {
		ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", s.cfg.HTTPListen)
		if err != nil {
			return fmt.Errorf("service: listen on %s: %w", s.cfg.HTTPListen, err)
		}
		s.HTTPAddr = ln.Addr().String()
		srv := &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
		g.add("http server", func(ctx context.Context) error {
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(ln) }()
			select {
			case err := <-errc:
				return err
			case <-ctx.Done():
				sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				defer cancel()
				return srv.Shutdown(sctx)
			}
		})
	}
	presence := runtime.NewPresence(assets.Replicas, replicaID())
	g.add("presence", func(ctx context.Context) error {
		return presence.Run(ctx, func(n int) {
			flow.SetRateLimit(s.cfg.ChorusProRateLimit / float64(n))
			decl.SetRateLimit(s.cfg.PASRAURateLimit / float64(n))
		})
	})
	s.log.InfoContext(ctx, "passerelle is running", "http", s.HTTPAddr, "concurrency", s.cfg.Concurrency)
	close(s.Ready)
	return g.run(ctx)
}

func (s *Service) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.health.serveReady)
	mux.Handle("GET /metrics", s.deps.Telemetry.MetricsHandler)
	return mux
}

// replicaID names this replica: its host name (the pod's, in Kubernetes) and a
// random suffix, so that a restarted process is a new replica.
func replicaID() string {
	host, _ := os.Hostname()
	return runtime.Key(host, nuid.Next())
}
