package pasrau_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/passerelle-dev/passerelle/workers/pasrau"
	"github.com/passerelle-dev/passerelle/workers/pasrau/pasrautest"
)

func TestFindDepositAfterADroppedConnection(t *testing.T) {
	t.Parallel()
	h := newHarness(t, pasrautest.Config{}, false)
	c := h.client(h.config(alice()))
	ctx := context.Background()
	file := latin1File(t, "valid-declaration.txt", "", "")
	decl, problems := pasrau.Validate(file, pasrau.Latin1)
	if len(problems) != 0 {
		t.Fatalf("problems: %v", problems)
	}
	// Another declaration of the same establishment (October) is there too.
	if _, err := c.Deposit(ctx, latin1File(t, "valid-declaration.txt", "", "01102026")); err != nil {
		t.Fatal(err)
	}
	if err := h.emu.SetFaults(pasrautest.Faults{DropProbability: 1, Ops: []string{"deposit"}}); err != nil {
		t.Fatal(err)
	}
	since := h.clock.Now().Add(-2 * time.Minute)
	_, err := c.Deposit(ctx, file)
	if e := asError(t, err); !e.OutcomeUnknown() {
		t.Fatalf("Deposit: %v, want an unknown outcome", err)
	}
	dropped := h.requests("deposit")[1].IDFlux
	until := h.clock.Now().Add(2 * time.Minute)

	// Before the end of the window, and before any nature 11: undetermined.
	got, err := c.FindDeposit(ctx, decl.Identity, since, until)
	if err != nil {
		t.Fatalf("FindDeposit: %v", err)
	}
	if got.Outcome != pasrau.DepositUndetermined || len(got.Pending) != 2 {
		t.Errorf("at once: %+v, want undetermined with 2 pending flux", got)
	}
	h.clock.Advance(3 * time.Minute)
	got, err = c.FindDeposit(ctx, decl.Identity, since, until)
	if err != nil {
		t.Fatalf("FindDeposit: %v", err)
	}
	if got.Outcome != pasrau.DepositFound || got.IDFlux != dropped || got.Report == nil || got.Checked != 2 {
		t.Errorf("after the window: %+v, want found %s among 2", got, dropped)
	}
}

func TestFindDepositProvesAbsence(t *testing.T) {
	t.Parallel()
	h := newHarness(t, pasrautest.Config{}, false)
	c := h.client(h.config(alice()))
	ctx := context.Background()
	decl, _ := pasrau.Validate(latin1File(t, "valid-declaration.txt", "", ""), pasrau.Latin1)
	since := h.clock.Now().Add(-time.Minute)
	// In the window: another month, and a rejected deposit.
	if _, err := c.Deposit(ctx, latin1File(t, "valid-declaration.txt", "", "01102026")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Deposit(ctx, latin1File(t, "guide-sample.txt", "", "")); !errors.Is(err, pasrau.ErrRejected) {
		t.Fatal(err)
	}
	until := h.clock.Now().Add(time.Minute)
	h.clock.Advance(5 * time.Minute)
	got, err := c.FindDeposit(ctx, decl.Identity, since, until)
	if err != nil {
		t.Fatalf("FindDeposit: %v", err)
	}
	if got.Outcome != pasrau.DepositAbsent || got.Checked != 2 || len(got.Pending) != 0 {
		t.Errorf("FindDeposit = %+v, want absent after checking 2 flux", got)
	}
	if _, err := c.FindDeposit(ctx, decl.Identity, since, since.Add(2*time.Hour)); !errors.Is(err, pasrau.ErrInvalidArgument) {
		t.Errorf("window of 2h: %v, want ErrInvalidArgument", err)
	}
}

// TestFindDepositNeverProvesAbsenceAcrossPages fills the window with more returns
// than a listing page holds: the pages of a listing are not a snapshot (a return
// overwritten between two page requests moves the others up into a page already
// read), so absence is never concluded from them.
func TestFindDepositNeverProvesAbsenceAcrossPages(t *testing.T) {
	if testing.Short() {
		t.Skip("deposits over a thousand declarations")
	}
	t.Parallel()
	h := newHarness(t, pasrautest.Config{}, false)
	c := h.client(h.config(alice()))
	ctx := context.Background()
	decl, _ := pasrau.Validate(latin1File(t, "valid-declaration.txt", "", ""), pasrau.Latin1)
	since := h.clock.Now().Add(-time.Minute)
	other := latin1File(t, "valid-declaration.txt", "", "01102026")
	for range pasrau.PerPageSize(pasrau.PerPage1000) + 1 {
		if _, err := c.Deposit(ctx, other); err != nil {
			t.Fatal(err)
		}
	}
	until := h.clock.Now().Add(time.Minute)
	h.clock.Advance(5 * time.Minute)
	got, err := c.FindDeposit(ctx, decl.Identity, since, until, pasrau.Excluding(func(string) bool { return true }))
	if err != nil {
		t.Fatalf("FindDeposit: %v", err)
	}
	if got.Outcome != pasrau.DepositUndetermined || !got.Paged {
		t.Errorf("FindDeposit over a paged window = %+v, want undetermined (paged)", got)
	}
}
