package invoice_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/schemas"
	"github.com/passerelle-dev/passerelle/workers/choruspro/chorusprotest"
	"github.com/passerelle-dev/passerelle/workers/devstack"
	"github.com/passerelle-dev/passerelle/workers/runtime"
	"github.com/passerelle-dev/passerelle/workers/service"
	"github.com/passerelle-dev/passerelle/workers/telemetry"
)

// harness runs the invoice flow for real: an embedded JetStream server, the Chorus
// Pro emulator over HTTP, and passerelle's service, with a collector of every status
// event (each validated against its schema).
type harness struct {
	t         *testing.T
	stack     *devstack.Stack
	js        jetstream.JetStream
	validator *schemas.Validator
	cfg       service.Config

	mu       sync.Mutex
	statuses map[string][]events.InvoiceStatus // by submit id, in arrival order
	ids      map[string]int                    // event ids seen, with their count
}

func newHarness(t *testing.T, faults chorusprotest.Faults) *harness {
	t.Helper()
	stack, err := devstack.Start(devstack.Config{StoreDir: t.TempDir(), Step: 100 * time.Millisecond, ChorusProFaults: faults})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stack.Close)
	v, err := schemas.New()
	if err != nil {
		t.Fatal(err)
	}
	nc, err := stack.Connect("test client")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	cfg := devstack.ServiceConfig("")
	cfg.AckWait = 10 * time.Second
	cfg.Invoice.Retry.Budget = 4 * time.Second
	h := &harness{t: t, stack: stack, js: js, validator: v, cfg: cfg, statuses: map[string][]events.InvoiceStatus{}, ids: map[string]int{}}
	if _, err := runtime.Setup(context.Background(), js, cfg.Topology); err != nil {
		t.Fatal(err)
	}
	h.collect()
	return h
}

// collect records every invoice.status event from the start of the stream.
func (h *harness) collect() {
	ctx, cancel := context.WithCancel(context.Background())
	h.t.Cleanup(cancel)
	c, err := h.js.OrderedConsumer(ctx, runtime.StreamEvents, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"invoice.status.>"}})
	if err != nil {
		h.t.Fatal(err)
	}
	cc, err := c.Consume(func(m jetstream.Msg) {
		e, _, err := events.Decode(ctx, m.Headers(), m.Data())
		if err != nil {
			h.t.Errorf("undecodable status event: %v", err)
			return
		}
		if err := h.validator.Validate(events.TypeInvoiceStatus, e.Data()); err != nil {
			h.t.Errorf("status event %s breaks its schema: %v", e.ID(), err)
		}
		var s events.InvoiceStatus
		if err := json.Unmarshal(e.Data(), &s); err != nil {
			h.t.Errorf("status data: %v", err)
			return
		}
		if want := "invoice.status." + s.Account; m.Subject() != want {
			h.t.Errorf("status of account %s on subject %s, want %s", s.Account, m.Subject(), want)
		}
		h.mu.Lock()
		h.statuses[s.SubmitID] = append(h.statuses[s.SubmitID], s)
		h.ids[e.ID()]++
		h.mu.Unlock()
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(cc.Stop)
}

// startService runs passerelle's service on its own connection until the returned
// stop is called (or the test ends).
func (h *harness) startService() (stop func()) {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	nc, err := h.stack.Connect("passerelle under test")
	if err != nil {
		h.t.Fatal(err)
	}
	reg, err := h.stack.Accounts(nil, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	tel, err := telemetry.Setup(ctx, telemetry.Config{LogOutput: io.Discard, LogLevel: "error"})
	if err != nil {
		h.t.Fatal(err)
	}
	svc, err := service.New(h.cfg, service.Deps{NATS: nc, Accounts: reg, Telemetry: tel})
	if err != nil {
		h.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	select {
	case <-svc.Ready:
	case err := <-done:
		h.t.Fatalf("service stopped at start: %v", err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				h.t.Errorf("service: %v", err)
			}
			nc.Close()
		})
	}
	h.t.Cleanup(stop)
	return stop
}

// publish publishes an invoice.submit and returns its id.
func (h *harness) publish(data events.InvoiceSubmit) string {
	h.t.Helper()
	e, err := events.NewInvoiceSubmit("", data)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := events.NewPublisher(h.js).Publish(context.Background(), events.TypeInvoiceSubmit, e); err != nil {
		h.t.Fatal(err)
	}
	return e.ID()
}

// publishRaw publishes a message on invoice.submit as is.
func (h *harness) publishRaw(msg *nats.Msg) {
	h.t.Helper()
	msg.Subject = events.TypeInvoiceSubmit
	if _, err := h.js.PublishMsg(context.Background(), msg); err != nil {
		h.t.Fatal(err)
	}
}

// final returns a submission's final status, if published.
func (h *harness) final(id string) (events.InvoiceStatus, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.statuses[id] {
		if s.Final {
			return s, true
		}
	}
	return events.InvoiceStatus{}, false
}

// waitFinal waits until every id has a final status.
func (h *harness) waitFinal(timeout time.Duration, ids ...string) {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var missing []string
		for _, id := range ids {
			if _, ok := h.final(id); !ok {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%d of %d submissions have no final status after %v; first: %s with %v", len(missing), len(ids), timeout, missing[0], h.history(missing[0]))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// history is a submission's states, in arrival order.
func (h *harness) history(id string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var states []string
	for _, s := range h.statuses[id] {
		states = append(states, fmt.Sprintf("#%d %s", s.Sequence, s.State))
	}
	return states
}

// checkSequences asserts that each submission's events are numbered 1..n once each,
// with exactly one final event, the last, and that no event was stored twice.
func (h *harness) checkSequences(ids ...string) {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, n := range h.ids {
		if n > 1 {
			h.t.Errorf("event %s was stored %d times", id, n)
		}
	}
	for _, id := range ids {
		ss := append([]events.InvoiceStatus(nil), h.statuses[id]...)
		sort.Slice(ss, func(i, j int) bool { return ss[i].Sequence < ss[j].Sequence })
		finals := 0
		for i, s := range ss {
			if s.Sequence != i+1 {
				h.t.Errorf("submission %s: event %d has sequence %d (states %v)", id, i+1, s.Sequence, statesOf(ss))
				break
			}
			if s.Final {
				finals++
				if i != len(ss)-1 {
					h.t.Errorf("submission %s: final state %s is not the last (states %v)", id, s.State, statesOf(ss))
				}
			}
		}
		if finals != 1 {
			h.t.Errorf("submission %s has %d final events, want 1 (states %v)", id, finals, statesOf(ss))
		}
	}
}

func statesOf(ss []events.InvoiceStatus) string {
	var b strings.Builder
	for _, s := range ss {
		fmt.Fprintf(&b, "#%d:%s ", s.Sequence, s.State)
	}
	return b.String()
}

// deposits counts, per invoice number, the deposits the emulator applied.
func (h *harness) deposits() map[string]int {
	counts := map[string]int{}
	for _, r := range h.stack.ChorusPro.Requests(0) {
		if r.Applied && (r.Operation == "soumettre" || r.Operation == "deposerFlux") {
			for _, n := range strings.Split(r.NumeroFacture, ",") {
				counts[n]++
			}
		}
	}
	return counts
}

// deadLetters returns the dead-letter stream's messages.
func (h *harness) deadLetters() []*jetstream.RawStreamMsg {
	h.t.Helper()
	ctx := context.Background()
	s, err := h.js.Stream(ctx, runtime.StreamDeadLetter)
	if err != nil {
		h.t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		if m, err := s.GetMsg(ctx, seq); err == nil {
			out = append(out, m)
		}
	}
	return out
}
