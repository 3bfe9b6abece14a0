package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/passerelle-dev/passerelle/events"
)

const publishUsage = `Usage: passerelle publish [flags] DATA.json
       passerelle publish --account NAME --declaration FILE

Publishes a submit event whose data is the JSON file DATA.json (see the schemas
under schemas/ and their examples), or a declaration.submit for a PASRAU
declaration file, and prints the event id to follow it with "passerelle watch".

Flags:
  --nats URL            NATS server (default: $NATS_URL, else nats://127.0.0.1:4222)
  --type TYPE           invoice.submit (default) or declaration.submit
  --account NAME        set the data's account
  --document FILE       attach a PDF or flow file (Factur-X, UBL, CII) as the data's document:
                        inline up to --inline-max bytes, else through the Object Store
  --declaration FILE    publish this PASRAU declaration file (UTF-8 or ISO-8859-1,
                        detected) as a declaration.submit for --account
  --inline-max BYTES    (default 262144)
  --id ID               the event id (default: a new UUID); publishing the same id twice
                        is stored once
  --structured          publish in structured mode (default: binary mode, ce-* headers)
  --traceparent VALUE   continue this W3C trace

Examples:
  passerelle publish invoice.json
  passerelle publish --account acme --document F-2026-0002.pdf invoice-pdf.json
  passerelle publish --account acme --declaration pasrau-2026-11.txt
`

func runPublish(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("publish", flag.ContinueOnError)
	natsURL := fs.String("nats", defaultNATSURL(e), "")
	typ := fs.String("type", events.TypeInvoiceSubmit, "")
	account := fs.String("account", "", "")
	document := fs.String("document", "", "")
	declaration := fs.String("declaration", "", "")
	inlineMax := fs.Int("inline-max", events.DefaultInlineMax, "")
	id := fs.String("id", "", "")
	structured := fs.Bool("structured", false, "")
	traceparent := fs.String("traceparent", "", "")
	if err := parseFlags(fs, publishUsage, e, args); err != nil {
		return err
	}
	switch {
	case *declaration != "" && (fs.NArg() != 0 || *account == ""):
		return &usageError{"publish: --declaration needs --account and no DATA.json\n\n" + publishUsage}
	case *declaration == "" && fs.NArg() != 1:
		return &usageError{"publish: exactly one DATA.json file is required\n\n" + publishUsage}
	case *typ != events.TypeInvoiceSubmit && *typ != events.TypeDeclarationSubmit:
		return &usageError{fmt.Sprintf("publish: --type %q is not invoice.submit or declaration.submit", *typ)}
	}
	data := map[string]any{}
	if *declaration == "" {
		raw, err := os.ReadFile(fs.Arg(0))
		if err != nil {
			return err
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&data); err != nil {
			return fmt.Errorf("publish: %s is not a JSON object: %w", fs.Arg(0), err)
		}
	}
	if *account != "" {
		data["account"] = *account
	}
	nc, err := natsSettings{URL: *natsURL}.connect("passerelle publish")
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	if *declaration != "" {
		*typ = events.TypeDeclarationSubmit
		content, err := os.ReadFile(*declaration)
		if err != nil {
			return err
		}
		file := events.DeclarationFile{FileName: filepath.Base(*declaration), Encoding: events.EncodingLatin1}
		switch {
		case utf8.Valid(content) && len(content) <= *inlineMax:
			file.Encoding, file.Text = events.EncodingUTF8, string(content)
		default:
			if utf8.Valid(content) {
				file.Encoding = events.EncodingUTF8
			}
			var obs jetstream.ObjectStore
			if len(content) > *inlineMax {
				if obs, err = js.ObjectStore(ctx, events.DocumentsBucket); err != nil {
					return fmt.Errorf("publish: the file needs the Object Store bucket %s: %w (is passerelle set up on this NATS?)", events.DocumentsBucket, err)
				}
			}
			doc, err := events.NewDocument(ctx, obs, file.FileName, "text/plain", content, *inlineMax)
			if err != nil {
				return err
			}
			file.Content, file.Object = doc.Content, doc.Object
		}
		data["file"] = file
	}
	if *document != "" {
		content, err := os.ReadFile(*document)
		if err != nil {
			return err
		}
		var obs jetstream.ObjectStore
		if len(content) > *inlineMax {
			if obs, err = js.ObjectStore(ctx, events.DocumentsBucket); err != nil {
				return fmt.Errorf("publish: the document needs the Object Store bucket %s: %w (is passerelle set up on this NATS?)", events.DocumentsBucket, err)
			}
		}
		doc, err := events.NewDocument(ctx, obs, filepath.Base(*document), contentTypeOf(*document), content, *inlineMax)
		if err != nil {
			return err
		}
		data["document"] = doc
	}
	if *id == "" {
		*id = uuid.NewString()
	}
	inv, _ := data["invoice"].(map[string]any)
	subject, _ := inv["number"].(string)
	ev, err := events.New(*typ, *id, subject, data)
	if err != nil {
		return err
	}
	if *traceparent != "" {
		ev.SetExtension(events.TraceParent, *traceparent)
	}
	if err := publishEvent(ctx, js, *typ, ev, *structured); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, ev.ID())
	return nil
}

// publishEvent publishes a submit event in either content mode, with its id as the
// deduplication id.
func publishEvent(ctx context.Context, js jetstream.JetStream, subject string, ev *event.Event, structured bool) error {
	encode := events.Encode
	if structured {
		encode = events.EncodeStructured
	}
	msg, err := encode(subject, ev)
	if err != nil {
		return err
	}
	if tp, ok := ev.Extensions()[events.TraceParent].(string); ok {
		msg.Header.Set(events.TraceParent, tp)
	}
	if _, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(ev.ID())); err != nil {
		return fmt.Errorf("publish %s: %w", subject, err)
	}
	return nil
}

func contentTypeOf(name string) string {
	switch filepath.Ext(name) {
	case ".pdf", ".PDF":
		return "application/pdf"
	case ".xml", ".XML":
		return "application/xml"
	}
	return "application/octet-stream"
}
