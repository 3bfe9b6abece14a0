package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Handler processes the messages of one consumer.
type Handler interface {
	// Handle processes one delivery and returns nil when it is done, or an error that
	// the outcome policy acts on (see Invalid and Retry). ctx is cancelled when the
	// worker stops for good.
	Handle(ctx context.Context, d *Delivery) error
	// Answer publishes the event that tells the submitter how the runtime ended a
	// message it could not bring to success: end.Kind is EndRejected or EndFailed.
	// It returns nil when there is nothing to answer (the message cannot be
	// attributed to a submission); an error makes the runtime retry later.
	Answer(ctx context.Context, d *Delivery, end End) error
}

// EndKind tells how the runtime ended a message.
type EndKind string

// The ways a message ends other than success.
const (
	EndRejected EndKind = "rejected" // invalid input
	EndFailed   EndKind = "failed"   // gave up after retries, or the handler panicked
)

// End describes a message the runtime ended without success.
type End struct {
	Kind       EndKind
	Err        error
	Deliveries uint64
	// DeadLetterSeq is the sequence of the message's copy in the dead-letter stream.
	DeadLetterSeq uint64
}

// WorkerConfig configures a Worker.
type WorkerConfig struct {
	// Name identifies the worker in logs and telemetry (usually the consumer's name).
	Name string
	// Concurrency is the number of messages handled at once (a handler may free
	// its slot early: Delivery.FreeSlot), and the prefetch.
	Concurrency int
	// AckWait is the consumer's ack wait; in-progress signals are sent at a third of it.
	AckWait time.Duration
	// Grace is how long a stopping worker lets in-flight handlers finish before it
	// cancels them and hands their messages back.
	Grace  time.Duration
	Policy Policy
	// NewTrace starts each message's process span in a trace of its own, linked
	// to the trace the message carries, rather than as its child: for follow-ups,
	// which run days after the submission whose trace they carry.
	NewTrace bool
}

// Worker consumes a durable pull consumer with bounded concurrency and applies the
// outcome policy to each message.
type Worker struct {
	cfg      WorkerConfig
	consumer jetstream.Consumer
	handler  Handler
	dead     *DeadLetters
	log      *slog.Logger
	tracer   trace.Tracer
	metrics  *workerMetrics
}

// WorkerOption configures a Worker.
type WorkerOption func(*Worker)

// WithLogger sets the worker's logger.
func WithLogger(l *slog.Logger) WorkerOption { return func(w *Worker) { w.log = l } }

// WithTracing sets the tracer provider for the worker's process spans.
func WithTracing(tp trace.TracerProvider) WorkerOption {
	return func(w *Worker) { w.tracer = tp.Tracer("github.com/passerelle-dev/passerelle/workers/runtime") }
}

// NewWorker returns a worker for consumer. It returns an error when the
// configuration is unusable.
func NewWorker(cfg WorkerConfig, consumer jetstream.Consumer, h Handler, dead *DeadLetters, opts ...WorkerOption) (*Worker, error) {
	switch {
	case cfg.Name == "":
		return nil, errors.New("runtime: worker needs a name")
	case cfg.Concurrency < 1:
		return nil, fmt.Errorf("runtime: worker %s: concurrency %d must be at least 1", cfg.Name, cfg.Concurrency)
	case cfg.AckWait <= 0:
		return nil, fmt.Errorf("runtime: worker %s: ack wait must be positive", cfg.Name)
	case consumer == nil || h == nil || dead == nil:
		return nil, fmt.Errorf("runtime: worker %s: consumer, handler and dead letters are required", cfg.Name)
	}
	w := &Worker{cfg: cfg, consumer: consumer, handler: h, dead: dead, log: slog.New(slog.DiscardHandler), tracer: noop.NewTracerProvider().Tracer("")}
	for _, o := range opts {
		o(w)
	}
	return w, nil
}

// Run consumes until ctx is done, then drains: it stops pulling, lets buffered and
// in-flight messages finish within the grace period, and hands back (naks) those that
// could not. It returns nil after a clean stop, or the error that stopped consuming.
func (w *Worker) Run(ctx context.Context) error {
	it, err := w.consumer.Messages(jetstream.PullMaxMessages(w.cfg.Concurrency))
	if err != nil {
		return fmt.Errorf("runtime: worker %s: consume: %w", w.cfg.Name, err)
	}
	// Handlers run under hctx, which outlives ctx by the grace period.
	hctx, cancelHandlers := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHandlers()
	var stopping sync.WaitGroup
	stopping.Add(1)
	go func() {
		defer stopping.Done()
		<-ctx.Done()
		it.Drain()
	}()

	sem := make(chan struct{}, w.cfg.Concurrency)
	var inflight sync.WaitGroup
	var runErr error
	for {
		sem <- struct{}{}
		msg, err := it.Next()
		if err != nil {
			<-sem
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				break
			}
			if ctx.Err() == nil {
				w.log.Warn("pull failed; retrying", "worker", w.cfg.Name, "err", err)
				continue
			}
			break
		}
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			var once sync.Once
			release := func() { once.Do(func() { <-sem }) }
			defer release()
			w.process(hctx, ctx, msg, release)
		}()
	}
	if ctx.Err() == nil {
		it.Stop()
		runErr = fmt.Errorf("runtime: worker %s: consumer closed", w.cfg.Name)
	}
	done := make(chan struct{})
	go func() { inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(w.cfg.Grace):
		w.log.Warn("grace period over; handing back in-flight messages", "worker", w.cfg.Name)
		cancelHandlers()
		<-done
	}
	stopping.Wait()
	return runErr
}

// process handles one message and applies the outcome policy. runCtx tells whether the
// worker is stopping. release frees the message's concurrency slot: process calls it
// once the handling is over, before waiting for the server to confirm an ack.
func (w *Worker) process(ctx, runCtx context.Context, msg jetstream.Msg, release func()) {
	start := time.Now()
	d, err := newDelivery(msg, w.cfg.Name)
	if err != nil {
		w.log.Error("message without metadata; terminating", "worker", w.cfg.Name, "err", err)
		_ = msg.Term()
		return
	}
	ctx, span := w.startSpan(ctx, d)
	defer span.End()

	stopTicker := w.keepAlive(d)
	var herr error
	overDelivered := w.cfg.Policy.MaxDeliveries > 0 && d.Delivered > uint64(w.cfg.Policy.MaxDeliveries)
	if overDelivered {
		// Delivered more often than allowed without an outcome: handling it may be
		// what crashes the process. Give it up without handling it again.
		herr = fmt.Errorf("delivered %d times without completing (a worker may have crashed while handling it)", d.Delivered)
	} else {
		herr = w.safeHandle(ctx, d)
	}
	dec := w.cfg.Policy.decide(herr, d.Delivered, runCtx.Err() != nil)
	var pe *panicError
	if overDelivered || errors.As(herr, &pe) {
		dec = decision{act: actFail, err: herr}
	}
	w.settle(ctx, d, dec, span, release)
	stopTicker()
	w.metrics.record(ctx, w.cfg.Name, d, dec, time.Since(start))
}

// keepAlive sends InProgress every third of AckWait until the returned func is called.
func (w *Worker) keepAlive(d *Delivery) func() {
	every := w.cfg.AckWait / 3
	var t *time.Timer
	var mu sync.Mutex
	stopped := false
	tick := func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		d.InProgress()
		t.Reset(every)
	}
	mu.Lock()
	t = time.AfterFunc(every, tick)
	mu.Unlock()
	return func() {
		mu.Lock()
		stopped = true
		t.Stop()
		mu.Unlock()
	}
}

// panicError is a recovered panic.
type panicError struct {
	value any
	stack []byte
}

func (p *panicError) Error() string { return fmt.Sprintf("handler panicked: %v", p.value) }

func (w *Worker) safeHandle(ctx context.Context, d *Delivery) (err error) {
	defer func() {
		if v := recover(); v != nil {
			pe := &panicError{value: v, stack: debug.Stack()}
			w.log.ErrorContext(ctx, "handler panicked", "worker", w.cfg.Name, "stream_seq", d.StreamSeq, "panic", fmt.Sprint(v), "stack", string(pe.stack))
			err = pe
		}
	}()
	return w.handler.Handle(ctx, d)
}

// settle carries out a decision. On success it frees the concurrency slot (release)
// before the ack's confirmation: the handling is over, and the next message can start
// during that round trip (the consumer's MaxAckPending still counts this one).
func (w *Worker) settle(ctx context.Context, d *Delivery, dec decision, span trace.Span, release func()) {
	log := w.log.With("worker", w.cfg.Name, "stream_seq", d.StreamSeq, "deliveries", d.Delivered)
	switch dec.act {
	case actAck:
		release()
		if err := d.msg.DoubleAck(ctx); err != nil {
			log.WarnContext(ctx, "ack not confirmed; the message may come back and will be recognised", "err", err)
		}
	case actNak:
		log.InfoContext(ctx, "will retry", "delay", dec.delay.String(), "err", dec.err)
		if err := d.msg.NakWithDelay(dec.delay); err != nil {
			log.WarnContext(ctx, "nak failed; the message comes back after its ack wait", "err", err)
		}
	case actHandBack:
		if err := d.msg.Nak(); err != nil {
			log.WarnContext(ctx, "hand back failed; the message comes back after its ack wait", "err", err)
		}
	case actReject, actFail:
		kind := EndRejected
		if dec.act == actFail {
			kind = EndFailed
		}
		recordError(span, dec.err)
		seq, err := w.dead.Put(ctx, d, kind, dec.err)
		if err != nil {
			log.ErrorContext(ctx, "could not dead-letter; retrying later", "err", err)
			_ = d.msg.NakWithDelay(w.cfg.Policy.BackoffBase)
			return
		}
		end := End{Kind: kind, Err: dec.err, Deliveries: d.Delivered, DeadLetterSeq: seq}
		if err := w.handler.Answer(ctx, d, end); err != nil {
			log.ErrorContext(ctx, "could not answer; retrying later", "err", err)
			_ = d.msg.NakWithDelay(w.cfg.Policy.BackoffBase)
			return
		}
		log.WarnContext(ctx, "message ended", "end", string(kind), "dead_letter_seq", seq, "reason", dec.err)
		if err := d.msg.TermWithReason(string(kind) + ": " + headerSafe(dec.err.Error(), 200)); err != nil {
			log.WarnContext(ctx, "term failed; the message comes back and is recognised", "err", err)
		}
	}
}
