package chorusprotest

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"
)

// Faults are the faults the emulator injects into business calls (and into
// the token endpoint when AffectTokenEndpoint). Read and replaced as JSON at
// GET and PUT /emulator/faults, or with Faults and SetFaults. The zero value
// injects nothing.
//
// At most one fault applies to a call. In order: Outage; then the next entry
// of Queue; then one draw of the seeded random generator against the
// probabilities, taken in the order rate limit, unavailable, gateway error,
// drop, slow (their sum must not exceed 1).
type Faults struct {
	// TokenExpiryEvery, when N > 0, expires a PISTE token after N business
	// calls: the next call with it gets 401 as an expired token.
	TokenExpiryEvery int `json:"tokenExpiryEvery"`
	// RateLimitProbability answers 429 with Retry-After: RetryAfterSeconds.
	RateLimitProbability float64 `json:"rateLimitProbability"`
	RetryAfterSeconds    int     `json:"retryAfterSeconds"`
	// UnavailableProbability answers 503.
	UnavailableProbability float64 `json:"unavailableProbability"`
	// GatewayErrorProbability answers 502 or 504 (one each in turn).
	GatewayErrorProbability float64 `json:"gatewayErrorProbability"`
	// DropProbability reads the request, applies the operation, then closes
	// the connection without answering: the client cannot know the outcome.
	DropProbability float64 `json:"dropProbability"`
	// SlowProbability applies the operation, then waits SlowDelayMillis
	// (real time) before answering; if the client gives up first, the
	// connection is closed without an answer.
	SlowProbability float64 `json:"slowProbability"`
	SlowDelayMillis int     `json:"slowDelayMillis"`
	// Outage answers 503 to every business call.
	Outage bool `json:"outage"`
	// Queue lists faults applied one per call, in order, before any draw:
	// "429", "503", "502", "504", "drop", "slow", "expire-token" (401 as an
	// expired token; PISTE mode) or "none". Consumed entries are removed.
	Queue []string `json:"queue"`
	// Operations, when not empty, restricts Queue and the probabilities to
	// these operations (names as in the request log: "soumettre",
	// "deposerFlux", "token"...). Outage ignores it.
	Operations []string `json:"operations"`
	// AffectTokenEndpoint makes the token endpoint subject to Outage, Queue
	// and the probabilities, as operation "token".
	AffectTokenEndpoint bool `json:"affectTokenEndpoint"`
	// TokenEndpointDown answers 503 at the token endpoint.
	TokenEndpointDown bool `json:"tokenEndpointDown"`
	// Seed seeds the random generator; setting faults reseeds it, so a run
	// is reproducible from a given seed and call sequence.
	Seed uint64 `json:"seed"`
}

// Fault names, as found in Queue and in the request log.
const (
	faultNone        = "none"
	faultRateLimit   = "429"
	faultUnavailable = "503"
	faultBadGateway  = "502"
	faultTimeout     = "504"
	faultDrop        = "drop"
	faultSlow        = "slow"
	faultExpireToken = "expire-token"
	faultOutage      = "outage"
	faultTokenDown   = "token-endpoint-down"
)

// queueFaults are the names allowed in Faults.Queue.
func queueFaults() []string {
	return []string{faultNone, faultRateLimit, faultUnavailable, faultBadGateway, faultTimeout, faultDrop, faultSlow, faultExpireToken}
}

// validate checks the probabilities, delays and names.
func (f Faults) validate() error {
	probs := []float64{f.RateLimitProbability, f.UnavailableProbability, f.GatewayErrorProbability, f.DropProbability, f.SlowProbability}
	sum := 0.0
	for _, p := range probs {
		if p < 0 || p > 1 {
			return errors.New("faults: probabilities must be between 0 and 1")
		}
		sum += p
	}
	if sum > 1+1e-9 {
		return fmt.Errorf("faults: probabilities add up to %g, more than 1", sum)
	}
	if f.RetryAfterSeconds < 0 || f.SlowDelayMillis < 0 || f.TokenExpiryEvery < 0 {
		return errors.New("faults: retryAfterSeconds, slowDelayMillis and tokenExpiryEvery must not be negative")
	}
	for _, q := range f.Queue {
		if !slices.Contains(queueFaults(), q) {
			return fmt.Errorf("faults: unknown queued fault %q (want one of %v)", q, queueFaults())
		}
	}
	for _, op := range f.Operations {
		if op != opToken && !slices.Contains(businessOperationNames(), op) {
			return fmt.Errorf("faults: unknown operation %q", op)
		}
	}
	return nil
}

// newRand returns the generator for a seed. Fault injection must be
// reproducible from its seed, hence math/rand, not crypto/rand.
func newRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) //nolint:gosec // reproducible test faults, no security at stake
}

// Faults returns the faults currently injected.
func (e *Emulator) Faults() Faults {
	e.mu.Lock()
	defer e.mu.Unlock()
	f := e.faults
	f.Queue = slices.Clone(f.Queue)
	f.Operations = slices.Clone(f.Operations)
	return f
}

// SetFaults replaces the faults injected and reseeds the random generator
// with f.Seed. It returns an error, and changes nothing, when a probability
// is outside [0,1], the probabilities add up to more than 1, a delay is
// negative or a name is unknown.
func (e *Emulator) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return fmt.Errorf("chorusprotest: SetFaults: %w", err)
	}
	f.Queue = slices.Clone(f.Queue)
	f.Operations = slices.Clone(f.Operations)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = f
	e.rng = newRand(f.Seed)
	return nil
}

// drawFault picks the fault of one call to operation op ("" for none).
// Callers hold e.mu.
func (e *Emulator) drawFault(op string) string {
	f := &e.faults
	if f.Outage {
		return faultOutage
	}
	if len(f.Operations) > 0 && !slices.Contains(f.Operations, op) {
		return ""
	}
	if len(f.Queue) > 0 {
		next := f.Queue[0]
		f.Queue = f.Queue[1:]
		if next == faultNone {
			return ""
		}
		return next
	}
	r := e.rng.Float64()
	for _, c := range []struct {
		p     float64
		fault string
	}{
		{f.RateLimitProbability, faultRateLimit},
		{f.UnavailableProbability, faultUnavailable},
		{f.GatewayErrorProbability, faultBadGateway},
		{f.DropProbability, faultDrop},
		{f.SlowProbability, faultSlow},
	} {
		if r < c.p {
			if c.fault == faultBadGateway {
				e.gatewayFlip = !e.gatewayFlip
				if !e.gatewayFlip {
					return faultTimeout
				}
			}
			return c.fault
		}
		r -= c.p
	}
	return ""
}

// slowDelay is the delay of a slow answer. Callers hold e.mu.
func (e *Emulator) slowDelay() time.Duration {
	return time.Duration(e.faults.SlowDelayMillis) * time.Millisecond
}

// isImmediate reports whether a fault answers the call at once (429, 5xx)
// instead of letting the operation run.
func isImmediate(fault string) bool {
	switch fault {
	case faultRateLimit, faultUnavailable, faultOutage, faultTokenDown, faultBadGateway, faultTimeout:
		return true
	}
	return false
}

// writeFault answers a call with an immediate fault (429, 5xx); it reports
// false for faults that are not immediate answers.
func (e *Emulator) writeFault(w http.ResponseWriter, fault string, retryAfter int, rec *callRecord) bool {
	status := 0
	switch fault {
	case faultRateLimit:
		status = http.StatusTooManyRequests
		w.Header().Set("Retry-After", fmt.Sprint(retryAfter))
		rec.RetryAfterSeconds = retryAfter
	case faultUnavailable, faultOutage, faultTokenDown:
		status = http.StatusServiceUnavailable
	case faultBadGateway:
		status = http.StatusBadGateway
	case faultTimeout:
		status = http.StatusGatewayTimeout
	default:
		return false
	}
	rec.Fault = fault
	e.reply(w, rec, status, map[string]string{"error": http.StatusText(status)})
	return true
}

// handleFaults serves GET and PUT /emulator/faults.
func (e *Emulator) handleFaults(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, e.Faults())
	case http.MethodPut:
		var f Faults
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid faults JSON: " + err.Error()})
			return
		}
		if err := e.SetFaults(f); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, e.Faults())
	default:
		w.Header().Set("Allow", "GET, PUT")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}
