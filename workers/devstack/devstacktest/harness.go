// Package devstacktest runs passerelle for real in tests: an embedded JetStream
// server, the administration emulators over HTTP and the service, with a collector
// of every event passerelle publishes (each validated against its schema).
package devstacktest

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

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/schemas"
	"github.com/passerelle-dev/passerelle/workers/devstack"
	"github.com/passerelle-dev/passerelle/workers/runtime"
	"github.com/passerelle-dev/passerelle/workers/service"
	"github.com/passerelle-dev/passerelle/workers/telemetry"
)

// Status is what every status event's data has in common.
type Status struct {
	SubmitID string `json:"submitId"`
	State    string `json:"state"`
	Final    bool   `json:"final"`
	Sequence int    `json:"sequence"`
	// Raw is the whole data, for typed checks.
	Raw json.RawMessage `json:"-"`
}

// Received is an event the collector received.
type Received struct {
	ID      string
	Subject string
	Type    string
	Data    json.RawMessage
	// TraceParent is the event's W3C traceparent (header and extension agree).
	TraceParent string
}

// Harness is a running stack and collector.
type Harness struct {
	T     testing.TB
	Stack *devstack.Stack
	JS    jetstream.JetStream
	// Config is the service configuration StartService uses; change it before.
	Config service.Config
	// Telemetry, when set before StartService, is the services' telemetry (a test
	// collecting spans sets one with an in-memory exporter).
	Telemetry *telemetry.Telemetry
	// HTTPAddr is where the last service started serves /healthz, /readyz and
	// /metrics (set Config.HTTPListen first).
	HTTPAddr string

	validator *schemas.Validator
	mu        sync.Mutex
	events    []Received
	statuses  map[string][]Status // by submit id
	ids       map[string]int
}

// New starts a stack (its store in the test's temporary directory, emulators
// stepping every 100 ms unless cfg says otherwise) and the collector.
func New(t testing.TB, cfg devstack.Config) *Harness {
	t.Helper()
	if cfg.StoreDir == "" {
		cfg.StoreDir = t.TempDir()
	}
	if cfg.Step == 0 {
		cfg.Step = 100 * time.Millisecond
	}
	stack, err := devstack.Start(cfg)
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
	sc := devstack.ServiceConfig("")
	sc.AckWait = 10 * time.Second
	sc.Invoice.Retry.Budget = 4 * time.Second
	sc.Declaration.Retry.Budget = 4 * time.Second
	h := &Harness{T: t, Stack: stack, JS: js, Config: sc, validator: v, statuses: map[string][]Status{}, ids: map[string]int{}}
	if _, err := runtime.Setup(context.Background(), js, sc.Topology); err != nil {
		t.Fatal(err)
	}
	h.collect()
	return h
}

// collect records every event of the events stream from its start.
func (h *Harness) collect() {
	ctx, cancel := context.WithCancel(context.Background())
	h.T.Cleanup(cancel)
	c, err := h.JS.OrderedConsumer(ctx, runtime.StreamEvents, jetstream.OrderedConsumerConfig{})
	if err != nil {
		h.T.Fatal(err)
	}
	cc, err := c.Consume(func(m jetstream.Msg) {
		e, _, err := events.Decode(ctx, m.Headers(), m.Data())
		if err != nil {
			h.T.Errorf("undecodable event on %s: %v", m.Subject(), err)
			return
		}
		if err := h.validator.Validate(e.Type(), e.Data()); err != nil {
			h.T.Errorf("event %s (%s) breaks its schema: %v", e.ID(), e.Type(), err)
		}
		var account struct {
			Account string `json:"account"`
		}
		_ = json.Unmarshal(e.Data(), &account)
		if want := e.Type() + "." + account.Account; m.Subject() != want {
			h.T.Errorf("event of account %s on subject %s, want %s", account.Account, m.Subject(), want)
		}
		ext, _ := e.Extensions()[events.TraceParent].(string)
		if header := m.Headers().Get(events.TraceParent); header != ext {
			h.T.Errorf("event %s: traceparent header %q and extension %q differ", e.ID(), header, ext)
		}
		r := Received{ID: e.ID(), Subject: m.Subject(), Type: e.Type(), Data: e.Data(), TraceParent: ext}
		h.mu.Lock()
		defer h.mu.Unlock()
		h.events = append(h.events, r)
		h.ids[e.ID()]++
		if strings.HasSuffix(e.Type(), ".status") {
			var s Status
			if err := json.Unmarshal(e.Data(), &s); err != nil {
				h.T.Errorf("status data: %v", err)
				return
			}
			s.Raw = e.Data()
			h.statuses[s.SubmitID] = append(h.statuses[s.SubmitID], s)
		}
	})
	if err != nil {
		h.T.Fatal(err)
	}
	h.T.Cleanup(cc.Stop)
}

// StartService runs passerelle's service on its own connection until the returned
// stop is called (or the test ends).
func (h *Harness) StartService() (stop func()) {
	h.T.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	nc, err := h.Stack.Connect("passerelle under test")
	if err != nil {
		h.T.Fatal(err)
	}
	tel := h.Telemetry
	if tel == nil {
		var err error
		if tel, err = telemetry.Setup(ctx, telemetry.Config{LogOutput: io.Discard, LogLevel: "error"}); err != nil {
			h.T.Fatal(err)
		}
	}
	reg, err := h.Stack.Accounts(tel)
	if err != nil {
		h.T.Fatal(err)
	}
	svc, err := service.New(h.Config, service.Deps{NATS: nc, Accounts: reg, Telemetry: tel})
	if err != nil {
		h.T.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	select {
	case <-svc.Ready:
		h.HTTPAddr = svc.HTTPAddr
	case err := <-done:
		h.T.Fatalf("service stopped at start: %v", err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				h.T.Errorf("service: %v", err)
			}
			nc.Close()
		})
	}
	h.T.Cleanup(stop)
	return stop
}

// Publish publishes e on its type's subject, its id as deduplication id, and
// returns the id.
func (h *Harness) Publish(e *event.Event) string {
	h.T.Helper()
	if _, err := events.NewPublisher(h.JS).Publish(context.Background(), e.Type(), e); err != nil {
		h.T.Fatal(err)
	}
	return e.ID()
}

// PublishRaw publishes a message on subject as is.
func (h *Harness) PublishRaw(subject string, msg *nats.Msg) {
	h.T.Helper()
	msg.Subject = subject
	if _, err := h.JS.PublishMsg(context.Background(), msg); err != nil {
		h.T.Fatal(err)
	}
}

// Final returns a submission's final status, if published.
func (h *Harness) Final(id string) (Status, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.statuses[id] {
		if s.Final {
			return s, true
		}
	}
	return Status{}, false
}

// History is a submission's states in arrival order, for messages.
func (h *Harness) History(id string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var states []string
	for _, s := range h.statuses[id] {
		states = append(states, fmt.Sprintf("#%d %s", s.Sequence, s.State))
	}
	return states
}

// Events returns the events received of type typ, in arrival order.
func (h *Harness) Events(typ string) []Received {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Received
	for _, e := range h.events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// WaitFinal waits until every id has a final status.
func (h *Harness) WaitFinal(timeout time.Duration, ids ...string) {
	h.T.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var missing []string
		for _, id := range ids {
			if _, ok := h.Final(id); !ok {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			h.T.Fatalf("%d of %d submissions have no final status after %v; first: %s with %v", len(missing), len(ids), timeout, missing[0], h.History(missing[0]))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// WaitFor polls cond until it holds, or fails the test after timeout.
func (h *Harness) WaitFor(timeout time.Duration, what string, cond func() bool) {
	h.T.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			h.T.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// CheckSequences asserts that each submission's status events are numbered 1..n
// once each, with exactly one final event, the last, and that no event was stored
// twice.
func (h *Harness) CheckSequences(ids ...string) {
	h.T.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, n := range h.ids {
		if n > 1 {
			h.T.Errorf("event %s was stored %d times", id, n)
		}
	}
	for _, id := range ids {
		ss := append([]Status(nil), h.statuses[id]...)
		sort.Slice(ss, func(i, j int) bool { return ss[i].Sequence < ss[j].Sequence })
		finals := 0
		for i, s := range ss {
			if s.Sequence != i+1 {
				h.T.Errorf("submission %s: event %d has sequence %d (states %v)", id, i+1, s.Sequence, statesOf(ss))
				break
			}
			if s.Final {
				finals++
				if i != len(ss)-1 {
					h.T.Errorf("submission %s: final state %s is not the last (states %v)", id, s.State, statesOf(ss))
				}
			}
		}
		if finals != 1 {
			h.T.Errorf("submission %s has %d final events, want 1 (states %v)", id, finals, statesOf(ss))
		}
	}
}

func statesOf(ss []Status) string {
	var b strings.Builder
	for _, s := range ss {
		fmt.Fprintf(&b, "#%d:%s ", s.Sequence, s.State)
	}
	return b.String()
}

// DeadLetters returns the dead-letter stream's messages.
func (h *Harness) DeadLetters() []*jetstream.RawStreamMsg {
	h.T.Helper()
	ctx := context.Background()
	s, err := h.JS.Stream(ctx, runtime.StreamDeadLetter)
	if err != nil {
		h.T.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		h.T.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		if m, err := s.GetMsg(ctx, seq); err == nil {
			out = append(out, m)
		}
	}
	return out
}

// DeadLetterStore returns the dead letters as operators see them (bodies kept in
// the documents bucket included).
func (h *Harness) DeadLetterStore() *runtime.DeadLetters {
	h.T.Helper()
	bodies, err := h.JS.ObjectStore(context.Background(), runtime.BucketDocuments)
	if err != nil {
		h.T.Fatal(err)
	}
	return runtime.NewDeadLetters(h.JS, bodies, nil)
}
