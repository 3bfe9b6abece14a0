package main

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/text/encoding/charmap"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/schemas"
	"github.com/passerelle-dev/passerelle/workers/devstack"
	"github.com/passerelle-dev/passerelle/workers/devstack/devstacktest"
)

// publishedID returns the event id `passerelle publish` printed.
func publishedID(t *testing.T, out string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^published (\S+) on (invoice|declaration)\.submit$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("publish did not print the event id and subject:\n%s", out)
	}
	return m[1]
}

// startWatch runs `passerelle watch` until the returned stop is called, which
// returns everything it printed.
func startWatch(t *testing.T, natsURL string, args ...string) (out *devstacktest.SyncBuffer, stop func() string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out = &devstacktest.SyncBuffer{}
	done := make(chan error, 1)
	args = append([]string{"watch", "--nats", natsURL}, args...)
	go func() { done <- run(ctx, args, envOf(nil), nil, out, out) }()
	stopped := false
	stop = func() string {
		t.Helper()
		if !stopped {
			stopped = true
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("watch %q: %v", args, err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("watch %q did not stop within 10s of its context's end", args)
			}
		}
		return out.String()
	}
	t.Cleanup(func() { stop() })
	return out, stop
}

// waitLines waits until out has at least n lines matching re.
func waitLines(t *testing.T, out *devstacktest.SyncBuffer, what string, re *regexp.Regexp, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(re.FindAllString(out.String(), -1)) < n {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 30s; output:\n%s", what, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// facturX is a minimal Factur-X PDF: its CII invoice embedded as a Flate stream.
func facturX(t *testing.T, number, buyerSIRET string) []byte {
	t.Helper()
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	if _, err := zw.Write(ciiInvoice(number, buyerSIRET)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	var pdf bytes.Buffer
	pdf.WriteString("%PDF-1.7\n1 0 obj\n<< /Type /EmbeddedFile /Subtype /text#2Fxml /Filter /FlateDecode >>\nstream\n")
	pdf.Write(z.Bytes())
	pdf.WriteString("\nendstream\nendobj\ntrailer\n<< >>\n%%EOF\n")
	return pdf.Bytes()
}

const minimalPDF = "%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"

// TestPublishAndWatch publishes from files as an operator does — a PDF invoice
// (through the Object Store, continuing a trace), a Factur-X flow, a PDF invoice
// Chorus Pro ends up rejecting, JSON data in structured content mode and a PASRAU
// declaration in ISO-8859-1 — sees each reach its final state, then follows them
// with watch, its filters and its live view.
func TestPublishAndWatch(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	t.Parallel()
	h := devstacktest.New(t, devstack.Config{})
	h.StartService()
	natsURL := h.Stack.NATS.ClientURL()
	dir := t.TempDir()
	write := func(name string, content []byte) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	const traceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

	// A PDF invoice, larger than --inline-max: its PDF goes through the Object Store.
	out, err := cli(t, natsURL, "publish", "--account", devstack.DemoAccount, "--pdf", write("F-CLI-P.pdf", []byte(minimalPDF)),
		"--number", "CLI-P-1", "--date", "2026-11-20", "--recipient", "11000003100010", "--total", "120.00", "--vat", "20",
		"--inline-max", "16", "--traceparent", traceParent)
	if err != nil {
		t.Fatalf("publish --pdf: %v\n%s", err, out)
	}
	pdfID := publishedID(t, out)
	for _, want := range []string{"invoice CLI-P-1, pdf mode for account demo", "in the Object Store as passerelle-documents/", "invoice.status.demo: passerelle watch --submit " + pdfID} {
		if !strings.Contains(out, want) {
			t.Errorf("publish --pdf output lacks %q:\n%s", want, out)
		}
	}

	// A Factur-X flow: the invoice number and the syntax are read from the file.
	out, err = cli(t, natsURL, "publish", "--account", devstack.DemoAccount, "--flow", write("F-CLI-F.pdf", facturX(t, "CLI-F-1", "11000003100010")))
	if err != nil {
		t.Fatalf("publish --flow: %v\n%s", err, out)
	}
	flowID := publishedID(t, out)
	if !strings.Contains(out, "invoice CLI-F-1, flow mode IN_DP_E2_CII_FACTURX") {
		t.Errorf("publish --flow did not read the number and syntax from the file:\n%s", out)
	}

	// A PDF invoice the emulated recipient rejects (REJETEE in its number), inline.
	out, err = cli(t, natsURL, "publish", "--account", devstack.DemoAccount, "--pdf", write("F-CLI-R.pdf", []byte(minimalPDF)),
		"--number", "CLI-REJETEE-1", "--recipient", "11000003100010", "--net", "100", "--vat", "20.00", "--quiet")
	if err != nil {
		t.Fatalf("publish --pdf --quiet: %v\n%s", err, out)
	}
	rejectedID := strings.TrimSpace(out)
	if !regexp.MustCompile(`^[0-9a-f-]{36}$`).MatchString(rejectedID) {
		t.Fatalf("publish --quiet printed %q, want the event id alone", out)
	}

	// The schema's structured example as a JSON file, for another account name given
	// by flag, in structured content mode.
	invExs, err := schemas.Examples(events.TypeInvoiceSubmit)
	if err != nil {
		t.Fatal(err)
	}
	var structured map[string]any
	if err := json.Unmarshal(invExs[0], &structured); err != nil {
		t.Fatal(err)
	}
	structured["account"] = "someone-else"
	structured["invoice"].(map[string]any)["number"] = "CLI-S-1"
	raw, err := json.Marshal(structured)
	if err != nil {
		t.Fatal(err)
	}
	out, err = cli(t, natsURL, "publish", "--account", devstack.DemoAccount, "--structured", write("invoice.json", raw))
	if err != nil {
		t.Fatalf("publish --structured DATA.json: %v\n%s", err, out)
	}
	structuredID := publishedID(t, out)
	intake, err := h.JS.Stream(context.Background(), "PASSERELLE_INVOICES")
	if err != nil {
		t.Fatal(err)
	}
	last, err := intake.GetLastMsgForSubject(context.Background(), events.TypeInvoiceSubmit)
	if err != nil {
		t.Fatal(err)
	}
	if ct := last.Header.Get("content-type"); ct != events.ContentTypeStructured || last.Header.Get(jetstream.MsgIDHeader) != structuredID {
		t.Errorf("publish --structured stored content-type %q, Nats-Msg-Id %q; want %s, %s", ct, last.Header.Get(jetstream.MsgIDHeader), events.ContentTypeStructured, structuredID)
	}

	// The schema's declaration example, as an ISO-8859-1 file (it has accents).
	exs, err := schemas.Examples(events.TypeDeclarationSubmit)
	if err != nil {
		t.Fatal(err)
	}
	var decl events.DeclarationSubmit
	if err := json.Unmarshal(exs[0], &decl); err != nil {
		t.Fatal(err)
	}
	latin1, err := charmap.ISO8859_1.NewEncoder().String(decl.File.Text)
	if err != nil {
		t.Fatal(err)
	}
	declPath := write("pasrau-cli.txt", []byte(latin1))
	if out, err := cli(t, natsURL, "publish", "--account", devstack.DemoAccount, "--declaration", declPath, "--encoding", "UTF-8"); err == nil || !strings.Contains(err.Error(), "give --encoding ISO-8859-1") {
		t.Errorf("publish --encoding UTF-8 of a Latin-1 file: %v, want an error saying to give ISO-8859-1\n%s", err, out)
	}
	out, err = cli(t, natsURL, "publish", "--account", devstack.DemoAccount, "--declaration", declPath)
	if err != nil {
		t.Fatalf("publish --declaration: %v\n%s", err, out)
	}
	declID := publishedID(t, out)
	if !strings.Contains(out, "declaration pasrau-cli.txt, ISO-8859-1 for account demo") || !strings.Contains(out, "declaration.status.demo") {
		t.Errorf("publish --declaration output does not tell the encoding detected and the status subject:\n%s", out)
	}

	h.WaitFinal(90*time.Second, pdfID, flowID, rejectedID, declID, structuredID)
	for id, want := range map[string]string{pdfID: "MISE_EN_PAIEMENT", flowID: "MISE_EN_PAIEMENT", rejectedID: "REJETEE", declID: events.StateAccepted, structuredID: "MISE_EN_PAIEMENT"} {
		if s, _ := h.Final(id); s.State != want {
			t.Errorf("submission %s ended %s, want %s (history %v)", id, s.State, want, h.History(id))
		}
	}
	h.CheckSequences(pdfID, flowID, rejectedID, declID, structuredID)
	for _, r := range h.Events(events.TypeInvoiceStatus) {
		if strings.Contains(string(r.Data), pdfID) && !strings.Contains(r.TraceParent, "4bf92f3577b34da6a3ce929d0e0e4736") {
			t.Errorf("status %s of the invoice published with --traceparent is in trace %q, want 4bf92f3577b34da6a3ce929d0e0e4736", r.ID, r.TraceParent)
		}
	}

	// Publishing the same id again stores nothing new.
	out, err = cli(t, natsURL, "publish", "--account", devstack.DemoAccount, "--declaration", declPath, "--id", declID)
	if err != nil || !strings.Contains(out, "already published: "+declID) {
		t.Errorf("republishing id %s: %v\n%s", declID, err, out)
	}

	t.Run("submit", func(t *testing.T) {
		out, stop := startWatch(t, natsURL, "--submit", pdfID)
		waitLines(t, out, "the PDF invoice's final status", regexp.MustCompile(`invoice demo +CLI-P-1 +#\d+ MISE_EN_PAIEMENT .*FINAL`), 1)
		got := stop()
		for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
			if !strings.Contains(line, " CLI-P-1 ") {
				t.Errorf("watch --submit %s printed another submission's event: %s", pdfID, line)
			}
		}
		if n := strings.Count(got, "\n"); n < 9 {
			t.Errorf("watch --submit printed %d lines, want the whole history (since all by default):\n%s", n, got)
		}
	})
	t.Run("number and final-only", func(t *testing.T) {
		out, stop := startWatch(t, natsURL, "--number", "CLI-REJETEE-1,CLI-F-1", "--final-only")
		waitLines(t, out, "two final statuses", regexp.MustCompile(`(?m)^.* FINAL.*$`), 2)
		got := stop()
		lines := strings.Split(strings.TrimSpace(got), "\n")
		if len(lines) != 2 || !strings.Contains(got, "CLI-REJETEE-1") || !strings.Contains(got, "CLI-F-1") || !strings.Contains(got, " REJETEE ") {
			t.Errorf("watch --number CLI-REJETEE-1,CLI-F-1 --final-only printed:\n%s\nwant the two final statuses alone", got)
		}
	})
	t.Run("type and account", func(t *testing.T) {
		out, stop := startWatch(t, natsURL, "--type", "declaration", "--account", devstack.DemoAccount, "--since", "all")
		waitLines(t, out, "the declaration accepted", regexp.MustCompile(`declaration demo .* accepted .*FINAL`), 1)
		for _, line := range strings.Split(strings.TrimSpace(stop()), "\n") {
			if !strings.Contains(line, " declaration demo ") {
				t.Errorf("watch --type declaration printed: %s", line)
			}
		}
	})
	t.Run("returns", func(t *testing.T) {
		out, stop := startWatch(t, natsURL, "--type", "return", "--submit", declID)
		waitLines(t, out, "a return of the declaration", regexp.MustCompile(`return +demo +idflux=\S+ nature \d+`), 1)
		for _, line := range strings.Split(strings.TrimSpace(stop()), "\n") {
			if !strings.Contains(line, " return ") {
				t.Errorf("watch --type return printed: %s", line)
			}
		}
	})
	t.Run("new events only by default", func(t *testing.T) {
		out, stop := startWatch(t, natsURL, "--type", "invoice")
		time.Sleep(500 * time.Millisecond)
		if _, err := cli(t, natsURL, "publish", "--account", devstack.DemoAccount, "--flow", write("F-CLI-G.pdf", facturX(t, "CLI-G-1", "11000003100010"))); err != nil {
			t.Fatal(err)
		}
		waitLines(t, out, "the new invoice's received status", regexp.MustCompile(`invoice demo +CLI-G-1 +#1 received`), 1)
		if got := stop(); strings.Contains(got, "CLI-P-1") {
			t.Errorf("watch without --since printed past events:\n%s", got)
		}
	})
	t.Run("live, not a terminal", func(t *testing.T) {
		out, stop := startWatch(t, natsURL, "--live", "--final-only", "--submit", rejectedID)
		waitLines(t, out, "the rejected invoice's final status", regexp.MustCompile(`CLI-REJETEE-1 .*REJETEE.*FINAL`), 1)
		if got := stop(); strings.Count(got, "\n") != 1 {
			t.Errorf("watch --live --final-only on a non-terminal printed:\n%q\nwant the final status line alone", got)
		}
	})
	t.Run("live view", func(t *testing.T) {
		nc, err := nats.Connect(natsURL)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var screen devstacktest.SyncBuffer
		done := make(chan error, 1)
		filters, err := watchFilters("all", devstack.DemoAccount)
		if err != nil {
			t.Fatal(err)
		}
		cfg := jetstream.OrderedConsumerConfig{FilterSubjects: filters, DeliverPolicy: jetstream.DeliverAllPolicy}
		f := outputFilter{submitIDs: map[string]bool{pdfID: true, flowID: true, rejectedID: true, declID: true}}
		go func() { done <- watchLive(ctx, nc, cfg, f, newLiveView(false), &screen, 20*time.Millisecond) }()
		frame := func() string {
			s := screen.String()
			const home = "\x1b[H\x1b[2J"
			i := strings.LastIndex(s, home)
			if i < 0 {
				return ""
			}
			return s[i+len(home):]
		}
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(frame(), "4 submissions, 4 final") {
			if time.Now().After(deadline) {
				t.Fatalf("the live view did not show the 4 submissions final:\n%s", frame())
			}
			time.Sleep(50 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		last := frame()
		for _, want := range []*regexp.Regexp{
			regexp.MustCompile(`invoice +demo +CLI-P-1 +` + pdfID[:8] + ` +MISE_EN_PAIEMENT +9/9 +FINAL +cpp=\d+`),
			regexp.MustCompile(`invoice +demo +CLI-F-1 +` + flowID[:8] + ` +MISE_EN_PAIEMENT +13/13 +FINAL`),
			regexp.MustCompile(`invoice +demo +CLI-REJETEE-1 +` + rejectedID[:8] + ` +REJETEE +5/9 +FINAL`),
			regexp.MustCompile(`declaration +demo +53755096400010 2026-11 +` + declID[:8] + ` +accepted +3/3 +FINAL +idflux=\S+ CCO OK`),
		} {
			if !want.MatchString(last) {
				t.Errorf("the live view has no row matching %s:\n%s", want, last)
			}
		}
		if n := strings.Count(strings.TrimSpace(last), "\n"); n != 6 {
			t.Errorf("the live view has %d lines, want a title, a blank line, a header and 4 rows:\n%s", n+1, last)
		}
	})
}
