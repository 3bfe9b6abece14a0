package runtime_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/passerelle-dev/passerelle/workers/runtime"
)

func TestKeyEscapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		parts []string
		want  string
	}{
		{[]string{"inv", "123", "F-2026_01"}, "inv.123.F-2026_01"},
		{[]string{"inv", "F 2026.01/é"}, "inv.F=202026=2E01=2F=C3=A9"},
		{[]string{"inv", ""}, "inv.="},
		{[]string{"a=b"}, "a=3Db"},
	}
	for _, tt := range tests {
		if got := runtime.Key(tt.parts...); got != tt.want {
			t.Errorf("Key(%q) = %q, want %q", tt.parts, got, tt.want)
		}
	}
}

func TestLedgerClaimsOnce(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	kv, err := f.js.KeyValue(ctx, runtime.BucketLedger)
	if err != nil {
		t.Fatal(err)
	}
	l := runtime.NewLedger(kv, nil)
	key := runtime.Key("inv", "42", "F 1")
	type rec struct{ Owner int }

	var wg sync.WaitGroup
	var mu sync.Mutex
	winners := 0
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := l.Create(ctx, key, rec{Owner: i})
			switch {
			case err == nil:
				mu.Lock()
				winners++
				mu.Unlock()
			case !errors.Is(err, runtime.ErrExists):
				t.Errorf("Create: %v", err)
			}
		}()
	}
	wg.Wait()
	if winners != 1 {
		t.Fatalf("%d claims succeeded, want 1", winners)
	}
	var got rec
	rev, err := l.Get(ctx, key, &got)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Update(ctx, key, rec{Owner: 99}, rev); err != nil {
		t.Fatalf("Update with the latest revision: %v", err)
	}
	if _, err := l.Update(ctx, key, rec{Owner: 100}, rev); !errors.Is(err, runtime.ErrStale) {
		t.Fatalf("Update with a stale revision = %v, want ErrStale", err)
	}
	if _, err := l.Get(ctx, runtime.Key("inv", "none"), &got); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("Get(missing) = %v, want ErrNotFound", err)
	}
	keys, err := l.Keys(ctx, "inv")
	if err != nil || len(keys) != 1 || keys[0] != key {
		t.Fatalf("Keys = %v, %v; want [%s]", keys, err, key)
	}
}

func TestSchedulerReplacesAndDelivers(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	s := runtime.NewScheduler(f.js)
	c, err := runtime.Consumer(ctx, f.js, runtime.ConsumerSpec{Stream: runtime.StreamFollowUps, Durable: "due-test", Filter: runtime.DueSubjects("test"), AckWait: 5 * time.Second, MaxAckPending: 10})
	if err != nil {
		t.Fatal(err)
	}
	key := runtime.Key("inv", "F 1")
	h := nats.Header{"traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}
	if err := s.At(ctx, "test", key, time.Now().Add(time.Hour), nil, []byte("late")); err != nil {
		t.Fatal(err)
	}
	// A new plan for the same key replaces the first one.
	if err := s.At(ctx, "test", key, time.Now(), h, []byte("soon")); err != nil {
		t.Fatal(err)
	}
	msg, err := c.Next(jetstream.FetchMaxWait(10 * time.Second))
	if err != nil {
		t.Fatalf("no follow-up delivered: %v", err)
	}
	if string(msg.Data()) != "soon" || msg.Headers().Get("traceparent") != h.Get("traceparent") {
		t.Errorf("delivered %q with headers %v, want the second plan with its trace context", msg.Data(), msg.Headers())
	}
	if got, ok := runtime.DueKey("test", msg.Subject()); !ok || got != key {
		t.Errorf("DueKey(%q) = %q, %v; want %q", msg.Subject(), got, ok, key)
	}
	_ = msg.Ack()
	if m, err := c.Next(jetstream.FetchMaxWait(1500 * time.Millisecond)); err == nil {
		t.Errorf("a replaced plan was delivered too: %q", m.Data())
	}
}
