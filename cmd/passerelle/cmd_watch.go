package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/workers/runtime"
)

const watchUsage = `Usage: passerelle watch [flags]

Prints passerelle's status and return events as they arrive, one line each,
until interrupted.

Flags:
  --nats URL        NATS server (default: $NATS_URL, else nats://127.0.0.1:4222)
  --account NAME    only this account's events
  --type TYPE       invoice.status, declaration.status, declaration.return or all (default all)
  --since DURATION  also print the events of this past period (e.g. 1h), or "all"

Examples:
  passerelle watch
  passerelle watch --account demo --type invoice.status --since 1h
`

func runWatch(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	natsURL := fs.String("nats", defaultNATSURL(e), "")
	account := fs.String("account", "", "")
	typ := fs.String("type", "all", "")
	since := fs.String("since", "", "")
	if err := parseFlags(fs, watchUsage, e, args); err != nil {
		return err
	}
	filters, err := watchFilters(*typ, *account)
	if err != nil {
		return err
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: filters, DeliverPolicy: jetstream.DeliverNewPolicy}
	switch *since {
	case "":
	case "all":
		cfg.DeliverPolicy = jetstream.DeliverAllPolicy
	default:
		d, err := time.ParseDuration(*since)
		if err != nil {
			return &usageError{fmt.Sprintf("watch: --since %q is not a duration (like 30m or 2h) nor \"all\"", *since)}
		}
		start := time.Now().Add(-d)
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	}
	nc, err := natsSettings{URL: *natsURL}.connect("passerelle watch")
	if err != nil {
		return err
	}
	defer nc.Close()
	return watch(ctx, nc, cfg, func(line string) { fmt.Fprintln(e.stdout, line) })
}

func watchFilters(typ, account string) ([]string, error) {
	types := []string{events.TypeInvoiceStatus, events.TypeDeclarationStatus, events.TypeDeclarationReturn}
	if typ != "all" {
		found := false
		for _, t := range types {
			found = found || t == typ
		}
		if !found {
			return nil, &usageError{fmt.Sprintf("watch: --type %q is not invoice.status, declaration.status, declaration.return or all", typ)}
		}
		types = []string{typ}
	}
	var filters []string
	for _, t := range types {
		if account == "" {
			filters = append(filters, t+".>")
			continue
		}
		subject, err := events.Subject(t, account)
		if err != nil {
			return nil, &usageError{"watch: " + err.Error()}
		}
		filters = append(filters, subject)
	}
	return filters, nil
}

// watch prints every event the ordered consumer cfg delivers until ctx ends.
func watch(ctx context.Context, nc *nats.Conn, cfg jetstream.OrderedConsumerConfig, print func(string)) error {
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
		print(statusLine(ctx, m.Headers(), m.Data()))
	}
}

func defaultNATSURL(e env) string {
	if u := e.getenv("NATS_URL"); u != "" {
		return u
	}
	return nats.DefaultURL
}
