package service

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// health answers /readyz: the NATS connection is up and every stream and consumer
// the workers use exists.
type health struct {
	nc *nats.Conn
	js jetstream.JetStream

	mu        sync.Mutex
	consumers [][2]string
	checked   time.Time
	problems  []string
}

func newHealth(nc *nats.Conn, js jetstream.JetStream) *health { return &health{nc: nc, js: js} }

func (h *health) watch(stream, consumer string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.consumers = append(h.consumers, [2]string{stream, consumer})
}

// check lists what is not ready, at most once a second.
func (h *health) check(ctx context.Context) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if time.Since(h.checked) < time.Second {
		return h.problems
	}
	var problems []string
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
	h.checked, h.problems = time.Now(), problems
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
