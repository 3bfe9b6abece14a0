package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/binding/format"
	"github.com/cloudevents/sdk-go/v2/binding/spec"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
	"github.com/nats-io/nats.go"
)

// Header names of the CloudEvents NATS protocol binding.
const (
	headerPrefix      = "ce-"
	headerSpecVersion = "ce-specversion"
	headerContentType = "content-type"
	// ContentTypeStructured is the content type of a structured-mode CloudEvent.
	ContentTypeStructured = "application/cloudevents+json"
	// ContentTypeJSON is the data content type of every event passerelle emits.
	ContentTypeJSON = "application/json"
)

// ContentMode tells how a CloudEvent travels in a NATS message.
type ContentMode int

// The two content modes of the CloudEvents NATS binding.
const (
	ContentBinary     ContentMode = iota + 1 // attributes in ce-* headers, data in the body
	ContentStructured                        // the whole event as JSON in the body
)

// String returns "binary" or "structured".
func (m ContentMode) String() string {
	switch m {
	case ContentBinary:
		return "binary"
	case ContentStructured:
		return "structured"
	}
	return "unknown"
}

// ErrNotCloudEvent is wrapped by Decode's error when a message is neither a binary-mode
// nor a structured-mode CloudEvent.
var ErrNotCloudEvent = errors.New("not a CloudEvent")

// DecodeError tells why a NATS message could not be read as a CloudEvent.
// Where names the header or attribute at fault when there is one.
type DecodeError struct {
	Where  string
	Reason string
	Err    error
}

// Error returns a sentence saying what is wrong and where.
func (e *DecodeError) Error() string {
	var b strings.Builder
	b.WriteString("cloudevent: ")
	if e.Where != "" {
		b.WriteString(e.Where)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// Unwrap returns the underlying error, if any.
func (e *DecodeError) Unwrap() error { return e.Err }

// Decode reads a CloudEvent from the header and body of a NATS message, in binary mode
// (detected by a ce-specversion header) or structured mode (content-type
// application/cloudevents+json). Header values are percent-decoded as the binding
// requires and must be UTF-8. The event is validated against the CloudEvents 1.0
// specification. Every failure is a *DecodeError; a message in neither mode wraps
// ErrNotCloudEvent.
func Decode(ctx context.Context, header nats.Header, data []byte) (*event.Event, ContentMode, error) {
	m, err := newMessage(header, data)
	if err != nil {
		return nil, 0, err
	}
	e, err := binding.ToEvent(ctx, m)
	if err != nil {
		var de *DecodeError
		if errors.As(err, &de) {
			return nil, 0, de
		}
		return nil, 0, &DecodeError{Reason: cleanSDKError(err), Err: err}
	}
	if err := e.Validate(); err != nil {
		return nil, 0, &DecodeError{Reason: "invalid event: " + cleanSDKError(err), Err: err}
	}
	if e.SpecVersion() != SpecVersion {
		return nil, 0, &DecodeError{Where: "specversion", Reason: fmt.Sprintf("spec version %q is not supported, want %q", e.SpecVersion(), SpecVersion)}
	}
	mode := ContentBinary
	if m.encoding == binding.EncodingStructured {
		mode = ContentStructured
	}
	return e, mode, nil
}

func cleanSDKError(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// message is a binding.MessageReader over the parts of a NATS message.
type message struct {
	header   nats.Header
	data     []byte
	encoding binding.Encoding
	version  spec.Version
}

func newMessage(header nats.Header, data []byte) (*message, error) {
	m := &message{header: header, data: data}
	if sv, ok, err := headerValue(header, headerSpecVersion); err != nil {
		return nil, err
	} else if ok {
		v := spec.VS.Version(sv)
		if v == nil || sv != SpecVersion {
			return nil, &DecodeError{Where: headerSpecVersion, Reason: fmt.Sprintf("spec version %q is not supported, want %q", sv, SpecVersion)}
		}
		m.encoding, m.version = binding.EncodingBinary, v
		return m, nil
	}
	ct, _, err := headerValue(header, headerContentType)
	if err != nil {
		return nil, err
	}
	if mediaType(ct) == ContentTypeStructured {
		m.encoding = binding.EncodingStructured
		return m, nil
	}
	reason := "not a CloudEvent: no ce-specversion header (binary mode) and content-type is not " + ContentTypeStructured + " (structured mode)"
	if ct != "" {
		reason = fmt.Sprintf("not a CloudEvent: no ce-specversion header (binary mode) and content-type %q is not %s (structured mode)", ct, ContentTypeStructured)
	}
	return nil, &DecodeError{Reason: reason, Err: ErrNotCloudEvent}
}

func mediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.ToLower(strings.TrimSpace(ct))
}

// headerValue returns the percent-decoded value of the header named name, matched
// case-insensitively. A header present under two spellings or with several values is
// an error, since the event would be ambiguous.
func headerValue(h nats.Header, name string) (string, bool, error) {
	var (
		raw   string
		found bool
	)
	for k, vs := range h {
		if !strings.EqualFold(k, name) {
			continue
		}
		if found || len(vs) != 1 {
			return "", false, &DecodeError{Where: name, Reason: "header is given more than once"}
		}
		raw, found = vs[0], true
	}
	if !found {
		return "", false, nil
	}
	v, err := percentDecode(raw)
	if err != nil {
		return "", false, &DecodeError{Where: name, Reason: err.Error(), Err: err}
	}
	return v, true, nil
}

func (m *message) ReadEncoding() binding.Encoding { return m.encoding }

func (m *message) ReadStructured(ctx context.Context, w binding.StructuredWriter) error {
	if m.encoding != binding.EncodingStructured {
		return binding.ErrNotStructured
	}
	if len(bytes.TrimSpace(m.data)) == 0 {
		return &DecodeError{Where: "body", Reason: "structured-mode event has an empty body"}
	}
	if !json.Valid(m.data) {
		var raw json.RawMessage
		err := json.Unmarshal(m.data, &raw)
		return &DecodeError{Where: "body", Reason: "structured-mode event is not valid JSON: " + err.Error(), Err: err}
	}
	// The SDK's own errors for a missing or empty required attribute do not
	// always name it ("cannot parse uri ref: "): check them first.
	var attrs struct {
		ID     *json.RawMessage `json:"id"`
		Source *json.RawMessage `json:"source"`
		Type   *json.RawMessage `json:"type"`
	}
	if json.Unmarshal(m.data, &attrs) == nil {
		for _, a := range []struct {
			name string
			raw  *json.RawMessage
		}{{"id", attrs.ID}, {"source", attrs.Source}, {"type", attrs.Type}} {
			var v string
			switch {
			case a.raw == nil:
				return &DecodeError{Where: a.name, Reason: "required attribute is missing"}
			case json.Unmarshal(*a.raw, &v) != nil:
				return &DecodeError{Where: a.name, Reason: "attribute must be a string"}
			case v == "":
				return &DecodeError{Where: a.name, Reason: "required attribute is empty"}
			}
		}
	}
	return w.SetStructuredEvent(ctx, format.JSON, bytes.NewReader(m.data))
}

func (m *message) ReadBinary(_ context.Context, w binding.BinaryWriter) error {
	if m.encoding != binding.EncodingBinary {
		return binding.ErrNotBinary
	}
	seen := make(map[string]bool, len(m.header))
	for k, vs := range m.header {
		lk := strings.ToLower(k)
		var name string
		switch {
		case lk == headerContentType:
			name = "datacontenttype"
		case strings.HasPrefix(lk, headerPrefix):
			name = lk[len(headerPrefix):]
		default:
			continue
		}
		if seen[name] || len(vs) != 1 {
			return &DecodeError{Where: k, Reason: "header is given more than once"}
		}
		seen[name] = true
		v, err := percentDecode(vs[0])
		if err != nil {
			return &DecodeError{Where: k, Reason: err.Error(), Err: err}
		}
		if name == "specversion" {
			continue // set by the builder from the version
		}
		if attr := m.version.Attribute(name); attr != nil {
			if err := w.SetAttribute(attr, v); err != nil {
				return &DecodeError{Where: k, Reason: cleanSDKError(err), Err: err}
			}
			continue
		}
		if err := w.SetExtension(name, v); err != nil {
			return &DecodeError{Where: k, Reason: cleanSDKError(err), Err: err}
		}
	}
	if len(m.data) > 0 {
		return w.SetData(bytes.NewReader(m.data))
	}
	return nil
}

func (m *message) Finish(error) error { return nil }

// GetAttribute and GetExtension make message a binding.MessageMetadataReader.
func (m *message) GetAttribute(k spec.Kind) (spec.Attribute, any) {
	if m.version == nil {
		return nil, nil
	}
	attr := m.version.AttributeFromKind(k)
	if attr == nil {
		return nil, nil
	}
	name := headerPrefix + attr.Name()
	if k == spec.DataContentType {
		name = headerContentType
	}
	v, ok, err := headerValue(m.header, name)
	if err != nil || !ok {
		return attr, nil
	}
	return attr, v
}

func (m *message) GetExtension(name string) any {
	v, ok, err := headerValue(m.header, headerPrefix+name)
	if err != nil || !ok {
		return nil
	}
	return v
}

// Encode writes e as a NATS message on subject in binary mode: every attribute and
// extension becomes a percent-encoded ce-* header, datacontenttype becomes
// content-type, and the data is the body. It returns an error when e is not a valid
// CloudEvent.
func Encode(subject string, e *event.Event) (*nats.Msg, error) {
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("events: encode %s: %w", e.Type(), err)
	}
	msg := &nats.Msg{Subject: subject, Header: make(nats.Header, 10), Data: e.Data()}
	set := func(name string, v any) error {
		s, err := types.Format(v)
		if err != nil {
			return fmt.Errorf("events: encode attribute %s: %w", name, err)
		}
		msg.Header[name] = []string{percentEncode(s)}
		return nil
	}
	ctx := e.Context
	if err := set(headerSpecVersion, ctx.GetSpecVersion()); err != nil {
		return nil, err
	}
	_ = set(headerPrefix+"id", ctx.GetID())
	_ = set(headerPrefix+"source", ctx.GetSource())
	_ = set(headerPrefix+"type", ctx.GetType())
	if s := ctx.GetSubject(); s != "" {
		_ = set(headerPrefix+"subject", s)
	}
	if t := ctx.GetTime(); !t.IsZero() {
		_ = set(headerPrefix+"time", types.Timestamp{Time: t})
	}
	if u := ctx.GetDataSchema(); u != "" {
		_ = set(headerPrefix+"dataschema", u)
	}
	if ct := ctx.GetDataContentType(); ct != "" {
		_ = set(headerContentType, ct)
	}
	for name, v := range ctx.GetExtensions() {
		if err := set(headerPrefix+name, v); err != nil {
			return nil, err
		}
	}
	return msg, nil
}

// EncodeStructured writes e as a structured-mode NATS message on subject: the event as
// JSON in the body and content-type application/cloudevents+json.
func EncodeStructured(subject string, e *event.Event) (*nats.Msg, error) {
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("events: encode %s: %w", e.Type(), err)
	}
	body, err := e.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("events: encode %s: %w", e.Type(), err)
	}
	msg := &nats.Msg{Subject: subject, Header: nats.Header{headerContentType: {ContentTypeStructured}}, Data: body}
	return msg, nil
}

// percentEncode escapes space, '"', '%' and every byte outside printable ASCII
// (U+0021-U+007E) as the CloudEvents NATS binding requires for header values.
func percentEncode(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if needsEscape(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if needsEscape(c) {
			b = append(b, '%', hex[c>>4], hex[c&15])
			continue
		}
		b = append(b, c)
	}
	return string(b)
}

func needsEscape(c byte) bool { return c <= ' ' || c == '"' || c == '%' || c > '~' }

// percentDecode reverses percentEncode and checks that the result is UTF-8.
func percentDecode(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 {
		if !utf8.ValidString(s) {
			return "", errors.New("header value is not valid UTF-8")
		}
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b = append(b, c)
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("truncated percent-escape at byte %d", i)
		}
		hi, ok1 := unhex(s[i+1])
		lo, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return "", fmt.Errorf("invalid percent-escape %q at byte %d", s[i:i+3], i)
		}
		b = append(b, hi<<4|lo)
		i += 2
	}
	if !utf8.Valid(b) {
		return "", errors.New("header value is not valid UTF-8 once percent-decoded")
	}
	return string(b), nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
