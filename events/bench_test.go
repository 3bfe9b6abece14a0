package events_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/workers/embedded/natstest"
)

// benchEvent returns the 2 KB invoice.submit event of the benchmarks
// (testdata/bench, the load of passerelle bench), with a trace context.
func benchEvent(tb testing.TB) *event.Event {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "bench", "invoice.submit-2k.json"))
	if err != nil {
		tb.Fatal(err)
	}
	e := event.New(events.SpecVersion)
	e.SetID("6b4f3a2e-8d1c-4f5e-9a7b-2c3d4e5f6a7b")
	e.SetType(events.TypeInvoiceSubmit)
	e.SetSource("urn:passerelle:bench")
	e.SetSubject("F-2026-0001")
	e.SetExtension(events.TraceParent, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	if err := e.SetData(events.ContentTypeJSON, data); err != nil {
		tb.Fatal(err)
	}
	return &e
}

// BenchmarkDecode reads the 2 KB event from a NATS message in each content mode.
func BenchmarkDecode(b *testing.B) {
	e := benchEvent(b)
	binary, err := events.Encode(events.TypeInvoiceSubmit, e)
	if err != nil {
		b.Fatal(err)
	}
	structured, err := events.EncodeStructured(events.TypeInvoiceSubmit, e)
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		msg  *nats.Msg
	}{{"binary", binary}, {"structured", structured}} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			b.SetBytes(int64(len(tc.msg.Data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := events.Decode(ctx, tc.msg.Header, tc.msg.Data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncode writes the 2 KB event as a binary-mode NATS message.
func BenchmarkEncode(b *testing.B) {
	e := benchEvent(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := events.Encode(events.TypeInvoiceSubmit, e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublish publishes status-sized events through the Publisher to a file
// stream of an embedded server, one at a time, each waiting for its ack: the
// round trip every status event of passerelle makes.
func BenchmarkPublish(b *testing.B) {
	_, _, js := natstest.Run(b)
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "BENCH", Subjects: []string{"invoice.status.>"}, Storage: jetstream.FileStorage}); err != nil {
		b.Fatal(err)
	}
	p := events.NewPublisher(js)
	status := events.InvoiceStatus{SubmitID: "6b4f3a2e-8d1c-4f5e-9a7b-2c3d4e5f6a7b", Account: "demo", InvoiceNumber: "F-2026-0001",
		Mode: events.ModeStructured, State: events.StateSubmitted, Sequence: 2, OccurredAt: "2026-11-20T10:00:00Z"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		e, err := events.New(events.TypeInvoiceStatus, "status-"+strconv.Itoa(i), status.InvoiceNumber, status)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.Publish(ctx, "invoice.status.demo", e); err != nil {
			b.Fatal(err)
		}
	}
}
