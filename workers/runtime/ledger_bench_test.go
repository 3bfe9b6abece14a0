package runtime_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/passerelle-dev/passerelle/workers/embedded/natstest"
	"github.com/passerelle-dev/passerelle/workers/runtime"
)

// benchRecord is the size and shape of an invoice's ledger record.
type benchRecord struct {
	SubmitID              string    `json:"submitId"`
	Account               string    `json:"account"`
	Number                string    `json:"number"`
	Mode                  string    `json:"mode"`
	Hash                  string    `json:"hash"`
	Step                  string    `json:"step"`
	MayHaveDeposited      bool      `json:"mayHaveDeposited,omitempty"`
	IdentifiantFactureCPP int64     `json:"identifiantFactureCPP,omitempty"`
	State                 string    `json:"state"`
	Seq                   int       `json:"seq"`
	TraceParent           string    `json:"traceparent,omitempty"`
	CreatedAt             time.Time `json:"createdAt"`
	UpdatedAt             time.Time `json:"updatedAt"`
}

// benchSetup starts a JetStream server with passerelle's topology and returns
// its ledger and an invoice's record.
func benchSetup(b *testing.B) (jetstream.JetStream, *runtime.Ledger, benchRecord) {
	b.Helper()
	_, _, js := natstest.Run(b)
	assets, err := runtime.Setup(context.Background(), js, runtime.DefaultTopology())
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	return js, runtime.NewLedger(assets.Ledger, nil), benchRecord{SubmitID: "6b4f3a2e-8d1c-4f5e-9a7b-2c3d4e5f6a7b", Account: "demo", Mode: "structured",
		Hash: "3f79bb7b435b05321651daefd374cdc681dc06faa65e374e38337b88ca046dea", Step: "received", State: "received", Seq: 1,
		TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", CreatedAt: now, UpdatedAt: now}
}

// BenchmarkLedger measures the ledger's operations on a file bucket of an embedded
// server, one at a time: each is a round trip to JetStream.
func BenchmarkLedger(b *testing.B) {
	_, l, rec := benchSetup(b)
	ctx := context.Background()

	i := 0 // outside the sub-benchmark, which -count runs again on the same bucket
	b.Run("Create", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			i++
			rec.Number = "C-" + strconv.Itoa(i)
			if _, err := l.Create(ctx, runtime.Key("invoice", "26300001", rec.Number), &rec); err != nil {
				b.Fatal(err)
			}
		}
	})
	key := runtime.Key("invoice", "26300001", "U-1")
	rev, err := l.Create(ctx, key, &rec)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Update", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rec.Seq++
			if rev, err = l.Update(ctx, key, &rec, rev); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Get", func(b *testing.B) {
		b.ReportAllocs()
		var got benchRecord
		for b.Loop() {
			if _, err := l.Get(ctx, key, &got); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSchedulerAt plans follow-ups, one at a time, in the follow-up stream.
func BenchmarkSchedulerAt(b *testing.B) {
	_, _, js := natstest.Run(b)
	ctx := context.Background()
	if _, err := runtime.Setup(ctx, js, runtime.DefaultTopology()); err != nil {
		b.Fatal(err)
	}
	s := runtime.NewScheduler(js)
	at := time.Now().Add(24 * time.Hour)
	body := []byte(`{"publishedThrough":2}`)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if err := s.At(ctx, "invoice", runtime.Key("invoice", "26300001", "S-"+strconv.Itoa(i)), at, nil, body); err != nil {
			b.Fatal(err)
		}
	}
}
