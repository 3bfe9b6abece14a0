package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/passerelle-dev/passerelle/workers/devstack"
	"github.com/passerelle-dev/passerelle/workers/runtime"
)

// Options are how runs report and where they keep their files.
type Options struct {
	// Progress receives a line per second while a run lasts (nil: nothing).
	Progress io.Writer
	// ProfileDir, when set, receives a CPU and an allocation profile per run.
	ProfileDir string
	// TempDir is where each run's JetStream store is made (os.TempDir when empty).
	TempDir string
}

// emulatorStep is the emulators' lifecycle step in a benchmark: a whole lifecycle
// takes a few milliseconds, so the first follow-up finds the final answer.
const emulatorStep = time.Millisecond

// Run measures one scenario on a stack of its own. It returns an error when the
// stack cannot start, a publish fails, the baseline fails, or the run does not
// complete within the scenario's timeout.
func Run(ctx context.Context, sc Scenario, opts Options) (*Result, error) {
	sc = sc.withDefaults()
	if err := sc.validate(); err != nil {
		return nil, err
	}
	progress := opts.progress()
	stack, _, stop, err := opts.startStack(devstack.Config{Latency: sc.Latency, RelaxedSync: !sc.SyncAlways})
	if err != nil {
		return nil, err
	}
	defer stop()

	msgs, err := load(sc.Kind, sc.Warmup+sc.N)
	if err != nil {
		return nil, err
	}
	loadNC, err := stack.Connect("bench load")
	if err != nil {
		return nil, err
	}
	defer loadNC.Close()
	var pubErr error
	pubErrs := make(chan error, 1)
	js, err := jetstream.New(loadNC, jetstream.WithPublishAsyncMaxPending(max(256, sc.Window)),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, _ *nats.Msg, err error) {
			select {
			case pubErrs <- err:
			default:
			}
		}))
	if err != nil {
		return nil, err
	}
	if _, err := runtime.Setup(ctx, js, runtime.DefaultTopology()); err != nil {
		return nil, err
	}
	col := newCollector(sc)
	statusNC, err := stack.Connect("bench collector")
	if err != nil {
		return nil, err
	}
	defer statusNC.Close()
	for _, subject := range statusSubjects {
		sub, err := statusNC.Subscribe(subject, col.receive)
		if err != nil {
			return nil, fmt.Errorf("bench: subscribe: %w", err)
		}
		_ = sub.SetPendingLimits(-1, -1)
	}
	if err := statusNC.Flush(); err != nil {
		return nil, err
	}

	var stopSystem func() error
	var svc *runningService
	switch sc.System {
	case SystemPasserelle:
		if svc, err = startPasserelle(ctx, stack, sc); err != nil {
			return nil, err
		}
		stopSystem = svc.stop
	default:
		b, err := startBaseline(ctx, stack, sc)
		if err != nil {
			return nil, err
		}
		stopSystem = b.stop
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = stopSystem()
		}
	}()

	rctx, cancel := context.WithTimeout(ctx, sc.Timeout)
	defer cancel()
	if err := warmUp(rctx, js, msgs[:sc.Warmup], col, pubErrs, progress, sc.Name()); err != nil {
		return nil, err
	}
	msgs = msgs[sc.Warmup:]

	rss := startRSS()
	stopProfile, err := profile(opts.ProfileDir, sc.Name())
	if err != nil {
		rss.done()
		return nil, err
	}
	if svc != nil {
		svc.forgetSpans(rctx)
	}
	before := readUsage()
	col.begin(before.wall)

	go func() {
		for i, m := range msgs {
			select {
			case col.slots <- struct{}{}:
			case <-rctx.Done():
				return
			}
			col.published(i)
			if _, err := js.PublishMsgAsync(m); err != nil {
				select {
				case pubErrs <- err:
				default:
				}
				return
			}
		}
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var runErr error
wait:
	for {
		select {
		case <-col.done:
			break wait
		case pubErr = <-pubErrs:
			runErr = fmt.Errorf("bench: publish: %w", pubErr)
			break wait
		case <-rctx.Done():
			a, f := col.counts()
			runErr = fmt.Errorf("bench: %s: %d of %d accepted and %d final after %s: %w", sc.Name(), a, sc.N, f, time.Since(before.wall).Round(time.Second), rctx.Err())
			break wait
		case <-tick.C:
			a, f := col.counts()
			el := time.Since(before.wall).Seconds()
			fmt.Fprintf(progress, "  %-40s %6.1fs  %7d/%d accepted (%6.0f/s)  %7d final\n", sc.Name(), el, a, sc.N, float64(a)/el, f)
		}
	}
	after := readUsage()
	peak := rss.done()
	profErr := stopProfile()
	stopped = true
	stopErr := stopSystem()
	if runErr != nil {
		return nil, errors.Join(runErr, stopErr)
	}
	if profErr != nil {
		return nil, profErr
	}
	if stopErr != nil {
		return nil, fmt.Errorf("bench: %s: %w", sc.Name(), stopErr)
	}
	r := col.result(sc, before, after, peak)
	if svc != nil && sc.Tracing {
		r.SpansPerSubmission, r.Spans = svc.spans.results(sc.N)
	}
	return r, nil
}

// warmUp publishes the warm-up submissions msgs at once and waits until each has
// ended as the scenario's do (see collector.ends).
func warmUp(ctx context.Context, js jetstream.JetStream, msgs []*nats.Msg, col *collector, pubErrs <-chan error, progress io.Writer, name string) error {
	if len(msgs) == 0 {
		return nil
	}
	start := time.Now()
	for _, m := range msgs {
		if _, err := js.PublishMsgAsync(m); err != nil {
			return fmt.Errorf("bench: warm-up publish: %w", err)
		}
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-col.warmDone:
			fmt.Fprintf(progress, "  %-40s warmed up with %d submissions in %.1fs\n", name, len(msgs), time.Since(start).Seconds())
			return nil
		case err := <-pubErrs:
			return fmt.Errorf("bench: warm-up publish: %w", err)
		case <-ctx.Done():
			return fmt.Errorf("bench: %s: %d of %d warm-up submissions ended: %w", name, col.warmUpCount(), len(msgs), ctx.Err())
		case <-tick.C:
			fmt.Fprintf(progress, "  %-40s warming up: %d/%d\n", name, col.warmUpCount(), len(msgs))
		}
	}
}

// progress is where progress lines go: Options.Progress, or nowhere.
func (o Options) progress() io.Writer {
	if o.Progress == nil {
		return io.Discard
	}
	return o.Progress
}

// startStack starts an embedded stack (NATS and both emulators) with a store of
// its own under Options.TempDir; stop closes the stack and removes the store.
func (o Options) startStack(cfg devstack.Config) (stack *devstack.Stack, dir string, stop func(), err error) {
	dir, err = os.MkdirTemp(o.TempDir, "passerelle-bench-")
	if err != nil {
		return nil, "", nil, fmt.Errorf("bench: store directory: %w", err)
	}
	cfg.StoreDir, cfg.Step = dir, emulatorStep
	if stack, err = devstack.Start(cfg); err != nil {
		_ = os.RemoveAll(dir)
		return nil, "", nil, err
	}
	return stack, dir, func() {
		stack.Close()
		_ = os.RemoveAll(dir)
	}, nil
}
