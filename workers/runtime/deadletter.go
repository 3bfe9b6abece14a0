package runtime

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Headers added to a dead-lettered message; the original headers are kept, except
// the Nats-* headers that steer JetStream, which are renamed with the
// Passerelle-Original- prefix.
const (
	HeaderDeadReason     = "Passerelle-Dead-Reason"
	HeaderDeadKind       = "Passerelle-Dead-Kind"
	HeaderDeadStream     = "Passerelle-Dead-Stream"
	HeaderDeadSequence   = "Passerelle-Dead-Sequence"
	HeaderDeadSubject    = "Passerelle-Dead-Subject"
	HeaderDeadConsumer   = "Passerelle-Dead-Consumer"
	HeaderDeadDeliveries = "Passerelle-Dead-Deliveries"
	HeaderDeadTime       = "Passerelle-Dead-Time"
	// HeaderDeadBody names the object holding the original body in the documents
	// bucket, for a message too large to be copied with the dead letter's headers.
	HeaderDeadBody       = "Passerelle-Dead-Body"
	headerOriginalPrefix = "Passerelle-Original-"
)

// DeadLetterPrefix prefixes the subject of every dead letter: the original subject follows.
const DeadLetterPrefix = "passerelle.deadletter."

// DeadLetters writes messages the runtime gives up on to the dead-letter stream, with
// their reason, so that nothing is lost and an operator can inspect and replay them.
type DeadLetters struct {
	js      jetstream.JetStream
	bodies  jetstream.ObjectStore
	counted func(ctx context.Context, stream, kind string)
}

// NewDeadLetters returns a writer to the dead-letter stream through js. bodies (the
// documents bucket) keeps the body of a message too large to be copied with the
// dead letter's headers (a message near the server's maximum payload). counted,
// when not nil, is called for each message dead-lettered.
func NewDeadLetters(js jetstream.JetStream, bodies jetstream.ObjectStore, counted func(ctx context.Context, stream, kind string)) *DeadLetters {
	return &DeadLetters{js: js, bodies: bodies, counted: counted}
}

// bodyObject is the name of the object that keeps a dead letter's body.
func bodyObject(stream string, seq uint64) string {
	return fmt.Sprintf("deadletters/%s/%d", stream, seq)
}

// Put copies d to the dead-letter stream with the reason err, and returns the copy's
// sequence. The copy's Nats-Msg-Id is derived from the original's stream and sequence,
// so putting the same message twice stores it once within the duplicates window.
func (dl *DeadLetters) Put(ctx context.Context, d *Delivery, kind EndKind, reason error) (uint64, error) {
	msg := &nats.Msg{Subject: DeadLetterPrefix + d.Subject, Data: d.Data, Header: nats.Header{}}
	for k, vs := range d.Header {
		if strings.HasPrefix(strings.ToLower(k), "nats-") {
			k = headerOriginalPrefix + k
		}
		msg.Header[k] = append([]string(nil), vs...)
	}
	msg.Header.Set(HeaderDeadReason, headerSafe(reason.Error(), 4000))
	msg.Header.Set(HeaderDeadKind, string(kind))
	msg.Header.Set(HeaderDeadStream, d.Stream)
	msg.Header.Set(HeaderDeadSequence, strconv.FormatUint(d.StreamSeq, 10))
	msg.Header.Set(HeaderDeadSubject, d.Subject)
	msg.Header.Set(HeaderDeadConsumer, d.Consumer)
	msg.Header.Set(HeaderDeadDeliveries, strconv.FormatUint(d.Delivered, 10))
	msg.Header.Set(HeaderDeadTime, time.Now().UTC().Format(time.RFC3339Nano))
	id := fmt.Sprintf("dead-%s-%d", d.Stream, d.StreamSeq)
	ack, err := dl.js.PublishMsg(ctx, msg, jetstream.WithMsgID(id))
	if errors.Is(err, nats.ErrMaxPayload) && dl.bodies != nil {
		// The body with the dead letter's headers is over the server's maximum
		// payload: the body goes to the documents bucket, the dead letter names it.
		name := bodyObject(d.Stream, d.StreamSeq)
		if _, perr := dl.bodies.PutBytes(ctx, name, d.Data); perr != nil {
			return 0, fmt.Errorf("runtime: dead-letter %s #%d: keep its body: %w", d.Stream, d.StreamSeq, perr)
		}
		msg.Data = nil
		msg.Header.Set(HeaderDeadBody, name)
		ack, err = dl.js.PublishMsg(ctx, msg, jetstream.WithMsgID(id))
	}
	if err != nil {
		return 0, fmt.Errorf("runtime: dead-letter %s #%d: %w", d.Stream, d.StreamSeq, err)
	}
	if dl.counted != nil && !ack.Duplicate {
		dl.counted(ctx, d.Stream, string(kind))
	}
	return ack.Sequence, nil
}

// OriginalHeader returns the headers of a dead letter as they were on the original
// message: without the Passerelle-Dead-* headers nor the dead letter's own Nats-*
// headers, and with the original's Nats-* headers restored.
func OriginalHeader(h nats.Header) nats.Header {
	out := nats.Header{}
	for k, vs := range h {
		switch {
		case strings.HasPrefix(k, "Passerelle-Dead-"), strings.HasPrefix(strings.ToLower(k), "nats-"):
			continue
		case strings.HasPrefix(k, headerOriginalPrefix):
			k = strings.TrimPrefix(k, headerOriginalPrefix)
		}
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// HeaderReplay marks a message re-injected from the dead-letter stream: its value
// is the dead letter's sequence. Flows let a replayed submission that had failed
// start again.
const HeaderReplay = "Passerelle-Replay"

// DeadLetter is a message in the dead-letter stream.
type DeadLetter struct {
	Seq uint64
	// Subject is where the original message was published.
	Subject    string
	Kind       string
	Reason     string
	Stream     string
	StreamSeq  string
	Consumer   string
	Deliveries string
	Time       time.Time
	// Header and Data are the original message's.
	Header nats.Header
	Data   []byte
	// BodyObject names the object in the documents bucket holding Data, for a
	// message too large to be copied whole into the dead-letter stream.
	BodyObject string
}

func (dl *DeadLetters) deadLetterOf(ctx context.Context, m *jetstream.RawStreamMsg) (*DeadLetter, error) {
	t, _ := time.Parse(time.RFC3339Nano, m.Header.Get(HeaderDeadTime))
	if t.IsZero() {
		t = m.Time
	}
	d := &DeadLetter{
		Seq: m.Sequence, Subject: m.Header.Get(HeaderDeadSubject), Kind: m.Header.Get(HeaderDeadKind),
		Reason: m.Header.Get(HeaderDeadReason), Stream: m.Header.Get(HeaderDeadStream), StreamSeq: m.Header.Get(HeaderDeadSequence),
		Consumer: m.Header.Get(HeaderDeadConsumer), Deliveries: m.Header.Get(HeaderDeadDeliveries), Time: t,
		Header: OriginalHeader(m.Header), Data: m.Data,
	}
	if name := m.Header.Get(HeaderDeadBody); name != "" {
		if dl.bodies == nil {
			return nil, fmt.Errorf("runtime: dead letter %d: its body is in object %s, and no bucket was given", m.Sequence, name)
		}
		body, err := dl.bodies.GetBytes(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("runtime: dead letter %d: its body, object %s: %w", m.Sequence, name, err)
		}
		d.Data, d.BodyObject = body, name
	}
	return d, nil
}

// List returns the dead letters, oldest first.
func (dl *DeadLetters) List(ctx context.Context) ([]*DeadLetter, error) {
	s, err := dl.js.Stream(ctx, StreamDeadLetter)
	if err != nil {
		return nil, fmt.Errorf("runtime: dead-letter stream: %w", err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("runtime: dead-letter stream: %w", err)
	}
	var out []*DeadLetter
	if info.State.Msgs == 0 {
		return out, nil
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // deleted
		}
		if err != nil {
			return nil, fmt.Errorf("runtime: dead letter %d: %w", seq, err)
		}
		d, err := dl.deadLetterOf(ctx, m)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// ErrNoDeadLetter is returned for a sequence that holds no dead letter.
var ErrNoDeadLetter = errors.New("no such dead letter")

// Get returns the dead letter at seq, or ErrNoDeadLetter.
func (dl *DeadLetters) Get(ctx context.Context, seq uint64) (*DeadLetter, error) {
	s, err := dl.js.Stream(ctx, StreamDeadLetter)
	if err != nil {
		return nil, fmt.Errorf("runtime: dead-letter stream: %w", err)
	}
	m, err := s.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, fmt.Errorf("dead letter %d: %w", seq, ErrNoDeadLetter)
	}
	if err != nil {
		return nil, fmt.Errorf("runtime: dead letter %d: %w", seq, err)
	}
	return dl.deadLetterOf(ctx, m)
}

// Replay re-injects the dead letter at seq: its original message is published
// again on its original subject, with its original headers, marked with
// HeaderReplay and a deduplication id of its own (replaying twice within the
// duplicates window publishes once); then the dead letter is deleted unless keep.
// The flows' ledger keeps replays exactly-once in their effects.
func (dl *DeadLetters) Replay(ctx context.Context, seq uint64, keep bool) error {
	d, err := dl.Get(ctx, seq)
	if err != nil {
		return err
	}
	msg := &nats.Msg{Subject: d.Subject, Header: nats.Header{}, Data: d.Data}
	for k, vs := range d.Header {
		if strings.HasPrefix(strings.ToLower(k), "nats-") {
			continue // JetStream's own headers (the original dedup id) do not apply to the replay
		}
		msg.Header[k] = vs
	}
	msg.Header.Set(HeaderReplay, strconv.FormatUint(seq, 10))
	if _, err := dl.js.PublishMsg(ctx, msg, jetstream.WithMsgID(fmt.Sprintf("replay-%d", seq))); err != nil {
		return fmt.Errorf("runtime: replay dead letter %d on %s: %w", seq, d.Subject, err)
	}
	if keep {
		return nil
	}
	return dl.Purge(ctx, seq)
}

// Purge deletes the dead letter at seq (and the object keeping its body, if any),
// or returns ErrNoDeadLetter.
func (dl *DeadLetters) Purge(ctx context.Context, seq uint64) error {
	d, err := dl.Get(ctx, seq)
	if err != nil {
		return err
	}
	s, err := dl.js.Stream(ctx, StreamDeadLetter)
	if err != nil {
		return fmt.Errorf("runtime: dead-letter stream: %w", err)
	}
	if err := s.DeleteMsg(ctx, seq); err != nil {
		return fmt.Errorf("runtime: delete dead letter %d: %w", seq, err)
	}
	if d.BodyObject != "" {
		if err := dl.bodies.Delete(ctx, d.BodyObject); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return fmt.Errorf("runtime: dead letter %d deleted, its body %s not: %w", seq, d.BodyObject, err)
		}
	}
	return nil
}
