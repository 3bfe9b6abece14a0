package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/passerelle-dev/passerelle/events"
)

func TestWatchFlags(t *testing.T) {
	t.Parallel()
	filters := []struct {
		types, account string
		want           []string
	}{
		{"all", "", []string{"invoice.status.>", "declaration.status.>", "declaration.return.>"}},
		{"invoice", "acme", []string{"invoice.status.acme"}},
		{"declaration,return", "", []string{"declaration.status.>", "declaration.return.>"}},
		{"invoice.status, invoice", "", []string{"invoice.status.>"}},
	}
	for _, tt := range filters {
		got, err := watchFilters(tt.types, tt.account)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("watchFilters(%q, %q) = %q, %v; want %q", tt.types, tt.account, got, err, tt.want)
		}
	}
	usage := []struct {
		args []string
		want string
	}{
		{[]string{"--type", "invoices"}, `--type "invoices" is not invoice, declaration, return or all`},
		{[]string{"--account", "a.b"}, `account "a.b" is not a valid account name`},
		{[]string{"--since", "yesterday"}, `--since "yesterday" is not a duration`},
		{[]string{"F-2026-0001"}, `unexpected argument "F-2026-0001" (give submissions with --submit or --number)`},
	}
	for _, tt := range usage {
		err := run(context.Background(), append([]string{"watch", "--nats", "nats://127.0.0.1:1"}, tt.args...), envOf(nil), nil, io.Discard, io.Discard)
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("watch %q: %v, want a usage error containing %q", tt.args, err, tt.want)
		}
	}
}

func TestOutputFilter(t *testing.T) {
	t.Parallel()
	inv := func(id, number string, final bool) *events.Output {
		return &events.Output{Meta: events.Meta{Type: events.TypeInvoiceStatus}, InvoiceStatus: &events.InvoiceStatus{SubmitID: id, InvoiceNumber: number, Final: final}}
	}
	ret := &events.Output{Meta: events.Meta{Type: events.TypeDeclarationReturn}, DeclarationReturn: &events.DeclarationReturn{SubmitID: "d-1"}}
	tests := []struct {
		name   string
		filter outputFilter
		o      *events.Output
		want   bool
	}{
		{"no filter", outputFilter{}, inv("s-1", "F-1", false), true},
		{"submit id", outputFilter{submitIDs: listOf("s-1,s-2")}, inv("s-2", "F-2", false), true},
		{"another submit id", outputFilter{submitIDs: listOf("s-1")}, inv("s-2", "F-2", false), false},
		{"a return of the submission", outputFilter{submitIDs: listOf("d-1")}, ret, true},
		{"number", outputFilter{numbers: listOf(" F-1 ")}, inv("s-1", "F-1", false), true},
		{"another number", outputFilter{numbers: listOf("F-1")}, inv("s-2", "F-2", true), false},
		{"a return, by number", outputFilter{numbers: listOf("F-1")}, ret, false},
		{"final only, final", outputFilter{finalOnly: true}, inv("s-1", "F-1", true), true},
		{"final only, not final", outputFilter{finalOnly: true}, inv("s-1", "F-1", false), false},
		{"final only, a return", outputFilter{finalOnly: true}, ret, false},
	}
	for _, tt := range tests {
		if got := tt.filter.match(tt.o); got != tt.want {
			t.Errorf("%s: match = %t, want %t", tt.name, got, tt.want)
		}
	}
}

func TestLiveView(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	seq := 0
	invoice := func(id, number, mode, state string, sequence int, final bool) *events.Output {
		seq++
		return &events.Output{Meta: events.Meta{Type: events.TypeInvoiceStatus, Time: at.Add(time.Duration(seq) * time.Second)},
			InvoiceStatus: &events.InvoiceStatus{SubmitID: id, Account: "acme", InvoiceNumber: number, Mode: mode, State: state, Sequence: sequence, Final: final}}
	}
	view := newLiveView(false)
	for i, state := range []string{"received", "submitted", "DEPOSEE", "EN_COURS_ACHEMINEMENT", "MISE_A_DISPOSITION", "SUSPENDUE"} {
		view.add(invoice("aaaaaaaa-1", "F-1", events.ModeStructured, state, i+1, false))
	}
	view.add(invoice("aaaaaaaa-1", "F-1", events.ModeStructured, "DEPOSEE", 3, false)) // delivered late: ignored
	view.add(invoice("bbbbbbbb-2", "F-2", events.ModeFlow, "received", 1, false))
	view.add(invoice("bbbbbbbb-2", "F-2", events.ModeFlow, "IN_INTEGRE_PARTIEL", 4, false))
	rejected := invoice("cccccccc-3", "F-3", events.ModePDF, events.StateRejected, 2, true)
	rejected.InvoiceStatus.Rejection = &events.Rejection{Source: "choruspro", Reason: "Chorus Pro refused the invoice", CodeRetour: 20006, Libelle: "montants"}
	view.add(invoice("cccccccc-3", "F-3", events.ModePDF, "received", 1, false))
	view.add(rejected)
	view.add(&events.Output{Meta: events.Meta{Type: events.TypeDeclarationStatus, Time: at},
		DeclarationStatus: &events.DeclarationStatus{SubmitID: "dddddddd-4", Account: "acme", State: events.StateDeposited, Sequence: 2, IDFlux: "FLUX1",
			Declaration: &events.DeclarationIdentity{SIRET: "53755096400010", Month: "2026-11"}}})
	for _, nature := range []string{"10", "11", "10"} {
		view.add(&events.Output{Meta: events.Meta{Type: events.TypeDeclarationReturn, Time: at},
			DeclarationReturn: &events.DeclarationReturn{SubmitID: "dddddddd-4", Account: "acme", IDFlux: "FLUX1", Nature: nature, Statut: "OK"}})
	}
	view.add(&events.Output{Meta: events.Meta{Type: events.TypeDeclarationReturn, Time: at},
		DeclarationReturn: &events.DeclarationReturn{Account: "acme", IDFlux: "FLUX2", Nature: "94", Statut: "EN_COURS"}})

	var out bytes.Buffer
	view.render(&out, at)
	got := out.String()
	for _, want := range []string{
		`(?m)^passerelle watch — 5 submissions, 1 final — `,
		`(?m)^UPDATED +TYPE +ACCOUNT +SUBMISSION +SUBMIT ID +STATE +STEP +DETAILS$`,
		`(?m)^\d\d:\d\d:\d\d +invoice +acme +F-1 +aaaaaaaa +SUSPENDUE +5/9 *$`,
		`(?m)^\d\d:\d\d:\d\d +invoice +acme +F-2 +bbbbbbbb +IN_INTEGRE_PARTIEL +6/13 *$`,
		`(?m)^\d\d:\d\d:\d\d +invoice +acme +F-3 +cccccccc +rejected +1/9 +FINAL +Chorus Pro refused the invoice \(codeRetour 20006: montants\)$`,
		`(?m)^\d\d:\d\d:\d\d +declaration +acme +53755096400010 2026-11 +dddddddd +deposited +2/3 +idflux=FLUX1 returns: 11 OK, 10 OK$`,
		`(?m)^\d\d:\d\d:\d\d +return +acme +idflux=FLUX2 +- +EN_COURS +- +returns: 94 EN_COURS$`,
	} {
		if !regexp.MustCompile(want).MatchString(got) {
			t.Errorf("the view has no line matching %s:\n%s", want, got)
		}
	}

	view.finalOnly = true
	out.Reset()
	view.render(&out, at)
	if got := out.String(); !strings.Contains(got, "F-3") || strings.Contains(got, "F-1") || strings.Contains(got, "FLUX2") {
		t.Errorf("with --final-only, the view shows other submissions than the final one:\n%s", got)
	}

	view = newLiveView(false)
	view.maxRows = 2
	for _, n := range []string{"1", "2", "3"} {
		view.add(invoice("id-"+n, "F-"+n, events.ModeStructured, "received", 1, false))
	}
	out.Reset()
	view.render(&out, at)
	if got := out.String(); !strings.Contains(got, "(1 earlier not shown)") || strings.Contains(got, " F-1 ") || !strings.Contains(got, " F-3 ") {
		t.Errorf("the view does not keep the latest rows:\n%s", got)
	}
}

// TestOperatorCredentials checks that publish and watch use the NATS credentials
// of the environment, as run does.
func TestOperatorCredentials(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "operator.creds")
	environment := envOf(map[string]string{"PASSERELLE_NATS_CREDS": missing, "NATS_URL": "nats://127.0.0.1:1"})
	for _, args := range [][]string{{"watch"}, {"publish", "--account", "demo", "--declaration", "../../workers/pasrau/testdata/valid-declaration.txt"}} {
		err := run(context.Background(), args, environment, nil, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "operator.creds") {
			t.Errorf("%s with PASSERELLE_NATS_CREDS naming a missing file: %v, want an error naming it", args[0], err)
		}
	}
}
