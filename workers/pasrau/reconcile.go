package pasrau

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// SearchOutcome is the conclusion of FindDeposit.
type SearchOutcome string

// The outcomes of FindDeposit.
const (
	// DepositFound: a flux registered in the window carries the declaration.
	DepositFound SearchOutcome = "found"
	// DepositAbsent: proven absent (see FindDeposit); a new deposit is safe.
	DepositAbsent SearchOutcome = "absent"
	// DepositUndetermined: some flux of the window cannot be identified yet
	// (no conformity report so far), or the window is not over: search again
	// later, never deposit meanwhile.
	DepositUndetermined SearchOutcome = "undetermined"
)

// DefaultSearchRange is the widest window FindDeposit searches when PASRAU
// has not announced its range limit (Accept-Ranges) yet: the limit the DSN
// platform announces.
const DefaultSearchRange = 60 * time.Minute

// DepositSearch is the result of FindDeposit.
type DepositSearch struct {
	Outcome SearchOutcome
	// IDFlux and Report are the matching flux and its conformity report
	// (nature 11) when found.
	IDFlux string
	Report *Report
	// Pending are the flux whose identity is not known yet.
	Pending []string
	// Checked is the number of flux registered in the window.
	Checked int
	// Paged: the window's returns did not fit in one listing page. The pages of
	// a listing are not a snapshot (a return overwritten between two page
	// requests leaves the window and moves the others up into a page already
	// read), so absence is not proven: the outcome is at best undetermined.
	Paged bool
}

// FindDeposit looks for the declaration id among the flux the declarant
// deposited between since and until, to settle a deposit whose outcome is
// unknown. Choose since before the attempt started and until after it ended,
// with a margin for clock skew (a few minutes each way).
//
// An AEE does not identify the declaration (nor fingerprint the file): the
// identity (SIRET = SIREN + nic_affectation, month, nature, type, fraction,
// essai_reel) is read from the flux's conformity certificate or anomaly
// report (nature 11), which PASRAU publishes some time after the deposit.
// FindDeposit lists the declarant's returns of the window (every page), and
// for each flux registered in it (a nature 10 return) lists that flux's
// returns and downloads its nature 11 document.
//
// The declaration is proven absent when, at a time after until, the whole
// window was listed in one page (a snapshot; see DepositSearch.Paged) and every
// flux registered in it either was rejected (nature 10 KO, or a KO nature 11
// that identifies no declaration: a rejected deposit has no effect, so
// depositing again is safe) or carries another identity. When a flux has no
// nature 11 yet the outcome is undetermined.
//
// Options: Excluding skips the flux the caller knows carry other declarations
// (those it deposited itself), sparing their listing and download.
//
// It returns ErrInvalidArgument (no request made) for an empty SIRET or month,
// a zero since, an until before since, or a window wider than the range PASRAU
// announced (DefaultSearchRange until it does); otherwise the errors of
// ListByDeclarant (a 429 is retryable after its RetryAfter), and the
// non-retryable errors of ListByFlux and Download; a flux that cannot be read
// for a retryable reason is reported Pending, and the search goes on.
func (c *Client) FindDeposit(ctx context.Context, id Identity, since, until time.Time, opts ...FindOption) (*DepositSearch, error) {
	var fo findOptions
	for _, o := range opts {
		o(&fo)
	}
	maxRange, _ := c.PollingLimits()
	if maxRange == 0 {
		maxRange = DefaultSearchRange
	}
	switch {
	case id.SIRET == "" || id.Month == "":
		return nil, &Error{Op: OpListDeclarant, Kind: ErrInvalidArgument, Cause: errors.New("the identity needs a SIRET and a month")}
	case since.IsZero() || until.Before(since):
		return nil, &Error{Op: OpListDeclarant, Kind: ErrInvalidArgument, Cause: errors.New("the window needs a start and an end not before it")}
	case until.Sub(since) > maxRange:
		return nil, &Error{Op: OpListDeclarant, Kind: ErrInvalidArgument, Cause: fmt.Errorf("the window is wider than the %v PASRAU lets a listing cover", maxRange)}
	}
	windowOver := !c.now().Before(until)
	candidates, snapshot, err := c.registeredIn(ctx, since, until)
	if err != nil {
		return nil, fmt.Errorf("pasrau: find deposit: %w", err)
	}
	res := &DepositSearch{Checked: len(candidates), Paged: !snapshot}
	for _, fluxID := range candidates {
		if fo.known != nil && fo.known(fluxID) {
			continue
		}
		report, state, err := c.fluxIdentity(ctx, fluxID)
		var e *Error
		switch {
		case err != nil && errors.As(err, &e) && e.Retryable():
			// Unreadable for now: the flux stays a candidate, the search goes on
			// (the declaration may be in another flux).
			res.Pending = append(res.Pending, fluxID)
			continue
		case err != nil:
			return nil, fmt.Errorf("pasrau: find deposit: flux %s: %w", fluxID, err)
		}
		switch state {
		case fluxPending:
			res.Pending = append(res.Pending, fluxID)
		case fluxIdentified:
			got, _ := report.Identity()
			if sameDeclaration(got, id) {
				res.Outcome, res.IDFlux, res.Report = DepositFound, fluxID, report
				return res, nil
			}
		}
	}
	if len(res.Pending) > 0 || !windowOver || !snapshot {
		res.Outcome = DepositUndetermined
	} else {
		res.Outcome = DepositAbsent
	}
	return res, nil
}

// FindOption tunes FindDeposit.
type FindOption func(*findOptions)

type findOptions struct {
	known func(idflux string) bool
}

// Excluding makes FindDeposit skip the flux for which known returns true: flux
// the caller knows carry another declaration.
func Excluding(known func(idflux string) bool) FindOption {
	return func(o *findOptions) { o.known = known }
}

// registeredIn returns the flux with a nature 10 return published in the
// window, reading every page, in a stable order, and whether the window fit in
// one page (a snapshot).
func (c *Client) registeredIn(ctx context.Context, since, until time.Time) ([]string, bool, error) {
	seen := map[string]bool{}
	var ids []string
	total := 1
	for page := 1; page <= total && page <= MaxPage; page++ {
		l, err := c.ListByDeclarant(ctx, since, until, page, PerPage1000)
		if err != nil {
			return nil, false, err
		}
		total = l.PagesTotal
		for _, f := range l.Flux {
			for _, r := range f.Returns {
				if r.Nature == NatureAEE && !seen[f.ID] {
					seen[f.ID] = true
					ids = append(ids, f.ID)
				}
			}
		}
	}
	slices.Sort(ids)
	return ids, total <= 1, nil
}

type fluxState int

const (
	fluxPending    fluxState = iota // identity not known yet
	fluxRejected                    // rejected: no effect, not a candidate
	fluxIdentified                  // its nature 11 report identifies it
)

// fluxIdentity reads a flux's returns and, when there is one, its nature 11
// document.
func (c *Client) fluxIdentity(ctx context.Context, fluxID string) (*Report, fluxState, error) {
	var returns []Return
	for page, total := 1, 1; page <= total && page <= MaxPage; page++ {
		l, err := c.ListByFlux(ctx, fluxID, page, PerPage100)
		if err != nil {
			return nil, fluxPending, err
		}
		total = l.PagesTotal
		for _, f := range l.Flux {
			if f.ID == fluxID {
				returns = append(returns, f.Returns...)
			}
		}
	}
	var conformity *Return
	for i, r := range returns {
		switch {
		case r.Nature == NatureAEE && r.Statut == StatusKO:
			return nil, fluxRejected, nil
		case r.Nature == NatureConformity && r.Statut != StatusInProgress && r.URL != "":
			conformity = &returns[i]
		}
	}
	if conformity == nil {
		return nil, fluxPending, nil
	}
	doc, err := c.Download(ctx, conformity.URL)
	if errors.Is(err, ErrPurged) {
		return nil, fluxPending, nil // overwritten since the listing
	}
	if err != nil {
		return nil, fluxPending, err
	}
	report, err := ParseReport(doc.Body, c.loc)
	if err != nil {
		return nil, fluxPending, &Error{Op: OpDownload, HTTPStatus: 200, Kind: ErrUnexpected, Cause: err}
	}
	if _, ok := report.Identity(); !ok {
		if report.Etat == StatusKO || report.Conformity() == StatusKO || conformity.Statut == StatusKO {
			return report, fluxRejected, nil
		}
		return report, fluxPending, nil
	}
	return report, fluxIdentified, nil
}

// sameDeclaration compares two identities; essai_reel only when both say it.
func sameDeclaration(got, want Identity) bool {
	if got.EssaiReel != "" && want.EssaiReel != "" && got.EssaiReel != want.EssaiReel {
		return false
	}
	return got.SIRET == want.SIRET && got.Month == want.Month &&
		got.Nature == want.Nature && got.Type == want.Type && got.Fraction == want.Fraction
}
