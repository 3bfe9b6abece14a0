package declaration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/workers/embedded/natstest"
	"github.com/passerelle-dev/passerelle/workers/pasrau"
	"github.com/passerelle-dev/passerelle/workers/runtime"
)

// TestReturnVersionsNeverGoBack replays what two replicas reading one return at
// once (the account's poller and the flux's follow-up) do when the slower one
// holds a listing older than what the faster one published: the older version is
// not published after the newer, and each version is published once, under its
// own number.
func TestReturnVersionsNeverGoBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, _, js := natstest.Run(t)
	assets, err := runtime.Setup(ctx, js, runtime.DefaultTopology())
	if err != nil {
		t.Fatal(err)
	}
	f := &Flow{deps: Deps{
		Ledger:    runtime.NewLedger(assets.Ledger, noop.NewTracerProvider()),
		Publisher: events.NewPublisher(js),
	}}
	acct := &Account{Name: "acme"}
	pub := time.Date(2026, 11, 23, 14, 30, 56, 0, time.UTC)
	inProgress := pasrau.Return{Nature: pasrau.NatureConformity, Statut: pasrau.StatusInProgress}
	final := pasrau.Return{Nature: pasrau.NatureConformity, Statut: pasrau.StatusOK, Publication: pub, Production: pub, ID: "1"}
	overwritten := final
	overwritten.Statut, overwritten.Publication, overwritten.ID = pasrau.StatusANO, pub.Add(time.Minute), "2"

	for _, step := range []struct {
		ret  pasrau.Return
		want string // the statut recorded after the step
	}{
		{final, "OK"},        // the faster replica
		{inProgress, "OK"},   // the slower one's stale listing: nothing published
		{final, "OK"},        // the same version again: nothing published
		{overwritten, "ANO"}, // an overwrite: version 2
		{final, "ANO"},       // the overwritten version, listed late: nothing published
		{overwritten, "ANO"}, // again: nothing published
		{inProgress, "ANO"},  // stale again
	} {
		seen, err := f.emitReturn(ctx, acct, "F1", step.ret)
		if err != nil {
			t.Fatalf("emitReturn(%s): %v", step.ret.Statut, err)
		}
		if seen.Statut != step.want || seen.Unpublished {
			t.Fatalf("after %s: recorded %+v, want %s, published", step.ret.Statut, seen, step.want)
		}
	}
	got := returnEvents(t, js)
	want := []string{"1 OK", "2 ANO"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("return events %v, want %v", got, want)
	}
}

// returnEvents lists the version and statut of the declaration.return events in
// the events stream, in order.
func returnEvents(t *testing.T, js jetstream.JetStream) []string {
	t.Helper()
	ctx := context.Background()
	c, err := js.OrderedConsumer(ctx, runtime.StreamEvents, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"declaration.return.>"}})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for {
		m, err := c.Next(jetstream.FetchMaxWait(500 * time.Millisecond))
		if err != nil {
			return out
		}
		var d events.DeclarationReturn
		if err := json.Unmarshal(m.Data(), &d); err != nil || d.Statut == "" {
			t.Fatalf("a return event whose data is not a declaration.return: %q (%v)", m.Data(), err)
		}
		out = append(out, fmt.Sprintf("%d %s", d.Version, d.Statut))
	}
}

// TestReturnVersionsClaimedOnce emits two new versions of one return at once, as
// two replicas would: each version number is published once, and the newer
// version is the one recorded last, whichever replica was faster.
func TestReturnVersionsClaimedOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, _, js := natstest.Run(t)
	assets, err := runtime.Setup(ctx, js, runtime.DefaultTopology())
	if err != nil {
		t.Fatal(err)
	}
	f := &Flow{deps: Deps{Ledger: runtime.NewLedger(assets.Ledger, noop.NewTracerProvider()), Publisher: events.NewPublisher(js)}}
	acct := &Account{Name: "acme"}
	pub := time.Date(2026, 11, 23, 14, 30, 56, 0, time.UTC)
	first := pasrau.Return{Nature: pasrau.NatureDGFIPNominative, Statut: pasrau.StatusOK, Publication: pub, ID: "1"}
	if _, err := f.emitReturn(ctx, acct, "F1", first); err != nil {
		t.Fatal(err)
	}
	newer, newest := first, first
	newer.Statut, newer.Publication, newer.ID = pasrau.StatusANO, pub.Add(time.Minute), "2"
	newest.Statut, newest.Publication, newest.ID = pasrau.StatusKO, pub.Add(2*time.Minute), "3"
	errs := make(chan error, 2)
	for _, ret := range []pasrau.Return{newer, newest} {
		go func() {
			for range 50 { // a claim lost to the other replica is retried, as the runtime would
				_, err := f.emitReturn(ctx, acct, "F1", ret)
				if err == nil || !errors.Is(err, runtime.ErrStale) && !errors.Is(err, runtime.ErrExists) {
					errs <- err
					return
				}
			}
			errs <- errors.New("claim kept failing")
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	got := returnEvents(t, js)
	seen := map[string]bool{}
	for _, e := range got {
		number, _, _ := strings.Cut(e, " ")
		if seen[number] {
			t.Errorf("version %s published twice: %v", number, got)
		}
		seen[number] = true
	}
	if last := got[len(got)-1]; !strings.HasSuffix(last, " KO") {
		t.Errorf("last event %q, want the newest version (KO); all: %v", last, got)
	}
}
