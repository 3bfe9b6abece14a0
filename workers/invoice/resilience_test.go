package invoice_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/passerelle-dev/passerelle/workers/choruspro/chorusprotest"
)

// TestUpstreamOutage keeps Chorus Pro answering 503 for 15 seconds (a compressed
// five-minute outage) while 40 invoices arrive: they wait, then all succeed, and
// the circuit breaker keeps the calls made during the outage bounded.
func TestUpstreamOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("a 15 s outage")
	}
	t.Parallel()
	h := newHarness(t, chorusprotest.Faults{Outage: true})
	h.StartService()
	var ids []string
	for i := range 40 {
		ids = append(ids, h.publish(example(t, 0, fmt.Sprintf("T-OUTAGE-%02d", i))))
	}
	const outage = 15 * time.Second
	time.Sleep(outage)
	if err := h.Stack.ChorusPro.SetFaults(chorusprotest.Faults{}); err != nil {
		t.Fatal(err)
	}
	h.waitFinal(2*time.Minute, ids...)
	h.checkSequences(ids...)
	for i, id := range ids {
		if s, _ := h.final(id); s.State != "MISE_EN_PAIEMENT" {
			t.Errorf("invoice %d ended %s (history %v)", i, s.State, h.history(id))
		}
	}
	refused := 0
	for _, r := range h.Stack.ChorusPro.Requests(0) {
		if r.Fault == "outage" {
			refused++
		}
	}
	// Without a breaker, 40 messages retrying in-process (200 ms doubling to 5 s)
	// and redelivered would make hundreds of calls in 15 s. With it: the calls
	// under way when the circuit opened (at most the concurrency), then one probe
	// per open interval (1 s doubling to 5 s).
	if refused > h.Config.Concurrency+10 {
		t.Errorf("%d calls during a %v outage, want at most %d", refused, outage, h.Config.Concurrency+10)
	}
	t.Logf("%d calls reached Chorus Pro during the %v outage, for 40 invoices", refused, outage)
}

// TestSustainedRateLimiting answers 429 with Retry-After to most calls while two
// replicas share a per-account rate limit: no call comes before its Retry-After,
// the account's calls stay under the limit, and every invoice ends.
func TestSustainedRateLimiting(t *testing.T) {
	if testing.Short() {
		t.Skip("sustained 429s")
	}
	t.Parallel()
	h := newHarness(t, chorusprotest.Faults{Seed: 21, RateLimitProbability: 0.6, RetryAfterSeconds: 1})
	const limit = 12.0 // calls per second, both replicas together
	h.Config.ChorusProRateLimit = limit
	h.StartService()
	h.StartService()
	time.Sleep(time.Second) // the replicas see each other
	var ids []string
	for i := range 15 {
		ids = append(ids, h.publish(example(t, 0, fmt.Sprintf("T-429-%02d", i))))
	}
	h.waitFinal(3*time.Minute, ids...)
	h.checkSequences(ids...)
	log := h.Stack.ChorusPro.Requests(0)
	// Each replica looks a recipient up once: the second replica's first look-up
	// may follow the first one's 429, but it is not a retry. Retries are checked.
	var retried []chorusprotest.RequestRecord
	for _, r := range log {
		if r.Operation != "rechercherStructures" && r.Operation != "consulterStructure" {
			retried = append(retried, r)
		}
	}
	for _, v := range chorusprotest.RetryAfterViolations(retried) {
		t.Error(v)
	}
	// Over any 2-second window the account makes at most 2 s of calls at the limit
	// plus each replica's burst.
	var business []time.Time
	for _, r := range log {
		if r.Operation != "token" {
			business = append(business, r.Time)
		}
	}
	worst := 0
	for i := range business {
		n := 0
		for j := i; j < len(business) && business[j].Sub(business[i]) < 2*time.Second; j++ {
			n++
		}
		worst = max(worst, n)
	}
	if bound := int(2*limit) + 2*int(limit/2) + 1; worst > bound {
		t.Errorf("%d calls in a 2 s window, want at most %d (limit %v/s over two replicas)", worst, bound, limit)
	}
	t.Logf("%d calls, at most %d in any 2 s window; no call before its Retry-After", len(business), worst)
}

// TestSlowAnswersLongerThanAckWait makes every soumettre take longer than the
// consumers' ack wait: the worker keeps its messages (in progress) and nothing is
// deposited twice.
func TestSlowAnswersLongerThanAckWait(t *testing.T) {
	if testing.Short() {
		t.Skip("slow answers")
	}
	t.Parallel()
	h := newHarness(t, chorusprotest.Faults{SlowProbability: 1, SlowDelayMillis: 3000, Operations: []string{"soumettre"}})
	h.Config.AckWait = 2 * time.Second
	h.StartService()
	var ids []string
	for i := range 5 {
		ids = append(ids, h.publish(example(t, 0, fmt.Sprintf("T-SLOW-%02d", i))))
	}
	h.waitFinal(time.Minute, ids...)
	h.checkSequences(ids...)
	deposits := h.deposits()
	for i := range ids {
		if n := deposits[fmt.Sprintf("T-SLOW-%02d", i)]; n != 1 {
			t.Errorf("invoice %d deposited %d times, want 1", i, n)
		}
	}
}

// TestTokenEndpointDown takes PISTE's token endpoint down for 10 seconds: the
// invoices wait without hammering it, and go through once it is back.
func TestTokenEndpointDown(t *testing.T) {
	if testing.Short() {
		t.Skip("token endpoint down")
	}
	t.Parallel()
	h := newHarness(t, chorusprotest.Faults{TokenEndpointDown: true})
	h.StartService()
	var ids []string
	for i := range 10 {
		ids = append(ids, h.publish(example(t, 0, fmt.Sprintf("T-TOKEN-%02d", i))))
	}
	time.Sleep(10 * time.Second)
	downCalls := 0
	for _, r := range h.Stack.ChorusPro.Requests(0) {
		if r.Operation == "token" {
			downCalls++
		}
	}
	if err := h.Stack.ChorusPro.SetFaults(chorusprotest.Faults{}); err != nil {
		t.Fatal(err)
	}
	h.waitFinal(2*time.Minute, ids...)
	for i, id := range ids {
		if s, _ := h.final(id); s.State != "MISE_EN_PAIEMENT" {
			t.Errorf("invoice %d ended %s", i, s.State)
		}
	}
	if downCalls > 25 {
		t.Errorf("%d token requests in 10 s while the endpoint was down, want them bounded (no busy loop)", downCalls)
	}
	t.Logf("%d token requests while the endpoint was down for 10 s", downCalls)
}
