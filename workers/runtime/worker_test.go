package runtime_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/passerelle-dev/passerelle/workers/embedded/natstest"
	"github.com/passerelle-dev/passerelle/workers/runtime"
)

// scriptedHandler behaves as each message's body says.
type scriptedHandler struct {
	mu      sync.Mutex
	handled map[string]int
	ends    map[string]runtime.End
	release chan struct{}
}

func newScripted() *scriptedHandler {
	return &scriptedHandler{handled: map[string]int{}, ends: map[string]runtime.End{}, release: make(chan struct{})}
}

func (h *scriptedHandler) Handle(ctx context.Context, d *runtime.Delivery) error {
	body := string(d.Data)
	h.mu.Lock()
	h.handled[body]++
	n := h.handled[body]
	h.mu.Unlock()
	switch {
	case body == "ok":
		return nil
	case body == "invalid":
		return runtime.Invalid(errors.New("field x is wrong"))
	case body == "flaky":
		if n < 2 {
			return runtime.Retry(errors.New("upstream 503"), 0)
		}
		return nil
	case body == "broken":
		return errors.New("upstream keeps failing")
	case body == "panic":
		panic("boom")
	case strings.HasPrefix(body, "block"):
		select {
		case <-h.release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (h *scriptedHandler) Answer(_ context.Context, d *runtime.Delivery, end runtime.End) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ends[string(d.Data)] = end
	return nil
}

func (h *scriptedHandler) count(body string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.handled[body]
}

func (h *scriptedHandler) end(body string) (runtime.End, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.ends[body]
	return e, ok
}

type fixture struct {
	js       jetstream.JetStream
	nc       *nats.Conn
	consumer jetstream.Consumer
	dead     *runtime.DeadLetters
}

func setup(t *testing.T) fixture {
	t.Helper()
	_, nc, js := natstest.Run(t)
	ctx := context.Background()
	topo := runtime.DefaultTopology()
	if _, err := runtime.Setup(ctx, js, topo); err != nil {
		t.Fatal(err)
	}
	c, err := runtime.Consumer(ctx, js, runtime.ConsumerSpec{Stream: runtime.StreamInvoices, Durable: "test", Filter: "invoice.submit", AckWait: 3 * time.Second, MaxAckPending: 100})
	if err != nil {
		t.Fatal(err)
	}
	return fixture{js: js, nc: nc, consumer: c, dead: runtime.NewDeadLetters(js, nil, nil)}
}

func (f fixture) publish(t *testing.T, bodies ...string) {
	t.Helper()
	for _, b := range bodies {
		if _, err := f.js.Publish(context.Background(), "invoice.submit", []byte(b)); err != nil {
			t.Fatal(err)
		}
	}
}

func startWorker(t *testing.T, f fixture, h runtime.Handler, grace time.Duration) (stop func() error) {
	t.Helper()
	w, err := runtime.NewWorker(runtime.WorkerConfig{
		Name: "test", Concurrency: 4, AckWait: 3 * time.Second, Grace: grace,
		Policy: runtime.Policy{MaxDeliveries: 3, BackoffBase: 50 * time.Millisecond, BackoffMax: 200 * time.Millisecond},
	}, f.consumer, h, f.dead)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- w.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() { cancel(); runErr = <-errc })
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func deadLetters(t *testing.T, js jetstream.JetStream) map[string]*jetstream.RawStreamMsg {
	t.Helper()
	s, err := js.Stream(context.Background(), runtime.StreamDeadLetter)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*jetstream.RawStreamMsg{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(context.Background(), seq)
		if err != nil {
			continue
		}
		out[string(m.Data)] = m
	}
	return out
}

func TestWorkerOutcomePolicy(t *testing.T) {
	t.Parallel()
	f := setup(t)
	h := newScripted()
	startWorker(t, f, h, 5*time.Second)
	f.publish(t, "ok", "invalid", "flaky", "broken", "panic")

	waitFor(t, "every message to be settled", func() bool {
		info, err := f.consumer.Info(context.Background())
		return err == nil && info.NumAckPending == 0 && info.NumPending == 0 && info.NumRedelivered == 0
	})

	tests := []struct {
		body       string
		handled    int
		end        runtime.EndKind // "" = success, no answer
		reasonPart string
	}{
		{"ok", 1, "", ""},
		{"flaky", 2, "", ""},
		{"invalid", 1, runtime.EndRejected, "field x is wrong"},
		{"broken", 3, runtime.EndFailed, "gave up after 3 deliveries: upstream keeps failing"},
		{"panic", 1, runtime.EndFailed, "handler panicked: boom"},
	}
	dl := deadLetters(t, f.js)
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			if got := h.count(tt.body); got != tt.handled {
				t.Errorf("handled %d times, want %d", got, tt.handled)
			}
			end, answered := h.end(tt.body)
			if tt.end == "" {
				if answered {
					t.Errorf("answered %+v, want no answer", end)
				}
				if _, ok := dl[tt.body]; ok {
					t.Errorf("dead-lettered, want not")
				}
				return
			}
			if !answered || end.Kind != tt.end {
				t.Fatalf("answer = %+v (answered %v), want kind %s", end, answered, tt.end)
			}
			m, ok := dl[tt.body]
			if !ok {
				t.Fatalf("not in the dead-letter stream")
			}
			if m.Sequence != end.DeadLetterSeq {
				t.Errorf("answer names dead letter %d, stream has it at %d", end.DeadLetterSeq, m.Sequence)
			}
			if got := m.Header.Get(runtime.HeaderDeadReason); !strings.Contains(got, tt.reasonPart) {
				t.Errorf("reason = %q, want it to contain %q", got, tt.reasonPart)
			}
			if got := m.Header.Get(runtime.HeaderDeadKind); got != string(tt.end) {
				t.Errorf("kind header = %q, want %q", got, tt.end)
			}
			if got := m.Subject; got != runtime.DeadLetterPrefix+"invoice.submit" {
				t.Errorf("subject = %q", got)
			}
			if got, _ := strconv.Atoi(m.Header.Get(runtime.HeaderDeadDeliveries)); got != tt.handled {
				t.Errorf("deliveries header = %d, want %d", got, tt.handled)
			}
		})
	}
}

func TestWorkerDrainFinishesInFlight(t *testing.T) {
	t.Parallel()
	f := setup(t)
	h := newScripted()
	stop := startWorker(t, f, h, 10*time.Second)
	f.publish(t, "block-1")
	waitFor(t, "the handler to start", func() bool { return h.count("block-1") == 1 })

	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	select {
	case err := <-stopped:
		t.Fatalf("Run returned (%v) while a handler was in flight", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(h.release)
	if err := <-stopped; err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	info, err := f.consumer.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending != 0 || info.AckFloor.Stream != 1 {
		t.Errorf("after drain: ack pending %d, ack floor %d; want the message acked", info.NumAckPending, info.AckFloor.Stream)
	}
}

func TestWorkerHandsBackAfterGrace(t *testing.T) {
	t.Parallel()
	f := setup(t)
	h := newScripted()
	stop := startWorker(t, f, h, 200*time.Millisecond)
	f.publish(t, "block-2")
	waitFor(t, "the handler to start", func() bool { return h.count("block-2") == 1 })
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	// Handed back: a new worker gets it at once, long before the ack wait.
	h2 := newScripted()
	close(h2.release)
	start := time.Now()
	startWorker(t, f, h2, time.Second)
	waitFor(t, "the message to be redelivered", func() bool { return h2.count("block-2") == 1 })
	if took := time.Since(start); took >= 3*time.Second {
		t.Errorf("redelivered after %v, the ack wait: want it handed back at once", took)
	}
	if _, ok := h.end("block-2"); ok {
		t.Error("a handed-back message was answered")
	}
}
