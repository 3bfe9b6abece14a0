package schemas_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"
	"go.yaml.in/yaml/v3"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/schemas"
	"github.com/passerelle-dev/passerelle/workers/embedded/natstest"
	"github.com/passerelle-dev/passerelle/workers/runtime"
)

// The AsyncAPI document (asyncapi.yaml) describes the bus the code implements. These
// tests hold it to the code, so that neither drifts: the channels and their addresses,
// the operations, the payload schemas, the headers passerelle really writes (read
// back from a real JetStream), the dead letters' headers, and the examples.

const schemaFormat2020 = "application/schema+json;version=2020-12"

// eventTypes are the event types of the bus, and whether passerelle receives them
// (published on their type) or sends them (published on "<type>.<account>").
var eventTypes = []struct {
	typ     string
	receive bool
}{
	{events.TypeInvoiceSubmit, true},
	{events.TypeDeclarationSubmit, true},
	{events.TypeInvoiceStatus, false},
	{events.TypeDeclarationStatus, false},
	{events.TypeDeclarationReturn, false},
}

// asyncAPI is the document decoded as generic YAML values, with helpers to walk it.
type asyncAPI struct {
	root map[string]any
}

func loadAsyncAPI(t *testing.T) *asyncAPI {
	t.Helper()
	b, err := os.ReadFile("asyncapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := yaml.Unmarshal(b, &root); err != nil {
		t.Fatalf("asyncapi.yaml: %v", err)
	}
	return &asyncAPI{root: root}
}

// deref follows local references ("#/a/b") until node is not one.
func (d *asyncAPI) deref(t *testing.T, node any) map[string]any {
	t.Helper()
	for range 10 {
		m, ok := node.(map[string]any)
		if !ok {
			t.Fatalf("not an object: %v", node)
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		node = d.pointer(t, ref)
	}
	t.Fatalf("too many references from %v", node)
	return nil
}

// pointer returns the node a local reference points at.
func (d *asyncAPI) pointer(t *testing.T, ref string) any {
	t.Helper()
	if !strings.HasPrefix(ref, "#/") {
		t.Fatalf("%q is not a local reference", ref)
	}
	var node any = d.root
	for _, tok := range strings.Split(ref[2:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := node.(map[string]any)
		if !ok || m[tok] == nil {
			t.Fatalf("reference %q: no %q", ref, tok)
		}
		node = m[tok]
	}
	return node
}

// objects returns the entries of the object at node.
func (d *asyncAPI) objects(t *testing.T, node any) map[string]map[string]any {
	t.Helper()
	m, ok := node.(map[string]any)
	if !ok {
		t.Fatalf("not an object: %v", node)
	}
	out := make(map[string]map[string]any, len(m))
	for k, v := range m {
		out[k] = d.deref(t, v)
	}
	return out
}

// headerSchema flattens a headers schema (its allOf included): every property with the
// constraints given to it, and the required names.
type headerSchema struct {
	props    map[string][]map[string]any
	required map[string]bool
	extra    bool // additionalProperties allowed
}

func (d *asyncAPI) headers(t *testing.T, node any) headerSchema {
	t.Helper()
	h := headerSchema{props: map[string][]map[string]any{}, required: map[string]bool{}}
	var walk func(node any)
	walk = func(node any) {
		s := d.deref(t, node)
		props, _ := s["properties"].(map[string]any)
		for name, p := range props {
			h.props[name] = append(h.props[name], d.deref(t, p))
		}
		for _, r := range list(s["required"]) {
			h.required[r.(string)] = true
		}
		if s["additionalProperties"] != nil && s["additionalProperties"] != false {
			h.extra = true
		}
		for _, sub := range list(s["allOf"]) {
			walk(sub)
		}
	}
	walk(node)
	for name := range h.required {
		if _, ok := h.props[name]; !ok {
			t.Errorf("header %s is required but not described", name)
		}
	}
	return h
}

// constant returns the const given to the property name, or "".
func (h headerSchema) constant(name string) string {
	for _, p := range h.props[name] {
		if c, ok := p["const"].(string); ok {
			return c
		}
	}
	return ""
}

func (h headerSchema) names() []string {
	var out []string
	for n := range h.props {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// channelOf returns the channel whose address is address, and its id.
func (d *asyncAPI) channelOf(t *testing.T, address string) (string, map[string]any) {
	t.Helper()
	var id string
	var found map[string]any
	for cid, c := range d.objects(t, d.root["channels"]) {
		if str(c, "address") == address {
			if found != nil {
				t.Errorf("two channels have the address %s: %s and %s", address, id, cid)
			}
			id, found = cid, c
		}
	}
	if found == nil {
		t.Fatalf("no channel has the address %s", address)
	}
	return id, found
}

// address returns a channel's address with its parameters replaced by values.
func address(addr string, values map[string]string) string {
	for k, v := range values {
		addr = strings.ReplaceAll(addr, "{"+k+"}", v)
	}
	return addr
}

// subjectMatches reports whether a NATS subject matches a filter with wildcards.
func subjectMatches(filter, subject string) bool {
	f, s := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, tok := range f {
		switch {
		case tok == ">":
			return len(s) > i
		case i >= len(s):
			return false
		case tok != "*" && tok != s[i]:
			return false
		}
	}
	return len(f) == len(s)
}

// streamFor checks that a channel names, in x-jetstream-stream, the stream that
// captures its subject, as the topology declares it.
func streamFor(t *testing.T, cid string, c map[string]any, subject string) {
	t.Helper()
	name := str(c, "x-jetstream-stream")
	for _, cfg := range runtime.DefaultTopology().Streams() {
		if slices.ContainsFunc(cfg.Subjects, func(f string) bool { return subjectMatches(f, subject) }) {
			if cfg.Name != name {
				t.Errorf("channel %s: x-jetstream-stream is %q, but %s is stored in %s", cid, name, subject, cfg.Name)
			}
			return
		}
	}
	t.Errorf("channel %s: no stream captures %s", cid, subject)
}

// contentTypePattern checks that the pattern given to the content-type header
// accepts every value of ok and none of bad.
func contentTypePattern(t *testing.T, mid string, h headerSchema, ok, bad []string) {
	t.Helper()
	var pattern string
	for _, p := range h.props["content-type"] {
		if s := str(p, "pattern"); s != "" {
			pattern = s
		}
	}
	re, err := regexp.Compile(pattern)
	if pattern == "" || err != nil {
		t.Errorf("message %s: content-type has no usable pattern (%q: %v)", mid, pattern, err)
		return
	}
	for _, v := range ok {
		if !re.MatchString(v) {
			t.Errorf("message %s: content-type pattern refuses %q", mid, v)
		}
	}
	for _, v := range bad {
		if re.MatchString(v) {
			t.Errorf("message %s: content-type pattern accepts %q", mid, v)
		}
	}
}

// TestAsyncAPIChannels checks the document's channels, operations and messages against
// the event types, their subjects, the streams and the schema files.
func TestAsyncAPIChannels(t *testing.T) {
	t.Parallel()
	d := loadAsyncAPI(t)
	if v := d.root["asyncapi"]; v != "3.0.0" {
		t.Errorf("asyncapi = %v, want 3.0.0", v)
	}
	if v := d.root["id"]; v != events.Source {
		t.Errorf("id = %v, want passerelle's CloudEvents source %s", v, events.Source)
	}
	servers := d.objects(t, d.root["servers"])
	if len(servers) == 0 {
		t.Error("no server")
	}
	for id, s := range servers {
		if str(s, "protocol") != "nats" {
			t.Errorf("server %s: protocol %q, want nats", id, str(s, "protocol"))
		}
	}

	// Every type has a schema file and every schema file is a type.
	var types []string
	for _, et := range eventTypes {
		types = append(types, et.typ)
	}
	sort.Strings(types)
	if got := schemas.Types(); !slices.Equal(got, types) {
		t.Errorf("schema files are for %v, the event types are %v", got, types)
	}

	// Which operation acts on which channel.
	actions := map[string][]string{}
	for oid, op := range d.objects(t, d.root["operations"]) {
		ref := str(op["channel"].(map[string]any), "$ref")
		cid := strings.TrimPrefix(ref, "#/channels/")
		if cid == ref {
			t.Errorf("operation %s: channel %q is not a channel of the document", oid, ref)
			continue
		}
		actions[cid] = append(actions[cid], str(op, "action"))
		// An operation's messages are its channel's.
		for _, m := range list(op["messages"]) {
			mref := str(m.(map[string]any), "$ref")
			if !strings.HasPrefix(mref, ref+"/messages/") {
				t.Errorf("operation %s: message %s is not one of its channel's", oid, mref)
			}
			d.pointer(t, mref)
		}
	}

	seen := map[string]bool{}
	for _, et := range eventTypes {
		t.Run(et.typ, func(t *testing.T) {
			addr, action, subject := et.typ, "receive", et.typ
			if !et.receive {
				addr, action = et.typ+".{account}", "send"
				var err error
				if subject, err = events.Subject(et.typ, "demo"); err != nil {
					t.Fatal(err)
				}
			}
			cid, c := d.channelOf(t, addr)
			seen[cid] = true
			if got := address(addr, map[string]string{"account": "demo"}); got != subject {
				t.Errorf("channel %s: address %s gives %s for account demo, the code publishes on %s", cid, addr, got, subject)
			}
			if !et.receive {
				params := d.objects(t, c["parameters"])
				if len(params) != 1 || params["account"] == nil {
					t.Errorf("channel %s: parameters %v, want account", cid, params)
				} else if loc := str(params["account"], "location"); loc != "$message.payload#/account" {
					t.Errorf("channel %s: account's location is %q", cid, loc)
				}
			}
			streamFor(t, cid, c, subject)
			if got := actions[cid]; !slices.Equal(got, []string{action}) {
				t.Errorf("channel %s: operations %v, want one %s", cid, got, action)
			}
			messages := d.objects(t, c["messages"])
			modes := map[string]bool{}
			for mid, m := range messages {
				if name := str(m, "name"); name != et.typ {
					t.Errorf("message %s: name %q, want %s", mid, name, et.typ)
				}
				payload := m["payload"].(map[string]any)
				if f := str(payload, "schemaFormat"); f != schemaFormat2020 {
					t.Errorf("message %s: payload schemaFormat %q, want %s", mid, f, schemaFormat2020)
				}
				schema := payload["schema"].(map[string]any)
				want := "./" + et.typ + ".json"
				switch ct := str(m, "contentType"); ct {
				case events.ContentTypeJSON:
					modes["binary"] = true
					if ref := str(schema, "$ref"); ref != want {
						t.Errorf("message %s: payload $ref %q, want %q", mid, ref, want)
					}
					h := d.headers(t, m["headers"])
					if got := h.constant("ce-type"); got != et.typ {
						t.Errorf("message %s: ce-type is %q, want %s", mid, got, et.typ)
					}
					if got := h.constant("ce-dataschema"); got != events.SchemaURL(et.typ) {
						t.Errorf("message %s: ce-dataschema is %q, want %s", mid, got, events.SchemaURL(et.typ))
					}
					if et.receive {
						contentTypePattern(t, mid, h, []string{events.ContentTypeJSON, "Application/JSON; charset=utf-8"}, []string{events.ContentTypeStructured, "text/plain"})
					} else {
						if got := h.constant("ce-source"); got != events.Source {
							t.Errorf("message %s: ce-source is %q, want %s", mid, got, events.Source)
						}
						if got := h.constant("content-type"); got != events.ContentTypeJSON {
							t.Errorf("message %s: content-type is %q, want %s", mid, got, events.ContentTypeJSON)
						}
					}
				case events.ContentTypeStructured:
					modes["structured"] = true
					if !et.receive {
						t.Errorf("message %s: passerelle publishes in binary mode only", mid)
					}
					props := schema["properties"].(map[string]any)
					if ref := str(props["data"].(map[string]any), "$ref"); ref != want {
						t.Errorf("message %s: data $ref %q, want %q", mid, ref, want)
					}
					if c := props["type"].(map[string]any)["const"]; c != et.typ {
						t.Errorf("message %s: type const %v, want %s", mid, c, et.typ)
					}
					h := d.headers(t, m["headers"])
					if !h.required["content-type"] {
						t.Errorf("message %s: content-type must be required", mid)
					}
					contentTypePattern(t, mid, h, []string{events.ContentTypeStructured, events.ContentTypeStructured + "; charset=utf-8"}, []string{events.ContentTypeJSON})
				default:
					t.Errorf("message %s: content type %q", mid, ct)
				}
			}
			want := map[string]bool{"binary": true}
			if et.receive {
				want["structured"] = true // both content modes are accepted on intake
			}
			if fmt.Sprint(modes) != fmt.Sprint(want) {
				t.Errorf("channel %s: content modes %v, want %v", cid, modes, want)
			}
		})
	}

	t.Run("deadletter", func(t *testing.T) {
		addr := runtime.DeadLetterPrefix + "{subject}"
		cid, c := d.channelOf(t, addr)
		seen[cid] = true
		streamFor(t, cid, c, runtime.DeadLetterPrefix+events.TypeInvoiceSubmit)
		if got := actions[cid]; !slices.Equal(got, []string{"send"}) {
			t.Errorf("channel %s: operations %v, want one send", cid, got)
		}
		p := d.objects(t, c["parameters"])["subject"]
		if p == nil || str(p, "location") != "$message.header#/"+runtime.HeaderDeadSubject {
			t.Errorf("channel %s: parameter subject must be located at header %s", cid, runtime.HeaderDeadSubject)
		}
	})

	for cid := range d.objects(t, d.root["channels"]) {
		if !seen[cid] {
			t.Errorf("channel %s is not one of the bus", cid)
		}
	}

	// Every external reference names a schema file beside the document, embedded,
	// whose $id is the dataschema of its type.
	var refs []string
	var walk func(node any)
	walk = func(node any) {
		switch n := node.(type) {
		case map[string]any:
			if ref, ok := n["$ref"].(string); ok && !strings.HasPrefix(ref, "#") {
				refs = append(refs, ref)
			}
			for _, v := range n {
				walk(v)
			}
		case []any:
			for _, v := range n {
				walk(v)
			}
		}
	}
	walk(d.root)
	if len(refs) == 0 {
		t.Error("no reference to a schema file")
	}
	for _, ref := range refs {
		name, ok := strings.CutPrefix(ref, "./")
		typ, isJSON := strings.CutSuffix(name, ".json")
		if !ok || !isJSON || strings.Contains(name, "/") {
			t.Errorf("reference %q is not to a JSON file beside the document", ref)
			continue
		}
		raw, err := schemas.Raw(typ)
		if err != nil {
			t.Errorf("reference %q: %v", ref, err)
			continue
		}
		if _, err := os.Stat(name); err != nil {
			t.Errorf("reference %q: %v", ref, err)
		}
		var s struct {
			ID     string `json:"$id"`
			Schema string `json:"$schema"`
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatal(err)
		}
		if s.ID != events.SchemaURL(typ) {
			t.Errorf("%s: $id %q, want the dataschema %s", name, s.ID, events.SchemaURL(typ))
		}
		if s.Schema != "https://json-schema.org/draft/2020-12/schema" {
			t.Errorf("%s: $schema %q, but the document says draft 2020-12", name, s.Schema)
		}
	}
}

// TestAsyncAPIHeaders publishes an event of each type as passerelle does, reads it
// back from JetStream, and checks that the headers it carries are exactly the ones
// the document describes; then checks that every example decodes as the codec reads
// it, with data its schema accepts.
func TestAsyncAPIHeaders(t *testing.T) {
	t.Parallel()
	d := loadAsyncAPI(t)
	validator, err := schemas.New()
	if err != nil {
		t.Fatal(err)
	}
	_, nc, js := natstest.Run(t)
	ctx := context.Background()
	topo := runtime.DefaultTopology()
	topo.Storage = jetstream.MemoryStorage
	assets, err := runtime.Setup(ctx, js, topo)
	if err != nil {
		t.Fatal(err)
	}
	pub := events.NewPublisher(js)

	// A span context with a trace state: the publisher writes both.
	state, err := trace.ParseTraceState("vendor=value")
	if err != nil {
		t.Fatal(err)
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
		TraceState: state,
	})
	tctx := trace.ContextWithSpanContext(ctx, sc)

	var submitted *jetstream.RawStreamMsg
	for _, et := range eventTypes {
		t.Run(et.typ, func(t *testing.T) {
			addr, subject := et.typ, et.typ
			if !et.receive {
				addr = et.typ + ".{account}"
			}
			_, c := d.channelOf(t, addr)
			for mid, m := range d.objects(t, c["messages"]) {
				h := d.headers(t, m["headers"])
				for i, ex := range list(m["examples"]) {
					checkExample(t, fmt.Sprintf("%s example %d", mid, i), et.typ, str(m, "contentType"), h, ex.(map[string]any), validator)
				}
				if str(m, "contentType") != events.ContentTypeJSON {
					continue
				}
				// Publish an event made from the first example's data, as passerelle
				// (or the events package, for a submit event) does.
				ex := list(m["examples"])[0].(map[string]any)
				payload := ex["payload"].(map[string]any)
				if !et.receive {
					var err error
					if subject, err = events.Subject(et.typ, payload["account"].(string)); err != nil {
						t.Fatal(err)
					}
				}
				e, err := events.New(et.typ, events.DerivedID(et.typ, mid), str(ex["headers"].(map[string]any), "ce-subject"), payload)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := pub.Publish(tctx, subject, e); err != nil {
					t.Fatal(err)
				}
				stream, err := js.Stream(ctx, str(c, "x-jetstream-stream"))
				if err != nil {
					t.Fatal(err)
				}
				got, err := stream.GetLastMsgForSubject(ctx, subject)
				if err != nil {
					t.Fatal(err)
				}
				if et.typ == events.TypeInvoiceSubmit {
					submitted = got
				}
				var emitted []string
				for name := range got.Header {
					emitted = append(emitted, name)
					if _, ok := h.props[name]; !ok {
						t.Errorf("message %s: the code writes the header %s, which the document does not describe", mid, name)
					}
				}
				for _, name := range h.names() {
					if !slices.Contains(emitted, name) && name != runtime.HeaderReplay {
						t.Errorf("message %s: the document describes the header %s, which the code does not write", mid, name)
					}
				}
				for name := range h.required {
					if got.Header.Get(name) == "" {
						t.Errorf("message %s: header %s is required, and missing", mid, name)
					}
				}
				if et.receive && h.props[runtime.HeaderReplay] == nil {
					t.Errorf("message %s: the header %s of a replayed submission is not described", mid, runtime.HeaderReplay)
				}
				for _, name := range []string{events.TraceParent, events.TraceState, "ce-" + events.TraceParent, "ce-" + events.TraceState, jetstream.MsgIDHeader} {
					if h.props[name] == nil {
						t.Errorf("message %s: header %s is not described", mid, name)
					}
				}
			}
		})
	}

	t.Run("deadletter", func(t *testing.T) {
		if submitted == nil {
			t.Skip("no submit event was published")
		}
		_, c := d.channelOf(t, runtime.DeadLetterPrefix+"{subject}")
		msgs := d.objects(t, c["messages"])
		if len(msgs) != 1 {
			t.Fatalf("%d dead-letter messages, want 1", len(msgs))
		}
		var m map[string]any
		for _, only := range msgs {
			m = only
		}
		h := d.headers(t, m["headers"])
		if !h.extra {
			t.Error("dead-letter headers: the original's headers are kept, additionalProperties must allow them")
		}
		kinds := fmt.Sprint(h.props[runtime.HeaderDeadKind][0]["enum"])
		if want := fmt.Sprint([]any{string(runtime.EndRejected), string(runtime.EndFailed)}); kinds != want {
			t.Errorf("%s: enum %s, want %s", runtime.HeaderDeadKind, kinds, want)
		}
		for i, ex := range list(m["examples"]) {
			eh := ex.(map[string]any)["headers"].(map[string]any)
			for name := range h.required {
				if eh[name] == nil {
					t.Errorf("example %d: required header %s is missing", i, name)
				}
			}
		}

		dl := runtime.NewDeadLetters(js, assets.Documents, nil)
		small := &runtime.Delivery{
			Subject: submitted.Subject, Header: submitted.Header, Data: submitted.Data,
			Stream: runtime.StreamInvoices, StreamSeq: submitted.Sequence, Consumer: "invoice-submit", Delivered: 10,
		}
		// A body near the maximum payload is kept in the documents bucket.
		big := *small
		big.Data, big.StreamSeq = bytes.Repeat([]byte("A"), int(nc.MaxPayload())-300), submitted.Sequence+1
		stream, err := js.Stream(ctx, runtime.StreamDeadLetter)
		if err != nil {
			t.Fatal(err)
		}
		var emitted []string
		for _, del := range []*runtime.Delivery{small, &big} {
			seq, err := dl.Put(ctx, del, runtime.EndFailed, errors.New("gave up after 10 deliveries: test"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := stream.GetMsg(ctx, seq)
			if err != nil {
				t.Fatal(err)
			}
			if want := address(str(c, "address"), map[string]string{"subject": del.Subject}); got.Subject != want {
				t.Errorf("dead letter on %s, the document says %s", got.Subject, want)
			}
			for name := range got.Header {
				if _, kept := submitted.Header[name]; kept && !strings.HasPrefix(strings.ToLower(name), "nats-") {
					continue // the original's, kept as it was
				}
				emitted = append(emitted, name)
				if _, ok := h.props[name]; !ok {
					t.Errorf("the code writes the dead-letter header %s, which the document does not describe", name)
				}
			}
			for name := range h.required {
				if got.Header.Get(name) == "" {
					t.Errorf("dead-letter header %s is required, and missing", name)
				}
			}
		}
		for _, name := range h.names() {
			if !slices.Contains(emitted, name) {
				t.Errorf("the document describes the dead-letter header %s, which the code does not write", name)
			}
		}
		for _, name := range []string{runtime.HeaderDeadReason, runtime.HeaderDeadKind, runtime.HeaderDeadStream, runtime.HeaderDeadSequence,
			runtime.HeaderDeadSubject, runtime.HeaderDeadConsumer, runtime.HeaderDeadDeliveries, runtime.HeaderDeadTime, runtime.HeaderDeadBody} {
			if h.props[name] == nil {
				t.Errorf("dead-letter header %s is not described", name)
			}
		}
	})
}

// checkExample checks one message example: its headers are described, the required
// ones are there, its constants hold, and the codec reads it as an event of typ whose
// data its schema accepts.
func checkExample(t *testing.T, name, typ, contentType string, h headerSchema, ex map[string]any, v *schemas.Validator) {
	t.Helper()
	header := nats.Header{}
	for k, val := range ex["headers"].(map[string]any) {
		s, ok := val.(string)
		if !ok {
			t.Errorf("%s: header %s is %T, want a string", name, k, val)
			continue
		}
		header[k] = []string{s}
		if _, ok := h.props[k]; !ok && !h.extra {
			t.Errorf("%s: header %s is not described", name, k)
		}
		if c := h.constant(k); c != "" && c != s {
			t.Errorf("%s: header %s is %q, want %q", name, k, s, c)
		}
	}
	for k := range h.required {
		if header[k] == nil {
			t.Errorf("%s: required header %s is missing", name, k)
		}
	}
	body, err := json.Marshal(ex["payload"])
	if err != nil {
		t.Fatal(err)
	}
	e, mode, err := events.Decode(context.Background(), header, body)
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return
	}
	wantMode := events.ContentBinary
	if contentType == events.ContentTypeStructured {
		wantMode = events.ContentStructured
	}
	if mode != wantMode || e.Type() != typ {
		t.Errorf("%s: decoded as %s %s, want %s %s", name, mode, e.Type(), wantMode, typ)
	}
	if id := header.Get(jetstream.MsgIDHeader); id != "" && id != e.ID() {
		t.Errorf("%s: %s %q is not the event id %q", name, jetstream.MsgIDHeader, id, e.ID())
	}
	if err := v.Validate(typ, e.Data()); err != nil {
		t.Errorf("%s: %v", name, err)
	}
}
