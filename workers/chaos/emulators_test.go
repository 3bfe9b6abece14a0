//go:build unix

package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/passerelle-dev/passerelle/workers/choruspro/chorusprotest"
	"github.com/passerelle-dev/passerelle/workers/pasrau/pasrautest"
)

// emulators are the two administration emulators, each a `passerelle emulate`
// process, and the harness's copy of their request logs.
type emulators struct {
	chorusPro, pasrau   *proc
	chorusAddr, pasAddr string
	chorusLog           *requestLog[chorusprotest.RequestRecord]
	pasrauLog           *requestLog[pasrautest.Request]
}

// startEmulators starts both emulators on free ports, one lifecycle step every
// 200 ms (PASRAU announcing and enforcing a one-second polling interval), and
// starts copying their request logs. With slow, 30% of the calls are answered
// after 1.5 s, so that a stopped worker has calls in flight; latency is every
// business call's answer time.
func startEmulators(t testing.TB, bin, dir, logDir string, ps *ports, slow bool, latency time.Duration) *emulators {
	t.Helper()
	e := &emulators{
		chorusAddr: fmt.Sprintf("127.0.0.1:%d", ps.next(t)),
		pasAddr:    fmt.Sprintf("127.0.0.1:%d", ps.next(t)),
	}
	chorusArgs := []string{"emulate", "choruspro", "--listen", e.chorusAddr, "--step", "200ms"}
	pasrauArgs := []string{"emulate", "pasrau", "--listen", e.pasAddr, "--step", "200ms", "--min-interval", "1s"}
	if latency > 0 {
		chorusArgs = append(chorusArgs, "--latency", latency.String())
		pasrauArgs = append(pasrauArgs, "--latency", latency.String())
	}
	if slow {
		chorusFaults, pasrauFaults := filepath.Join(dir, "faults-choruspro.json"), filepath.Join(dir, "faults-pasrau.json")
		for path, faults := range map[string]string{
			chorusFaults: `{"seed": 1, "slowProbability": 0.3, "slowDelayMillis": 1500}`,
			pasrauFaults: `{"seed": 1, "slow_probability": 0.3, "slow_delay_ms": 1500}`,
		} {
			if err := os.WriteFile(path, []byte(faults), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		chorusArgs = append(chorusArgs, "--faults", chorusFaults)
		pasrauArgs = append(pasrauArgs, "--faults", pasrauFaults)
	}
	e.chorusPro = startProc(t, "Chorus Pro emulator", filepath.Join(logDir, "emulator-choruspro.log"), baseEnv(), bin, chorusArgs...)
	e.pasrau = startProc(t, "PASRAU emulator", filepath.Join(logDir, "emulator-pasrau.log"), baseEnv(), bin, pasrauArgs...)
	e.chorusLog = &requestLog[chorusprotest.RequestRecord]{
		url: "http://" + e.chorusAddr + "/emulator/requests",
		decode: func(b []byte) ([]chorusprotest.RequestRecord, error) {
			var body struct {
				Requests []chorusprotest.RequestRecord `json:"requests"`
			}
			err := json.Unmarshal(b, &body)
			return body.Requests, err
		},
		seq:     func(r chorusprotest.RequestRecord) uint64 { return r.Seq },
		at:      func(r chorusprotest.RequestRecord) time.Time { return r.Time },
		deposit: func(r chorusprotest.RequestRecord) bool { return chorusDepositOps[r.Operation] },
		poll:    func(r chorusprotest.RequestRecord) bool { return chorusPollOps[r.Operation] },
	}
	e.pasrauLog = &requestLog[pasrautest.Request]{
		url: "http://" + e.pasAddr + "/emulator/requests",
		decode: func(b []byte) ([]pasrautest.Request, error) {
			var rs []pasrautest.Request
			err := json.Unmarshal(b, &rs)
			return rs, err
		},
		seq:     func(r pasrautest.Request) uint64 { return r.Seq },
		at:      func(r pasrautest.Request) time.Time { return time.Unix(0, r.TimeNS) },
		deposit: func(r pasrautest.Request) bool { return r.Op == "deposit" },
		poll: func(r pasrautest.Request) bool {
			return r.Op == "list-flux" || r.Op == "list-declarant" || r.Op == "download"
		},
	}
	e.chorusLog.ready(t, e.chorusPro)
	e.pasrauLog.ready(t, e.pasrau)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); e.chorusLog.follow(ctx, 50*time.Millisecond) }()
	go func() { defer wg.Done(); e.pasrauLog.follow(ctx, 50*time.Millisecond) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return e
}

// The Chorus Pro operations that create something, and those that only read.
var (
	chorusDepositOps = map[string]bool{"deposerPDF": true, "soumettre": true, "deposerFlux": true}
	chorusPollOps    = map[string]bool{"consulterCRDetaille": true, "consulterHistorique": true, "rechercherFacturesFournisseur": true}
)

// requestLog is the harness's copy of an emulator's request log, read with
// GET /emulator/requests?since=N while the scenario runs, so that no entry is
// missed when the emulator's bounded log drops its oldest ones.
type requestLog[T any] struct {
	url     string
	decode  func([]byte) ([]T, error)
	seq     func(T) uint64
	at      func(T) time.Time
	deposit func(T) bool
	poll    func(T) bool

	mu          sync.Mutex
	bySeq       map[uint64]T
	through     uint64    // every entry up to this sequence number was read
	gapSince    time.Time // when gapSeq was first noticed missing
	gapSeq      uint64    // the first missing sequence number above through
	skipped     []uint64  // sequence numbers given up on (never logged)
	lastDeposit time.Time
	lastPoll    time.Time
	pollErr     error
}

// ready waits until the emulator answers its request log.
func (l *requestLog[T]) ready(t testing.TB, p *proc) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		if err := l.fetch(); err == nil {
			return
		}
		if !p.alive() {
			t.Fatalf("%s exited: %v\n%s", p.name, p.exitErr, p.tail(20))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not answer %s", p.name, l.url)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// follow reads the new entries every interval until ctx ends.
func (l *requestLog[T]) follow(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			err := l.fetch()
			l.mu.Lock()
			l.pollErr = err
			l.mu.Unlock()
		}
	}
}

// fetch reads the entries above the last sequence number read without a gap.
// Entries are numbered when a call arrives and logged when it ends, so a slow
// call may be logged after later ones: a missing number is waited for, and
// given up on (recorded in skipped, until reread finds it) after 10 seconds.
func (l *requestLog[T]) fetch() error {
	l.mu.Lock()
	since := l.through
	l.mu.Unlock()
	body, err := fetchBody(fmt.Sprintf("%s?since=%d", l.url, since))
	if err != nil {
		return err
	}
	recs, err := l.decode(body)
	if err != nil {
		return fmt.Errorf("%s: %w", l.url, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.bySeq == nil {
		l.bySeq = map[uint64]T{}
	}
	var top uint64
	for _, r := range recs {
		s := l.seq(r)
		l.bySeq[s] = r
		top = max(top, s)
		at := l.at(r)
		if l.deposit(r) && at.After(l.lastDeposit) {
			l.lastDeposit = at
		}
		if l.poll(r) && at.After(l.lastPoll) {
			l.lastPoll = at
		}
	}
	for {
		if _, ok := l.bySeq[l.through+1]; !ok {
			break
		}
		l.through++
	}
	switch {
	case top <= l.through:
		l.gapSince = time.Time{}
	case l.gapSince.IsZero() || l.gapSeq != l.through+1:
		l.gapSince, l.gapSeq = time.Now(), l.through+1
	case time.Since(l.gapSince) > 10*time.Second:
		// The same number missing for 10 s: a call logged late, or never.
		l.skipped = append(l.skipped, l.through+1)
		l.through++
		for {
			if _, ok := l.bySeq[l.through+1]; !ok {
				break
			}
			l.through++
		}
		l.gapSince = time.Time{}
	}
	return nil
}

// reread reads the emulator's whole log once more (what it still holds) and
// adds what the copy missed: entries numbered when a call arrived but logged
// after the copy gave up waiting for them. It returns them, and removes them
// from the gaps.
func (l *requestLog[T]) reread() ([]T, error) {
	body, err := fetchBody(l.url)
	if err != nil {
		return nil, err
	}
	recs, err := l.decode(body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", l.url, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var added []T
	for _, r := range recs {
		s := l.seq(r)
		if _, ok := l.bySeq[s]; !ok {
			l.bySeq[s] = r
			added = append(added, r)
		}
	}
	kept := l.skipped[:0]
	for _, s := range l.skipped {
		if _, ok := l.bySeq[s]; !ok {
			kept = append(kept, s)
		}
	}
	l.skipped = kept
	return added, nil
}

// entries returns every entry read, in sequence order.
func (l *requestLog[T]) entries() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	seqs := make([]uint64, 0, len(l.bySeq))
	for s := range l.bySeq {
		seqs = append(seqs, s)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	out := make([]T, len(seqs))
	for i, s := range seqs {
		out[i] = l.bySeq[s]
	}
	return out
}

// activity returns when the last deposit and the last poll read were received.
func (l *requestLog[T]) activity() (lastDeposit, lastPoll time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastDeposit, l.lastPoll
}

// gaps returns the sequence numbers never logged, and the last read error.
func (l *requestLog[T]) gaps() ([]uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]uint64(nil), l.skipped...), l.pollErr
}

// fetchBody GETs url and returns its body; a status other than 200 is an error.
func fetchBody(url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return b, nil
}
