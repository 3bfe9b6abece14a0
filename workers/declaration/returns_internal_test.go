package declaration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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
	f, js, acct := returnsFlow(t)
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
	f, js, acct := returnsFlow(t)
	newer, newest := threeVersions(t, f, acct)
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

// TestReturnWaitsForAnotherReplicasClaim replays, step by step, the interleaving
// that once published an older version after a newer one: replica A has claimed
// version 2 and not published it yet when replica B reads version 3. B waits, and
// publishes after A; a claim older than returnClaimHold (its replica died) holds
// nothing back.
func TestReturnWaitsForAnotherReplicasClaim(t *testing.T) {
	t.Parallel()
	for _, dead := range []bool{false, true} {
		t.Run(fmt.Sprintf("claimer dead %v", dead), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f, js, acct := returnsFlow(t)
			newer, newest := threeVersions(t, f, acct)

			// Replica A claims version 2, as emitReturn does, and stops there. (A
			// claim without the return, as an earlier passerelle recorded it: a
			// dead one holds for returnClaimHold.)
			claimedAt := time.Now().UTC()
			if dead {
				claimedAt = claimedAt.Add(-returnClaimHold - time.Second)
			}
			claimVersion(t, f, acct, newer, 2, claimedAt, false)

			// Replica B meets version 3.
			done := make(chan error, 1)
			go func() {
				_, err := f.emitReturn(ctx, acct, "F1", newest)
				done <- err
			}()
			if dead {
				if err := <-done; err != nil {
					t.Fatal(err)
				}
				if got := returnEvents(t, js); strings.Join(got, ",") != "1 OK,3 KO" {
					t.Fatalf("events %v, want version 3 published over the dead replica's claim", got)
				}
				return
			}
			select {
			case err := <-done:
				t.Fatalf("B did not wait for A's claim (err %v); events %v", err, returnEvents(t, js))
			case <-time.After(300 * time.Millisecond):
			}
			// Replica A publishes its version (again as emitReturn: the claim is there).
			if _, err := f.emitReturn(ctx, acct, "F1", newer); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if got := returnEvents(t, js); strings.Join(got, ",") != "1 OK,2 ANO,3 KO" {
				t.Fatalf("events %v, want 1 OK, 2 ANO, 3 KO in this order", got)
			}
		})
	}
}

// claimVersion records version n of ret (a return of flux F1) as another
// replica's claim made at claimedAt and not published yet, as emitReturn does
// before it publishes; withReturn records the return with it.
func claimVersion(t *testing.T, f *Flow, acct *Account, ret pasrau.Return, n int, claimedAt time.Time, withReturn bool) {
	t.Helper()
	key := returnKey(acct.Name, "F1", ret)
	var seen seenReturn
	rev, err := f.deps.Ledger.Get(context.Background(), key, &seen)
	if err != nil {
		t.Fatal(err)
	}
	claim := seenReturn{Version: n, Fingerprint: fingerprint(ret), Statut: string(ret.Statut), Publication: ret.Publication, Unpublished: true, ClaimedAt: claimedAt}
	if withReturn {
		claimed := ret
		claim.Claimed = &claimed
	}
	if _, err := f.claimReturn(context.Background(), key, claim, rev); err != nil {
		t.Fatal(err)
	}
}

// returnsFlow returns a flow publishing returns on a JetStream server of its own,
// with the ledger and publisher of a replica, the server's JetStream, and the
// PASRAU account the returns are read for.
func returnsFlow(t *testing.T) (*Flow, jetstream.JetStream, *Account) {
	t.Helper()
	_, _, js := natstest.Run(t)
	assets, err := runtime.Setup(context.Background(), js, runtime.DefaultTopology())
	if err != nil {
		t.Fatal(err)
	}
	return &Flow{now: time.Now, log: slog.New(slog.DiscardHandler), deps: Deps{Ledger: runtime.NewLedger(assets.Ledger, noop.NewTracerProvider()), Publisher: events.NewPublisher(js)}}, js, &Account{Name: "acme"}
}

// threeVersions publishes version 1 (OK) of a return of flux F1 and returns the
// versions that come after it: ANO a minute later, then KO.
func threeVersions(t *testing.T, f *Flow, acct *Account) (newer, newest pasrau.Return) {
	t.Helper()
	pub := time.Date(2026, 11, 23, 14, 30, 56, 0, time.UTC)
	first := pasrau.Return{Nature: pasrau.NatureDGFIPNominative, Statut: pasrau.StatusOK, Publication: pub, ID: "1"}
	if _, err := f.emitReturn(context.Background(), acct, "F1", first); err != nil {
		t.Fatal(err)
	}
	newer, newest = first, first
	newer.Statut, newer.Publication, newer.ID = pasrau.StatusANO, pub.Add(time.Minute), "2"
	newest.Statut, newest.Publication, newest.ID = pasrau.StatusKO, pub.Add(2*time.Minute), "3"
	return newer, newest
}

// TestReturnTakesOverADeadClaim replays the stall a replica killed between claiming
// a version of a return and publishing it used to cause: PASRAU then lists a newer
// version only (the claimed EN_COURS return turned final), which waited for a
// claim nobody would publish. Once the claim is older than returnClaimTakeover,
// the replica that meets the newer version publishes the claimed one first, from
// what the claim recorded, then its own; a younger claim still holds it back.
func TestReturnTakesOverADeadClaim(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, js, acct := returnsFlow(t)
	newer, newest := threeVersions(t, f, acct)

	// The dying replica claims version 2, with the return as listed, as
	// emitReturn does, and dies.
	claimVersion(t, f, acct, newer, 2, time.Now().UTC().Add(-returnClaimTakeover/2), true)

	// A young claim: the newer version waits for it, in-process for
	// returnClaimWait, then by asking for a retry.
	if _, err := f.emitReturn(ctx, acct, "F1", newest); !errors.Is(err, errClaimHeld) {
		t.Fatalf("young claim: err %v, want the return held by the claim", err)
	}
	if got := returnEvents(t, js); strings.Join(got, ",") != "1 OK" {
		t.Fatalf("events %v while the claim was young, want only 1 OK", got)
	}

	// The same claim, older than returnClaimTakeover.
	f.now = func() time.Time { return time.Now().Add(returnClaimTakeover) }
	got, err := f.emitReturn(ctx, acct, "F1", newest)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 3 || got.Unpublished || got.Claimed != nil {
		t.Errorf("recorded %+v, want version 3 published", got)
	}
	if events := returnEvents(t, js); strings.Join(events, ",") != "1 OK,2 ANO,3 KO" {
		t.Fatalf("events %v, want the dead claim's 2 ANO published before 3 KO", events)
	}
}

// TestListingNotHeldBackByAClaim: a listing whose first return waits for another
// replica's claim still has its other returns published, and the claim's wait is
// reported for the poll to be retried; the retry, once the claimant has
// published, publishes the held return and nothing twice.
func TestListingNotHeldBackByAClaim(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, js, acct := returnsFlow(t)
	newer, newest := threeVersions(t, f, acct)

	// Another replica claimed version 2 of F1's return a moment ago.
	claimVersion(t, f, acct, newer, 2, time.Now().UTC(), true)

	other := pasrau.Return{Nature: pasrau.NatureAEE, Statut: pasrau.StatusOK, Publication: newest.Publication, ID: "9"}
	listing := &pasrau.Listing{Flux: []pasrau.Flux{{ID: "F1", Returns: []pasrau.Return{newest}}, {ID: "F2", Returns: []pasrau.Return{other}}}}
	if err := f.publishListed(ctx, acct, listing); !errors.Is(err, errClaimHeld) {
		t.Fatalf("listing with a held return: err %v, want the claim's wait", err)
	}
	if got := returnEvents(t, js); strings.Join(got, ",") != "1 OK,1 OK" {
		t.Fatalf("events %v, want F1's first version and F2's return, F1's newest held back", got)
	}

	// The claimant publishes; the poll's retry publishes the held return only.
	if _, err := f.emitReturn(ctx, acct, "F1", newer); err != nil {
		t.Fatal(err)
	}
	if err := f.publishListed(ctx, acct, listing); err != nil {
		t.Fatal(err)
	}
	if got := returnEvents(t, js); strings.Join(got, ",") != "1 OK,1 OK,2 ANO,3 KO" {
		t.Fatalf("events %v, want 1 OK, 1 OK, 2 ANO, 3 KO", got)
	}
}
