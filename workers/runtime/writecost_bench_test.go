package runtime_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/passerelle-dev/passerelle/workers/bench"
	"github.com/passerelle-dev/passerelle/workers/runtime"
)

// BenchmarkWriteCPU measures the CPU that each kind of JetStream operation of a
// submission costs the process, client and embedded server together, with 200
// operations in flight as under load: cpu-µs/op is the figure (ns/op, the wall
// time shared by 200 goroutines, is not). docs/performance.md reads the floor of
// passerelle's overhead from it.
func BenchmarkWriteCPU(b *testing.B) {
	js, ledger, rec := benchSetup(b)
	ctx := context.Background()
	sched := runtime.NewScheduler(js)
	status := make([]byte, 600) // a status event's data
	var n atomic.Int64          // unique keys across sub-benchmarks and -count
	parallel := func(b *testing.B, op func(i int64) error) {
		b.Helper()
		b.SetParallelism(100) // 200 goroutines on 2 cores
		b.ReportAllocs()
		start := bench.ProcessCPU()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := op(n.Add(1)); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64((bench.ProcessCPU()-start).Microseconds())/float64(b.N), "cpu-µs/op")
	}
	b.Run("Publish", func(b *testing.B) {
		parallel(b, func(i int64) error {
			id := "st-" + strconv.FormatInt(i, 10)
			_, err := js.PublishMsg(ctx, &nats.Msg{Subject: "invoice.status.demo", Data: status, Header: nats.Header{"traceparent": {rec.TraceParent}}},
				jetstream.WithMsgID(id))
			return err
		})
	})
	b.Run("LedgerCreate", func(b *testing.B) {
		parallel(b, func(i int64) error {
			_, err := ledger.Create(ctx, runtime.Key("invoice", "26300001", "C-"+strconv.FormatInt(i, 10)), &rec)
			return err
		})
	})
	b.Run("LedgerUpdate", func(b *testing.B) {
		// The records to update are created first (not measured).
		base := n.Add(int64(b.N))
		revs := make([]uint64, b.N)
		for i := range revs {
			rev, err := ledger.Create(ctx, runtime.Key("invoice", "26300001", "U-"+strconv.FormatInt(base+int64(i), 10)), &rec)
			if err != nil {
				b.Fatal(err)
			}
			revs[i] = rev
		}
		var next atomic.Int64
		b.ResetTimer()
		parallel(b, func(int64) error {
			i := next.Add(1) - 1
			_, err := ledger.Update(ctx, runtime.Key("invoice", "26300001", "U-"+strconv.FormatInt(base+i, 10)), &rec, revs[i])
			return err
		})
	})
	b.Run("SchedulerAt", func(b *testing.B) {
		at := time.Now().Add(24 * time.Hour)
		body := []byte(`{"publishedThrough":2}`)
		parallel(b, func(i int64) error {
			return sched.At(ctx, "invoice", runtime.Key("invoice", "26300001", "S-"+strconv.FormatInt(i, 10)), at, nil, body)
		})
	})
	for _, double := range []bool{false, true} {
		name := "ConsumeAck"
		if double {
			name = "ConsumeDoubleAck"
		}
		b.Run(name, func(b *testing.B) {
			// The messages are published first (not measured), then consumed and
			// acknowledged.
			subject := "invoice.submit"
			cons, err := js.CreateOrUpdateConsumer(ctx, runtime.StreamInvoices, jetstream.ConsumerConfig{
				Durable: "bench-" + strconv.FormatInt(n.Add(1), 10), FilterSubject: subject, AckPolicy: jetstream.AckExplicitPolicy,
				DeliverPolicy: jetstream.DeliverNewPolicy, MaxAckPending: 1000,
			})
			if err != nil {
				b.Fatal(err)
			}
			for range b.N {
				if _, err := js.PublishAsync(subject, status); err != nil {
					b.Fatal(err)
				}
			}
			<-js.PublishAsyncComplete()
			it, err := cons.Messages(jetstream.PullMaxMessages(200))
			if err != nil {
				b.Fatal(err)
			}
			defer it.Stop()
			msgs := make(chan jetstream.Msg, 200)
			go func() {
				for range b.N {
					m, err := it.Next()
					if err != nil {
						close(msgs)
						return
					}
					msgs <- m
				}
				close(msgs)
			}()
			b.ResetTimer()
			parallel(b, func(int64) error {
				m, ok := <-msgs
				if !ok {
					return nil
				}
				if double {
					return m.DoubleAck(ctx)
				}
				return m.Ack()
			})
		})
	}
}
