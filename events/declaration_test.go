package events_test

import (
	"testing"

	"github.com/passerelle-dev/passerelle/events"
)

func TestDeclarationIdentityComplete(t *testing.T) {
	t.Parallel()
	ok := events.DeclarationIdentity{SIRET: "53755096400010", Month: "2026-11", Nature: "11", Type: "01"}
	if !ok.Complete() {
		t.Errorf("%+v is complete", ok)
	}
	for _, bad := range []events.DeclarationIdentity{
		{SIRET: "53755096400010"},
		{SIRET: "53755096400010", Month: "2026-13"},
		{SIRET: "53755096400010", Month: "2026-00"},
		{SIRET: "53755096400010", Month: "26-11"},
		{SIRET: "5375509640001", Month: "2026-11"},
		{SIRET: "5375509640001X", Month: "2026-11"},
		{Month: "2026-11"},
	} {
		if bad.Complete() {
			t.Errorf("%+v is not complete", bad)
		}
	}
}
