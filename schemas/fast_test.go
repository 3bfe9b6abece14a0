package schemas

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The fast path must never say "valid" where the library does not. These tests hold
// it to that on keyword snippets, on the embedded schemas' examples, on the bad-input
// corpus (testdata/intake) and under fuzzing (FuzzFastPath); and they check that it
// does say "valid" on the data it is there for.

// compileBoth compiles a schema snippet with the library, as New does, and for the
// fast path.
func compileBoth(t testing.TB, schema string) (*jsonschema.Schema, *fastSchema) {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(schema))
	if err != nil {
		t.Fatalf("%s: %v", schema, err)
	}
	c := newCompiler()
	const url = "https://passerelle.dev/schemas/test.json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	lib, err := c.Compile(url)
	if err != nil {
		t.Fatalf("library: %s: %v", schema, err)
	}
	fast, err := compileFast(doc)
	if err != nil {
		t.Fatalf("fast path: %s: %v", schema, err)
	}
	return lib, fast
}

// fastVerdict is the fast path's verdict on data.
func fastVerdict(s *fastSchema, data []byte) verdict {
	var t jsonTree
	if t.parse(string(data)) != nil {
		return unsure
	}
	return s.check(&t, 0)
}

// libraryValid is the library's answer on data, decoded as Validate decodes it.
func libraryValid(s *jsonschema.Schema, data []byte) bool {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	return err == nil && s.Validate(inst) == nil
}

func (r verdict) String() string {
	return [...]string{pass: "pass", unsure: "unsure", fail: "fail"}[r]
}

func TestFastKeywords(t *testing.T) {
	t.Parallel()
	type instance struct {
		data  string
		valid bool    // the library's answer
		fast  verdict // the fast path's
	}
	tests := []struct {
		schema string
		cases  []instance
	}{
		{`{"type":"integer"}`, []instance{
			{`1`, true, pass}, {`1.0`, true, pass}, {`1e2`, true, pass}, {`10e-1`, true, pass},
			{`-0`, true, pass}, {`1.5`, false, fail}, {`1e-2`, false, fail}, {`"1"`, false, fail},
			{`12345678901234567890123`, true, unsure}, // more digits than a decimal holds
		}},
		{`{"type":["string","null"]}`, []instance{{`null`, true, pass}, {`"a"`, true, pass}, {`1`, false, fail}, {`[]`, false, fail}}},
		{`{"type":"number"}`, []instance{{`1e400`, true, pass}, {`123456789012345678901234567890`, true, pass}, {`true`, false, fail}}},
		{`{"type":"boolean"}`, []instance{{`true`, true, pass}, {`false`, true, pass}, {`0`, false, fail}}},
		{`{"enum":["a",1,true,null]}`, []instance{
			{`"a"`, true, pass}, {`"\u0061"`, true, pass}, {`1.0`, true, pass}, {`1e0`, true, pass}, {`true`, true, pass},
			{`null`, true, pass}, {`"b"`, false, fail}, {`false`, false, fail}, {`2`, false, fail}, {`{}`, false, fail},
			{`1.00000000000000000000001`, false, unsure},
		}},
		{`{"const":"pdf"}`, []instance{{`"pdf"`, true, pass}, {`"pd\u0066"`, true, pass}, {`"PDF"`, false, fail}, {`null`, false, fail}}},
		{`{"pattern":"^[A-Z]{3}$"}`, []instance{{`"EUR"`, true, pass}, {`"\u0045UR"`, true, pass}, {`"eur"`, false, fail}, {`3`, true, pass}}},
		{`{"minLength":2,"maxLength":3}`, []instance{
			{`"ab"`, true, pass}, {`"é"`, false, fail}, {`"éé"`, true, pass}, {`"ééé"`, true, pass}, {`"éééé"`, false, fail},
			{`"\u00e9\u00e9"`, true, pass}, {`"a\nb"`, true, pass}, {`"a\\b"`, true, pass}, {`"\ud83d\ude00"`, false, fail},
			{`"\ud83d\ude00\ud83d\ude00"`, true, pass}, {`"😀😀😀😀"`, false, fail},
			{`"\ud83da"`, true, pass},                               // a lone surrogate is one U+FFFD
			{"\"\xff\xfe\"", true, pass}, {"\"\xff\"", false, fail}, // each invalid byte is one U+FFFD
			{`"\u00"`, false, unsure}, {`"\x"`, false, unsure}, {"\"a\x01\"", false, unsure},
		}},
		{`{"minimum":0,"maximum":100}`, []instance{
			{`0`, true, pass}, {`-0`, true, pass}, {`100`, true, pass}, {`100.0`, true, pass}, {`1e2`, true, pass},
			{`100.01`, false, fail}, {`-0.0001`, false, fail}, {`1e3`, false, fail}, {`-1e-300`, false, fail},
			{`"1000"`, true, pass},
		}},
		{`{"exclusiveMinimum":0,"exclusiveMaximum":1}`, []instance{
			{`0`, false, fail}, {`0.5`, true, pass}, {`1`, false, fail}, {`1e-30`, true, pass}, {`0.9999999999999999999`, true, pass},
			{`0.99999999999999999999`, true, unsure}, // 20 significant digits
		}},
		{`{"multipleOf":0.01}`, []instance{
			{`1.005`, false, fail}, {`1.10`, true, pass}, {`1.1`, true, pass}, {`0.07`, true, pass}, {`1e-2`, true, pass},
			{`1e-3`, false, fail}, {`12345678901234567.89`, true, pass}, {`-3.30`, true, pass}, {`0`, true, pass},
			{`1E+20`, true, pass}, {`0.1e-1`, true, pass}, {`1000.0`, true, pass},
		}},
		{`{"multipleOf":0.3}`, []instance{{`0.9`, true, pass}, {`1`, false, fail}, {`3e5`, true, pass}, {`0.03`, false, fail}}},
		{`{"multipleOf":7}`, []instance{{`49`, true, pass}, {`7e20`, true, pass}, {`1e30`, false, fail}, {`3.5`, false, fail}}},
		{`{"format":"date"}`, []instance{
			{`"2024-02-29"`, true, pass}, {`"2000-02-29"`, true, pass}, {`"2026-11-20"`, true, pass}, {`5`, true, pass},
			{`"2023-02-29"`, false, unsure}, {`"1900-02-29"`, false, unsure}, {`"2024-02-30"`, false, unsure},
			{`"2024-13-01"`, false, unsure}, {`"2024-2-01"`, false, unsure}, {`"2024-02-29T00:00:00Z"`, false, unsure},
		}},
		{`{"format":"date-time"}`, []instance{
			{`"2024-02-29T12:00:00Z"`, true, pass}, {`"2024-02-29T12:00:00.123456+01:00"`, true, pass},
			{`"2024-02-29T23:59:59-23:59"`, true, pass}, {`"2024-02-29T00:00:00.5Z"`, true, pass},
			{`"2024-02-29t12:00:00z"`, true, unsure}, {`"2024-12-31T23:59:60Z"`, true, unsure},
			{`"2024-02-30T12:00:00Z"`, false, unsure}, {`"2024-02-29T24:00:00Z"`, false, unsure},
			{`"2024-02-29T12:00:00"`, false, unsure}, {`"2024-02-29T12:00:00+0100"`, false, unsure},
			{`"2024-02-29 12:00:00Z"`, false, unsure}, {`"2024-02-29T12:00:00.Z"`, false, unsure},
			{`"2024-02-29T12:00:00+01:000"`, false, unsure}, {`"2024-02-29T12:00:00+01:00Z"`, false, unsure},
		}},
		{`{"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":2}`, []instance{
			{`[1]`, true, pass}, {`[1,2]`, true, pass}, {`[]`, false, fail}, {`[1,2,3]`, false, fail}, {`[1,"a"]`, false, fail},
		}},
		{`{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false}`, []instance{
			{`{"a":"x"}`, true, pass}, {`{"\u0061":"x"}`, true, pass}, {`{}`, false, fail}, {`{"a":"x","b":1}`, false, fail},
			{`{"a":1}`, false, fail}, {`{"a":1,"a":"x"}`, true, unsure}, // duplicate keys: the last one wins
		}},
		{`{"properties":{"a":{"type":"string"}},"additionalProperties":{"type":"integer"}}`, []instance{
			{`{"a":"x","b":1}`, true, pass}, {`{"b":"1"}`, false, fail}, {`"not an object"`, true, pass},
		}},
		{`{"properties":{"a":false,"b":true}}`, []instance{{`{"a":1}`, false, fail}, {`{"b":1}`, true, pass}}},
		{`{"if":{"properties":{"mode":{"const":"a"}}},"then":{"required":["x"]},"else":{"not":{"required":["x"]}}}`, []instance{
			{`{"mode":"a","x":1}`, true, pass}, {`{"mode":"a"}`, false, fail}, {`{"mode":"b"}`, true, pass},
			{`{"mode":"b","x":1}`, false, fail}, {`{}`, false, fail}, {`{"x":1}`, true, pass},
		}},
		{`{"if":{"properties":{"n":{"type":"integer"}}},"then":{"required":["x"]}}`, []instance{
			{`{"n":1e400}`, false, fail}, {`{"n":123456789012345678901}`, false, unsure}, {`{"n":1.5}`, true, pass},
		}},
		{`{"oneOf":[{"required":["a"]},{"required":["b"]}]}`, []instance{
			{`{}`, false, fail}, {`{"a":1}`, true, pass}, {`{"b":1}`, true, pass}, {`{"a":1,"b":1}`, false, fail},
		}},
		{`{"oneOf":[{"type":"integer"},{"type":"string"}]}`, []instance{
			{`1`, true, pass}, {`"1"`, true, pass}, {`1.5`, false, fail}, {`123456789012345678901`, true, unsure},
		}},
		{`{"not":{"type":"string"}}`, []instance{{`1`, true, pass}, {`"a"`, false, fail}}},
		{`{"not":{"multipleOf":0.01}}`, []instance{{`1.005`, true, pass}, {`1.01`, false, fail}, {`1.00000000000000000001`, true, unsure}}},
		{`{"allOf":[{"minimum":1},{"maximum":2}]}`, []instance{{`1.5`, true, pass}, {`3`, false, fail}, {`0`, false, fail}}},
		{`{"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"type":"object","required":["v"],"properties":{"next":{"$ref":"#/$defs/a"}}}},"$ref":"#/$defs/a"}`, []instance{
			{`{"v":1,"next":{"v":2,"next":{"v":3}}}`, true, pass}, {`{"v":1,"next":{"v":2,"next":{}}}`, false, fail}, {`[]`, false, fail},
		}},
		// contentEncoding is an annotation: New must not call AssertContent.
		{`{"contentEncoding":"base64"}`, []instance{{`"!!!"`, true, pass}}},
		{`true`, []instance{
			{` {"a" : [1, 2.5, "x", null, true, false, {}]} `, true, pass}, {"\t\r\n1\n", true, pass},
			{`01`, false, unsure}, {`[1,]`, false, unsure}, {`{"a":1,}`, false, unsure}, {`{"a":1}x`, false, unsure},
			{`"\'"`, false, unsure}, {`tru`, false, unsure}, {``, false, unsure}, {`1 2`, false, unsure},
			{`-`, false, unsure}, {`1.`, false, unsure}, {`.5`, false, unsure}, {`1e`, false, unsure},
			{`{"a" 1}`, false, unsure}, {`[1 2]`, false, unsure}, {`nul`, false, unsure}, {`{1:2}`, false, unsure},
			{"\ufeff1", false, unsure}, {`+1`, false, unsure}, {`"a`, false, unsure}, {`[`, false, unsure},
		}},
		{`false`, []instance{{`1`, false, fail}, {`{`, false, unsure}}},
	}
	for _, tt := range tests {
		lib, fast := compileBoth(t, tt.schema)
		for _, c := range tt.cases {
			if got := libraryValid(lib, []byte(c.data)); got != c.valid {
				t.Errorf("%s: library says valid=%v on %s, the test %v", tt.schema, got, c.data, c.valid)
			}
			if got := fastVerdict(fast, []byte(c.data)); got != c.fast {
				t.Errorf("%s: fast path says %v on %s, want %v", tt.schema, got, c.data, c.fast)
			}
			if c.fast == pass && !c.valid || c.fast == fail && c.valid {
				t.Errorf("%s: the test expects the fast path to disagree with the library on %s", tt.schema, c.data)
			}
		}
	}
}

// TestFastRefuses lists schemas the fast path must leave to the library.
func TestFastRefuses(t *testing.T) {
	t.Parallel()
	for _, schema := range []string{
		`{"anyOf":[{"type":"string"}]}`,
		`{"uniqueItems":true}`,
		`{"format":"email"}`,
		`{"$ref":"other.json#/$defs/a"}`,
		`{"$ref":"#/$defs/missing"}`,
		`{"$ref":"#"}`,
		`{"enum":[{"a":1}]}`,
		`{"const":[1]}`,
		`{"minimum":1e-200000000}`,
		`{"minLength":1.5}`,
		`{"multipleOf":0}`,
		`{"type":"integers"}`,
		`{"then":{"required":["a"]}}`,
		`{"$schema":"http://json-schema.org/draft-07/schema#"}`,
		`{"properties":{"a":{"$id":"https://example.com/a.json"}}}`,
		`{"properties":{"a":{"$defs":{}}}}`,
		`{"$defs":{"a":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"}`,
		`{"$defs":{"a":{"allOf":[{"$ref":"#/$defs/b"}]},"b":{"not":{"$ref":"#/$defs/a"}}},"properties":{"x":{"$ref":"#/$defs/a"}}}`,
	} {
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(schema))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := compileFast(doc); err == nil {
			t.Errorf("%s compiled for the fast path", schema)
		}
	}
}

// TestFastPathCoversSchemas fails when an embedded schema gets no fast path: a
// keyword the compiler does not know would otherwise be a silent slowdown.
func TestFastPathCoversSchemas(t *testing.T) {
	t.Parallel()
	v, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range Types() {
		raw, _ := Raw(typ)
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := compileFast(doc); err != nil {
			t.Errorf("%s has no fast path: %v", typ, err)
		}
		if v.fast[typ] == nil {
			t.Errorf("New gave %s no fast path", typ)
		}
	}
}

// TestFastPathExamples: the data the fast path is for is valid by the fast path.
func TestFastPathExamples(t *testing.T) {
	t.Parallel()
	v, err := New()
	if err != nil {
		t.Fatal(err)
	}
	invoice, err := os.ReadFile(filepath.Join("..", "testdata", "bench", "invoice.submit-2k.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := v.fastCheck(v.fast["invoice.submit"], invoice); got != pass {
		t.Errorf("testdata/bench/invoice.submit-2k.json: fast path says %v", got)
	}
	for _, typ := range Types() {
		examples, err := Examples(typ)
		if err != nil {
			t.Fatal(err)
		}
		for i, ex := range examples {
			if got := v.fastCheck(v.fast[typ], ex); got != pass {
				t.Errorf("%s example %d: fast path says %v", typ, i, got)
			}
		}
	}
}

// TestFastPathCorpus checks every data payload of the bad-input corpus against every
// schema: where the fast path decides, the library agrees.
func TestFastPathCorpus(t *testing.T) {
	t.Parallel()
	v, err := New()
	if err != nil {
		t.Fatal(err)
	}
	payloads := corpusPayloads(t)
	if len(payloads) < 100 {
		t.Fatalf("only %d payloads in the corpus", len(payloads))
	}
	decided := 0
	for _, p := range payloads {
		for _, typ := range Types() {
			fast := v.fastCheck(v.fast[typ], p.data)
			if fast == unsure {
				continue
			}
			decided++
			if valid := v.validateLibrary(typ, p.data) == nil; valid != (fast == pass) {
				t.Errorf("%s against %s: fast path says %v, library valid=%v", p.name, typ, fast, valid)
			}
		}
	}
	t.Logf("%d payloads, %d verdicts of the fast path", len(payloads), decided)
}

type payload struct {
	name string
	data []byte
}

// corpusPayloads reads the data of every message of testdata/intake (whose format
// workers/service/badinput_test.go and testdata/intake/README.md describe): the body,
// and for a structured CloudEvent its data too.
func corpusPayloads(t *testing.T) []payload {
	t.Helper()
	root := filepath.Join("..", "testdata", "intake")
	var out []payload
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".json" {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var c struct {
			Messages []struct {
				Body       json.RawMessage `json:"body"`
				BodyText   *string         `json:"bodyText"`
				BodyBase64 string          `json:"bodyBase64"`
				Generate   json.RawMessage `json:"generate"`
			} `json:"messages"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for i, m := range c.Messages {
			name := fmt.Sprintf("%s message %d", path, i+1)
			var body []byte
			switch {
			case m.BodyText != nil:
				body = []byte(*m.BodyText)
			case m.BodyBase64 != "":
				if body, err = base64.StdEncoding.DecodeString(m.BodyBase64); err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
			case m.Generate != nil:
				// Generated bodies (TestBadInputCorpus builds them) test sizes,
				// not schema rules: left to that test.
				continue
			case m.Body != nil:
				var buf bytes.Buffer
				if err := json.Compact(&buf, m.Body); err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				body = buf.Bytes()
			}
			out = append(out, payload{name, body})
			var structured struct {
				Data       json.RawMessage `json:"data"`
				DataBase64 []byte          `json:"data_base64"`
			}
			if json.Unmarshal(body, &structured) == nil {
				if structured.Data != nil {
					out = append(out, payload{name + " (data)", structured.Data})
				}
				if structured.DataBase64 != nil {
					out = append(out, payload{name + " (data_base64)", structured.DataBase64})
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFastParse compares the fast path's reading of documents with encoding/json's.
func TestFastParse(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{
		`{"a":[1,-2.50,3e-2,1E+2,0,-0,{"b":null}],"c":"\u00e9\ud83d\ude00\n\t\"\\\/\b\f\r","":true,"d":false}`,
		`"\ud800"`, `"\ud800\u0041"`, `"\udc00\ud800"`, `"\ud83d\ude00x"`, `"\uDBFF\uDFFF"`, `"\ud800\ud800\udc00"`,
		"\"\xed\xa0\x80\"", "\"\xf0\x9f\x98\"", "\"a\xc3\"", "\"\xc3\xa9\xff\"", "\"\x7f\"", `"\u0000"`,
		`[[[[[]]]]]`, `{"a":{"b":{"c":{}}}}`, `123456789012345678901234567890.5`, `[1e999999999999]`,
	} {
		checkParse(t, []byte(doc))
	}
	deep := func(n int) []byte {
		return []byte(strings.Repeat("[", n) + strings.Repeat("]", n))
	}
	checkParse(t, deep(maxDepth))
	var tree jsonTree
	if tree.parse(string(deep(maxDepth))) != nil || tree.parse(string(deep(maxDepth+1))) == nil {
		t.Errorf("the depth limit is not %d", maxDepth)
	}
	if _, err := jsonschema.UnmarshalJSON(bytes.NewReader(deep(maxDepth + 1))); err == nil {
		t.Errorf("encoding/json takes %d levels", maxDepth+1)
	}
}

// checkParse fails the test when the fast path reads data other than encoding/json
// (through jsonschema.UnmarshalJSON) does.
func checkParse(t testing.TB, data []byte) {
	t.Helper()
	var tree jsonTree
	if tree.parse(string(data)) != nil {
		return
	}
	want, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("fast path parses %q, encoding/json does not: %v", data, err)
	}
	if diff := sameValue(&tree, 0, want); diff != "" {
		t.Fatalf("fast path reads %q otherwise: %s", data, diff)
	}
}

// sameValue compares the value t.vals[i] with v, as decoded by encoding/json; it
// returns what differs.
func sameValue(t *jsonTree, i int, v any) string {
	x := &t.vals[i]
	switch v := v.(type) {
	case nil:
		if x.kind == kindNull {
			return ""
		}
	case bool:
		if x.kind == kindBool && x.truth == v {
			return ""
		}
	case string:
		if x.kind == kindString && x.str == v {
			return ""
		}
	case json.Number:
		want, ok := new(big.Rat).SetString(string(v))
		if x.kind == kindNumber && (!x.exact || ok && decimalRat(x.num).Cmp(want) == 0) {
			return ""
		}
	case []any:
		if x.kind != kindArray || x.n != len(v) {
			break
		}
		for k, j := 0, i+1; j < x.end; k, j = k+1, t.vals[j].end {
			if diff := sameValue(t, j, v[k]); diff != "" {
				return fmt.Sprintf("[%d]: %s", k, diff)
			}
		}
		return ""
	case map[string]any:
		if x.kind != kindObject || x.n != len(v) {
			break
		}
		for j := i + 1; j < x.end; j = t.vals[j].end {
			w, ok := v[t.vals[j].key]
			if !ok {
				return fmt.Sprintf("no member %q", t.vals[j].key)
			}
			if diff := sameValue(t, j, w); diff != "" {
				return fmt.Sprintf("%q: %s", t.vals[j].key, diff)
			}
		}
		return ""
	}
	return fmt.Sprintf("%+v is not %#v", *x, v)
}

func decimalRat(d decimal) *big.Rat {
	r := new(big.Rat).SetUint64(d.mant)
	p := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(max(d.exp, -d.exp))), nil))
	if d.exp >= 0 {
		r.Mul(r, p)
	} else {
		r.Quo(r, p)
	}
	if d.neg {
		r.Neg(r)
	}
	return r
}

// TestFastDates holds isDate to time.Parse, which the library uses.
func TestFastDates(t *testing.T) {
	t.Parallel()
	for _, y := range []string{"0000", "0004", "1900", "2000", "2023", "2024", "9999", "20a4", "-024"} {
		for m := -1; m <= 13; m++ {
			for d := -1; d <= 32; d++ {
				for _, s := range []string{fmt.Sprintf("%s-%02d-%02d", y, m, d), fmt.Sprintf("%s-%d-%d", y, m, d)} {
					_, err := time.Parse("2006-01-02", s)
					if isDate(s) != (err == nil) {
						t.Errorf("isDate(%q) = %v, time.Parse: %v", s, isDate(s), err)
					}
				}
			}
		}
	}
}

// TestFastPathConcurrent runs the fast path from several goroutines (go test -race).
func TestFastPathConcurrent(t *testing.T) {
	t.Parallel()
	v, err := New()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				for _, typ := range Types() {
					examples, _ := Examples(typ)
					for _, ex := range examples {
						if err := v.Validate(typ, ex); err != nil {
							t.Error(err)
						}
					}
				}
			}
		})
	}
	wg.Wait()
}

// FuzzFastPath checks, on any data against any embedded schema, that the fast path
// never contradicts the library, and that it reads the data as encoding/json does.
func FuzzFastPath(f *testing.F) {
	v, err := New()
	if err != nil {
		f.Fatal(err)
	}
	types := Types()
	invoice, err := os.ReadFile(filepath.Join("..", "testdata", "bench", "invoice.submit-2k.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint8(0), []byte(`{"account":"demo","file":{"encoding":"UTF-8","object":{"bucket":"b","name":"n","size":1e1000000000,"sha256":""}}}`))
	for i, typ := range types {
		examples, err := Examples(typ)
		if err != nil {
			f.Fatal(err)
		}
		if typ == "invoice.submit" {
			examples = append(examples, invoice)
		}
		for _, ex := range examples {
			for _, m := range mutations(f, ex) {
				f.Add(uint8(i), m)
			}
		}
	}
	f.Fuzz(func(t *testing.T, typIndex uint8, data []byte) {
		typ := types[int(typIndex)%len(types)]
		checkParse(t, data)
		fast := v.fastCheck(v.fast[typ], data)
		valid, panicked := safeValidateLibrary(v, typ, data)
		if panicked {
			t.Fatalf("%s: the library path panicked on %q", typ, data)
		}
		if fast == pass && !valid || fast == fail && valid {
			t.Fatalf("%s: fast path says %v, library valid=%v (panicked: %v) on %q", typ, fast, valid, panicked, data)
		}
	})
}

// safeValidateLibrary runs the library path, reporting a panic rather than
// crashing the fuzzer (validateLibrary must not panic: the fuzz target fails).
func safeValidateLibrary(v *Validator, typ string, data []byte) (valid, panicked bool) {
	defer func() {
		if recover() != nil {
			valid, panicked = false, true
		}
	}()
	return v.validateLibrary(typ, data) == nil, false
}

// TestUnreadableNumberRejected: a number math/big cannot read, under a numeric
// keyword, is a schema problem of the data, not a panic.
func TestUnreadableNumberRejected(t *testing.T) {
	t.Parallel()
	v, err := New()
	if err != nil {
		t.Fatal(err)
	}
	data := []byte(`{"account":"demo","mode":"structured","invoice":{"number":"F1","date":"2026-11-20","recipient":{"siret":"11000003100010"},` +
		`"lines":[{"designation":"x","quantity":1e1000000000,"unitPrice":1,"vatRate":20}],"vat":[{"rate":20,"base":1,"amount":0.2}],` +
		`"totals":{"net":1,"vat":0.2,"gross":1.2,"payable":1.2}}}`)
	err = v.Validate("invoice.submit", data)
	var se *Error
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "too large or too precise") {
		t.Fatalf("Validate = %v, want a schema error about the number", err)
	}
}

// mutations returns doc compacted and variants of it: each member removed, an
// unknown member added, each number given a third decimal, each string made a bad
// date.
func mutations(t testing.TB, doc []byte) [][]byte {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	emit := func() {
		b, err := json.Marshal(root)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	// vary tries variants of the value got returns, putting each with set.
	var vary func(got func() any, set func(any))
	vary = func(got func() any, set func(any)) {
		switch x := got().(type) {
		case json.Number:
			if strings.Contains(string(x), ".") {
				set(x + "05")
			} else {
				set(x + ".005")
			}
			emit()
			set(x)
		case string:
			set("2026-02-30")
			emit()
			set(x)
		case []any:
			for i := range x {
				vary(func() any { return x[i] }, func(y any) { x[i] = y })
			}
		case map[string]any:
			x["colour"] = "red"
			emit()
			delete(x, "colour")
			for _, k := range sortedKeys(x) {
				val := x[k]
				delete(x, k)
				emit()
				x[k] = val
				vary(func() any { return x[k] }, func(y any) { x[k] = y })
			}
		}
	}
	emit()
	vary(func() any { return root }, func(y any) { root = y })
	return out
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// BenchmarkValidateLibrary is BenchmarkValidate without the fast path, for
// comparison.
func BenchmarkValidateLibrary(b *testing.B) {
	v, err := New()
	if err != nil {
		b.Fatal(err)
	}
	invoice, err := os.ReadFile(filepath.Join("..", "testdata", "bench", "invoice.submit-2k.json"))
	if err != nil {
		b.Fatal(err)
	}
	declarations, err := Examples("declaration.submit")
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		typ  string
		data []byte
	}{{"invoice.submit", invoice}, {"declaration.submit", declarations[0]}} {
		b.Run(tc.typ, func(b *testing.B) {
			b.SetBytes(int64(len(tc.data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := v.validateLibrary(tc.typ, tc.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
