package runtime_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/passerelle-dev/passerelle/workers/embedded/natstest"
	"github.com/passerelle-dev/passerelle/workers/runtime"
)

// TestDeadLetterRoundTrip puts messages in the dead-letter stream, one of them as
// large as the server accepts, and checks that each reads back as it was (body,
// headers, reason), replays on its original subject and is purged for good.
func TestDeadLetterRoundTrip(t *testing.T) {
	t.Parallel()
	_, nc, js := natstest.Run(t)
	ctx := context.Background()
	assets, err := runtime.Setup(ctx, js, runtime.DefaultTopology())
	if err != nil {
		t.Fatal(err)
	}
	dl := runtime.NewDeadLetters(js, assets.Documents, nil)

	small := &runtime.Delivery{
		Subject: "invoice.submit", Data: []byte(`{"account":"demo"}`),
		Header: nats.Header{"ce-id": {"e-1"}, "Nats-Msg-Id": {"e-1"}},
		Stream: runtime.StreamInvoices, StreamSeq: 7, Consumer: "invoice-submit", Delivered: 3,
	}
	// A body near the maximum payload: with the dead letter's headers it would
	// be over it.
	big := &runtime.Delivery{
		Subject: "invoice.submit", Data: bytes.Repeat([]byte("A"), int(nc.MaxPayload())-300),
		Header: nats.Header{"ce-id": {"e-2"}}, Stream: runtime.StreamInvoices, StreamSeq: 8, Consumer: "invoice-submit", Delivered: 1,
	}
	seqSmall, err := dl.Put(ctx, small, runtime.EndFailed, errors.New("gave up after 3 deliveries"))
	if err != nil {
		t.Fatal(err)
	}
	seqBig, err := dl.Put(ctx, big, runtime.EndRejected, errors.New("at /document/content: too long"))
	if err != nil {
		t.Fatalf("a message near the maximum payload could not be dead-lettered: %v", err)
	}
	if again, err := dl.Put(ctx, small, runtime.EndFailed, errors.New("gave up")); err != nil || again != seqSmall {
		t.Errorf("putting the same message twice: seq %d (%v), want %d once", again, err, seqSmall)
	}

	letters, err := dl.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(letters) != 2 {
		t.Fatalf("%d dead letters, want 2", len(letters))
	}
	got := letters[0]
	if got.Seq != seqSmall || got.Subject != "invoice.submit" || got.Kind != string(runtime.EndFailed) || got.Reason != "gave up after 3 deliveries" ||
		got.Stream != runtime.StreamInvoices || got.StreamSeq != "7" || got.Consumer != "invoice-submit" || got.Deliveries != "3" || got.Time.IsZero() {
		t.Errorf("dead letter %+v does not say where it came from and why", got)
	}
	if string(got.Data) != string(small.Data) || got.Header.Get("ce-id") != "e-1" || got.Header.Get("Nats-Msg-Id") != "e-1" {
		t.Errorf("dead letter body %q headers %v, want the original's", got.Data, got.Header)
	}
	for k := range got.Header {
		if len(k) > 15 && k[:15] == "Passerelle-Dead" {
			t.Errorf("original headers carry the dead letter's %s", k)
		}
	}
	gotBig, err := dl.Get(ctx, seqBig)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gotBig.Data, big.Data) || gotBig.BodyObject == "" {
		t.Errorf("large dead letter: %d bytes back (object %q), want the %d bytes of the original", len(gotBig.Data), gotBig.BodyObject, len(big.Data))
	}

	// Replay: the original on its subject, marked, once however often it is asked.
	if err := dl.Replay(ctx, seqSmall, true); err != nil {
		t.Fatal(err)
	}
	if err := dl.Replay(ctx, seqSmall, false); err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, runtime.StreamInvoices)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Errorf("%d messages in %s after replaying twice, want 1", info.State.Msgs, runtime.StreamInvoices)
	}
	m, err := s.GetLastMsgForSubject(ctx, "invoice.submit")
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Data) != string(small.Data) || m.Header.Get(runtime.HeaderReplay) == "" || m.Header.Get("ce-id") != "e-1" {
		t.Errorf("replayed message %q %v, want the original marked as a replay", m.Data, m.Header)
	}
	if _, err := dl.Get(ctx, seqSmall); !errors.Is(err, runtime.ErrNoDeadLetter) {
		t.Errorf("replayed dead letter still there: %v", err)
	}

	if err := dl.Purge(ctx, seqBig); err != nil {
		t.Fatal(err)
	}
	if _, err := assets.Documents.GetInfo(ctx, gotBig.BodyObject); !errors.Is(err, jetstream.ErrObjectNotFound) {
		t.Errorf("the large dead letter's body outlived it: %v", err)
	}
	if err := dl.Purge(ctx, seqBig); !errors.Is(err, runtime.ErrNoDeadLetter) {
		t.Errorf("purging twice: %v, want ErrNoDeadLetter", err)
	}
}
