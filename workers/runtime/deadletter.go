package runtime

import (
	"context"
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
	headerOriginalPrefix = "Passerelle-Original-"
)

// DeadLetterPrefix prefixes the subject of every dead letter: the original subject follows.
const DeadLetterPrefix = "passerelle.deadletter."

// DeadLetters writes messages the runtime gives up on to the dead-letter stream, with
// their reason, so that nothing is lost and an operator can inspect and replay them.
type DeadLetters struct {
	js      jetstream.JetStream
	counted func(ctx context.Context, stream, kind string)
}

// NewDeadLetters returns a writer to the dead-letter stream through js. counted,
// when not nil, is called for each message dead-lettered.
func NewDeadLetters(js jetstream.JetStream, counted func(ctx context.Context, stream, kind string)) *DeadLetters {
	return &DeadLetters{js: js, counted: counted}
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
	if err != nil {
		return 0, fmt.Errorf("runtime: dead-letter %s #%d: %w", d.Stream, d.StreamSeq, err)
	}
	if dl.counted != nil && !ack.Duplicate {
		dl.counted(ctx, d.Stream, string(kind))
	}
	return ack.Sequence, nil
}

// OriginalHeader returns the headers of a dead letter as they were on the original
// message: without the Passerelle-Dead-* headers and with the Nats-* headers restored.
func OriginalHeader(h nats.Header) nats.Header {
	out := nats.Header{}
	for k, vs := range h {
		switch {
		case strings.HasPrefix(k, "Passerelle-Dead-"):
			continue
		case strings.HasPrefix(k, headerOriginalPrefix):
			k = strings.TrimPrefix(k, headerOriginalPrefix)
		}
		out[k] = append([]string(nil), vs...)
	}
	return out
}
