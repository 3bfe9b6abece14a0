package intake

import (
	"context"
	"errors"
	"fmt"

	"github.com/passerelle-dev/passerelle/workers/runtime"
)

// ReusedIDError is the refusal of a submit event whose id already names another submission, or the same
// one with other content. An event id names one submission (CloudEvents: source
// and id identify an event), and status events name their submission by it: the
// reused id's event is dead-lettered without any status event, which would read
// as an answer about the submission the id already names.
type ReusedIDError struct {
	ID string
	// Names describes the submission the id already names.
	Names string
	// OtherContent: the same submission, with other content.
	OtherContent bool
}

func (e *ReusedIDError) Error() string {
	if e.OtherContent {
		return fmt.Sprintf("event id %q is already used for %s with different content: a new submission needs an id of its own", e.ID, e.Names)
	}
	return fmt.Sprintf("event id %q is already used for %s: a new submission needs an id of its own", e.ID, e.Names)
}

// idClaim is the ledger record under an event id's key.
type idClaim struct {
	Key  string `json:"key"`
	What string `json:"what"`
}

// ClaimID records in the ledger that event id names the submission under key (what
// describes it for people), before the flow records anything of it. An id that
// already names another submission is refused with a *ReusedIDError (permanent);
// claiming again the same id for the same key (a redelivery) is fine.
func ClaimID(ctx context.Context, ledger *runtime.Ledger, id, key, what string) error {
	claimKey := runtime.Key("event", id)
	_, err := ledger.Create(ctx, claimKey, idClaim{Key: key, What: what})
	if err == nil {
		return nil
	}
	if !errors.Is(err, runtime.ErrExists) {
		return runtime.Retry(fmt.Errorf("claim event id %q: %w", id, err), 0)
	}
	var c idClaim
	if _, err := ledger.Get(ctx, claimKey, &c); err != nil {
		return runtime.Retry(fmt.Errorf("claim event id %q: %w", id, err), 0)
	}
	if c.Key != key {
		return runtime.Invalid(&ReusedIDError{ID: id, Names: c.What})
	}
	return nil
}

// Answerable reports whether a status event may answer how handling a submit
// event ended: not when its id names another submission (see ReusedIDError).
func Answerable(end runtime.End) bool {
	var re *ReusedIDError
	return !errors.As(end.Err, &re)
}

// ClaimAndCreate is the way in of a submit event's first delivery, when its record
// most likely does not exist yet: it claims the event id for key (see ClaimID) and
// creates rec as key's first record, in two writes and no read. It returns the
// record's revision; runtime.ErrExists when key already has a record (the caller
// then reads it and goes its usual way: claiming the id again is harmless); the
// claim's refusal; or a Retry.
func ClaimAndCreate(ctx context.Context, ledger *runtime.Ledger, id, key, what string, rec any) (uint64, error) {
	if err := ClaimID(ctx, ledger, id, key, what); err != nil {
		return 0, err
	}
	rev, err := ledger.Create(ctx, key, rec)
	if err != nil && !errors.Is(err, runtime.ErrExists) {
		return 0, runtime.Retry(err, 0)
	}
	return rev, err
}
