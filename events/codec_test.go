package events_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"

	"github.com/passerelle-dev/passerelle/events"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	t.Parallel()
	e, err := events.New(events.TypeInvoiceStatus, "id-1", "F \"2026\" 100%é", map[string]any{"state": "received"})
	if err != nil {
		t.Fatal(err)
	}
	e.SetExtension("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	for _, tc := range []struct {
		name   string
		encode func(string, *event.Event) (*nats.Msg, error)
		mode   events.ContentMode
	}{
		{"binary", events.Encode, events.ContentBinary},
		{"structured", events.EncodeStructured, events.ContentStructured},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			msg, err := tc.encode("invoice.status.demo", e)
			if err != nil {
				t.Fatal(err)
			}
			if tc.mode == events.ContentBinary {
				if got := msg.Header.Get("ce-subject"); got != "F%20%222026%22%20100%25%C3%A9" {
					t.Errorf("ce-subject header = %q, want it percent-encoded", got)
				}
			}
			got, mode, err := events.Decode(context.Background(), msg.Header, msg.Data)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if mode != tc.mode {
				t.Errorf("mode = %v, want %v", mode, tc.mode)
			}
			if got.ID() != e.ID() || got.Subject() != e.Subject() || got.Type() != e.Type() || string(got.Data()) != string(e.Data()) {
				t.Errorf("decoded %v, want %v", got, e)
			}
			if got.Extensions()["traceparent"] != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
				t.Errorf("traceparent extension lost: %v", got.Extensions())
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	bin := func(kv ...string) nats.Header {
		h := nats.Header{}
		for i := 0; i < len(kv); i += 2 {
			h[kv[i]] = []string{kv[i+1]}
		}
		return h
	}
	full := []string{"ce-specversion", "1.0", "ce-id", "1", "ce-source", "s", "ce-type", "invoice.submit", "content-type", "application/json"}
	tests := []struct {
		name   string
		header nats.Header
		data   string
		where  string
		reason string
		notCE  bool
	}{
		{"plain json", nats.Header{}, `{"a":1}`, "", "no ce-specversion", true},
		{"wrong content type", bin("content-type", "text/plain"), `x`, "", `content-type "text/plain"`, true},
		{"spec 0.3", bin("ce-specversion", "0.3", "ce-id", "1", "ce-source", "s", "ce-type", "t"), `{}`, "ce-specversion", `"0.3" is not supported`, false},
		{"spec 2.0", bin("ce-specversion", "2.0"), `{}`, "ce-specversion", "not supported", false},
		{"missing id", bin("ce-specversion", "1.0", "ce-source", "s", "ce-type", "t"), `{}`, "", "id", false},
		{"bad escape", bin(append(full, "ce-subject", "a%zz")...), `{}`, "ce-subject", "invalid percent-escape", false},
		{"not utf-8", bin(append(full, "ce-subject", "a%FF")...), `{}`, "ce-subject", "not valid UTF-8", false},
		{"structured garbage", bin("content-type", "application/cloudevents+json"), `{"specversion":`, "body", "not valid JSON", false},
		{"structured empty", bin("content-type", "application/cloudevents+json"), ``, "body", "empty", false},
		{"structured missing type", bin("content-type", "application/cloudevents+json; charset=utf-8"), `{"specversion":"1.0","id":"1","source":"s"}`, "type", "missing", false},
		{"structured empty source", bin("content-type", "application/cloudevents+json"), `{"specversion":"1.0","id":"1","source":"","type":"t"}`, "source", "empty", false},
		{"structured numeric id", bin("content-type", "application/cloudevents+json"), `{"specversion":"1.0","id":1,"source":"s","type":"t"}`, "id", "string", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := events.Decode(context.Background(), tt.header, []byte(tt.data))
			var de *events.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("Decode = %v, want *DecodeError", err)
			}
			if de.Where != tt.where {
				t.Errorf("where = %q, want %q (%v)", de.Where, tt.where, err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q does not mention %q", err, tt.reason)
			}
			if got := errors.Is(err, events.ErrNotCloudEvent); got != tt.notCE {
				t.Errorf("errors.Is(ErrNotCloudEvent) = %v, want %v", got, tt.notCE)
			}
		})
	}
}

func TestTraceExtractInject(t *testing.T) {
	t.Parallel()
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	// From the CloudEvents extension of a structured event when no header carries it.
	in, _ := events.New(events.TypeInvoiceSubmit, "1", "", map[string]string{})
	in.SetExtension("traceparent", tp)
	msg, err := events.EncodeStructured("invoice.submit", in)
	if err != nil {
		t.Fatal(err)
	}
	decoded, _, err := events.Decode(context.Background(), msg.Header, msg.Data)
	if err != nil {
		t.Fatal(err)
	}
	ctx := events.ExtractTrace(context.Background(), msg.Header, decoded)
	out, _ := events.New(events.TypeInvoiceStatus, "2", "", map[string]string{})
	h := nats.Header{}
	events.InjectTrace(ctx, h, out)
	if h.Get("traceparent") != tp || out.Extensions()["traceparent"] != tp {
		t.Errorf("injected header %q and extension %v, want %q in both", h.Get("traceparent"), out.Extensions()["traceparent"], tp)
	}
	// The NATS header wins over the extension.
	const other = "00-11111111111111111111111111111111-2222222222222222-01"
	ctx = events.ExtractTrace(context.Background(), nats.Header{"traceparent": {other}}, decoded)
	h = nats.Header{}
	events.InjectTrace(ctx, h, nil)
	if h.Get("traceparent") != other {
		t.Errorf("header traceparent = %q, want %q", h.Get("traceparent"), other)
	}
}
