package service_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/schemas"
	"github.com/passerelle-dev/passerelle/workers/devstack"
	"github.com/passerelle-dev/passerelle/workers/devstack/devstacktest"
	"github.com/passerelle-dev/passerelle/workers/pasrau"
	"github.com/passerelle-dev/passerelle/workers/runtime"
	"github.com/passerelle-dev/passerelle/workers/service"
	"github.com/passerelle-dev/passerelle/workers/telemetry"
)

// corpusDir holds the bad-input corpus; its README.md documents the format.
const corpusDir = "../../testdata/intake"

// intakeCase is one file of the corpus: messages published in order, each with the
// answer it must get.
type intakeCase struct {
	Description string          `json:"description"`
	Objects     []intakeObject  `json:"objects"`
	Messages    []intakeMessage `json:"messages"`

	file string // relative to corpusDir, for messages
	dir  string // where the files it names are
}

// intakeObject is put in the document bucket before the case is published.
type intakeObject struct {
	Name   string `json:"name"`
	Text   string `json:"text"`
	Base64 string `json:"base64"`
}

type intakeMessage struct {
	Subject       string                   `json:"subject"`
	After         string                   `json:"after"`
	Headers       map[string]headerValues  `json:"headers"`
	HeadersBase64 map[string]string        `json:"headersBase64"`
	Body          json.RawMessage          `json:"body"`
	BodyText      *string                  `json:"bodyText"`
	BodyBase64    string                   `json:"bodyBase64"`
	Generate      map[string]bodyGenerator `json:"generate"`
	Expect        intakeExpect             `json:"expect"`
}

// headerValues is a header's values: a JSON string or an array of strings.
type headerValues []string

func (v *headerValues) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*v = headerValues{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("a header is a string or an array of strings: %w", err)
	}
	*v = many
	return nil
}

// bodyGenerator replaces the value at a JSON pointer of the body.
type bodyGenerator struct {
	File       string          `json:"file"`
	FileBase64 string          `json:"fileBase64"`
	Repeat     string          `json:"repeat"`
	Array      json.RawMessage `json:"array"`
	Times      int             `json:"times"`
	FillBodyTo int             `json:"fillBodyTo"`
	Char       string          `json:"char"`
}

type intakeExpect struct {
	States   []string `json:"states"`
	Final    *bool    `json:"final"`
	More     bool     `json:"more"`
	SubmitID string   `json:"submitId"`
	Account  string   `json:"account"`
	Reason   string   `json:"reason"`
	Errors   []struct {
		Location string `json:"location"`
		Message  string `json:"message"`
	} `json:"errors"`
	Problems []struct {
		Line    int    `json:"line"`
		Rubric  string `json:"rubric"`
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"problems"`
	ExactProblems bool `json:"exactProblems"`
	DeadLetter    *struct {
		Kind   string `json:"kind"`
		Reason string `json:"reason"`
	} `json:"deadLetter"`
	Deposited bool `json:"deposited"`
}

// published is a corpus message once built and published.
type published struct {
	c        *intakeCase
	index    int
	m        *intakeMessage
	msg      *nats.Msg
	submitID string
	stream   string
	seq      uint64
	number   string // invoice number, when the body names one
	fileSHA  string // SHA-256 of the declaration file as PASRAU would receive it
}

func (p *published) String() string {
	return fmt.Sprintf("testdata/intake/%s message %d", p.c.file, p.index+1)
}

// loadCorpus reads every case of the corpus, sorted by file name.
func loadCorpus(t *testing.T) []*intakeCase {
	t.Helper()
	var cases []*intakeCase
	err := filepath.WalkDir(corpusDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || filepath.Ext(path) != ".json" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		c := &intakeCase{dir: filepath.Dir(path)}
		if err := dec.Decode(c); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		rel, _ := filepath.Rel(corpusDir, path)
		c.file = filepath.ToSlash(rel)
		if len(c.Messages) == 0 {
			return fmt.Errorf("%s: no messages", path)
		}
		cases = append(cases, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(cases, func(i, j int) bool { return cases[i].file < cases[j].file })
	return cases
}

// build returns the NATS message of m.
func (c *intakeCase) build(m *intakeMessage) (*nats.Msg, error) {
	msg := &nats.Msg{Subject: m.Subject, Header: nats.Header{}}
	for k, vs := range m.Headers {
		msg.Header[k] = append([]string(nil), vs...)
	}
	for k, v := range m.HeadersBase64 {
		raw, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return nil, fmt.Errorf("headersBase64 %s: %w", k, err)
		}
		msg.Header[k] = []string{string(raw)}
	}
	bodies := 0
	switch {
	case m.Body != nil:
		bodies++
		if len(m.Generate) == 0 {
			var buf bytes.Buffer
			if err := json.Compact(&buf, m.Body); err != nil {
				return nil, fmt.Errorf("body: %w", err)
			}
			msg.Data = buf.Bytes()
			break
		}
		data, err := c.generate(m.Body, m.Generate)
		if err != nil {
			return nil, err
		}
		msg.Data = data
	case m.Generate != nil:
		return nil, fmt.Errorf("generate needs a JSON body")
	}
	if m.BodyText != nil {
		bodies++
		msg.Data = []byte(*m.BodyText)
	}
	if m.BodyBase64 != "" {
		bodies++
		raw, err := base64.StdEncoding.DecodeString(m.BodyBase64)
		if err != nil {
			return nil, fmt.Errorf("bodyBase64: %w", err)
		}
		msg.Data = raw
	}
	if bodies != 1 {
		return nil, fmt.Errorf("give exactly one of body, bodyText and bodyBase64")
	}
	switch m.Subject {
	case events.TypeInvoiceSubmit, events.TypeDeclarationSubmit:
	default:
		return nil, fmt.Errorf("subject %q is not invoice.submit or declaration.submit", m.Subject)
	}
	return msg, nil
}

// generate applies the generators to the JSON body and returns it, without HTML
// escaping (so that the size is what the generators say).
func (c *intakeCase) generate(body json.RawMessage, gens map[string]bodyGenerator) ([]byte, error) {
	var doc any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	pointers := make([]string, 0, len(gens))
	for p := range gens {
		pointers = append(pointers, p)
	}
	sort.Strings(pointers)
	var fill []string
	for _, p := range pointers {
		g := gens[p]
		var v any
		switch {
		case g.File != "":
			b, err := os.ReadFile(filepath.Join(c.dir, filepath.FromSlash(g.File)))
			if err != nil {
				return nil, err
			}
			if !utf8.Valid(b) {
				return nil, fmt.Errorf("generate %s: %s is not UTF-8 (use fileBase64)", p, g.File)
			}
			v = string(b)
		case g.FileBase64 != "":
			b, err := os.ReadFile(filepath.Join(c.dir, filepath.FromSlash(g.FileBase64)))
			if err != nil {
				return nil, err
			}
			v = base64.StdEncoding.EncodeToString(b)
		case g.Repeat != "":
			v = strings.Repeat(g.Repeat, g.Times)
		case g.Array != nil:
			var item any
			d := json.NewDecoder(bytes.NewReader(g.Array))
			d.UseNumber()
			if err := d.Decode(&item); err != nil {
				return nil, fmt.Errorf("generate %s: %w", p, err)
			}
			items := make([]any, g.Times)
			for i := range items {
				items[i] = item
			}
			v = items
		case g.FillBodyTo > 0 && len(g.Char) == 1:
			v = ""
			fill = append(fill, p)
		default:
			return nil, fmt.Errorf("generate %s: no generator", p)
		}
		if err := setPointer(doc, p, v); err != nil {
			return nil, err
		}
	}
	out, err := marshalRaw(doc)
	if err != nil {
		return nil, err
	}
	for _, p := range fill {
		g := gens[p]
		n := g.FillBodyTo - len(out)
		if n < 0 {
			return nil, fmt.Errorf("generate %s: the body already has %d bytes", p, len(out))
		}
		if err := setPointer(doc, p, strings.Repeat(g.Char, n)); err != nil {
			return nil, err
		}
		if out, err = marshalRaw(doc); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func marshalRaw(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// setPointer sets the member or element a JSON pointer names (its parent must exist).
func setPointer(doc any, pointer string, v any) error {
	if !strings.HasPrefix(pointer, "/") {
		return fmt.Errorf("pointer %q does not start with /", pointer)
	}
	tokens := strings.Split(pointer[1:], "/")
	for i, tok := range tokens {
		tokens[i] = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
	}
	parent := doc
	for _, tok := range tokens[:len(tokens)-1] {
		switch p := parent.(type) {
		case map[string]any:
			parent = p[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(p) {
				return fmt.Errorf("pointer %q: no element %q", pointer, tok)
			}
			parent = p[i]
		default:
			return fmt.Errorf("pointer %q: %q is not in an object or array", pointer, tok)
		}
	}
	last := tokens[len(tokens)-1]
	switch p := parent.(type) {
	case map[string]any:
		p[last] = v
	case []any:
		i, err := strconv.Atoi(last)
		if err != nil || i < 0 || i >= len(p) {
			return fmt.Errorf("pointer %q: no element %q", pointer, last)
		}
		p[i] = v
	default:
		return fmt.Errorf("pointer %q: the parent is not an object or array", pointer)
	}
	return nil
}

// submitIDOf returns the id the answers of msg carry: the expectation's, else the
// (percent-decoded) ce-id header, else a structured event's id.
func submitIDOf(m *intakeMessage, msg *nats.Msg) string {
	if m.Expect.SubmitID != "" {
		return m.Expect.SubmitID
	}
	if vs := msg.Header.Values("ce-id"); len(vs) == 1 {
		id, ok := percentDecoded(vs[0])
		if ok {
			return id
		}
		return ""
	}
	var structured struct {
		ID string `json:"id"`
	}
	if strings.Contains(msg.Header.Get("content-type"), "cloudevents+json") && json.Unmarshal(msg.Data, &structured) == nil {
		return structured.ID
	}
	return ""
}

func percentDecoded(s string) (string, bool) {
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b = append(b, s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		n, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", false
		}
		b = append(b, byte(n))
		i += 2
	}
	return string(b), utf8.Valid(b)
}

// describe reads what the deposit checks need from a message: its invoice number,
// or the SHA-256 of its declaration file in ISO-8859-1.
func (p *published) describe() {
	var data struct {
		Invoice struct {
			Number string `json:"number"`
		} `json:"invoice"`
		File struct {
			Encoding string `json:"encoding"`
			Text     string `json:"text"`
			Content  string `json:"content"`
		} `json:"file"`
		Data json.RawMessage `json:"data"`
	}
	_ = json.Unmarshal(p.msg.Data, &data)
	if data.Data != nil { // structured mode: the data is inside
		_ = json.Unmarshal(data.Data, &data)
	}
	p.number = data.Invoice.Number
	var file []byte
	enc := pasrau.UTF8
	switch {
	case data.File.Text != "":
		file = []byte(data.File.Text)
	case data.File.Content != "":
		file, _ = base64.StdEncoding.DecodeString(data.File.Content)
		if data.File.Encoding == events.EncodingLatin1 {
			enc = pasrau.Latin1
		}
	}
	if len(file) > 0 {
		if latin1, err := pasrau.ToLatin1(file, enc); err == nil {
			file = latin1
		}
		p.fileSHA = sha256Hex(file)
	}
}

// statusEvent is a status event as the corpus test reads it.
type statusEvent struct {
	Subject   string          `json:"-"`
	Type      string          `json:"-"`
	Raw       json.RawMessage `json:"-"`
	SubmitID  string          `json:"submitId"`
	Account   string          `json:"account"`
	State     string          `json:"state"`
	Final     bool            `json:"final"`
	Sequence  int             `json:"sequence"`
	Rejection *struct {
		Source string `json:"source"`
		Reason string `json:"reason"`
		Errors []struct {
			Location string `json:"location"`
			Message  string `json:"message"`
		} `json:"errors"`
	} `json:"rejection"`
	Problems []struct {
		Line    int    `json:"line"`
		Rubric  string `json:"rubric"`
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"problems"`
}

func (s statusEvent) String() string {
	b, _ := json.Marshal(s)
	if len(b) > 1500 {
		b = append(b[:1500], "..."...)
	}
	return s.Subject + " " + string(b)
}

// statuses returns every status event received, by submit id, in arrival order.
func statuses(t *testing.T, h *devstacktest.Harness) map[string][]statusEvent {
	t.Helper()
	out := map[string][]statusEvent{}
	for _, typ := range []string{events.TypeInvoiceStatus, events.TypeDeclarationStatus} {
		for _, e := range h.Events(typ) {
			var s statusEvent
			if err := json.Unmarshal(e.Data, &s); err != nil {
				t.Errorf("status event %s: %v", e.ID, err)
				continue
			}
			s.Subject, s.Type, s.Raw = e.Subject, e.Type, e.Data
			out[s.SubmitID] = append(out[s.SubmitID], s)
		}
	}
	return out
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

// runService runs passerelle on the harness's stack with the accounts of reg, and
// returns it with the channel its Run result arrives on (a result before the test
// ends is a crash). The test's end stops it.
func runService(t *testing.T, h *devstacktest.Harness, tel *telemetry.Telemetry, reg service.Accounts) (*service.Service, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	nc, err := h.Stack.Connect("passerelle under test")
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.New(h.Config, service.Deps{NATS: nc, Accounts: reg, Telemetry: tel})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- svc.Run(ctx)
		close(done)
	}()
	select {
	case <-svc.Ready:
	case err := <-done:
		t.Fatalf("service stopped at start: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("service: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("service did not stop within 15 s")
		}
		nc.Close()
	})
	return svc, done
}

// TestBadInputCorpus publishes every case of testdata/intake on one stack, then a
// valid invoice and a valid declaration, and checks that each case got exactly the
// answer it must get (status events, dead letters, nothing deposited), that the
// valid submissions published after them still reach their final states, and that
// no worker crashed.
func TestBadInputCorpus(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	cases := loadCorpus(t)
	h := devstacktest.New(t, devstack.Config{})
	var logs devstacktest.SyncBuffer
	tel, err := telemetry.Setup(context.Background(), telemetry.Config{LogOutput: &logs, LogLevel: "warn"})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := h.Stack.Accounts(tel)
	if err != nil {
		t.Fatal(err)
	}
	_, crashed := runService(t, h, tel, reg)
	ctx := context.Background()

	// Objects the cases reference.
	obs, err := h.JS.ObjectStore(ctx, events.DocumentsBucket)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for _, c := range cases {
		for _, o := range c.Objects {
			if stored[o.Name] {
				continue
			}
			content := []byte(o.Text)
			if o.Base64 != "" {
				if content, err = base64.StdEncoding.DecodeString(o.Base64); err != nil {
					t.Fatalf("%s: object %s: %v", c.file, o.Name, err)
				}
			}
			if _, err := obs.PutBytes(ctx, o.Name, content); err != nil {
				t.Fatalf("%s: object %s: %v", c.file, o.Name, err)
			}
			stored[o.Name] = true
		}
	}

	// Publish: the first message of every case, then the second of those that have
	// one (once the first is answered if it says so), and so on.
	byCase := make([][]*published, len(cases))
	var all []*published
	publish := func(p *published) {
		ack, err := h.JS.PublishMsg(ctx, p.msg)
		if err != nil {
			t.Fatalf("%s: publish: %v", p, err)
		}
		p.stream, p.seq = ack.Stream, ack.Sequence
	}
	for round := 0; ; round++ {
		var batch []*published
		for i, c := range cases {
			if round >= len(c.Messages) {
				continue
			}
			m := &c.Messages[round]
			msg, err := c.build(m)
			if err != nil {
				t.Fatalf("testdata/intake/%s message %d: %v", c.file, round+1, err)
			}
			p := &published{c: c, index: round, m: m, msg: msg, submitID: submitIDOf(m, msg)}
			p.describe()
			batch = append(batch, p)
			byCase[i] = append(byCase[i], p)
		}
		if len(batch) == 0 {
			break
		}
		var waitFor []*published
		for _, p := range batch {
			if p.m.After == "answered" {
				waitFor = append(waitFor, byCase[indexOf(cases, p.c)][p.index-1])
			} else if p.m.After != "" {
				t.Fatalf("%s: after %q is not \"answered\"", p, p.m.After)
			}
		}
		if len(waitFor) > 0 {
			h.WaitFor(15*time.Second, "the answers the next messages wait for", func() bool {
				ss := statuses(t, h)
				for _, p := range waitFor {
					if len(ss[p.submitID]) == 0 {
						return false
					}
				}
				return true
			})
		}
		for _, p := range batch {
			publish(p)
		}
		all = append(all, batch...)
	}

	// Then one valid invoice and one valid declaration.
	goodInvoice, err := events.NewInvoiceSubmit("", invoiceExample(t, "GOOD-INTAKE"))
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile("../pasrau/testdata/valid-declaration.txt")
	if err != nil {
		t.Fatal(err)
	}
	goodText := strings.Replace(string(text), "S20.G00.05.005,'01112026'", "S20.G00.05.005,'01012032'", 1)
	goodDeclaration, err := events.NewDeclarationSubmit("", events.DeclarationSubmit{Account: devstack.DemoAccount, File: events.DeclarationFile{Encoding: events.EncodingUTF8, Text: goodText}})
	if err != nil {
		t.Fatal(err)
	}
	goodIDs := []string{h.Publish(goodInvoice), h.Publish(goodDeclaration)}
	publishedAt := time.Now()
	latin1, _ := pasrau.ToLatin1([]byte(goodText), pasrau.UTF8)
	goodSHA := sha256Hex(latin1)
	t.Logf("%d cases, %d messages published in %v", len(cases), len(all), time.Since(t0).Round(time.Millisecond))

	// Wait for every answer and dead letter expected, and the valid ones' finals.
	start := time.Now()
	deadline := start.Add(15 * time.Second)
	var goodDone time.Time
	for {
		ss := statuses(t, h)
		dls := deadLetterIndex(h)
		missing := ""
		for _, id := range goodIDs {
			if !hasFinal(ss[id]) {
				missing = "the final status of valid submission " + id
			}
		}
		if goodDone.IsZero() && missing == "" {
			goodDone = time.Now()
			t.Logf("the valid invoice and declaration reached their final states %v after their publication", goodDone.Sub(publishedAt).Round(time.Millisecond))
		}
		for _, p := range all {
			if len(p.m.Expect.States) > 0 && len(ss[p.submitID]) < len(p.m.Expect.States) {
				missing = p.String() + "'s answer"
			}
			if p.m.Expect.DeadLetter != nil && dls[dlKey(p.stream, p.seq)] == nil {
				missing = p.String() + "'s dead letter"
			}
		}
		if missing == "" {
			t.Logf("every answer arrived within %v", time.Since(start).Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("still waiting for %s (and maybe more) after %v; checking what arrived", missing, time.Since(start).Round(time.Second))
			break
		}
		select {
		case err := <-crashed:
			t.Fatalf("the service stopped while handling the corpus: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
	time.Sleep(500 * time.Millisecond) // let late, unexpected answers arrive too

	ss := statuses(t, h)
	dls := deadLetterIndex(h)
	for _, id := range goodIDs {
		var final string
		for _, s := range ss[id] {
			if s.Final {
				final = s.State
			}
		}
		if final != "MISE_EN_PAIEMENT" && final != events.StateAccepted {
			t.Errorf("the valid submission %s published after the corpus ended %q (statuses %v): the bad inputs blocked it", id, final, ss[id])
		}
	}

	// Status events: per submit id, the expected states in order.
	byID := map[string][]*published{}
	for _, p := range all {
		if p.submitID != "" {
			byID[p.submitID] = append(byID[p.submitID], p)
		}
	}
	validator, err := schemas.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(strings.TrimSuffix(c.file, ".json"), func(t *testing.T) {
			for _, p := range byCase[indexOf(cases, c)] {
				checkAnswer(t, p, ss[p.submitID], byID[p.submitID])
				checkDeadLetter(t, p, dls[dlKey(p.stream, p.seq)])
				if p.submitID != "" && byID[p.submitID][0] == p {
					for _, s := range ss[p.submitID] {
						if err := validator.Validate(s.Type, s.Raw); err != nil {
							t.Errorf("%s: its %s status event breaks the %s schema: %v", p, s.State, s.Type, err)
						}
					}
				}
			}
		})
	}
	known := map[string]bool{goodIDs[0]: true, goodIDs[1]: true}
	for id := range byID {
		known[id] = true
	}
	for id, list := range ss {
		if !known[id] {
			t.Errorf("status events for submission %q, which no corpus message should have been answered as: %v", id, list)
		}
	}
	// Every dead letter belongs to a corpus message; none is a crash.
	mine := map[string]bool{}
	for _, p := range all {
		mine[dlKey(p.stream, p.seq)] = true
	}
	for key, m := range dls {
		reason := m.Header.Get(runtime.HeaderDeadReason)
		if !mine[key] {
			t.Errorf("dead letter of %s that no corpus message expects: %s %q", key, m.Header.Get(runtime.HeaderDeadKind), reason)
		}
		if containsFold(reason, "panic") {
			t.Errorf("dead letter of %s is a handler panic: %q", key, reason)
		}
	}
	checkDeposits(t, h, all, goodSHA)

	select {
	case err := <-crashed:
		t.Errorf("the service stopped by itself: %v", err)
	default:
	}
	if strings.Contains(logs.String(), "panicked") {
		for _, line := range strings.Split(logs.String(), "\n") {
			if strings.Contains(line, "panicked") {
				t.Errorf("a handler panicked: %.2000s", line)
			}
		}
	}
}

func indexOf(cases []*intakeCase, c *intakeCase) int {
	return slices.Index(cases, c)
}

func hasFinal(ss []statusEvent) bool {
	return slices.ContainsFunc(ss, func(s statusEvent) bool { return s.Final })
}

func dlKey(stream string, seq uint64) string { return stream + "/" + strconv.FormatUint(seq, 10) }

// deadLetterIndex returns the dead letters by the stream and sequence of the
// message they copy.
func deadLetterIndex(h *devstacktest.Harness) map[string]*runtime.DeadLetter {
	letters, err := h.DeadLetterStore().List(context.Background())
	if err != nil {
		h.T.Fatal(err)
	}
	out := map[string]*runtime.DeadLetter{}
	for _, d := range letters {
		seq, _ := strconv.ParseUint(d.StreamSeq, 10, 64)
		out[dlKey(d.Stream, seq)] = d
	}
	return out
}

// checkAnswer checks the status events of p's submit id against what every corpus
// message with that id expects (in publishing order), and details p's own answer.
func checkAnswer(t *testing.T, p *published, got []statusEvent, sharing []*published) {
	t.Helper()
	exp := p.m.Expect
	if len(exp.States) == 0 {
		if p.submitID != "" && len(got) > 0 && len(sharing) == 1 {
			t.Errorf("%s must not be answered (%s), but got %d status event(s): %v", p, p.c.Description, len(got), got)
		}
		return
	}
	if p.submitID == "" {
		t.Fatalf("%s expects an answer but has no submit id (give expect.submitId)", p)
	}
	// Walk the expected states of every message with this id, in order.
	pos := 0
	var mine statusEvent
	more := false
	total := 0
	for _, q := range sharing {
		more = more || q.m.Expect.More
		total += len(q.m.Expect.States)
		for i, state := range q.m.Expect.States {
			j := slices.IndexFunc(got[pos:], func(s statusEvent) bool { return s.State == state })
			if j < 0 {
				if q == p {
					t.Errorf("%s (%s): no %q status after the previous ones; got %v", p, p.c.Description, state, got)
					return
				}
				return // reported by q's own check
			}
			pos += j
			if q == p && i == len(q.m.Expect.States)-1 {
				mine = got[pos]
			}
			pos++
		}
	}
	if !more && len(got) != total {
		t.Errorf("%s: %d status events for submission %s, want %d (%v); got %v", p, len(got), p.submitID, total, statesOf(sharing), got)
	}
	wantFinal := exp.Final == nil || *exp.Final
	if mine.Final != wantFinal {
		t.Errorf("%s: status %s has final=%v, want %v", p, mine.State, mine.Final, wantFinal)
	}
	if exp.Account != "" && mine.Account != exp.Account {
		t.Errorf("%s: answered for account %q on %s, want account %q", p, mine.Account, mine.Subject, exp.Account)
	}
	if exp.Reason != "" || len(exp.Errors) > 0 {
		switch {
		case mine.Rejection == nil:
			t.Errorf("%s: %s status without rejection; want reason %q and errors %+v", p, mine.State, exp.Reason, exp.Errors)
			return
		case mine.Rejection.Source != "passerelle":
			t.Errorf("%s: rejection source %q, want passerelle", p, mine.Rejection.Source)
		}
		if !containsFold(mine.Rejection.Reason, exp.Reason) {
			t.Errorf("%s: rejection reason %q does not contain %q", p, mine.Rejection.Reason, exp.Reason)
		}
		for _, want := range exp.Errors {
			found := slices.ContainsFunc(mine.Rejection.Errors, func(e struct {
				Location string `json:"location"`
				Message  string `json:"message"`
			}) bool {
				return e.Location == want.Location && containsFold(e.Message, want.Message)
			})
			if !found {
				t.Errorf("%s (%s): the rejection does not point at %s with a message containing %q; its errors: %s", p, p.c.Description, want.Location, want.Message, truncated(mine.Rejection.Errors))
			}
		}
	}
	for _, want := range exp.Problems {
		found := slices.ContainsFunc(mine.Problems, func(pr struct {
			Line    int    `json:"line"`
			Rubric  string `json:"rubric"`
			Code    string `json:"code"`
			Message string `json:"message"`
		}) bool {
			return pr.Line == want.Line && pr.Rubric == want.Rubric && pr.Code == want.Code && containsFold(pr.Message, want.Message)
		})
		if !found {
			t.Errorf("%s (%s): no problem at line %d rubric %q code %s with a message containing %q; problems: %s", p, p.c.Description, want.Line, want.Rubric, want.Code, want.Message, truncated(mine.Problems))
		}
	}
	if exp.ExactProblems && len(mine.Problems) != len(exp.Problems) {
		t.Errorf("%s: %d problems reported, want exactly %d: %s", p, len(mine.Problems), len(exp.Problems), truncated(mine.Problems))
	}
}

func statesOf(ps []*published) [][]string {
	var out [][]string
	for _, p := range ps {
		out = append(out, p.m.Expect.States)
	}
	return out
}

func truncated(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 2000 {
		return string(b[:2000]) + "..."
	}
	return string(b)
}

// checkDeadLetter checks p's copy in the dead-letter stream, or its absence.
func checkDeadLetter(t *testing.T, p *published, d *runtime.DeadLetter) {
	t.Helper()
	want := p.m.Expect.DeadLetter
	switch {
	case want == nil && d == nil:
		return
	case want == nil:
		t.Errorf("%s must not be dead-lettered, but is: %s %q", p, d.Kind, d.Reason)
		return
	case d == nil:
		t.Errorf("%s (%s) is not in the dead-letter stream; want a %s dead letter whose reason contains %q", p, p.c.Description, want.Kind, want.Reason)
		return
	}
	if d.Kind != want.Kind {
		t.Errorf("%s: dead letter of kind %q, want %q (reason %q)", p, d.Kind, want.Kind, d.Reason)
	}
	if !containsFold(d.Reason, want.Reason) {
		t.Errorf("%s: dead-letter reason %.1000q does not contain %q", p, d.Reason, want.Reason)
	}
	if !bytes.Equal(d.Data, p.msg.Data) {
		t.Errorf("%s: the dead letter holds %d bytes, not the original %d-byte body", p, len(d.Data), len(p.msg.Data))
	}
}

// checkDeposits asserts that the emulators received no deposit for a bad case, and
// exactly one for each message that expects one.
func checkDeposits(t *testing.T, h *devstacktest.Harness, all []*published, goodSHA string) {
	t.Helper()
	byNumber := map[string][]*published{}
	bySHA := map[string][]*published{}
	for _, p := range all {
		if p.number != "" {
			byNumber[p.number] = append(byNumber[p.number], p)
		}
		if p.fileSHA != "" {
			bySHA[p.fileSHA] = append(bySHA[p.fileSHA], p)
		}
	}
	wanted := func(ps []*published) int {
		n := 0
		for _, p := range ps {
			if p.m.Expect.Deposited {
				n++
			}
		}
		return n
	}
	invoices := map[string]int{}
	for _, r := range h.Stack.ChorusPro.Requests(0) {
		if !r.Applied || r.Operation == "token" {
			continue
		}
		numbers := strings.Split(r.NumeroFacture, ",")
		if r.NumeroFacture == "" {
			numbers = []string{strings.TrimSuffix(r.NomFichier, filepath.Ext(r.NomFichier))}
		}
		for _, n := range numbers {
			if r.Operation == "soumettre" || r.Operation == "deposerFlux" {
				invoices[n]++
			} else if n != "GOOD-INTAKE" && wanted(byNumber[n]) == 0 {
				t.Errorf("Chorus Pro applied %s of %q (%s): %v", r.Operation, n, r.NomFichier, byNumber[n])
			}
		}
	}
	for n, count := range invoices {
		want := wanted(byNumber[n])
		if n == "GOOD-INTAKE" {
			want = 1
		}
		if count != want {
			t.Errorf("invoice %q was deposited at Chorus Pro %d time(s), want %d: %v", n, count, want, byNumber[n])
		}
	}
	for n, ps := range byNumber {
		if want := wanted(ps); want > 0 && invoices[n] != want {
			t.Errorf("invoice %q was deposited %d time(s), want %d: %v", n, invoices[n], want, ps)
		}
	}
	declarations := map[string]int{}
	for _, r := range h.Stack.PASRAU.Requests(0) {
		if r.Op == "deposit" {
			declarations[r.SHA256]++
		}
	}
	for sha, count := range declarations {
		want := wanted(bySHA[sha])
		if sha == goodSHA {
			want = 1
		}
		if count != want {
			t.Errorf("PASRAU received %d deposit(s) of the file with SHA-256 %s, want %d: %v", count, sha, want, bySHA[sha])
		}
	}
	for sha, ps := range bySHA {
		if want := wanted(ps); want > 0 && declarations[sha] != want {
			t.Errorf("the declaration of %v was deposited %d time(s), want %d", ps, declarations[sha], want)
		}
	}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
