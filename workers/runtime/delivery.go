package runtime

import (
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Delivery is one delivery of a message to a handler.
type Delivery struct {
	msg jetstream.Msg

	// Subject, Header and Data are the message's.
	Subject string
	Header  nats.Header
	Data    []byte
	// Stream and Consumer name where the message came from.
	Stream   string
	Consumer string
	// StreamSeq is the message's sequence in its stream.
	StreamSeq uint64
	// Delivered counts the deliveries of this message, this one included.
	Delivered uint64
	// Published is when the message was stored in the stream.
	Published time.Time

	// Note is free for the handler to keep what it decoded, so that Answer can use it.
	Note any
}

func newDelivery(msg jetstream.Msg, consumer string) (*Delivery, error) {
	md, err := msg.Metadata()
	if err != nil {
		return nil, err
	}
	return &Delivery{
		msg:       msg,
		Subject:   msg.Subject(),
		Header:    msg.Headers(),
		Data:      msg.Data(),
		Stream:    md.Stream,
		Consumer:  consumer,
		StreamSeq: md.Sequence.Stream,
		Delivered: md.NumDelivered,
		Published: md.Timestamp,
	}, nil
}

// InProgress tells the server that the message is still being worked on, resetting
// its ack timer. The runtime calls it on a timer while a handler runs; handlers may
// call it before a long step.
func (d *Delivery) InProgress() {
	if d.msg != nil {
		_ = d.msg.InProgress()
	}
}
