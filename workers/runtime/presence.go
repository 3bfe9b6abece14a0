package runtime

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Presence announces a replica in the replicas bucket and counts the replicas
// running, so that limits meant for all of them together (an administration's
// quota per account) can be shared out.
type Presence struct {
	kv jetstream.KeyValue
	id string
}

// NewPresence returns the presence of replica id in kv.
func NewPresence(kv jetstream.KeyValue, id string) *Presence { return &Presence{kv: kv, id: id} }

// Run renews the replica's key every third of ReplicaTTL and calls count with the
// number of replicas running (this one included) whenever it may have changed: at
// each renewal, and as soon as a replica joins or leaves cleanly (a crashed one is
// forgotten when its key expires). It removes the key when ctx ends.
func (p *Presence) Run(ctx context.Context, count func(n int)) error {
	t := time.NewTicker(ReplicaTTL / 3)
	defer t.Stop()
	changes := make(<-chan jetstream.KeyValueEntry)
	if w, err := p.kv.WatchAll(ctx, jetstream.UpdatesOnly()); err == nil {
		defer func() { _ = w.Stop() }()
		changes = w.Updates()
	}
	recount := func(renew bool) {
		if renew {
			if _, err := p.kv.PutString(ctx, p.id, time.Now().UTC().Format(time.RFC3339)); err != nil {
				return
			}
		}
		if n, err := p.count(ctx); err == nil {
			count(n)
		}
	}
	recount(true)
	for {
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			_ = p.kv.Purge(dctx, p.id)
			cancel()
			return nil
		case <-t.C:
			recount(true)
		case e, ok := <-changes:
			if !ok {
				changes = nil
				continue
			}
			if e != nil && e.Key() != p.id {
				recount(false)
			}
		}
	}
}

func (p *Presence) count(ctx context.Context) (int, error) {
	lister, err := p.kv.ListKeys(ctx)
	if err != nil {
		return 0, fmt.Errorf("runtime: count replicas: %w", err)
	}
	n := 0
	for range lister.Keys() {
		n++
	}
	return max(n, 1), nil
}
