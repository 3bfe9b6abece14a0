package pasrautest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"
)

// Faults are the failures the emulator injects. They are set by
// Config.Faults, SetFaults, or PUT /emulator/faults with this JSON:
//
//	{"seed": 1, "ops": ["deposit"], "rate_limit_probability": 0.1,
//	 "retry_after_seconds": 2, "unavailable_probability": 0.05,
//	 "slow_probability": 0.2, "slow_delay_ms": 300, "drop_probability": 0.01,
//	 "auth_down": false, "token_expires_after_calls": 5}
//
// Probabilities are drawn from an RNG seeded with Seed (reseeded at each
// SetFaults), so a sequence of calls meets the same faults every run. On a
// business call the emulator applies, in order: slow (delay, then go on),
// unavailable (503, nothing processed), rate limit (429 with Retry-After,
// nothing processed), then processes the call, then drop (the connection is
// closed without an answer after the call was processed: a deposit IS
// registered, the client cannot know it).
type Faults struct {
	Seed uint64 `json:"seed"`
	// Ops limits the random faults to these operations ("deposit",
	// "list-flux", "list-declarant", "download"); empty means all four.
	Ops []string `json:"ops,omitempty"`
	// RateLimitProbability answers 429 with Retry-After.
	RateLimitProbability float64 `json:"rate_limit_probability,omitempty"`
	// RetryAfterSeconds is the Retry-After of injected 429 and 503; default 1.
	RetryAfterSeconds int `json:"retry_after_seconds,omitempty"`
	// UnavailableProbability answers 503.
	UnavailableProbability float64 `json:"unavailable_probability,omitempty"`
	// SlowProbability delays the answer by SlowDelayMS milliseconds.
	SlowProbability float64 `json:"slow_probability,omitempty"`
	SlowDelayMS     int     `json:"slow_delay_ms,omitempty"`
	// DropProbability closes the connection after the call was processed.
	DropProbability float64 `json:"drop_probability,omitempty"`
	// AuthDown answers 503 on the authentication service.
	AuthDown bool `json:"auth_down,omitempty"`
	// TokenExpiresAfterCalls makes a token expire after that many business
	// calls (the next one gets 401 "Expiration du jeton"); 0 means never.
	TokenExpiresAfterCalls int `json:"token_expires_after_calls,omitempty"`
}

// The names of injected faults in the request log.
const (
	FaultRateLimit    = "rate-limit"
	FaultUnavailable  = "unavailable"
	FaultSlow         = "slow"
	FaultDrop         = "drop"
	FaultAuthDown     = "auth-down"
	FaultTokenExpired = "token-expired"
)

// check refuses probabilities outside [0, 1] and negative numbers.
func (f Faults) check() error {
	for _, p := range []float64{f.RateLimitProbability, f.UnavailableProbability, f.SlowProbability, f.DropProbability} {
		if p < 0 || p > 1 {
			return errors.New("fault probabilities are between 0 and 1")
		}
	}
	if f.RetryAfterSeconds < 0 || f.SlowDelayMS < 0 || f.TokenExpiresAfterCalls < 0 {
		return errors.New("fault durations and counts must not be negative")
	}
	for _, op := range f.Ops {
		switch op {
		case opDeposit, opListFlux, opListDeclarant, opDownload:
		default:
			return fmt.Errorf("unknown operation %q in ops", op)
		}
	}
	return nil
}

// retryAfter returns the Retry-After of injected faults.
func (f Faults) retryAfter() time.Duration {
	if f.RetryAfterSeconds == 0 {
		return time.Second
	}
	return time.Duration(f.RetryAfterSeconds) * time.Second
}

// SetFaults replaces the injected faults and reseeds their RNG. It returns an
// error for probabilities outside [0, 1], negative values or unknown ops.
func (e *Emulator) SetFaults(f Faults) error {
	if err := f.check(); err != nil {
		return fmt.Errorf("pasrautest: set faults: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = f
	e.faultRNG = rand.New(rand.NewPCG(f.Seed, f.Seed^0x9e3779b97f4a7c15))
	return nil
}

// Faults returns the faults in force.
func (e *Emulator) Faults() Faults {
	e.mu.Lock()
	defer e.mu.Unlock()
	f := e.faults
	f.Ops = slices.Clone(f.Ops)
	return f
}

// drawn are the random faults drawn for one business call.
type drawn struct {
	slow        time.Duration
	unavailable bool
	rateLimit   bool
	drop        bool
	retryAfter  time.Duration
}

// draw decides the random faults of one call of op. The caller holds e.mu.
func (e *Emulator) draw(op string) drawn {
	f := e.faults
	if len(f.Ops) > 0 && !slices.Contains(f.Ops, op) {
		return drawn{}
	}
	hit := func(p float64) bool { return p > 0 && e.faultRNG.Float64() < p }
	d := drawn{retryAfter: f.retryAfter()}
	if hit(f.SlowProbability) {
		d.slow = time.Duration(f.SlowDelayMS) * time.Millisecond
	}
	d.unavailable = hit(f.UnavailableProbability)
	d.rateLimit = hit(f.RateLimitProbability)
	d.drop = hit(f.DropProbability)
	return d
}

// serveFaults handles GET and PUT /emulator/faults.
func (e *Emulator) serveFaults(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodPut:
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "reading the body: "+err.Error(), http.StatusBadRequest)
			return
		}
		var f Faults
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			http.Error(w, "faults JSON: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := e.SetFaults(f); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	default:
		w.Header().Set("Allow", "GET, PUT")
		http.Error(w, "GET or PUT", http.StatusMethodNotAllowed)
		return
	}
	writeJSON(w, http.StatusOK, e.Faults())
}
