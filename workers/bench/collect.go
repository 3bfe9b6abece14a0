package bench

import (
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/passerelle-dev/passerelle/events"
)

// Status subjects the collector listens to: passerelle's status events and the
// baseline's raw status messages share them.
var statusSubjects = []string{events.TypeInvoiceStatus + ".>", events.TypeDeclarationStatus + ".>"}

// Final states that count as success.
const (
	finalInvoice     = "MISE_EN_PAIEMENT"
	finalDeclaration = events.StateAccepted
)

// statusData is what the collector reads of a status: passerelle's event data and
// the baseline's raw message have these fields.
type statusData struct {
	SubmitID string `json:"submitId"`
	State    string `json:"state"`
	Final    bool   `json:"final"`
}

// collector times each submission from its publication to its first, accepted
// and final statuses, and opens the window as submissions are accepted.
type collector struct {
	start  time.Time
	kind   Kind
	system System
	mode   Mode
	n      int
	slots  chan struct{}

	mu sync.Mutex
	// Times in nanoseconds since start; 0 until it happens.
	pub, first, accepted, final []int64
	nAccepted, nFinal, nFailed  int
	statuses                    int
	failedState                 string
	stray                       int
	done                        chan struct{}
	last                        int64

	// warm is the number of warm-up submissions, whose indexes come before the
	// measured ones: they are counted apart and not timed.
	warm      int
	warmEnded []bool
	warmLeft  int
	warmDone  chan struct{}
}

func newCollector(sc Scenario) *collector {
	return &collector{
		kind: sc.Kind, system: sc.System, mode: sc.Mode, n: sc.N,
		slots: make(chan struct{}, sc.Window),
		pub:   make([]int64, sc.N), first: make([]int64, sc.N), accepted: make([]int64, sc.N), final: make([]int64, sc.N),
		done: make(chan struct{}),
		warm: sc.Warmup, warmEnded: make([]bool, sc.Warmup), warmLeft: sc.Warmup, warmDone: make(chan struct{}),
	}
}

// accepted tells whether s accepts a submission: the administration took it, or it
// ended.
func accepted(s statusData) bool {
	return s.State == events.StateSubmitted || s.State == events.StateDeposited || s.Final
}

// ends tells whether s is what the scenario waits for: the final status for
// passerelle followed to the end, the accepted one otherwise.
func (c *collector) ends(s statusData) bool {
	if c.system == SystemPasserelle && c.mode == ModeFinal {
		return s.Final
	}
	return accepted(s)
}

// warmedUp records a status of warm-up submission i; c.mu is held.
func (c *collector) warmedUp(i int, s statusData) {
	if c.warmEnded[i] || !c.ends(s) {
		return
	}
	c.warmEnded[i] = true
	if c.warmLeft--; c.warmLeft == 0 {
		close(c.warmDone)
	}
}

// warmUpCount returns how many warm-up submissions ended.
func (c *collector) warmUpCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.warm - c.warmLeft
}

// published records that submission i was published now.
func (c *collector) published(i int) {
	c.mu.Lock()
	c.pub[i] = max(time.Since(c.start).Nanoseconds(), 1)
	c.mu.Unlock()
}

// begin starts the clock.
func (c *collector) begin(t time.Time) {
	c.mu.Lock()
	c.start = t
	c.mu.Unlock()
}

// receive handles one status message.
func (c *collector) receive(m *nats.Msg) {
	var s statusData
	if err := json.Unmarshal(m.Data, &s); err != nil {
		c.mu.Lock()
		c.stray++
		c.mu.Unlock()
		return
	}
	i := indexOf(s.SubmitID) - c.warm
	c.mu.Lock()
	defer c.mu.Unlock()
	if i < 0 && i >= -c.warm {
		c.warmedUp(i+c.warm, s)
		return
	}
	now := max(time.Since(c.start).Nanoseconds(), 1)
	if i < 0 || i >= c.n {
		c.stray++
		return
	}
	c.statuses++
	if c.first[i] == 0 {
		c.first[i] = now
	}
	if c.accepted[i] == 0 && accepted(s) {
		c.accepted[i] = now
		c.nAccepted++
		<-c.slots
	}
	if s.Final && c.final[i] == 0 {
		c.final[i] = now
		c.nFinal++
		if c.system == SystemPasserelle && s.State != finalInvoice && s.State != finalDeclaration {
			c.nFailed++
			c.failedState = s.State
		}
	}
	target := c.nAccepted
	if c.system == SystemPasserelle && c.mode == ModeFinal {
		target = c.nFinal
	}
	if target == c.n && c.last == 0 {
		c.last = now
		close(c.done)
	}
}

// counts returns how many submissions were accepted and ended so far.
func (c *collector) counts() (accepted, final int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nAccepted, c.nFinal
}

// Latencies are percentiles of a latency, in milliseconds.
type Latencies struct {
	P50 float64 `json:"p50Ms"`
	P90 float64 `json:"p90Ms"`
	P99 float64 `json:"p99Ms"`
}

// latencies returns the percentiles of to[i]-pub[i] over the submissions that
// reached to.
func (c *collector) latencies(to []int64) Latencies {
	c.mu.Lock()
	ds := make([]int64, 0, len(to))
	for i, t := range to {
		if t > 0 && c.pub[i] > 0 {
			ds = append(ds, t-c.pub[i])
		}
	}
	c.mu.Unlock()
	if len(ds) == 0 {
		return Latencies{}
	}
	return percentiles(ds)
}

// percentiles returns the 50th, 90th and 99th percentiles of ds (nanoseconds,
// sorted in place) in milliseconds.
func percentiles[D ~int64](ds []D) Latencies {
	if len(ds) == 0 {
		return Latencies{}
	}
	slices.Sort(ds)
	at := func(p float64) float64 {
		k := int(p*float64(len(ds))+0.5) - 1
		k = min(max(k, 0), len(ds)-1)
		return float64(ds[k]) / 1e6
	}
	return Latencies{P50: at(0.50), P90: at(0.90), P99: at(0.99)}
}

// steady returns the rate of the middle 80 % of the events timed in ts: from the
// 10th to the 90th percentile of their times (0 with fewer than ten).
func (c *collector) steady(ts []int64) float64 {
	c.mu.Lock()
	done := make([]int64, 0, len(ts))
	for _, t := range ts {
		if t > 0 {
			done = append(done, t)
		}
	}
	c.mu.Unlock()
	if len(done) < 10 {
		return 0
	}
	slices.Sort(done)
	lo, hi := len(done)/10, len(done)*9/10
	if span := done[hi] - done[lo]; span > 0 {
		return float64(hi-lo) / (float64(span) / 1e9)
	}
	return 0
}

// lastOf returns the latest time in ts, in seconds since start.
func (c *collector) lastOf(ts []int64) float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return float64(slices.Max(ts)) / 1e9
}
