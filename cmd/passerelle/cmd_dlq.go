package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/passerelle-dev/passerelle/workers/runtime"
)

const dlqUsage = `Usage: passerelle dlq list
       passerelle dlq show ID
       passerelle dlq replay ID... | --all [--keep]
       passerelle dlq purge ID... | --all

Inspects and handles the messages passerelle gave up on (the dead-letter stream
PASSERELLE_DEADLETTER): what failed, why, when and after how many deliveries.
ID is a dead letter's sequence, as listed.

replay publishes the original message again on its original subject, with its
original headers, then removes the dead letter (--keep leaves it). The ledger
keeps replays exactly-once: a submission that reached its administration is not
deposited again, and one that had failed starts again (its status events going
on after the failed one). purge removes dead letters for good.

Flags:
  --nats URL   NATS server (default: $NATS_URL, else nats://127.0.0.1:4222);
               credentials and TLS from PASSERELLE_NATS_CREDS, _NKEY, _CA,
               _CERT and _KEY, as for passerelle run
  --all        every dead letter (replay, purge)
  --keep       replay without removing the dead letter

Examples:
  passerelle dlq list
  passerelle dlq show 42
  passerelle dlq replay 42 43
  passerelle dlq replay --all
`

func runDLQ(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(e.stdout, dlqUsage)
		if len(args) == 0 {
			return &usageError{"dlq: say what to do: list, show, replay or purge"}
		}
		return nil
	}
	verb := args[0]
	fs := flag.NewFlagSet("dlq "+verb, flag.ContinueOnError)
	natsURL := fs.String("nats", defaultNATSURL(e), "")
	all := fs.Bool("all", false, "")
	keep := fs.Bool("keep", false, "")
	if err := parseFlags(fs, dlqUsage, e, args[1:]); err != nil {
		return err
	}
	var ids []uint64
	for _, a := range fs.Args() {
		id, err := strconv.ParseUint(a, 10, 64)
		if err != nil {
			return &usageError{fmt.Sprintf("dlq %s: %q is not a dead letter's sequence number", verb, a)}
		}
		ids = append(ids, id)
	}
	switch verb {
	case "list":
	case "show":
		if len(ids) != 1 {
			return &usageError{"dlq show: exactly one ID is required"}
		}
	case "replay", "purge":
		if len(ids) == 0 && !*all || len(ids) > 0 && *all {
			return &usageError{fmt.Sprintf("dlq %s: give IDs or --all", verb)}
		}
	default:
		return &usageError{fmt.Sprintf("dlq: unknown action %q (list, show, replay or purge)", verb)}
	}
	nc, js, err := operatorNATS(e, *natsURL).jetStream("passerelle dlq")
	if err != nil {
		return err
	}
	defer nc.Close()
	// The documents bucket keeps the bodies of messages too large to be copied
	// whole into the dead-letter stream.
	bodies, err := js.ObjectStore(ctx, runtime.BucketDocuments)
	if err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
		return fmt.Errorf("dlq: the documents bucket %s: %w", runtime.BucketDocuments, err)
	}
	dl := runtime.NewDeadLetters(js, bodies, nil)
	if *all {
		letters, err := dl.List(ctx)
		if err != nil {
			return err
		}
		for _, d := range letters {
			ids = append(ids, d.Seq)
		}
	}
	switch verb {
	case "list":
		letters, err := dl.List(ctx)
		if err != nil {
			return err
		}
		printDeadLetters(e.stdout, letters)
	case "show":
		d, err := dl.Get(ctx, ids[0])
		if err != nil {
			return err
		}
		printDeadLetter(e.stdout, d)
	case "replay":
		var errs []error
		for _, id := range ids {
			if err := dl.Replay(ctx, id, *keep); err != nil {
				errs = append(errs, err)
				continue
			}
			fmt.Fprintf(e.stdout, "replayed %d\n", id)
		}
		return errors.Join(errs...)
	case "purge":
		var errs []error
		for _, id := range ids {
			if err := dl.Purge(ctx, id); err != nil {
				errs = append(errs, err)
				continue
			}
			fmt.Fprintf(e.stdout, "purged %d\n", id)
		}
		return errors.Join(errs...)
	}
	return nil
}

func printDeadLetters(w io.Writer, letters []*runtime.DeadLetter) {
	if len(letters) == 0 {
		fmt.Fprintln(w, "no dead letter")
		return
	}
	sort.Slice(letters, func(i, j int) bool { return letters[i].Seq < letters[j].Seq })
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME\tSUBJECT\tKIND\tDELIVERIES\tEVENT\tREASON")
	for _, d := range letters {
		reason := d.Reason
		if len(reason) > 100 {
			reason = reason[:100] + "…"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Seq, d.Time.Local().Format(time.DateTime), d.Subject, d.Kind, d.Deliveries, eventID(d), reason)
	}
	_ = tw.Flush()
}

func printDeadLetter(w io.Writer, d *runtime.DeadLetter) {
	fmt.Fprintf(w, "dead letter %d\n  time:       %s\n  subject:    %s\n  kind:       %s\n  reason:     %s\n  deliveries: %s\n  from:       stream %s #%s, consumer %s\n  headers:\n",
		d.Seq, d.Time.Local().Format(time.RFC3339), d.Subject, d.Kind, d.Reason, d.Deliveries, d.Stream, d.StreamSeq, d.Consumer)
	keys := make([]string, 0, len(d.Header))
	for k := range d.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "    %s: %s\n", k, strings.Join(d.Header[k], ", "))
	}
	fmt.Fprintln(w, "  body:")
	var pretty bytes.Buffer
	if json.Indent(&pretty, d.Data, "    ", "  ") == nil {
		fmt.Fprintf(w, "    %s\n", pretty.String())
		return
	}
	fmt.Fprintf(w, "    %q\n", d.Data)
}

// eventID is the dead letter's CloudEvent id, when it has one.
func eventID(d *runtime.DeadLetter) string {
	if id := d.Header.Get("ce-id"); id != "" {
		return id
	}
	var structured struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(d.Data, &structured) == nil && structured.ID != "" {
		return structured.ID
	}
	return "-"
}
