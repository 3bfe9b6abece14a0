package main

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/schemas"
	"github.com/passerelle-dev/passerelle/workers/choruspro"
)

const publishUsage = `Usage: passerelle publish [flags] DATA.json
       passerelle publish --account NAME --pdf FILE --number N --recipient SIRET
                          --total AMOUNT --vat AMOUNT [flags]
       passerelle publish --account NAME --flow FILE [--syntax SYNTAX] [flags]
       passerelle publish --account NAME --declaration FILE [--encoding ENC] [flags]

Publishes a submit event and prints its id, the subject it went to and how to
follow it. The event is built from one of:

  DATA.json            the event's data as JSON (see the schemas under schemas/
                       and their examples): invoice.submit, or declaration.submit
                       with --type or when the data has a "file"
  --pdf FILE           an invoice PDF: an invoice.submit in pdf mode, its data
                       from the flags below
  --flow FILE          a flow file (Factur-X PDF, UBL or CII XML, or a .zip/.tar.gz
                       of them): an invoice.submit in flow mode
  --declaration FILE   a PASRAU declaration file: a declaration.submit

Files up to --inline-max bytes travel inside the event; larger ones go through
the Object Store bucket passerelle-documents. The data is checked against its
schema before publishing: a problem is reported with the flag to fix, and
nothing is published.

Flags:
  --nats URL             NATS server (default: $NATS_URL, else nats://127.0.0.1:4222);
                         credentials and TLS from PASSERELLE_NATS_CREDS, _NKEY, _CA,
                         _CERT and _KEY, as for passerelle run
  --account NAME         the configured account (required with --pdf, --flow and
                         --declaration; replaces the data's account of DATA.json)
  --id ID                the event id (default: a new UUID); publishing the same id
                         twice within the stream's duplicates window stores it once
  --traceparent VALUE    continue this W3C trace (00-<trace id>-<span id>-<flags>)
  --inline-max BYTES     the largest file carried inline (default 262144)
  --structured           publish the CloudEvent in structured content mode (default:
                         binary mode, attributes in ce-* headers)
  --no-validate          publish even if the data breaks its schema (passerelle then
                         answers rejected)
  --quiet                print the event id only

  with DATA.json:
  --type TYPE            invoice.submit or declaration.submit (default: declaration.submit
                         when the data has a "file", else invoice.submit)
  --document FILE        attach this PDF or flow file as the data's document

  with --pdf (pdf mode: Chorus Pro needs the invoice's number, date, recipient and totals):
  --number N             the invoice number (at most 20 characters), required
  --date YYYY-MM-DD      the invoice date (default: today)
  --recipient SIRET      the recipient's SIRET (14 digits), required
  --service-code CODE    the recipient's service (codeServiceExecutant), when it requires one
  --purchase-order N     the engagement number (numeroBonCommande), when required
  --net, --vat, --total AMOUNT
                         the totals before tax, of VAT and with tax, like 1200.00:
                         give two, the third is computed (all three must add up)
  --payable AMOUNT       the amount to pay (default: --total)

  with --flow:
  --syntax SYNTAX        Chorus Pro's syntaxeFlux (default: read from the file:
                         IN_DP_E2_CII_FACTURX for a PDF, IN_DP_E1_UBL_INVOICE for UBL,
                         IN_DP_E1_CII_16B for CII; required for an archive)
  --number N             the invoice number (default: read from the file; required
                         for an archive)

  with --declaration:
  --encoding ENC         UTF-8, ISO-8859-1 or auto (default auto: UTF-8 when the file
                         is valid UTF-8, else ISO-8859-1)

Examples:
  passerelle publish invoice.json
  passerelle publish --account acme --document F-2026-0002.pdf invoice-pdf.json
  passerelle publish --account acme --pdf F-2026-0002.pdf --number F-2026-0002 \
      --recipient 11000001500013 --service-code FACTURES --total 120.00 --vat 20.00
  passerelle publish --account acme --flow F-2026-0003.xml
  passerelle publish --account acme --flow factures.zip --syntax IN_DP_E1_UBL_INVOICE \
      --number F-2026-0004
  passerelle publish --account acme --declaration pasrau-2026-11.txt
  id=$(passerelle publish --quiet invoice.json) && passerelle watch --submit "$id"
`

// publishFlags are the flags of publish.
type publishFlags struct {
	nats, account, id, traceparent string
	inlineMax                      int
	structured, noValidate, quiet  bool

	typ, document string // with DATA.json

	pdf, flow, declaration string

	number, date, recipient, serviceCode, purchaseOrder string
	net, vat, total, payable                            string
	syntax, encoding                                    string

	set map[string]bool // the flags given
}

// publishSources are the ways of building the event, each with the flags that
// belong to it.
func publishSources() []struct {
	name  string
	flags []string
} {
	return []struct {
		name  string
		flags []string
	}{
		{"DATA.json", []string{"type", "document"}},
		{"--pdf", []string{"number", "date", "recipient", "service-code", "purchase-order", "net", "vat", "total", "payable"}},
		{"--flow", []string{"syntax", "number"}},
		{"--declaration", []string{"encoding"}},
	}
}

func runPublish(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("publish", flag.ContinueOnError)
	var f publishFlags
	fs.StringVar(&f.nats, "nats", defaultNATSURL(e), "")
	fs.StringVar(&f.account, "account", "", "")
	fs.StringVar(&f.id, "id", "", "")
	fs.StringVar(&f.traceparent, "traceparent", "", "")
	fs.IntVar(&f.inlineMax, "inline-max", events.DefaultInlineMax, "")
	fs.BoolVar(&f.structured, "structured", false, "")
	fs.BoolVar(&f.noValidate, "no-validate", false, "")
	fs.BoolVar(&f.quiet, "quiet", false, "")
	fs.StringVar(&f.typ, "type", "", "")
	fs.StringVar(&f.document, "document", "", "")
	fs.StringVar(&f.pdf, "pdf", "", "")
	fs.StringVar(&f.flow, "flow", "", "")
	fs.StringVar(&f.declaration, "declaration", "", "")
	fs.StringVar(&f.number, "number", "", "")
	fs.StringVar(&f.date, "date", "", "")
	fs.StringVar(&f.recipient, "recipient", "", "")
	fs.StringVar(&f.serviceCode, "service-code", "", "")
	fs.StringVar(&f.purchaseOrder, "purchase-order", "", "")
	fs.StringVar(&f.net, "net", "", "")
	fs.StringVar(&f.vat, "vat", "", "")
	fs.StringVar(&f.total, "total", "", "")
	fs.StringVar(&f.payable, "payable", "", "")
	fs.StringVar(&f.syntax, "syntax", "", "")
	fs.StringVar(&f.encoding, "encoding", "auto", "")
	if err := parseFlags(fs, publishUsage, e, args); err != nil {
		return err
	}
	f.set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	source, err := f.source(fs.Args())
	if err != nil {
		return err
	}
	if f.traceparent != "" && !trace.SpanContextFromContext(events.WithTrace(context.Background(), f.traceparent, "")).IsValid() {
		return &usageError{fmt.Sprintf("publish: --traceparent %q is not a W3C traceparent (00-<32 hex digits>-<16 hex digits>-<2 hex digits>)", f.traceparent)}
	}
	if f.id == "" {
		f.id = uuid.NewString()
	}

	// Everything that can be checked without NATS is checked first.
	var b *publishBuild
	switch source {
	case "--pdf":
		b, err = f.readPDF()
	case "--flow":
		b, err = f.readFlow()
	case "--declaration":
		b, err = f.readDeclaration()
	default:
		b, err = f.readJSON(fs.Arg(0))
	}
	if err != nil {
		return err
	}

	// NATS is reached only once the data is known to be right, unless a large
	// file must go to the Object Store first.
	var js jetstream.JetStream
	connect := func() (jetstream.JetStream, error) {
		if js != nil {
			return js, nil
		}
		_, conn, err := operatorNATS(e, f.nats).jetStream("passerelle publish")
		js = conn
		return js, err
	}
	defer func() {
		if js != nil {
			js.Conn().Close()
		}
	}()
	ev, err := b.event(ctx, connect, f)
	if err != nil {
		return err
	}
	if !f.noValidate {
		if err := validateData(ev, source); err != nil {
			return err
		}
	}
	if _, err := connect(); err != nil {
		return err
	}
	ctx = events.WithTrace(ctx, f.traceparent, "")
	ack, err := publishEvent(ctx, js, ev.Type(), ev, f.structured)
	if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
		return fmt.Errorf("%w: no stream takes %s on %s (is passerelle set up on this NATS? it declares its streams when it starts)", err, ev.Type(), redactURLs(f.nats))
	}
	if err != nil {
		return err
	}
	if f.quiet {
		fmt.Fprintln(e.stdout, ev.ID())
		return nil
	}
	b.print(e.stdout, ev, ack)
	return nil
}

// source returns how the event is built: "--pdf", "--flow", "--declaration" or
// "DATA.json", after checking that the flags given belong to it.
func (f *publishFlags) source(args []string) (string, error) {
	var sources []string
	for _, s := range []string{"pdf", "flow", "declaration"} {
		if f.set[s] {
			sources = append(sources, "--"+s)
		}
	}
	switch {
	case len(sources) > 1:
		return "", &usageError{fmt.Sprintf("publish: give one of --pdf, --flow and --declaration, not %s", strings.Join(sources, " and "))}
	case len(sources) == 1 && len(args) > 0:
		return "", &usageError{fmt.Sprintf("publish: %s builds the event's data: drop %s\n\n%s", sources[0], args[0], publishUsage)}
	case len(sources) == 0 && len(args) != 1:
		return "", &usageError{"publish: give exactly one DATA.json file, or --pdf, --flow or --declaration FILE\n\n" + publishUsage}
	case len(sources) == 1 && f.account == "":
		return "", &usageError{fmt.Sprintf("publish: %s needs --account, the configured account to submit for", sources[0])}
	}
	source := "DATA.json"
	if len(sources) == 1 {
		source = sources[0]
	}
	var mine []string
	for _, s := range publishSources() {
		if s.name == source {
			mine = s.flags
		}
	}
	for _, s := range publishSources() {
		for _, name := range s.flags {
			if f.set[name] && !slices.Contains(mine, name) {
				return "", &usageError{fmt.Sprintf("publish: --%s goes with %s, not with %s", name, s.name, source)}
			}
		}
	}
	if f.account != "" && !events.ValidAccount(f.account) {
		return "", &usageError{fmt.Sprintf("publish: --account %q is not an account name (1 to 64 of A-Z a-z 0-9 _ -)", f.account)}
	}
	if f.inlineMax < 0 {
		return "", &usageError{"publish: --inline-max must be 0 or more bytes"}
	}
	return source, nil
}

// publishBuild is what publish sends: the data, and the file to store in the
// Object Store when it is too large to travel inline.
type publishBuild struct {
	typ string
	// invoice, declaration or raw (DATA.json) is the data.
	invoice     *events.InvoiceSubmit
	declaration *events.DeclarationSubmit
	raw         map[string]any
	// dataPath is DATA.json.
	dataPath string
	// file is the document or declaration file, read from path.
	file        []byte
	path        string
	contentType string
	// stored is where the file went, once the event is built.
	stored string
}

// event builds the CloudEvent, putting the file in the Object Store when it has
// more than --inline-max bytes.
func (b *publishBuild) event(ctx context.Context, connect func() (jetstream.JetStream, error), f publishFlags) (*event.Event, error) {
	var doc *events.Document
	if b.path != "" {
		var obs jetstream.ObjectStore
		if len(b.file) > f.inlineMax {
			js, err := connect()
			if err != nil {
				return nil, err
			}
			if obs, err = js.ObjectStore(ctx, events.DocumentsBucket); err != nil {
				return nil, fmt.Errorf("publish: %s has %d bytes, more than --inline-max, and needs the Object Store bucket %s: %w (is passerelle set up on this NATS?)", b.path, len(b.file), events.DocumentsBucket, err)
			}
		}
		var err error
		if doc, err = events.NewDocument(ctx, obs, filepath.Base(b.path), b.contentType, b.file, f.inlineMax); err != nil {
			return nil, fmt.Errorf("publish: %w", err)
		}
		b.stored = fmt.Sprintf("%d bytes, inline", len(b.file))
		if doc.Object != nil {
			b.stored = fmt.Sprintf("%d bytes, in the Object Store as %s/%s", len(b.file), doc.Object.Bucket, doc.Object.Name)
		}
	}
	switch {
	case b.invoice != nil:
		b.invoice.Document = doc
		return events.NewInvoiceSubmit(f.id, *b.invoice)
	case b.declaration != nil:
		if doc != nil {
			b.declaration.File.Content, b.declaration.File.Object = doc.Content, doc.Object
		}
		return events.NewDeclarationSubmit(f.id, *b.declaration)
	}
	if doc != nil {
		b.raw["document"] = doc
	}
	inv, _ := b.raw["invoice"].(map[string]any)
	subject, _ := inv["number"].(string)
	if b.typ == events.TypeDeclarationSubmit {
		file, _ := b.raw["file"].(map[string]any)
		subject, _ = file["fileName"].(string)
	}
	return events.New(b.typ, f.id, subject, b.raw)
}

// print tells what was published and how to follow it.
func (b *publishBuild) print(w io.Writer, ev *event.Event, ack *jetstream.PubAck) {
	if ack != nil && ack.Duplicate {
		fmt.Fprintf(w, "already published: %s on %s (the stream stored this id before; nothing new was stored)\n", ev.ID(), ev.Type())
	} else {
		fmt.Fprintf(w, "published %s on %s\n", ev.ID(), ev.Type())
	}
	var account, what string
	switch {
	case b.invoice != nil:
		account = b.invoice.Account
		what = fmt.Sprintf("invoice %s, %s mode", b.invoice.Invoice.Number, b.invoice.Mode)
		if b.invoice.FlowSyntax != "" {
			what += " " + b.invoice.FlowSyntax
		}
	case b.declaration != nil:
		account = b.declaration.Account
		what = fmt.Sprintf("declaration %s, %s", b.declaration.File.FileName, b.declaration.File.Encoding)
	default:
		account, _ = b.raw["account"].(string)
		what = "data " + filepath.Base(b.dataPath)
		if inv, ok := b.raw["invoice"].(map[string]any); ok {
			number, _ := inv["number"].(string)
			mode, _ := b.raw["mode"].(string)
			what = fmt.Sprintf("invoice %s, %s mode", number, mode)
		}
	}
	fmt.Fprintf(w, "  %s for account %s", what, account)
	if b.stored != "" {
		fmt.Fprintf(w, "; file %s (%s)", filepath.Base(b.path), b.stored)
	}
	fmt.Fprintln(w)
	statusType := events.TypeInvoiceStatus
	if ev.Type() == events.TypeDeclarationSubmit {
		statusType = events.TypeDeclarationStatus
	}
	if subject, err := events.Subject(statusType, account); err == nil {
		fmt.Fprintf(w, "  its status events come on %s: passerelle watch --submit %s\n", subject, ev.ID())
	}
}

// readJSON reads DATA.json, and the --document to attach.
func (f *publishFlags) readJSON(path string) (*publishBuild, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	data := map[string]any{}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&data); err != nil {
		return nil, fmt.Errorf("publish: %s is not a JSON object: %w", path, err)
	}
	if f.account != "" {
		data["account"] = f.account
	}
	b := &publishBuild{typ: f.typ, raw: data, dataPath: path}
	if b.typ == "" {
		b.typ = events.TypeInvoiceSubmit
		if _, ok := data["file"]; ok {
			b.typ = events.TypeDeclarationSubmit
		}
	}
	if b.typ != events.TypeInvoiceSubmit && b.typ != events.TypeDeclarationSubmit {
		return nil, &usageError{fmt.Sprintf("publish: --type %q is not invoice.submit or declaration.submit", b.typ)}
	}
	if f.document != "" {
		if b.typ != events.TypeInvoiceSubmit {
			return nil, &usageError{"publish: --document attaches an invoice's document; a declaration file goes with --declaration"}
		}
		if b.file, err = os.ReadFile(f.document); err != nil {
			return nil, fmt.Errorf("publish: %w", err)
		}
		b.path, b.contentType = f.document, contentTypeOf(f.document)
	}
	return b, nil
}

// readPDF builds a pdf-mode invoice from the PDF and the invoice flags.
func (f *publishFlags) readPDF() (*publishBuild, error) {
	var missing []string
	for _, name := range []string{"number", "recipient"} {
		if !f.set[name] {
			missing = append(missing, "--"+name)
		}
	}
	if len(missing) > 0 {
		return nil, &usageError{fmt.Sprintf("publish: --pdf needs %s (Chorus Pro needs the invoice's number, recipient and totals besides the PDF)", strings.Join(missing, " and "))}
	}
	if len(f.recipient) != 14 || strings.Trim(f.recipient, "0123456789") != "" {
		return nil, &usageError{fmt.Sprintf("publish: --recipient %q is not a SIRET (14 digits)", f.recipient)}
	}
	date := f.date
	if date == "" {
		date = time.Now().Format(time.DateOnly)
	} else if _, err := time.Parse(time.DateOnly, date); err != nil {
		return nil, &usageError{fmt.Sprintf("publish: --date %q is not a date YYYY-MM-DD", date)}
	}
	totals, err := f.totals()
	if err != nil {
		return nil, err
	}
	content, err := readDocument(f.pdf, choruspro.KindPDF)
	if err != nil {
		return nil, err
	}
	inv := events.Invoice{
		Number: f.number, Date: date, Totals: totals, PurchaseOrder: f.purchaseOrder,
		Recipient: &events.Recipient{SIRET: f.recipient, ServiceCode: f.serviceCode},
	}
	return &publishBuild{
		typ:     events.TypeInvoiceSubmit,
		invoice: &events.InvoiceSubmit{Account: f.account, Mode: events.ModePDF, Invoice: inv},
		file:    content, path: f.pdf, contentType: "application/pdf",
	}, nil
}

// totals reads --net, --vat and --total (two of them at least) and --payable.
func (f *publishFlags) totals() (*events.Totals, error) {
	amounts := map[string]*int64{}
	for _, a := range []struct {
		name  string
		value string
	}{{"net", f.net}, {"vat", f.vat}, {"total", f.total}, {"payable", f.payable}} {
		if !f.set[a.name] {
			continue
		}
		cents, err := parseAmount(a.value)
		if err != nil {
			return nil, &usageError{fmt.Sprintf("publish: --%s %q: %v", a.name, a.value, err)}
		}
		amounts[a.name] = &cents
	}
	net, vat, total := amounts["net"], amounts["vat"], amounts["total"]
	switch {
	case net != nil && vat != nil && total != nil:
		if *net+*vat != *total {
			return nil, &usageError{fmt.Sprintf("publish: --net %s + --vat %s is %s, not --total %s: Chorus Pro refuses totals that do not add up", formatAmount(*net), formatAmount(*vat), formatAmount(*net+*vat), formatAmount(*total))}
		}
	case net != nil && vat != nil:
		t := *net + *vat
		total = &t
	case net != nil && total != nil:
		v := *total - *net
		vat = &v
	case vat != nil && total != nil:
		n := *total - *vat
		net = &n
	default:
		return nil, &usageError{"publish: --pdf needs the invoice's totals: two of --net, --vat and --total (e.g. --total 1200.00 --vat 200.00; --vat 0 without VAT)"}
	}
	payable := total
	if p := amounts["payable"]; p != nil {
		payable = p
	}
	return &events.Totals{
		Net: json.Number(formatAmount(*net)), VAT: json.Number(formatAmount(*vat)),
		Gross: json.Number(formatAmount(*total)), Payable: json.Number(formatAmount(*payable)),
	}, nil
}

// parseAmount reads an amount with at most two decimals, in cents.
func parseAmount(s string) (int64, error) {
	if strings.Contains(s, ",") && !strings.Contains(s, ".") {
		return 0, errors.New("the decimal separator is a dot (1200.50)")
	}
	if !regexp.MustCompile(`^-?[0-9]{1,13}(\.[0-9]{1,2})?$`).MatchString(s) {
		return 0, errors.New("not an amount with at most two decimals (1200.50)")
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(s, ".")
	frac = (frac + "00")[:2]
	var cents int64
	for _, c := range whole + frac {
		cents = cents*10 + int64(c-'0')
	}
	if neg {
		cents = -cents
	}
	return cents, nil
}

func formatAmount(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)
}

// readDocument reads a PDF or flow file and checks it as passerelle will.
func readDocument(path string, kind choruspro.DocumentKind) ([]byte, error) {
	content, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	if err := choruspro.ValidateDocument(filepath.Base(path), content, kind); err != nil {
		hint := ""
		var de *choruspro.DocumentError
		if errors.As(err, &de) && de.InName {
			hint = fmt.Sprintf(": rename the file (at most %d characters, extension %s)", choruspro.MaxFileNameLength, strings.Join(choruspro.AllowedExtensions(kind), ", "))
		}
		return nil, fmt.Errorf("publish: %w%s", err, hint)
	}
	return content, nil
}

// flowSyntaxes returns the syntaxes that fit each kind of flow file, the default
// first.
func flowSyntaxes() map[string][]string {
	return map[string][]string{
		"PDF": {string(choruspro.SyntaxeFacturX)},
		"UBL": {string(choruspro.SyntaxeUBL), string(choruspro.SyntaxeUBLMin), string(choruspro.SyntaxeUBLFraisDeJustice), string(choruspro.SyntaxeCPPMin)},
		"CII": {string(choruspro.SyntaxeCII), string(choruspro.SyntaxeCIIMin), string(choruspro.SyntaxeCPPMin)},
		"archive": {string(choruspro.SyntaxeUBL), string(choruspro.SyntaxeCII), string(choruspro.SyntaxeFacturX), string(choruspro.SyntaxeUBLMin),
			string(choruspro.SyntaxeCIIMin), string(choruspro.SyntaxeCPPMin), string(choruspro.SyntaxeUBLFraisDeJustice)},
	}
}

// readFlow builds a flow-mode invoice from the flow file: its syntax and number
// are read from the file unless given.
func (f *publishFlags) readFlow() (*publishBuild, error) {
	content, err := readDocument(f.flow, choruspro.KindFlux)
	if err != nil {
		return nil, err
	}
	kind, number, err := readFlowFile(content)
	if err != nil {
		return nil, fmt.Errorf("publish: %s: %w", f.flow, err)
	}
	fits := flowSyntaxes()[kind]
	switch {
	case f.syntax == "" && kind == "archive":
		return nil, &usageError{fmt.Sprintf("publish: %s is an archive: give --syntax, the syntax of its invoices (%s)", f.flow, strings.Join(fits, ", "))}
	case f.syntax == "":
		f.syntax = fits[0]
	case !slices.Contains(fits, f.syntax):
		return nil, &usageError{fmt.Sprintf("publish: --syntax %q does not fit %s, a %s file: give one of %s", f.syntax, f.flow, kind, strings.Join(fits, ", "))}
	}
	switch {
	case f.number == "" && number == "":
		return nil, &usageError{fmt.Sprintf("publish: no invoice number found in %s: give --number, the number of the invoice it holds", f.flow)}
	case f.number == "":
		f.number = number
	case number != "" && number != f.number:
		return nil, &usageError{fmt.Sprintf("publish: %s holds invoice %q, not --number %q: passerelle follows the invoice by its number", f.flow, number, f.number)}
	}
	contentType := "application/xml"
	switch kind {
	case "PDF":
		contentType = "application/pdf"
	case "archive":
		contentType = contentTypeOf(f.flow)
	}
	return &publishBuild{
		typ: events.TypeInvoiceSubmit,
		invoice: &events.InvoiceSubmit{Account: f.account, Mode: events.ModeFlow, FlowSyntax: f.syntax,
			Invoice: events.Invoice{Number: f.number}},
		file: content, path: f.flow, contentType: contentType,
	}, nil
}

// readFlowFile tells what a flow file is, PDF (Factur-X), UBL, CII or archive,
// and the invoice number it holds when it can be read ("" for an archive, or a
// PDF without an embedded CII invoice).
func readFlowFile(content []byte) (kind, number string, err error) {
	switch {
	case bytes.HasPrefix(content, []byte("%PDF-")):
		xmlDoc := embeddedCII(content)
		if xmlDoc == nil {
			return "PDF", "", nil
		}
		_, number, err := readInvoiceXML(xmlDoc)
		return "PDF", number, err
	case bytes.HasPrefix(content, []byte{0x1f, 0x8b}), bytes.HasPrefix(content, []byte("PK")):
		return "archive", "", nil
	}
	return readInvoiceXML(content)
}

// readInvoiceXML reads the kind (UBL or CII) and the number of an XML invoice.
func readInvoiceXML(content []byte) (kind, number string, err error) {
	dec := xml.NewDecoder(bytes.NewReader(content))
	var path []string
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return kind, "", fmt.Errorf("not well-formed XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			path = append(path, t.Name.Local)
			text.Reset()
			if len(path) == 1 {
				switch t.Name.Local {
				case "Invoice", "CreditNote":
					kind = "UBL"
				case "CrossIndustryInvoice":
					kind = "CII"
				default:
					return "", "", fmt.Errorf("the root element is %s: a flow file is a UBL Invoice or CreditNote, a CII CrossIndustryInvoice, or a Factur-X PDF", t.Name.Local)
				}
			}
		case xml.CharData:
			if text.Len() < 1024 {
				text.Write(t)
			}
		case xml.EndElement:
			at := strings.Join(path[1:], "/")
			if kind == "UBL" && at == "ID" || kind == "CII" && at == "ExchangedDocument/ID" {
				return kind, strings.TrimSpace(text.String()), nil
			}
			path = path[:len(path)-1]
		}
	}
	if kind == "" {
		return "", "", errors.New("no XML element: a flow file is a UBL or CII invoice, or a Factur-X PDF")
	}
	return kind, "", nil
}

// embeddedCII returns the CII invoice embedded in a Factur-X PDF (a stream, raw or
// Flate-compressed), or nil.
func embeddedCII(pdf []byte) []byte {
	isCII := func(b []byte) bool {
		return bytes.Contains(b, []byte(":CrossIndustryInvoice")) || bytes.Contains(b, []byte("<CrossIndustryInvoice"))
	}
	for rest := pdf; ; {
		i := bytes.Index(rest, []byte("stream"))
		if i < 0 {
			return nil
		}
		if i >= 3 && string(rest[i-3:i]) == "end" {
			rest = rest[i+len("stream"):]
			continue
		}
		start := i + len("stream")
		for start < len(rest) && (rest[start] == '\r' || rest[start] == '\n') {
			start++
		}
		end := bytes.Index(rest[start:], []byte("endstream"))
		if end < 0 {
			return nil
		}
		stream := rest[start : start+end]
		if isCII(stream) {
			return stream
		}
		if zr, err := zlib.NewReader(bytes.NewReader(stream)); err == nil {
			out, _ := io.ReadAll(io.LimitReader(zr, 4*choruspro.MaxDocumentSize))
			zr.Close()
			if isCII(out) {
				return out
			}
		}
		rest = rest[start+end+len("endstream"):]
	}
}

// readDeclaration builds a declaration.submit from a PASRAU file: as text when it
// is UTF-8 and small, else as bytes in its encoding.
func (f *publishFlags) readDeclaration() (*publishBuild, error) {
	content, err := os.ReadFile(f.declaration)
	if err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	if len(content) == 0 {
		return nil, fmt.Errorf("publish: %s is empty", f.declaration)
	}
	var encoding string
	switch strings.ToUpper(f.encoding) {
	case "AUTO":
		encoding = events.EncodingLatin1
		if utf8.Valid(content) {
			encoding = events.EncodingUTF8
		}
	case "UTF-8", "UTF8":
		if !utf8.Valid(content) {
			return nil, &usageError{fmt.Sprintf("publish: %s is not valid UTF-8: give --encoding ISO-8859-1 if it is Latin-1 (or drop --encoding to detect it)", f.declaration)}
		}
		encoding = events.EncodingUTF8
	case "ISO-8859-1", "LATIN1", "LATIN-1":
		encoding = events.EncodingLatin1
	default:
		return nil, &usageError{fmt.Sprintf("publish: --encoding %q is not UTF-8, ISO-8859-1 or auto", f.encoding)}
	}
	file := events.DeclarationFile{FileName: filepath.Base(f.declaration), Encoding: encoding}
	b := &publishBuild{typ: events.TypeDeclarationSubmit, declaration: &events.DeclarationSubmit{Account: f.account, File: file}}
	if encoding == events.EncodingUTF8 && len(content) <= f.inlineMax {
		b.declaration.File.Text = string(content)
		return b, nil
	}
	b.file, b.path, b.contentType = content, f.declaration, "text/plain"
	return b, nil
}

// publishFlagOf names the flag that sets each field of the data publish builds.
func publishFlagOf() map[string]string {
	return map[string]string{
		"/account":                       "--account",
		"/invoice/number":                "--number",
		"/invoice/date":                  "--date",
		"/invoice/recipient/siret":       "--recipient",
		"/invoice/recipient/serviceCode": "--service-code",
		"/invoice/purchaseOrder":         "--purchase-order",
		"/invoice/totals":                "--net, --vat, --total, --payable",
		"/flowSyntax":                    "--syntax",
		"/document/content":              "--inline-max: a larger file goes through the Object Store",
		"/file/content":                  "--inline-max: a larger file goes through the Object Store",
		"/document":                      "the file",
		"/file":                          "the file",
	}
}

// validateData checks the event's data against its schema, naming for each
// problem the flag to fix when publish built the data.
func validateData(ev *event.Event, source string) error {
	v, err := schemas.New()
	if err != nil {
		return err
	}
	err = v.Validate(ev.Type(), ev.Data())
	var se *schemas.Error
	if !errors.As(err, &se) {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "publish: nothing published: passerelle would reject this %s:", ev.Type())
	for _, p := range se.Problems {
		loc := p.Location
		if loc == "" {
			loc = "/"
		}
		fmt.Fprintf(&b, "\n  at %s: %s", loc, p.Message)
		if source == "DATA.json" {
			continue
		}
		for prefix, fl := range publishFlagOf() {
			if loc == prefix || strings.HasPrefix(loc, prefix+"/") {
				fmt.Fprintf(&b, " (fix %s)", fl)
				break
			}
		}
	}
	if source == "DATA.json" {
		b.WriteString("\nfix the data (see the schema and its examples under schemas/), or give --no-validate to publish it anyway")
	}
	return errors.New(b.String())
}

// publishEvent publishes a submit event in either content mode, with its id as the
// deduplication id and the trace context of ctx in its headers and extensions.
func publishEvent(ctx context.Context, js jetstream.JetStream, subject string, ev *event.Event, structured bool) (*jetstream.PubAck, error) {
	if !structured {
		return events.NewPublisher(js).Publish(ctx, subject, ev)
	}
	events.InjectTrace(ctx, nil, ev)
	msg, err := events.EncodeStructured(subject, ev)
	if err != nil {
		return nil, err
	}
	events.InjectTrace(ctx, msg.Header, nil)
	ack, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(ev.ID()))
	if err != nil {
		return nil, fmt.Errorf("publish %s: %w", subject, err)
	}
	return ack, nil
}

func contentTypeOf(name string) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".pdf":
		return "application/pdf"
	case ".xml":
		return "application/xml"
	case ".zip":
		return "application/zip"
	case ".gz", ".tgz":
		return "application/gzip"
	}
	return "application/octet-stream"
}
