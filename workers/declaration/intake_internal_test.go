package declaration

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/workers/pasrau"
)

// TestInvalidStatusStaysSmall validates a garbage file with more problems than the
// validator keeps: the invalid status lists the first ones, says how many more
// there were, and stays far below a NATS message's maximum payload.
func TestInvalidStatusStaysSmall(t *testing.T) {
	t.Parallel()
	garbage := strings.Repeat("S21.G00.30.002,'"+strings.Repeat("<", 400)+"\n", 15000)
	_, ps := pasrau.Validate([]byte(garbage), pasrau.UTF8)
	if ps[len(ps)-1].Code != pasrau.ProblemTruncated || ps.Count() <= len(ps) {
		t.Fatalf("the validator kept %d problems of %d, want them truncated", len(ps), ps.Count())
	}
	got := fileProblems(ps)
	if len(got) != events.MaxProblems {
		t.Fatalf("%d problems listed, want %d", len(got), events.MaxProblems)
	}
	last := got[len(got)-1]
	want := ps.Count() - (events.MaxProblems - 1)
	if last.Code != string(pasrau.ProblemTruncated) || !strings.HasPrefix(last.Message, strconv.Itoa(want)+" more problem(s) not listed") {
		t.Errorf("last problem %+v, want %d more not listed", last, want)
	}
	b, err := json.Marshal(events.DeclarationStatus{State: events.StateInvalid, Problems: got})
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 256<<10 {
		t.Errorf("invalid status of %d bytes, want it well under 1 MiB", len(b))
	}
}
