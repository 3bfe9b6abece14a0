package runtime_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/passerelle-dev/passerelle/workers/embedded/natstest"
	"github.com/passerelle-dev/passerelle/workers/runtime"
)

// TestSetupPatientlyWaitsForJetStream starts a NATS server whose JetStream comes
// up only later, as on a node restarting: the setup is tried again, told to the
// caller, and succeeds once JetStream answers.
func TestSetupPatientlyWaitsForJetStream(t *testing.T) {
	srv, js := serverWithoutJetStream(t)
	var retries atomic.Int32
	done := make(chan error, 1)
	go func() {
		_, err := runtime.SetupPatiently(context.Background(), js, runtime.DefaultTopology(), time.Minute, func(error, int) { retries.Add(1) })
		done <- err
	}()
	deadline := time.Now().Add(30 * time.Second)
	for retries.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the setup was not tried again while JetStream was off")
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("the setup ended while JetStream was off: %v", err)
	default:
	}
	if err := srv.EnableJetStream(&server.JetStreamConfig{StoreDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("setup once JetStream is on: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the setup did not succeed within 30s of JetStream coming up")
	}
	if _, err := js.Stream(context.Background(), runtime.StreamInvoices); err != nil {
		t.Errorf("stream %s after the setup: %v", runtime.StreamInvoices, err)
	}
}

// TestSetupPatientlyGivesUp: past its patience, the setup returns the last error,
// which says what JetStream answered.
func TestSetupPatientlyGivesUp(t *testing.T) {
	_, js := serverWithoutJetStream(t)
	start := time.Now()
	_, err := runtime.SetupPatiently(context.Background(), js, runtime.DefaultTopology(), 2*time.Second, nil)
	if err == nil {
		t.Fatal("setup without JetStream succeeded")
	}
	if !strings.Contains(err.Error(), "is JetStream enabled") {
		t.Errorf("error %q does not ask whether JetStream is enabled", err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("gave up after %v, patience 2s", took)
	}
}

// TestSetupPatientlyStopsOnRefusal: a configuration the server refuses is not
// tried again.
func TestSetupPatientlyStopsOnRefusal(t *testing.T) {
	srv, js := serverWithoutJetStream(t)
	if err := srv.EnableJetStream(&server.JetStreamConfig{StoreDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	top := runtime.DefaultTopology()
	top.Replicas = 7 // more than NATS allows: refused, not unavailable
	var retries atomic.Int32
	_, err := runtime.SetupPatiently(context.Background(), js, top, time.Minute, func(error, int) { retries.Add(1) })
	if err == nil {
		t.Fatal("setup with 7 replicas on one server succeeded")
	}
	if n := retries.Load(); n != 0 {
		t.Errorf("a refused setup was tried again %d times (%v)", n, err)
	}
	if !strings.Contains(err.Error(), "maximum replicas") {
		t.Errorf("error %q does not say what was refused", err)
	}
}

func serverWithoutJetStream(t *testing.T) (*server.Server, jetstream.JetStream) {
	t.Helper()
	srv := natstest.Custom(t, &server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT}, nil)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return srv, js
}
