package declaration

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/workers/pasrau"
	"github.com/passerelle-dev/passerelle/workers/runtime"
)

// seenReturn is what passerelle last published of a return: its version and what
// identifies that version.
type seenReturn struct {
	Version     int                   `json:"version"`
	Fingerprint string                `json:"fingerprint"`
	Statut      string                `json:"statut"`
	Publication time.Time             `json:"publication,omitzero"`
	Summary     *events.ReturnSummary `json:"summary,omitempty"`
	// Unpublished: this version is claimed (its number taken) and its event may
	// not be published yet; whoever meets it publishes it (under the same id,
	// which the stream deduplicates) and clears the flag. ClaimedAt is when;
	// Claimed is the return as listed then, for a replica that meets a newer
	// version to publish the claimed one in a dead claimant's stead.
	Unpublished bool           `json:"unpublished,omitempty"`
	ClaimedAt   time.Time      `json:"claimedAt,omitzero"`
	Claimed     *pasrau.Return `json:"claimed,omitempty"`
}

// A newer version of a return waits while another replica publishes the version it
// claimed, so that the newer one's event comes after it in the stream: in-process
// for up to returnClaimWait, then by retrying the message. A claim older than
// returnClaimTakeover is taken to be a dead replica's: the claimed version, which
// PASRAU may list no more (an EN_COURS return turned final), is published in its
// stead (under the same event id: if the claimant was only slow, the stream
// deduplicates), then the newer one. A claim recorded without the claimed return
// (by an earlier passerelle) holds for returnClaimHold, after which the newer
// version goes on and the claimed number is skipped.
const (
	returnClaimWait     = 5 * time.Second
	returnClaimTakeover = 30 * time.Second
	returnClaimHold     = 3 * time.Minute
)

// busyWith reports whether another replica is publishing a version of the return
// that ret (whose version is fp) must follow.
func (s *seenReturn) busyWith(ret pasrau.Return, fp string, now time.Time) bool {
	return s.Unpublished && s.Fingerprint != fp && !s.older(ret) && now.Sub(s.ClaimedAt) < returnClaimHold
}

// errClaimHeld says that a return waits for the version another replica claimed.
var errClaimHeld = errors.New("is being published by another replica")

// abandoned reports whether the claim that holds a newer version back is old
// enough to be a dead replica's and recorded the claimed return (Claimed), which
// can then be published in its stead.
func (s *seenReturn) abandoned(now time.Time) bool {
	return s.Claimed != nil && now.Sub(s.ClaimedAt) >= returnClaimTakeover
}

// older reports whether ret is an earlier version than the one recorded: a listing
// read before another replica recorded a later one. PASRAU never turns a final
// return back into EN_COURS, and an overwrite is published later than what it
// overwrites.
func (s *seenReturn) older(ret pasrau.Return) bool {
	if s.Statut != "" && s.Statut != string(pasrau.StatusInProgress) && ret.Statut == pasrau.StatusInProgress {
		return true
	}
	return !s.Publication.IsZero() && !ret.Publication.IsZero() && ret.Publication.Before(s.Publication)
}

// returnKey is the ledger key of a return: account, flux and the return's key
// within its flux (nature, and OPS when there is one).
func returnKey(account, idflux string, ret pasrau.Return) string {
	return runtime.Key("return", account, idflux, ret.Key())
}

// fingerprint identifies a version of a return: PASRAU may overwrite a return's
// statut, dates and url (guide 5.1).
func fingerprint(ret pasrau.Return) string {
	return strings.Join([]string{string(ret.Statut), ret.Publication.UTC().Format(time.RFC3339), ret.Production.UTC().Format(time.RFC3339), ret.URL, ret.ID}, "|")
}

// emitReturn publishes a return of a flux once per version: a return already
// published in this version is not published again. It returns what passerelle
// knows of the return's current version.
func (f *Flow) emitReturn(ctx context.Context, acct *Account, idflux string, ret pasrau.Return) (*seenReturn, error) {
	return f.emitReturnWithin(ctx, acct, idflux, ret, returnClaimWait)
}

// emitReturnWithin is emitReturn waiting in-process up to wait for another
// replica's claim that holds the return back.
func (f *Flow) emitReturnWithin(ctx context.Context, acct *Account, idflux string, ret pasrau.Return, wait time.Duration) (*seenReturn, error) {
	key := returnKey(acct.Name, idflux, ret)
	fp := fingerprint(ret)
	var seen seenReturn
	rev, err := f.deps.Ledger.Get(ctx, key, &seen)
	for waited := time.Duration(0); err == nil && seen.busyWith(ret, fp, f.now()); waited += 50 * time.Millisecond {
		if seen.abandoned(f.now()) {
			f.log.WarnContext(ctx, "publishing a return's version claimed by a replica that did not publish it", "flux", idflux, "return", ret.Key(), "version", seen.Version, "claimed_at", seen.ClaimedAt)
			if _, err := f.publishVersion(ctx, acct, idflux, *seen.Claimed, key, seen, rev); err != nil {
				return nil, err
			}
			seen = seenReturn{}
			rev, err = f.deps.Ledger.Get(ctx, key, &seen)
			continue
		}
		if waited >= wait {
			return nil, runtime.Retry(fmt.Errorf("return %s of flux %s: version %d %w", ret.Key(), idflux, seen.Version, errClaimHeld), returnClaimWait)
		}
		select {
		case <-ctx.Done():
			return nil, runtime.Retry(ctx.Err(), 0)
		case <-time.After(50 * time.Millisecond):
		}
		seen = seenReturn{}
		rev, err = f.deps.Ledger.Get(ctx, key, &seen)
	}
	switch {
	case err == nil && seen.Fingerprint == fp && !seen.Unpublished:
		return &seen, nil
	case err == nil && seen.Fingerprint != fp && seen.older(ret):
		return &seen, nil // a stale listing: a later version is recorded already
	case err != nil && !errors.Is(err, runtime.ErrNotFound):
		return nil, runtime.Retry(err, 0)
	}
	// The version's number is claimed in the ledger before its event is published,
	// so that two replicas reading the return at once (the account's poller and the
	// flux's follow-up) never publish two versions under one number, nor an older
	// version after a newer one.
	next := seen
	if seen.Fingerprint != fp {
		claimed := ret
		next = seenReturn{Version: seen.Version + 1, Fingerprint: fp, Statut: string(ret.Statut), Publication: ret.Publication, Unpublished: true, ClaimedAt: f.now().UTC(), Claimed: &claimed}
		if rev, err = f.claimReturn(ctx, key, next, rev); err != nil {
			return nil, err
		}
	}
	return f.publishVersion(ctx, acct, idflux, ret, key, next, rev)
}

// publishVersion publishes the version next of a return, ret as listed, claimed in
// the ledger under key at revision rev, and records it as published.
func (f *Flow) publishVersion(ctx context.Context, acct *Account, idflux string, ret pasrau.Return, key string, next seenReturn, rev uint64) (*seenReturn, error) {
	fp := next.Fingerprint
	data := events.DeclarationReturn{
		Account: acct.Name, IDFlux: idflux, Nature: ret.Nature, NatureLabel: events.NatureLabel(ret.Nature), OPS: ret.OPS,
		Statut: string(ret.Statut), ReturnID: ret.ID, Version: next.Version,
	}
	if !ret.Publication.IsZero() {
		data.Publication = ret.Publication.Format(time.RFC3339)
	}
	if !ret.Production.IsZero() {
		data.Production = ret.Production.Format(time.RFC3339)
	}
	sub, err := f.submissionOf(ctx, idflux)
	if err != nil {
		return nil, err
	}
	var links []trace.Link
	if sub != nil {
		id := sub.Identity
		data.SubmitID, data.Declaration = sub.SubmitID, &id
		ctx, links = events.Resume(ctx, sub.TraceParent, sub.TraceState)
	}
	var rep *pasrau.Report
	if ret.URL != "" {
		if rep, err = f.attachDocument(ctx, acct, ret, &data); err != nil {
			return nil, err
		}
	}
	subject, err := events.Subject(events.TypeDeclarationReturn, acct.Name)
	if err != nil {
		return nil, err
	}
	e, err := events.New(events.TypeDeclarationReturn, events.DerivedID(events.TypeDeclarationReturn, acct.Name, idflux, ret.Key(), fp), idflux, data)
	if err != nil {
		return nil, err
	}
	if _, err := f.deps.Publisher.Publish(ctx, subject, e, links...); err != nil {
		return nil, runtime.Retry(fmt.Errorf("publish return %s of flux %s: %w", ret.Key(), idflux, err), 0)
	}
	if sub == nil && ret.Nature == pasrau.NatureConformity && rep != nil {
		if err := f.adoptByIdentity(ctx, idflux, rep); err != nil {
			return nil, err
		}
	}
	next.Summary, next.Unpublished, next.ClaimedAt, next.Claimed = data.Summary, false, time.Time{}, nil
	if _, err := f.deps.Ledger.Update(ctx, key, next, rev); err != nil && !errors.Is(err, runtime.ErrStale) {
		// Published but still marked unpublished: whoever meets the return next
		// publishes it again under the same id, which the stream deduplicates.
		// (Stale: another replica published and recorded it meanwhile.)
		return nil, runtime.Retry(err, 0)
	}
	return &next, nil
}

// claimReturn records a return's next version, not yet published, over revision
// rev (0: the first). A replica that claimed it first makes this handling retry,
// and then find that version recorded.
func (f *Flow) claimReturn(ctx context.Context, key string, next seenReturn, rev uint64) (uint64, error) {
	var err error
	if rev == 0 {
		rev, err = f.deps.Ledger.Create(ctx, key, next)
	} else {
		rev, err = f.deps.Ledger.Update(ctx, key, next, rev)
	}
	if err != nil {
		return 0, runtime.Retry(fmt.Errorf("claim version %d of return %s: %w", next.Version, key, err), 0)
	}
	return rev, nil
}

// attachDocument downloads a return's document, summarises it and attaches it to
// the event, inline when small, else through the Object Store. A purged document
// is said so, not an error.
func (f *Flow) attachDocument(ctx context.Context, acct *Account, ret pasrau.Return, data *events.DeclarationReturn) (*pasrau.Report, error) {
	var doc *pasrau.Document
	err := f.call(ctx, acct.Name, true, func(ctx context.Context) error {
		var err error
		doc, err = acct.Client.Download(ctx, ret.URL)
		return err
	})
	switch {
	case errors.Is(err, pasrau.ErrPurged):
		data.DocumentUnavailable = "PASRAU no longer has this document: purged (documents are kept 3 months) or replaced by a newer version of the return"
		return nil, nil
	case errors.Is(err, pasrau.ErrHostNotAllowed), errors.Is(err, pasrau.ErrInvalidURL):
		data.DocumentUnavailable = "not downloaded: " + err.Error()
		return nil, nil
	case err != nil:
		return nil, f.deferral(err)
	}
	rep, perr := pasrau.ParseReport(doc.Body, nil)
	if perr != nil {
		f.log.WarnContext(ctx, "return document unreadable; publishing it without summary", "flux", data.IDFlux, "nature", ret.Nature, "err", perr)
	}
	data.Summary = summaryOf(rep)
	name := fmt.Sprintf("%s-%s-v%d.xml", data.IDFlux, strings.ReplaceAll(ret.Key(), "/", "-"), data.Version)
	ct := doc.ContentType
	if ct == "" {
		ct = "application/xml"
	}
	d, err := events.NewDocument(ctx, f.deps.Documents, name, ct, doc.Body, f.cfg.InlineDocumentMax)
	if err != nil {
		return nil, runtime.Retry(err, 0)
	}
	data.Document = d
	return rep, nil
}

// adoptByIdentity settles a deposit of unknown outcome from the returns the poller
// reads anyway: a flux passerelle did not link to any submission, whose conformity
// report identifies a declaration that is waiting in the sending step, is that
// declaration's lost deposit.
func (f *Flow) adoptByIdentity(ctx context.Context, idflux string, rep *pasrau.Report) error {
	id, ok := rep.Identity()
	if !ok {
		return nil
	}
	key := ledgerKey(events.DeclarationIdentity{SIRET: id.SIRET, Month: id.Month, Nature: id.Nature, Type: id.Type, Fraction: id.Fraction, Test: id.EssaiReel == pasrau.EssaiTest})
	var r record
	rev, err := f.deps.Ledger.Get(ctx, key, &r)
	switch {
	case errors.Is(err, runtime.ErrNotFound):
		return nil
	case err != nil:
		return runtime.Retry(err, 0)
	case r.Step != stepSending || r.IDFlux != "":
		return nil
	case !rep.Registered.IsZero() && rep.Registered.Before(r.SendingSince.Add(-reconcileMargin)):
		return nil // registered before this submission's attempt: an earlier deposit
	}
	f.log.InfoContext(ctx, "lost deposit found among the returns; not sending it again", "flux", idflux, "declaration", id.String())
	return f.deposited(ctx, key, &r, rev, &depositFound{idflux: idflux, report: rep})
}

// submissionOf returns the submission that deposited a flux, or nil when passerelle
// did not deposit it.
func (f *Flow) submissionOf(ctx context.Context, idflux string) (*record, error) {
	var link fluxLink
	if _, err := f.deps.Ledger.Get(ctx, fluxKey(idflux), &link); err != nil {
		if errors.Is(err, runtime.ErrNotFound) {
			return nil, nil
		}
		return nil, runtime.Retry(err, 0)
	}
	var r record
	if _, err := f.deps.Ledger.Get(ctx, link.Key, &r); err != nil {
		if errors.Is(err, runtime.ErrNotFound) {
			return nil, nil
		}
		return nil, runtime.Retry(err, 0)
	}
	if r.IDFlux != idflux {
		return nil, nil
	}
	return &r, nil
}
