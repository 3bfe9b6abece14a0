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
	_, err := ledger.Create(ctx, claimKey(id), idClaim{Key: key, What: what})
	if err == nil {
		return nil
	}
	if !errors.Is(err, runtime.ErrExists) {
		return runtime.Retry(fmt.Errorf("claim event id %q: %w", id, err), 0)
	}
	if err := checkClaim(ctx, ledger, id, key); errors.Is(err, runtime.ErrNotFound) {
		return runtime.Retry(fmt.Errorf("claim event id %q: removed while it was claimed", id), 0)
	} else if err != nil {
		return err
	}
	return nil
}

// checkClaim reads id's claim and refuses it when it names another key than key.
// An id without a claim is runtime.ErrNotFound.
func checkClaim(ctx context.Context, ledger *runtime.Ledger, id, key string) error {
	var c idClaim
	if _, err := ledger.Get(ctx, claimKey(id), &c); errors.Is(err, runtime.ErrNotFound) {
		return err
	} else if err != nil {
		return runtime.Retry(fmt.Errorf("claim event id %q: %w", id, err), 0)
	}
	if c.Key != key {
		return runtime.Invalid(&ReusedIDError{ID: id, Names: c.What})
	}
	return nil
}

func claimKey(id string) string { return runtime.Key("event", id) }

// Answerable reports whether a status event may answer how handling a submit
// event ended: not when its id names another submission (see ReusedIDError).
func Answerable(end runtime.End) bool {
	var re *ReusedIDError
	return !errors.As(end.Err, &re)
}

// ClaimAndCreate is the way in of a submit event's first delivery, when its record
// most likely does not exist yet: it claims the event id for key (see ClaimID) and
// creates rec as key's first record, both at once (one round trip). It returns the
// record's revision; runtime.ErrExists when key already has a record (the caller
// then reads it and goes its usual way: claiming the id again is harmless); the
// claim's refusal; or a Retry. A record created while the claim was refused (or
// could not be made) is deleted before it returns; if that fails, it stays as an
// orphan that VerifyOwn recognises on the next delivery.
func ClaimAndCreate(ctx context.Context, ledger *runtime.Ledger, id, key, what string, rec any) (uint64, error) {
	var rev uint64
	err, claimErr := runtime.During(func() (err error) { rev, err = ledger.Create(ctx, key, rec); return err },
		func() error { return ClaimID(ctx, ledger, id, key, what) })
	switch {
	case claimErr == nil && err == nil:
		return rev, nil
	case claimErr == nil:
		if errors.Is(err, runtime.ErrExists) {
			return 0, err
		}
		return 0, runtime.Retry(err, 0)
	case err == nil:
		// The record must not outlive a claim that was not made.
		if derr := ledger.Delete(ctx, key, rev); derr != nil {
			return 0, runtime.Retry(fmt.Errorf("remove the record of %s, whose event id could not be claimed (%w): %w", key, claimErr, derr), 0)
		}
	}
	return 0, claimErr
}

// VerifyOwn checks, on a later delivery, that event id's claim names the record
// key holds for it at revision rev, a record not over yet (what describes it, for
// a claim to make): one that ClaimAndCreate could not delete after the claim was
// refused is deleted now, and the refusal returned. It costs a read of the claim.
func VerifyOwn(ctx context.Context, ledger *runtime.Ledger, id, key, what string, rev uint64) error {
	err := checkClaim(ctx, ledger, id, key)
	if errors.Is(err, runtime.ErrNotFound) {
		// The claim could not be made before: make it now.
		err = ClaimID(ctx, ledger, id, key, what)
	}
	var re *ReusedIDError
	if !errors.As(err, &re) {
		return err
	}
	if derr := ledger.Delete(ctx, key, rev); derr != nil {
		return runtime.Retry(fmt.Errorf("remove the record of %s, whose event id names another submission: %w", key, derr), 0)
	}
	return err
}

// Found is what the read of a submission's key found, for Recheck.
type Found struct {
	Err      error  // the read's error: nil, runtime.ErrNotFound or another failure
	SubmitID string // the event id the record holds
	Final    bool   // whether the record's submission is over
	Rev      uint64 // the record's revision
}

// Recheck is the claim's part of the way in that reads key's record first (a
// redelivery, or a first delivery whose record already existed): an event handled
// for the first time claims its id (see ClaimID); a submission under way checks that
// its record is not one whose claim failed (see VerifyOwn). A record already over,
// or a read that failed, asks nothing of the claim.
func Recheck(ctx context.Context, ledger *runtime.Ledger, id, key, what string, f Found) error {
	switch {
	case errors.Is(f.Err, runtime.ErrNotFound) || f.Err == nil && f.SubmitID != id:
		return ClaimID(ctx, ledger, id, key, what)
	case f.Err == nil && !f.Final:
		return VerifyOwn(ctx, ledger, id, key, what, f.Rev)
	}
	return nil
}
