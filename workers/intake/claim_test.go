package intake_test

import (
	"context"
	"errors"
	"testing"

	"github.com/passerelle-dev/passerelle/workers/embedded/natstest"
	"github.com/passerelle-dev/passerelle/workers/intake"
	"github.com/passerelle-dev/passerelle/workers/runtime"
)

// rec is the record the tests create under business keys.
type rec struct {
	SubmitID string `json:"submitId"`
}

// newLedger returns the ledger of a new JetStream server.
func newLedger(t *testing.T) *runtime.Ledger {
	t.Helper()
	_, _, js := natstest.Run(t)
	assets, err := runtime.Setup(context.Background(), js, runtime.DefaultTopology())
	if err != nil {
		t.Fatal(err)
	}
	return runtime.NewLedger(assets.Ledger, nil)
}

// TestClaimAndCreate checks the first delivery's way in against a real JetStream
// ledger: the record is created with the id's claim; a key that already has a record
// answers ErrExists (whatever the id); an id that names another key is refused before
// anything is recorded under the new key.
func TestClaimAndCreate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ledger := newLedger(t)

	rev, err := intake.ClaimAndCreate(ctx, ledger, "id-a", "inv.1.F1", "invoice F1", &rec{SubmitID: "id-a"})
	if err != nil || rev == 0 {
		t.Fatalf("first claim: rev %d, err %v", rev, err)
	}
	var got rec
	if _, err := ledger.Get(ctx, "inv.1.F1", &got); err != nil || got.SubmitID != "id-a" {
		t.Fatalf("record after the first claim: %+v, %v", got, err)
	}

	// The same event delivered again as a new message, and another event for the
	// same invoice: the record is there, the caller reads it.
	for _, id := range []string{"id-a", "id-b"} {
		if _, err := intake.ClaimAndCreate(ctx, ledger, id, "inv.1.F1", "invoice F1", &rec{SubmitID: id}); !errors.Is(err, runtime.ErrExists) {
			t.Fatalf("%s on a key with a record: err %v, want ErrExists", id, err)
		}
	}
	if _, err := ledger.Get(ctx, "inv.1.F1", &got); err != nil || got.SubmitID != "id-a" {
		t.Fatalf("record overwritten: %+v, %v", got, err)
	}

	// id-a already names inv.1.F1: reusing it for another invoice is refused, and
	// the other invoice gets no record.
	_, err = intake.ClaimAndCreate(ctx, ledger, "id-a", "inv.1.F2", "invoice F2", &rec{SubmitID: "id-a"})
	var re *intake.ReusedIDError
	if !errors.As(err, &re) || re.Names != "invoice F1" {
		t.Fatalf("reused id: err %v, want a ReusedIDError naming invoice F1", err)
	}
	if _, err := ledger.Get(ctx, "inv.1.F2", &got); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("a refused submission was recorded: %+v, %v", got, err)
	}
}

// TestVerifyOwn checks a later delivery's look at a record under way: a record
// left by a refused claim (its deletion failed) is removed and the event refused;
// a record whose claim could not be made gets it; one whose claim is its own goes
// on.
func TestVerifyOwn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ledger := newLedger(t)
	if _, err := intake.ClaimAndCreate(ctx, ledger, "id-a", "inv.1.F1", "invoice F1", &rec{SubmitID: "id-a"}); err != nil {
		t.Fatal(err)
	}

	// An orphan: id-a's record under another invoice, as a crash between the
	// refused claim and the deletion leaves it.
	orphanRev, err := ledger.Create(ctx, "inv.1.F9", &rec{SubmitID: "id-a"})
	if err != nil {
		t.Fatal(err)
	}
	err = intake.VerifyOwn(ctx, ledger, "id-a", "inv.1.F9", "invoice F9", orphanRev)
	var re *intake.ReusedIDError
	if !errors.As(err, &re) || !runtime.IsInvalid(err) {
		t.Fatalf("orphan record: err %v, want an invalid ReusedIDError", err)
	}
	var got rec
	if _, err := ledger.Get(ctx, "inv.1.F9", &got); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("the orphan record is still there: %+v, %v", got, err)
	}

	// A record whose claim was never made: it is made now.
	rev, err := ledger.Create(ctx, "inv.1.F2", &rec{SubmitID: "id-b"})
	if err != nil {
		t.Fatal(err)
	}
	if err := intake.VerifyOwn(ctx, ledger, "id-b", "inv.1.F2", "invoice F2", rev); err != nil {
		t.Fatalf("record without a claim: %v", err)
	}
	if err := intake.ClaimID(ctx, ledger, "id-b", "inv.1.F3", "invoice F3"); !errors.As(err, &re) || re.Names != "invoice F2" {
		t.Errorf("id-b after VerifyOwn claimed it: err %v, want a ReusedIDError naming invoice F2", err)
	}

	// The record's own claim: nothing changes.
	if err := intake.VerifyOwn(ctx, ledger, "id-a", "inv.1.F1", "invoice F1", 1); err != nil {
		t.Errorf("own claim: %v", err)
	}
	if _, err := ledger.Get(ctx, "inv.1.F1", &got); err != nil || got.SubmitID != "id-a" {
		t.Errorf("record after verifying its own claim: %+v, %v", got, err)
	}
}

// TestRecheck checks the claim's part of the way in that reads the record first:
// an event seen for the first time (no record, or a record of another event) has
// its id claimed; a record under way whose claim names another key is removed; a
// final record, or a failed read, leaves the claims as they are.
func TestRecheck(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ledger := newLedger(t)
	var re *intake.ReusedIDError

	// No record yet: id-a is claimed for inv.1.F1, so a later claim elsewhere fails.
	if err := intake.Recheck(ctx, ledger, "id-a", "inv.1.F1", "invoice F1", intake.Found{Err: runtime.ErrNotFound}); err != nil {
		t.Fatalf("no record: %v", err)
	}
	if err := intake.ClaimID(ctx, ledger, "id-a", "inv.1.F2", "invoice F2"); !errors.As(err, &re) || re.Names != "invoice F1" {
		t.Fatalf("after Recheck with no record: err %v, want id-a to name invoice F1", err)
	}

	// A record of another event (id-z) under inv.1.F1: id-a already names it, fine;
	// id-b is new and gets claimed.
	for _, id := range []string{"id-a", "id-b"} {
		if err := intake.Recheck(ctx, ledger, id, "inv.1.F1", "invoice F1", intake.Found{SubmitID: "id-z", Rev: 1}); err != nil {
			t.Fatalf("%s over another event's record: %v", id, err)
		}
	}
	if err := intake.ClaimID(ctx, ledger, "id-b", "inv.1.F3", "invoice F3"); !errors.As(err, &re) {
		t.Fatalf("id-b was not claimed: %v", err)
	}

	// A record under way, left by id-a's refused claim under inv.1.F9: removed, refused.
	rev, err := ledger.Create(ctx, "inv.1.F9", &rec{SubmitID: "id-a"})
	if err != nil {
		t.Fatal(err)
	}
	err = intake.Recheck(ctx, ledger, "id-a", "inv.1.F9", "invoice F9", intake.Found{SubmitID: "id-a", Rev: rev})
	if !errors.As(err, &re) || !runtime.IsInvalid(err) {
		t.Fatalf("orphan under way: err %v, want an invalid ReusedIDError", err)
	}
	var got rec
	if _, err := ledger.Get(ctx, "inv.1.F9", &got); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("the orphan record is still there: %+v, %v", got, err)
	}

	// The same orphan, final, or a failed read: nothing is checked or removed.
	rev, err = ledger.Create(ctx, "inv.1.F8", &rec{SubmitID: "id-a"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []intake.Found{{SubmitID: "id-a", Final: true, Rev: rev}, {Err: errors.New("read failed")}} {
		if err := intake.Recheck(ctx, ledger, "id-a", "inv.1.F8", "invoice F8", f); err != nil {
			t.Errorf("%+v: %v", f, err)
		}
	}
	if _, err := ledger.Get(ctx, "inv.1.F8", &got); err != nil {
		t.Errorf("a final record was touched: %v", err)
	}
}
