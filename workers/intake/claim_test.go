package intake_test

import (
	"context"
	"errors"
	"testing"

	"github.com/passerelle-dev/passerelle/workers/embedded/natstest"
	"github.com/passerelle-dev/passerelle/workers/intake"
	"github.com/passerelle-dev/passerelle/workers/runtime"
)

// TestClaimAndCreate checks the first delivery's way in against a real JetStream
// ledger: the record is created with the id's claim; a key that already has a record
// answers ErrExists (whatever the id); an id that names another key is refused before
// anything is recorded under the new key.
func TestClaimAndCreate(t *testing.T) {
	t.Parallel()
	_, _, js := natstest.Run(t)
	ctx := context.Background()
	if _, err := runtime.Setup(ctx, js, runtime.DefaultTopology()); err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, runtime.BucketLedger)
	if err != nil {
		t.Fatal(err)
	}
	ledger := runtime.NewLedger(kv, nil)
	type rec struct {
		SubmitID string `json:"submitId"`
	}

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
