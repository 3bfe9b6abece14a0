// Package schemas holds the JSON Schemas (draft 2020-12) of the data of every event
// type on passerelle's bus, embedded in the binary, and validates event data against
// them. The AsyncAPI document of the bus (asyncapi.yaml) lives beside them.
//
// Validation has two paths. The library (github.com/santhosh-tekuri/jsonschema/v6)
// is the authority: it decides every rejection and writes every error message. A
// fast path of this package (fast.go) goes first, and may only ever say "valid":
// when it does, the library would have said so too, for any bytes. When it is not
// sure, or finds the data invalid, the library runs as if the fast path were not
// there.
package schemas

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/passerelle-dev/passerelle/events"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

//go:embed *.json
var files embed.FS

// Problem is one way the data breaks its schema: Location is a JSON pointer into the
// data ("" for the root), Message says what is wrong.
type Problem struct {
	Location string
	Message  string
}

// Error lists every problem found in an event's data.
type Error struct {
	Type     string
	Problems []Problem
}

// Error returns the problems as one line.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s data does not match its schema:", e.Type)
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte(';')
		}
		loc := p.Location
		if loc == "" {
			loc = "/"
		}
		fmt.Fprintf(&b, " at %s: %s", loc, p.Message)
	}
	return b.String()
}

// ErrUnknownType is returned by Validate for an event type that has no schema.
var ErrUnknownType = errors.New("schemas: no schema for this event type")

// Validator validates event data against the embedded schemas. It is safe for
// concurrent use.
type Validator struct {
	schemas map[string]*jsonschema.Schema
	printer *message.Printer
	fast    map[string]*fastSchema // the types the fast path handles
	trees   sync.Pool              // of *jsonTree, the fast path's parsed data
}

// Types lists the event types that have a schema, sorted.
func Types() []string {
	entries, _ := files.ReadDir(".")
	types := make([]string, 0, len(entries))
	for _, e := range entries {
		types = append(types, strings.TrimSuffix(e.Name(), ".json"))
	}
	sort.Strings(types)
	return types
}

// Raw returns the schema document of an event type, or ErrUnknownType.
func Raw(typ string) ([]byte, error) {
	b, err := files.ReadFile(typ + ".json")
	if err != nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownType, typ)
	}
	return b, nil
}

// newCompiler returns the library's compiler as New uses it: draft 2020-12, format
// assertions on, content assertions off (contentEncoding stays an annotation, which
// the fast path relies on).
func newCompiler() *jsonschema.Compiler {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	return c
}

// New compiles every embedded schema, with format assertions on. It returns an error
// when a schema does not compile or one of its examples does not validate.
func New() (*Validator, error) {
	c := newCompiler()
	v := &Validator{
		schemas: make(map[string]*jsonschema.Schema),
		printer: message.NewPrinter(language.English),
		fast:    make(map[string]*fastSchema),
		trees:   sync.Pool{New: func() any { return new(jsonTree) }},
	}
	for _, typ := range Types() {
		raw, _ := Raw(typ)
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("schemas: parse %s: %w", typ, err)
		}
		url := "https://passerelle.dev/schemas/" + typ + ".json"
		if err := c.AddResource(url, doc); err != nil {
			return nil, fmt.Errorf("schemas: add %s: %w", typ, err)
		}
		s, err := c.Compile(url)
		if err != nil {
			return nil, fmt.Errorf("schemas: compile %s: %w", typ, err)
		}
		v.schemas[typ] = s
		// A schema the fast path cannot compile is validated by the library alone
		// (TestFastPathCoversSchemas says which, and why).
		if fs, err := compileFast(doc); err == nil {
			v.fast[typ] = fs
		}
	}
	for _, typ := range Types() {
		examples, err := Examples(typ)
		if err != nil {
			return nil, err
		}
		for i, ex := range examples {
			if err := v.Validate(typ, ex); err != nil {
				return nil, fmt.Errorf("schemas: example %d of %s: %w", i, typ, err)
			}
		}
	}
	return v, nil
}

// Validate checks data (a JSON document) against the schema of typ. It returns an
// *Error listing every problem, or ErrUnknownType.
func (v *Validator) Validate(typ string, data []byte) error {
	if fs := v.fast[typ]; fs != nil && v.fastCheck(fs, data) == pass {
		return nil
	}
	return v.validateLibrary(typ, data)
}

// fastCheck is the fast path's verdict on data against fs.
func (v *Validator) fastCheck(fs *fastSchema, data []byte) verdict {
	t := v.trees.Get().(*jsonTree)
	defer func() {
		// A tree grown by a huge document is left to the garbage collector,
		// rather than kept for ever by the pool.
		if cap(t.vals) <= maxPooledValues {
			t.reset()
			v.trees.Put(t)
		}
	}()
	if t.parse(string(data)) != nil {
		return unsure
	}
	return fs.check(t, 0)
}

// validateLibrary is Validate without the fast path: the library's answer.
func (v *Validator) validateLibrary(typ string, data []byte) error {
	s, ok := v.schemas[typ]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownType, typ)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return &Error{Type: typ, Problems: []Problem{{Message: "not valid JSON: " + err.Error()}}}
	}
	err, unreadable := validateValue(s, inst)
	if unreadable {
		return &Error{Type: typ, Problems: []Problem{{Message: "a number is too large or too precise to be checked"}}}
	}
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return fmt.Errorf("schemas: validate %s: %w", typ, err)
	}
	return &Error{Type: typ, Problems: problems(ve, v.printer)}
}

// validateValue runs the library on inst. The library panics on a number that
// math/big cannot read (1e1000000000, say) under a numeric keyword: unreadable
// reports it, so that such data is rejected rather than crash its handler.
func validateValue(s *jsonschema.Schema, inst any) (err error, unreadable bool) {
	defer func() {
		if recover() != nil {
			err, unreadable = nil, true
		}
	}()
	return s.Validate(inst), false
}

// problems lists the leaves of the error tree: the most specific problems, each
// with the location in the data it concerns.
func problems(ve *jsonschema.ValidationError, pr *message.Printer) []Problem {
	var ps []Problem
	seen := map[Problem]bool{}
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		// A message may quote the value at fault, and a key may be of any
		// length: both are clipped, so that the answer to a hostile input stays small.
		p := Problem{
			Location: events.Clip(pointer(e.InstanceLocation), events.MaxProblemBytes),
			Message:  events.Clip(e.ErrorKind.LocalizedString(pr), events.MaxProblemBytes),
		}
		if !seen[p] {
			seen[p] = true
			ps = append(ps, p)
		}
	}
	walk(ve)
	if len(ps) > events.MaxProblems {
		more := len(ps) - (events.MaxProblems - 1)
		ps = append(ps[:events.MaxProblems-1], Problem{Message: fmt.Sprintf("%d more problem(s) not listed", more)})
	}
	return ps
}

// pointer renders a JSON pointer (RFC 6901) from its reference tokens.
func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		t = strings.ReplaceAll(t, "~", "~0")
		b.WriteString(strings.ReplaceAll(t, "/", "~1"))
	}
	return b.String()
}

// ExamplesOf returns the examples listed in the schema of typ decoded into T, the
// event data type of typ (events.InvoiceSubmit for invoice.submit, say).
func ExamplesOf[T any](typ string) ([]T, error) {
	raws, err := Examples(typ)
	if err != nil {
		return nil, err
	}
	out := make([]T, len(raws))
	for i, raw := range raws {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&out[i]); err != nil {
			return nil, fmt.Errorf("schemas: example %d of %s: %w", i, typ, err)
		}
	}
	return out, nil
}

// Examples returns the examples listed in the schema of typ, each as a JSON document.
func Examples(typ string) ([]json.RawMessage, error) {
	raw, err := Raw(typ)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Examples []json.RawMessage `json:"examples"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("schemas: parse %s: %w", typ, err)
	}
	return doc.Examples, nil
}
