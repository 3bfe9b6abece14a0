package intake_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/schemas"
	"github.com/passerelle-dev/passerelle/workers/intake"
	"github.com/passerelle-dev/passerelle/workers/runtime"
)

// BenchmarkDecodeAndCheck is what every submit event costs before a flow looks at
// it: the CloudEvents decode of a 2 KB binary-mode invoice.submit (testdata/bench),
// its schema validation and the reading of its data.
func BenchmarkDecodeAndCheck(b *testing.B) {
	v, err := schemas.New()
	if err != nil {
		b.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "bench", "invoice.submit-2k.json"))
	if err != nil {
		b.Fatal(err)
	}
	e := event.New(events.SpecVersion)
	e.SetID("6b4f3a2e-8d1c-4f5e-9a7b-2c3d4e5f6a7b")
	e.SetType(events.TypeInvoiceSubmit)
	e.SetSource("urn:passerelle:bench")
	e.SetExtension(events.TraceParent, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	if err := e.SetData(events.ContentTypeJSON, data); err != nil {
		b.Fatal(err)
	}
	msg, err := events.Encode(events.TypeInvoiceSubmit, &e)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.SetBytes(int64(len(msg.Data)))
	b.ReportAllocs()
	for b.Loop() {
		d := &runtime.Delivery{Subject: events.TypeInvoiceSubmit, Header: msg.Header, Data: msg.Data}
		var sub events.InvoiceSubmit
		if err := intake.Decode(ctx, d).Check(ctx, events.TypeInvoiceSubmit, v, &sub); err != nil {
			b.Fatal(err)
		}
	}
}
