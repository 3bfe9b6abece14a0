package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/workers/runtime"
)

const watchUsage = `Usage: passerelle watch [flags]

Prints passerelle's status and return events as they arrive, one line each,
until interrupted. With --live, shows one line per submission instead: its
latest state, its step along the expected lifecycle (k/n: received, submitted,
then Chorus Pro's statuses up to MISE_EN_PAIEMENT for an invoice; received,
deposited, accepted for a declaration) and FINAL once it ended, redrawn as
events arrive when the output is a terminal (elsewhere, --live prints the
lines as without it).

Flags:
  --nats URL          NATS server (default: $NATS_URL, else nats://127.0.0.1:4222);
                      credentials and TLS from PASSERELLE_NATS_CREDS, _NKEY, _CA,
                      _CERT and _KEY, as for passerelle run
  --account NAME      only this account's events
  --type TYPES        invoice, declaration, return or all (default all), or a
                      comma-separated list of them; invoice.status,
                      declaration.status and declaration.return also work
  --submit IDS        only the events of these submissions (submit event ids,
                      comma-separated)
  --number NUMBERS    only the events of these invoices (invoice numbers,
                      comma-separated)
  --final-only        only each submission's final status (no returns); with
                      --live, only the submissions that ended
  --live              one line per submission, redrawn (see above)
  --since DURATION    also print the events of this past period (e.g. 1h), or
                      "all" (the default with --submit or --number)

Examples:
  passerelle watch
  passerelle watch --account demo --type invoice --since 1h
  passerelle watch --submit 3f0c7a52-6a4e-4d0c-9a51-2f1f2b8a9e10
  passerelle watch --number F-2026-0001,F-2026-0002 --final-only
  passerelle watch --account demo --live --since 24h
`

func runWatch(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	natsURL := fs.String("nats", defaultNATSURL(e), "")
	account := fs.String("account", "", "")
	typ := fs.String("type", "all", "")
	since := fs.String("since", "", "")
	submit := fs.String("submit", "", "")
	number := fs.String("number", "", "")
	finalOnly := fs.Bool("final-only", false, "")
	live := fs.Bool("live", false, "")
	if err := parseFlags(fs, watchUsage, e, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Sprintf("watch: unexpected argument %q (give submissions with --submit or --number)\n\n%s", fs.Arg(0), watchUsage)}
	}
	filters, err := watchFilters(*typ, *account)
	if err != nil {
		return err
	}
	f := outputFilter{submitIDs: listOf(*submit), numbers: listOf(*number), finalOnly: *finalOnly}
	if *since == "" && (len(f.submitIDs) > 0 || len(f.numbers) > 0) {
		*since = "all"
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: filters, DeliverPolicy: jetstream.DeliverNewPolicy}
	switch *since {
	case "":
	case "all":
		cfg.DeliverPolicy = jetstream.DeliverAllPolicy
	default:
		d, err := time.ParseDuration(*since)
		if err != nil || d <= 0 {
			return &usageError{fmt.Sprintf("watch: --since %q is not a duration (like 30m or 2h) nor \"all\"", *since)}
		}
		start := time.Now().Add(-d)
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	}
	nc, err := operatorNATS(e, *natsURL).connect("passerelle watch")
	if err != nil {
		return err
	}
	defer nc.Close()
	if *live && isTerminal(e.stdout) {
		// The view follows every submission and shows only the final ones.
		view := newLiveView(f.finalOnly)
		f.finalOnly = false
		return watchLive(ctx, nc, cfg, f, view, e.stdout, 250*time.Millisecond)
	}
	return consumeEvents(ctx, nc, cfg, func(m jetstream.Msg) {
		if line, ok := f.line(ctx, m.Headers(), m.Data()); ok {
			fmt.Fprintln(e.stdout, line)
		}
	})
}

// listOf splits a comma-separated flag value into a set, nil when empty.
func listOf(s string) map[string]bool {
	var set map[string]bool
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			if set == nil {
				set = map[string]bool{}
			}
			set[v] = true
		}
	}
	return set
}

// watchTypes maps what --type accepts to the event types.
func watchTypes() map[string]string {
	return map[string]string{
		"invoice": events.TypeInvoiceStatus, "declaration": events.TypeDeclarationStatus, "return": events.TypeDeclarationReturn,
		events.TypeInvoiceStatus: events.TypeInvoiceStatus, events.TypeDeclarationStatus: events.TypeDeclarationStatus, events.TypeDeclarationReturn: events.TypeDeclarationReturn,
	}
}

// watchFilters returns the subjects of the events of types (a comma-separated
// list, or all) for account (every account when empty).
func watchFilters(types, account string) ([]string, error) {
	var want []string
	for t := range strings.SplitSeq(types, ",") {
		t = strings.TrimSpace(t)
		if t == "all" {
			want = append(want, events.TypeInvoiceStatus, events.TypeDeclarationStatus, events.TypeDeclarationReturn)
			continue
		}
		typ, ok := watchTypes()[t]
		if !ok {
			return nil, &usageError{fmt.Sprintf("watch: --type %q is not invoice, declaration, return or all", t)}
		}
		want = append(want, typ)
	}
	var filters []string
	seen := map[string]bool{}
	for _, t := range want {
		subject := t + ".>"
		if account != "" {
			var err error
			if subject, err = events.Subject(t, account); err != nil {
				return nil, &usageError{"watch: " + err.Error()}
			}
		}
		if !seen[subject] {
			seen[subject] = true
			filters = append(filters, subject)
		}
	}
	return filters, nil
}

// outputFilter selects events by submission and finality.
type outputFilter struct {
	submitIDs map[string]bool
	numbers   map[string]bool
	finalOnly bool
}

// selects reports whether some events may be left out: then events that cannot
// be decoded are left out too.
func (f outputFilter) selects() bool {
	return len(f.submitIDs) > 0 || len(f.numbers) > 0 || f.finalOnly
}

// match reports whether o is selected.
func (f outputFilter) match(o *events.Output) bool {
	if len(f.submitIDs) > 0 && !f.submitIDs[o.SubmitID()] {
		return false
	}
	if len(f.numbers) > 0 && (o.InvoiceStatus == nil || !f.numbers[o.InvoiceStatus.InvoiceNumber]) {
		return false
	}
	return !f.finalOnly || o.Final()
}

// line renders a message as a status line, and reports whether it is selected.
func (f outputFilter) line(ctx context.Context, header nats.Header, data []byte) (string, bool) {
	if !f.selects() {
		return statusLine(ctx, header, data), true
	}
	o, err := events.DecodeOutput(ctx, header, data)
	if err != nil || !f.match(o) {
		return "", false
	}
	return outputLine(o), true
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// watchLive keeps view up to date with the events the ordered consumer cfg
// delivers and redraws it on w (clearing the screen) at most every interval,
// until ctx ends.
func watchLive(ctx context.Context, nc *nats.Conn, cfg jetstream.OrderedConsumerConfig, f outputFilter, view *liveView, w io.Writer, interval time.Duration) error {
	var (
		mu    sync.Mutex
		dirty = true
	)
	draw := func() {
		mu.Lock()
		defer mu.Unlock()
		if !dirty {
			return
		}
		dirty = false
		fmt.Fprint(w, "\x1b[H\x1b[2J") // cursor home, clear the screen
		view.render(w, time.Now())
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				draw()
			}
		}
	})
	draw()
	err := consumeEvents(ctx, nc, cfg, func(m jetstream.Msg) {
		o, err := events.DecodeOutput(ctx, m.Headers(), m.Data())
		if err != nil || !f.match(o) {
			return
		}
		mu.Lock()
		view.add(o)
		dirty = true
		mu.Unlock()
	})
	cancel()
	wg.Wait()
	draw()
	return err
}

// watch prints every event the ordered consumer cfg delivers until ctx ends.
func watch(ctx context.Context, nc *nats.Conn, cfg jetstream.OrderedConsumerConfig, print func(string)) error {
	return consumeEvents(ctx, nc, cfg, func(m jetstream.Msg) { print(statusLine(ctx, m.Headers(), m.Data())) })
}

// consumeEvents hands every message the ordered consumer cfg delivers from the
// events stream to handle, in order, until ctx ends.
func consumeEvents(ctx context.Context, nc *nats.Conn, cfg jetstream.OrderedConsumerConfig, handle func(jetstream.Msg)) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	c, err := js.OrderedConsumer(ctx, runtime.StreamEvents, cfg)
	if err != nil {
		return fmt.Errorf("watch %s: %w (is passerelle running against this NATS?)", runtime.StreamEvents, err)
	}
	it, err := c.Messages()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-ctx.Done()
		it.Stop()
	}()
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			return err
		}
		handle(m)
	}
}
