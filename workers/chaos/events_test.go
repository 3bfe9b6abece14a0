//go:build unix

package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/workers/runtime"
)

// record is one event of the events stream, as the checks need it.
type record struct {
	seq     uint64
	id      string
	typ     string
	subject string
	status  *statusData
	ret     *returnData
}

// statusData is what invoice.status and declaration.status have in common.
type statusData struct {
	SubmitID string `json:"submitId"`
	Account  string `json:"account"`
	State    string `json:"state"`
	Final    bool   `json:"final"`
	Sequence int    `json:"sequence"`
	IDFlux   string `json:"idflux"`
}

// returnData is the part of a declaration.return the checks read.
type returnData struct {
	Account  string `json:"account"`
	IDFlux   string `json:"idflux"`
	SubmitID string `json:"submitId"`
	Nature   string `json:"nature"`
	OPS      string `json:"ops"`
	Statut   string `json:"statut"`
	Version  int    `json:"version"`
	// Publication is PASRAU's publication time (RFC 3339), empty while EN_COURS.
	Publication string `json:"publication"`
}

// decodeRecord reads one message of the events stream.
func decodeRecord(ctx context.Context, m jetstream.Msg) (record, error) {
	meta, err := m.Metadata()
	if err != nil {
		return record{}, err
	}
	e, _, err := events.Decode(ctx, m.Headers(), m.Data())
	if err != nil {
		return record{seq: meta.Sequence.Stream}, fmt.Errorf("event #%d on %s: %w", meta.Sequence.Stream, m.Subject(), err)
	}
	r := record{seq: meta.Sequence.Stream, id: e.ID(), typ: e.Type(), subject: m.Subject()}
	switch e.Type() {
	case events.TypeInvoiceStatus, events.TypeDeclarationStatus:
		r.status = &statusData{}
		err = json.Unmarshal(e.Data(), r.status)
	case events.TypeDeclarationReturn:
		r.ret = &returnData{}
		err = json.Unmarshal(e.Data(), r.ret)
	}
	if err != nil {
		return r, fmt.Errorf("event %s (%s): %w", r.id, r.typ, err)
	}
	return r, nil
}

// collector follows the events stream while a scenario runs (an ordered
// consumer from its start), so that the harness knows when every submission is
// final and every return published.
type collector struct {
	mu      sync.Mutex
	records []record
	finals  map[string]int
	lastAt  time.Time
	errs    []error
}

// collect starts following the events stream until the test ends.
func collect(t testing.TB, js jetstream.JetStream) *collector {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c := &collector{finals: map[string]int{}}
	cons, err := js.OrderedConsumer(ctx, runtime.StreamEvents, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		r, err := decodeRecord(ctx, m)
		c.mu.Lock()
		defer c.mu.Unlock()
		c.lastAt = time.Now()
		if err != nil {
			c.errs = append(c.errs, err)
			return
		}
		c.records = append(c.records, r)
		if r.status != nil && r.status.Final {
			c.finals[r.status.SubmitID]++
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cc.Stop)
	return c
}

// notFinal returns the submissions that have no final status yet.
func (c *collector) notFinal(subs []*submission) []*submission {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*submission
	for _, s := range subs {
		if c.finals[s.id] == 0 {
			out = append(out, s)
		}
	}
	return out
}

// snapshot returns the events received so far and when the last one came.
func (c *collector) snapshot() ([]record, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]record(nil), c.records...), c.lastAt
}

// readStream reads every message of a stream, from its first to the last one
// stored when the read starts, with an ordered consumer.
func readStream(ctx context.Context, js jetstream.JetStream, name string) ([]jetstream.Msg, error) {
	s, err := js.Stream(ctx, name)
	if err != nil {
		return nil, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, err
	}
	if info.State.Msgs == 0 {
		return nil, nil
	}
	cons, err := js.OrderedConsumer(ctx, name, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, err
	}
	it, err := cons.Messages()
	if err != nil {
		return nil, err
	}
	defer it.Stop()
	var out []jetstream.Msg
	for {
		m, err := it.Next(jetstream.NextMaxWait(30 * time.Second))
		if err != nil {
			return out, fmt.Errorf("read %s after %d messages (last sequence %d): %w", name, len(out), info.State.LastSeq, err)
		}
		meta, err := m.Metadata()
		if err != nil {
			return out, err
		}
		out = append(out, m)
		if meta.Sequence.Stream >= info.State.LastSeq {
			return out, nil
		}
	}
}

// readEvents reads and decodes the whole events stream.
func readEvents(ctx context.Context, js jetstream.JetStream) ([]record, []error, error) {
	msgs, err := readStream(ctx, js, runtime.StreamEvents)
	if err != nil {
		return nil, nil, err
	}
	var recs []record
	var bad []error
	for _, m := range msgs {
		r, err := decodeRecord(ctx, m)
		if err != nil {
			bad = append(bad, err)
			continue
		}
		recs = append(recs, r)
	}
	return recs, bad, nil
}

// history returns a submission's status events as "#sequence state", in stream order.
func history(recs []record, id string) string {
	var parts []string
	for _, r := range recs {
		if r.status != nil && r.status.SubmitID == id {
			p := fmt.Sprintf("#%d %s", r.status.Sequence, r.status.State)
			if r.status.Final {
				p += " (final)"
			}
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return "no status event"
	}
	return strings.Join(parts, ", ")
}
