package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/passerelle-dev/passerelle/workers/devstack"
	"github.com/passerelle-dev/passerelle/workers/service"
	"github.com/passerelle-dev/passerelle/workers/telemetry"
)

// serviceConfig is the dev stack's service configuration sized for the scenario.
// In ModeSubmit every follow-up is planned an hour ahead, and the returns poller
// lists nothing younger than two hours, so that no poll runs while the submission
// path is measured.
func serviceConfig(sc Scenario) service.Config {
	c := devstack.ServiceConfig("")
	c.Concurrency = sc.Concurrency
	c.FollowUpConcurrency = sc.Concurrency
	c.MaxAckPending = max(c.MaxAckPending, 2*sc.Concurrency, sc.Window)
	// The measurement is over when the service stops: a follow-up still waiting on
	// the emulator is handed back rather than waited for.
	c.Grace = 500 * time.Millisecond
	if sc.Mode == ModeSubmit {
		c.Invoice.FlowPollInterval = time.Hour
		c.Invoice.InvoicePollMin = time.Hour
		c.Invoice.InvoicePollMax = 2 * time.Hour
		c.Declaration.FluxPoll = time.Hour
		c.Declaration.AccountPoll = time.Hour
		c.Declaration.PollLookback = time.Hour
		c.Declaration.PollLag = 2 * time.Hour
	}
	return c
}

// spanCounter is a span exporter that counts the spans, keeps their durations by
// name, and drops them.
type spanCounter struct {
	mu    sync.Mutex
	n     int64
	times map[string][]time.Duration
}

func (s *spanCounter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n += int64(len(spans))
	if s.times == nil {
		s.times = map[string][]time.Duration{}
	}
	for _, sp := range spans {
		s.times[sp.Name()] = append(s.times[sp.Name()], sp.EndTime().Sub(sp.StartTime()))
	}
	return nil
}

func (s *spanCounter) Shutdown(context.Context) error { return nil }

// reset forgets the spans exported so far (the warm-up's).
func (s *spanCounter) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n, s.times = 0, nil
}

// results returns the spans per submission and each span name's durations.
func (s *spanCounter) results(n int) (float64, []SpanTimes) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SpanTimes, 0, len(s.times))
	for name, ds := range s.times {
		out = append(out, SpanTimes{Name: name, PerSubmission: float64(len(ds)) / float64(n), Durations: percentiles(ds)})
	}
	slices.SortFunc(out, func(a, b SpanTimes) int { return strings.Compare(a.Name, b.Name) })
	return float64(s.n) / float64(n), out
}

// runningService is passerelle running on a stack.
type runningService struct {
	cancel context.CancelFunc
	done   chan error
	tel    *telemetry.Telemetry
	spans  *spanCounter
	close  func()
}

// startPasserelle runs passerelle's service on the stack, on its own connection,
// until stop.
func startPasserelle(ctx context.Context, stack *devstack.Stack, sc Scenario) (*runningService, error) {
	tcfg := telemetry.Config{ServiceName: "passerelle", LogOutput: io.Discard, LogLevel: "info", LogFormat: "json"}
	spans := &spanCounter{}
	if sc.Tracing {
		tcfg.SpanExporter = spans
	}
	tel, err := telemetry.Setup(ctx, tcfg)
	if err != nil {
		return nil, err
	}
	reg, err := stack.Accounts(tel)
	if err != nil {
		return nil, err
	}
	nc, err := stack.Connect("passerelle")
	if err != nil {
		return nil, err
	}
	svc, err := service.New(serviceConfig(sc), service.Deps{NATS: nc, Accounts: reg, Telemetry: tel})
	if err != nil {
		nc.Close()
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	r := &runningService{cancel: cancel, done: make(chan error, 1), tel: tel, spans: spans, close: nc.Close}
	go func() { r.done <- svc.Run(sctx) }()
	select {
	case <-svc.Ready:
		return r, nil
	case err := <-r.done:
		cancel()
		nc.Close()
		return nil, fmt.Errorf("bench: passerelle stopped at start: %w", err)
	}
}

// forgetSpans exports the spans ended so far (the warm-up's) and forgets them.
func (r *runningService) forgetSpans(ctx context.Context) {
	if fp, ok := r.tel.TracerProvider.(interface{ ForceFlush(context.Context) error }); ok {
		_ = fp.ForceFlush(ctx)
	}
	r.spans.reset()
}

// stop drains the service and flushes its telemetry.
func (r *runningService) stop() error {
	r.cancel()
	err := <-r.done
	r.close()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return errors.Join(err, r.tel.Shutdown(sctx))
}
