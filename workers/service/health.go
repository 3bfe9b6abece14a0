package service

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/passerelle-dev/passerelle/workers/telemetry"
)

// health answers /readyz: the NATS connection is up, every consumer the workers
// use exists, and no account is stuck with credentials an administration refuses.
// It is also the flows' AuthWatch.
type health struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	metrics *telemetry.Metrics

	mu        sync.Mutex
	consumers [][2]string
	checked   time.Time
	problems  []string
	refused   map[string]string // "upstream/account" -> why
}

func newHealth(nc *nats.Conn, js jetstream.JetStream, m *telemetry.Metrics) *health {
	return &health{nc: nc, js: js, metrics: m, refused: map[string]string{}}
}

func (h *health) watch(stream, consumer string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.consumers = append(h.consumers, [2]string{stream, consumer})
}

// Refused records that upstream refuses account's credentials.
func (h *health) Refused(upstream, account string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	key := upstream + "/" + account
	if _, already := h.refused[key]; !already {
		h.metrics.AuthFailing(context.Background(), upstream, 1)
	}
	h.refused[key] = err.Error()
}

// Accepted records that upstream accepted account's credentials.
func (h *health) Accepted(upstream, account string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	key := upstream + "/" + account
	if _, was := h.refused[key]; was {
		delete(h.refused, key)
		h.metrics.AuthFailing(context.Background(), upstream, -1)
	}
}

// check lists what is not ready, at most once a second.
func (h *health) check(ctx context.Context) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var problems []string
	if time.Since(h.checked) < time.Second {
		problems = append(problems, h.problems...)
	} else {
		if st := h.nc.Status(); st != nats.CONNECTED {
			problems = append(problems, "NATS connection is "+st.String())
		} else {
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			for _, sc := range h.consumers {
				if _, err := h.js.Consumer(ctx, sc[0], sc[1]); err != nil {
					problems = append(problems, fmt.Sprintf("consumer %s of stream %s: %v", sc[1], sc[0], err))
				}
			}
		}
		h.checked, h.problems = time.Now(), append([]string(nil), problems...)
	}
	keys := make([]string, 0, len(h.refused))
	for k := range h.refused {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		problems = append(problems, fmt.Sprintf("account %s: credentials refused: %s", k, h.refused[k]))
	}
	return problems
}

func (h *health) serveReady(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if problems := h.check(r.Context()); len(problems) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready:\n- " + strings.Join(problems, "\n- ") + "\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// observeFollowUps registers the follow-up gauges, read from the follow-up stream
// and its consumers at most every 10 seconds: the follow-ups planned (JetStream
// message schedules waiting for their time), and per kind those due and not yet
// done and the age of the oldest of them. kinds maps each kind to its consumer.
func (h *health) observeFollowUps(mp metric.MeterProvider, stream jetstream.Stream, kinds map[string]string) error {
	m := mp.Meter("github.com/passerelle-dev/passerelle/workers/service")
	planned, err := m.Int64ObservableGauge("passerelle.followups.planned", metric.WithUnit("{follow-up}"),
		metric.WithDescription("Follow-ups planned: JetStream message schedules waiting for their time."))
	if err != nil {
		return err
	}
	dueGauge, err := m.Int64ObservableGauge("passerelle.followups.due", metric.WithUnit("{follow-up}"),
		metric.WithDescription("Follow-ups due and not yet done, by kind."))
	if err != nil {
		return err
	}
	age, err := m.Float64ObservableGauge("passerelle.followups.oldest_due_age", metric.WithUnit("s"),
		metric.WithDescription("Age of the oldest follow-up due and not yet done, by kind (0 when none)."))
	if err != nil {
		return err
	}
	type stats struct {
		due int64
		age float64
	}
	var (
		mu      sync.Mutex
		at      time.Time
		total   int64
		perKind map[string]stats
	)
	read := func(ctx context.Context) (int64, map[string]stats) {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(at) < 10*time.Second && perKind != nil {
			return total, perKind
		}
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		info, err := stream.Info(ctx)
		if err != nil {
			return total, perKind
		}
		out := map[string]stats{}
		var due int64
		for kind, durable := range kinds {
			var st stats
			if c, err := stream.Consumer(ctx, durable); err == nil {
				if ci, err := c.Info(ctx); err == nil {
					st.due = int64(min(ci.NumPending, math.MaxInt32)) + int64(ci.NumAckPending)
				}
			}
			if st.due > 0 {
				if msg, err := stream.GetMsg(ctx, 0, jetstream.WithGetMsgSubject("passerelle.followup.due."+kind+".>")); err == nil {
					st.age = time.Since(msg.Time).Seconds()
				}
			}
			due += st.due
			out[kind] = st
		}
		total, perKind, at = max(int64(min(info.State.Msgs, math.MaxInt32))-due, 0), out, time.Now()
		return total, perKind
	}
	_, err = m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		n, per := read(ctx)
		o.ObserveInt64(planned, n)
		for kind, st := range per {
			attrs := metric.WithAttributes(attribute.String("kind", kind))
			o.ObserveInt64(dueGauge, st.due, attrs)
			o.ObserveFloat64(age, st.age, attrs)
		}
		return nil
	}, planned, dueGauge, age)
	return err
}
