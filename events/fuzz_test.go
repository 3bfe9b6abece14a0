package events_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/passerelle-dev/passerelle/events"
)

// FuzzDecode feeds arbitrary headers and bodies to the CloudEvents decoder: it must
// return an event or a *DecodeError, never panic, and a decoded event must survive a
// binary-mode round trip.
func FuzzDecode(f *testing.F) {
	f.Add("1.0", "id-1", "urn:test", "invoice.submit", "application/json", "", []byte(`{"account":"demo"}`))
	f.Add("", "", "", "", "application/cloudevents+json", "", []byte(`{"specversion":"1.0","id":"1","source":"s","type":"invoice.submit","data":{"a":1}}`))
	f.Add("1.0", "%41%zz", "s", "t", "", "a%20b", []byte(nil))
	f.Add("0.3", "1", "s", "t", "text/plain", "", []byte("x"))
	f.Add("", "", "", "", "application/cloudevents+json; charset=utf-8", "", []byte(`{"specversion":"1.0","id":"1","source":"s","type":"t","data_base64":"AAAA"}`))
	f.Fuzz(func(t *testing.T, specversion, id, source, typ, contentType, subject string, body []byte) {
		h := nats.Header{}
		set := func(k, v string) {
			if v != "" {
				h[k] = []string{v}
			}
		}
		set("ce-specversion", specversion)
		set("ce-id", id)
		set("ce-source", source)
		set("ce-type", typ)
		set("content-type", contentType)
		set("ce-subject", subject)
		e, _, err := events.Decode(context.Background(), h, body)
		if err != nil {
			var de *events.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("Decode error %T %v is not a *DecodeError", err, err)
			}
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("empty error message")
			}
			return
		}
		msg, err := events.Encode("x", e)
		if err != nil {
			t.Fatalf("a decoded event does not encode: %v", err)
		}
		back, _, err := events.Decode(context.Background(), msg.Header, msg.Data)
		if err != nil {
			t.Fatalf("round trip: %v", err)
		}
		if back.ID() != e.ID() || back.Type() != e.Type() || back.Subject() != e.Subject() || string(back.Data()) != string(e.Data()) {
			t.Fatalf("round trip changed the event: %v -> %v", e, back)
		}
	})
}
