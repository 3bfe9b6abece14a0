package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	goretry "github.com/sethvargo/go-retry"

	"github.com/passerelle-dev/passerelle/events"
)

// Names of passerelle's JetStream assets.
const (
	StreamInvoices     = "PASSERELLE_INVOICES"
	StreamDeclarations = "PASSERELLE_DECLARATIONS"
	StreamEvents       = "PASSERELLE_EVENTS"
	StreamFollowUps    = "PASSERELLE_FOLLOWUPS"
	StreamDeadLetter   = "PASSERELLE_DEADLETTER"
	BucketLedger       = "passerelle-ledger"
	BucketReplicas     = "passerelle-replicas"
	BucketDocuments    = events.DocumentsBucket
)

// ReplicaTTL is how long a replica's presence lasts without renewal.
const ReplicaTTL = 30 * time.Second

// Topology sizes passerelle's streams and buckets. Every field has a default (see
// DefaultTopology); Setup creates what is missing and updates what differs.
type Topology struct {
	// Replicas is the replica count of every stream and bucket: 1 on a single
	// server, 3 in a cluster.
	Replicas int
	// IntakeMaxAge keeps submit events this long (for audit and replay).
	IntakeMaxAge time.Duration
	// EventsMaxAge keeps status and return events this long.
	EventsMaxAge time.Duration
	// DeadLetterMaxAge keeps dead letters this long.
	DeadLetterMaxAge time.Duration
	// Duplicates is the deduplication window of the intake and event streams.
	Duplicates time.Duration
	// MaxBytes caps each stream's size (-1: no cap).
	MaxBytes int64
	// DocumentsMaxBytes caps the Object Store of documents (-1: no cap).
	DocumentsMaxBytes int64
	// DocumentsMaxAge keeps documents this long.
	DocumentsMaxAge time.Duration
	// Storage is file (default) or memory.
	Storage jetstream.StorageType
}

// DefaultTopology returns the defaults documented in the README.
func DefaultTopology() Topology {
	return Topology{
		Replicas:          1,
		IntakeMaxAge:      30 * 24 * time.Hour,
		EventsMaxAge:      400 * 24 * time.Hour,
		DeadLetterMaxAge:  90 * 24 * time.Hour,
		Duplicates:        10 * time.Minute,
		MaxBytes:          -1,
		DocumentsMaxBytes: -1,
		DocumentsMaxAge:   100 * 24 * time.Hour,
		Storage:           jetstream.FileStorage,
	}
}

// Streams returns the configuration of every stream.
func (t Topology) Streams() []jetstream.StreamConfig {
	base := func(name, desc string, subjects ...string) jetstream.StreamConfig {
		return jetstream.StreamConfig{
			Name: name, Description: desc, Subjects: subjects,
			Storage: t.Storage, Replicas: t.Replicas, MaxBytes: t.MaxBytes,
			Discard: jetstream.DiscardOld, Duplicates: t.Duplicates,
		}
	}
	invoices := base(StreamInvoices, "invoice.submit events to submit to Chorus Pro", "invoice.submit")
	invoices.MaxAge = t.IntakeMaxAge
	invoices.Discard = jetstream.DiscardNew // never drop a submission to make room
	declarations := base(StreamDeclarations, "declaration.submit events to deposit on PASRAU", "declaration.submit")
	declarations.MaxAge = t.IntakeMaxAge
	declarations.Discard = jetstream.DiscardNew
	evs := base(StreamEvents, "status and return events emitted by passerelle", "invoice.status.>", "declaration.status.>", "declaration.return.>")
	evs.MaxAge = t.EventsMaxAge
	followups := base(StreamFollowUps, "planned and due follow-ups (message schedules)", "passerelle.followup.>")
	followups.Retention = jetstream.WorkQueuePolicy
	followups.AllowMsgSchedules = true // schedules require discard old: never cap this stream
	followups.MaxBytes = -1
	dead := base(StreamDeadLetter, "messages passerelle gave up on, with the reason", DeadLetterPrefix+">")
	dead.MaxAge = t.DeadLetterMaxAge
	dead.Discard = jetstream.DiscardNew
	return []jetstream.StreamConfig{invoices, declarations, evs, followups, dead}
}

// Assets are passerelle's JetStream assets once set up.
type Assets struct {
	Ledger    jetstream.KeyValue
	Documents jetstream.ObjectStore
	// Replicas holds one key per running replica, expiring when it stops renewing it.
	Replicas jetstream.KeyValue
}

// Setup creates or updates every stream and bucket of t. It is idempotent and safe
// to run from several replicas at once.
func Setup(ctx context.Context, js jetstream.JetStream, t Topology) (*Assets, error) {
	for _, cfg := range t.Streams() {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return nil, fmt.Errorf("runtime: set up stream %s: %w", cfg.Name, err)
		}
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: BucketLedger, Description: "state of each submission, by business key",
		History: 5, Storage: t.Storage, Replicas: t.Replicas, MaxBytes: t.MaxBytes,
	})
	if err != nil {
		return nil, fmt.Errorf("runtime: set up bucket %s: %w", BucketLedger, err)
	}
	obs, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket: BucketDocuments, Description: "documents too large to travel in events",
		Storage: t.Storage, Replicas: t.Replicas, MaxBytes: t.DocumentsMaxBytes, TTL: t.DocumentsMaxAge,
	})
	if err != nil {
		return nil, fmt.Errorf("runtime: set up bucket %s: %w", BucketDocuments, err)
	}
	replicas, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: BucketReplicas, Description: "the replicas running, each renewing its key",
		TTL: ReplicaTTL, Storage: jetstream.MemoryStorage, Replicas: t.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("runtime: set up bucket %s: %w", BucketReplicas, err)
	}
	return &Assets{Ledger: kv, Documents: obs, Replicas: replicas}, nil
}

// SetupPatiently is Setup, tried again while JetStream cannot answer yet (a node
// down or starting, streams electing a leader, a timeout), with a backoff from
// half a second to ten seconds, for at most patience. A replica started during a
// node's failure or a rolling restart waits for the cluster rather than exiting.
// Other errors (a configuration the server refuses, a permission) end it at
// once. onRetry, when not nil, is told each error that will be tried again.
func SetupPatiently(ctx context.Context, js jetstream.JetStream, t Topology, patience time.Duration, onRetry func(err error, attempt int)) (*Assets, error) {
	var assets *Assets
	attempt := 0
	backoff := goretry.WithMaxDuration(patience, goretry.WithCappedDuration(10*time.Second, goretry.NewExponential(500*time.Millisecond)))
	err := goretry.Do(ctx, backoff, func(ctx context.Context) error {
		attempt++
		a, err := Setup(ctx, js, t)
		switch {
		case err == nil:
			assets = a
			return nil
		case ctx.Err() == nil && setupUnavailable(err):
			if onRetry != nil {
				onRetry(err, attempt)
			}
			return goretry.RetryableError(err)
		}
		return err
	})
	if errors.Is(err, nats.ErrNoResponders) {
		return nil, fmt.Errorf("%w (no JetStream answered: is JetStream enabled on the NATS server, and for this account?)", err)
	}
	if err != nil {
		return nil, err
	}
	return assets, nil
}

// setupUnavailable reports whether err says JetStream could not answer now
// rather than that it refused.
func setupUnavailable(err error) bool {
	if api := (*jetstream.APIError)(nil); errors.As(err, &api) {
		switch api.ErrorCode {
		case 10005, // no suitable peers for placement (a node down)
			10009,        // not the leader (an election)
			10118, 10194, // stream offline
			10119, 10195, // consumer offline
			10202: // cluster member change in progress
			return true
		}
		return api.Code == 503 // cluster not available, insufficient resources
	}
	for _, transient := range []error{context.DeadlineExceeded, nats.ErrTimeout, nats.ErrNoResponders, jetstream.ErrJetStreamNotEnabled} {
		if errors.Is(err, transient) {
			return true
		}
	}
	return false
}

// ConsumerSpec describes a durable pull consumer of a worker.
type ConsumerSpec struct {
	Stream  string
	Durable string
	Filter  string
	AckWait time.Duration
	// MaxAckPending bounds the messages delivered and not yet acknowledged, over every
	// replica.
	MaxAckPending int
}

// Consumer creates or updates the durable consumer of spec and returns it.
func Consumer(ctx context.Context, js jetstream.JetStream, spec ConsumerSpec) (jetstream.Consumer, error) {
	if spec.AckWait <= 0 || spec.MaxAckPending <= 0 {
		return nil, errors.New("runtime: consumer needs a positive ack wait and max ack pending")
	}
	c, err := js.CreateOrUpdateConsumer(ctx, spec.Stream, jetstream.ConsumerConfig{
		Durable:       spec.Durable,
		Description:   "passerelle worker",
		FilterSubject: spec.Filter,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       spec.AckWait,
		MaxDeliver:    -1, // the runtime's policy gives up, with a dead letter and an answer
		MaxAckPending: spec.MaxAckPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("runtime: set up consumer %s on %s: %w", spec.Durable, spec.Stream, err)
	}
	return c, nil
}
