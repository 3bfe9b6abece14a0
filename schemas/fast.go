package schemas

// The fast path.
//
// The library (github.com/santhosh-tekuri/jsonschema/v6) decodes the data into
// map[string]any values and walks a general schema graph: some hundred microseconds
// and a thousand allocations for a 2 KB invoice. The fast path parses the data into
// a flat slice of values and checks it against a schema compiled for just the
// keywords the embedded schemas use.
//
// The library stays the authority. The one invariant is: when the fast path says
// that data is valid, the library says so too, for any bytes. Each check answers
// pass, fail or unsure, and answers pass or fail only when it is certain to agree
// with the library (fail matters under not, oneOf and if); anything unusual (a
// number that does not fit an exact decimal, a duplicate key, a format written in a
// way the fast path does not follow) is unsure. Validate returns nil on pass, and
// runs the library otherwise, so that every error message comes from the library.
//
// A schema using a keyword, $ref, format or constant the compiler does not know has
// no fast path at all (compileFast refuses it): the library alone validates it.

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// verdict is the fast path's answer for a value against a schema. The order
// matters: the verdict of several conditions that must all hold is the largest.
type verdict uint8

const (
	pass   verdict = iota // the library accepts the value
	unsure                // the fast path cannot tell
	fail                  // the library rejects the value
)

// not is the verdict of "not": pass and fail swap.
func (r verdict) not() verdict {
	switch r {
	case pass:
		return fail
	case fail:
		return pass
	}
	return unsure
}

// maxPooledValues bounds the trees kept for reuse: 4096 values are 288 KB.
const maxPooledValues = 4096

// maxDepth is encoding/json's nesting limit: deeper data is not valid JSON to it.
const maxDepth = 10000

// kind is the JSON type of a parsed value.
type kind uint8

const (
	kindNull kind = iota
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

// jsonValue is one value of a parsed document.
type jsonValue struct {
	kind  kind
	truth bool    // kindBool
	exact bool    // kindNumber: num is the number
	num   decimal // kindNumber
	str   string  // kindString: the text, decoded as encoding/json decodes it
	key   string  // the member name, for a value in an object
	n     int     // kindArray, kindObject: the number of members
	end   int     // the index just past the value and its members
}

// jsonTree is a parsed document: its values in document order, a container
// followed by its members (each followed by its own), so that the first member of
// vals[i] is vals[i+1] and the member after vals[j] is vals[vals[j].end]. One slice
// for the whole document keeps allocations few; trees are reused through a
// sync.Pool.
type jsonTree struct {
	src  string
	pos  int
	vals []jsonValue
}

// errNotSure is returned for data the fast path leaves to the library: not JSON to
// encoding/json, or JSON the fast path does not represent (duplicate keys).
var errNotSure = errors.New("schemas: left to the library")

// parse reads src as one JSON document, as jsonschema.UnmarshalJSON (encoding/json)
// would. It fails on anything encoding/json rejects, and on objects with a
// duplicate key (encoding/json keeps the last one; the fast path does not bother).
func (t *jsonTree) parse(src string) error {
	t.src, t.pos, t.vals = src, 0, t.vals[:0]
	if err := t.value(0); err != nil {
		return err
	}
	t.skipSpace()
	if t.pos != len(t.src) {
		return errNotSure
	}
	return nil
}

// reset drops the references to the last document, so that a pooled tree does not
// keep it alive.
func (t *jsonTree) reset() {
	clear(t.vals)
	t.src, t.vals = "", t.vals[:0]
}

func (t *jsonTree) skipSpace() {
	for t.pos < len(t.src) {
		switch t.src[t.pos] {
		case ' ', '\t', '\n', '\r':
			t.pos++
		default:
			return
		}
	}
}

// value parses the value at t.pos, inside depth containers, and appends it.
func (t *jsonTree) value(depth int) error {
	t.skipSpace()
	if t.pos >= len(t.src) {
		return errNotSure
	}
	i := len(t.vals)
	t.vals = append(t.vals, jsonValue{})
	var err error
	switch c := t.src[t.pos]; {
	case c == '{' || c == '[':
		err = t.container(i, depth+1)
	case c == '"':
		var s string
		s, err = t.string()
		t.vals[i].kind, t.vals[i].str = kindString, s
	case c == 't':
		err = t.literal("true")
		t.vals[i].kind, t.vals[i].truth = kindBool, true
	case c == 'f':
		err = t.literal("false")
		t.vals[i].kind = kindBool
	case c == 'n':
		err = t.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		t.vals[i].kind = kindNumber
		t.vals[i].num, t.vals[i].exact, err = t.number()
	default:
		err = errNotSure
	}
	t.vals[i].end = len(t.vals)
	return err
}

func (t *jsonTree) literal(lit string) error {
	if !strings.HasPrefix(t.src[t.pos:], lit) {
		return errNotSure
	}
	t.pos += len(lit)
	return nil
}

// container parses the object or array at t.pos into t.vals[i].
func (t *jsonTree) container(i, depth int) error {
	if depth > maxDepth {
		return errNotSure
	}
	object := t.src[t.pos] == '{'
	closing := byte(']')
	t.vals[i].kind = kindArray
	if object {
		closing = '}'
		t.vals[i].kind = kindObject
	}
	t.pos++
	t.skipSpace()
	if t.pos < len(t.src) && t.src[t.pos] == closing {
		t.pos++
		return nil
	}
	for n := 1; ; n++ {
		var key string
		if object {
			t.skipSpace()
			if t.pos >= len(t.src) || t.src[t.pos] != '"' {
				return errNotSure
			}
			var err error
			if key, err = t.string(); err != nil {
				return err
			}
			t.skipSpace()
			if t.pos >= len(t.src) || t.src[t.pos] != ':' {
				return errNotSure
			}
			t.pos++
		}
		j := len(t.vals)
		if err := t.value(depth); err != nil {
			return err
		}
		t.vals[j].key = key
		t.skipSpace()
		if t.pos >= len(t.src) {
			return errNotSure
		}
		switch t.src[t.pos] {
		case ',':
			t.pos++
			continue
		case closing:
			t.pos++
			t.vals[i].n = n
			if object && t.duplicateKeys(i+1, len(t.vals), n) {
				return errNotSure
			}
			return nil
		}
		return errNotSure
	}
}

// duplicateKeys reports whether an object has a name twice: its n members are
// t.vals[first:end] (with their own members).
func (t *jsonTree) duplicateKeys(first, end, n int) bool {
	if n <= 16 {
		for a := first; a < end; a = t.vals[a].end {
			for b := t.vals[a].end; b < end; b = t.vals[b].end {
				if t.vals[a].key == t.vals[b].key {
					return true
				}
			}
		}
		return false
	}
	seen := make(map[string]struct{}, n)
	for a := first; a < end; a = t.vals[a].end {
		if _, ok := seen[t.vals[a].key]; ok {
			return true
		}
		seen[t.vals[a].key] = struct{}{}
	}
	return false
}

// string parses the string at t.pos and returns its text as encoding/json decodes
// it: escapes resolved, a lone or unpaired surrogate escape and each byte of invalid
// UTF-8 replaced with U+FFFD. Without escapes nor invalid UTF-8 the text is a
// substring of the document, without allocation.
func (t *jsonTree) string() (string, error) {
	src := t.src
	start := t.pos + 1
	i := start
	for i < len(src) && plain[src[i]] {
		i++
	}
	if i < len(src) && src[i] == '"' {
		t.pos = i + 1
		return src[start:i], nil
	}
	var buf []byte // the decoded text, once it differs from src
	// startBuf begins buf, the size of the raw text: escapes only shrink it.
	startBuf := func() {
		end := i
		for end < len(src) && src[end] != '"' {
			if src[end] == '\\' {
				end++
			}
			end++
		}
		buf = append(make([]byte, 0, end-start+utf8.UTFMax), src[start:i]...)
	}
	for i < len(src) {
		c := src[i]
		switch {
		case c == '"':
			t.pos = i + 1
			if buf == nil {
				return src[start:i], nil
			}
			return string(buf), nil
		case c < ' ':
			return "", errNotSure
		case c == '\\':
			if buf == nil {
				startBuf()
			}
			n, err := unescape(&buf, src[i:])
			if err != nil {
				return "", err
			}
			i += n
		case c < utf8.RuneSelf:
			if buf != nil {
				buf = append(buf, c)
			}
			i++
		default:
			r, size := utf8.DecodeRuneInString(src[i:])
			if r == utf8.RuneError && size == 1 {
				if buf == nil {
					startBuf()
				}
				buf = utf8.AppendRune(buf, utf8.RuneError)
			} else if buf != nil {
				buf = append(buf, src[i:i+size]...)
			}
			i += size
		}
	}
	return "", errNotSure
}

// plain tells the bytes that stand for themselves in a JSON string: ASCII but
// control characters, quote and backslash (a read-only table).
var plain = func() (p [256]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		p[c] = c != '"' && c != '\\'
	}
	return p
}()

// unescape appends the character of the escape sequence s begins with to buf, and
// returns the length of the sequence (two of them for a surrogate pair), the way
// encoding/json's unquote does.
func unescape(buf *[]byte, s string) (int, error) {
	if len(s) < 2 {
		return 0, errNotSure
	}
	switch c := s[1]; c {
	case '"', '\\', '/':
		*buf = append(*buf, c)
	case 'b':
		*buf = append(*buf, '\b')
	case 'f':
		*buf = append(*buf, '\f')
	case 'n':
		*buf = append(*buf, '\n')
	case 'r':
		*buf = append(*buf, '\r')
	case 't':
		*buf = append(*buf, '\t')
	case 'u':
		r := hex4(s)
		if r < 0 {
			return 0, errNotSure
		}
		if utf16.IsSurrogate(r) {
			if dec := utf16.DecodeRune(r, hex4(s[6:])); dec != unicode.ReplacementChar {
				*buf = utf8.AppendRune(*buf, dec)
				return 12, nil
			}
			r = unicode.ReplacementChar
		}
		*buf = utf8.AppendRune(*buf, r)
		return 6, nil
	default:
		return 0, errNotSure
	}
	return 2, nil
}

// hex4 returns the character of the \uXXXX escape s begins with, or -1.
func hex4(s string) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range []byte(s[2:6]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// number parses the number at t.pos (JSON's grammar) and returns its exact value,
// when it fits a decimal.
func (t *jsonTree) number() (decimal, bool, error) {
	src, start := t.src, t.pos
	i := start
	if src[i] == '-' {
		i++
	}
	digits := func() int {
		j := i
		for i < len(src) && '0' <= src[i] && src[i] <= '9' {
			i++
		}
		return i - j
	}
	switch {
	case i < len(src) && src[i] == '0':
		i++
	case digits() == 0:
		return decimal{}, false, errNotSure
	}
	if i < len(src) && src[i] == '.' {
		i++
		if digits() == 0 {
			return decimal{}, false, errNotSure
		}
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		i++
		if i < len(src) && (src[i] == '+' || src[i] == '-') {
			i++
		}
		if digits() == 0 {
			return decimal{}, false, errNotSure
		}
	}
	t.pos = i
	d, ok := parseDecimal(src[start:i])
	return d, ok, nil
}

// decimal is an exact number, mant × 10^exp. mant has no trailing zero digit, and
// zero is the zero decimal, so that equal numbers are equal decimals. The library
// compares numbers exactly (math/big.Rat): so does decimal, without allocating.
type decimal struct {
	mant uint64
	exp  int32
	neg  bool
}

// pow10[n] is 10^n (a read-only table).
var pow10 = func() (p [20]uint64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// maxExp bounds the exponent of a decimal, far beyond any amount; a number
// beyond it is left to the library (which cannot read every such number either).
const maxExp = 1000

// parseDecimal returns the value of s, a number in JSON's grammar, and whether it
// fits a decimal: at most 19 significant digits and a moderate exponent.
func parseDecimal(s string) (decimal, bool) {
	var d decimal
	i := 0
	if s[0] == '-' {
		d.neg = true
		i++
	}
	// Digits are taken into mant as they come; zeros after the last nonzero digit
	// are only counted, so that 1000 is 1e3 and 1.50 is 15e-1.
	var nd, zeros, frac int
	inFrac := false
	for ; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			inFrac = true
			continue
		}
		if c == 'e' || c == 'E' {
			break
		}
		if inFrac {
			frac++
		}
		if c == '0' {
			if nd > 0 {
				zeros++
			}
			continue
		}
		if nd+zeros+1 > 19 {
			return decimal{}, false
		}
		d.mant = d.mant*pow10[zeros+1] + uint64(c-'0')
		nd += zeros + 1
		zeros = 0
	}
	exp := zeros - frac
	if i < len(s) { // the exponent
		i++
		sign := 1
		switch s[i] {
		case '-':
			sign = -1
			i++
		case '+':
			i++
		}
		e := 0
		for ; i < len(s); i++ {
			if e = e*10 + int(s[i]-'0'); e > maxExp {
				return decimal{}, false
			}
		}
		exp += sign * e
	}
	if d.mant == 0 {
		return decimal{}, true
	}
	if exp > maxExp || exp < -maxExp {
		return decimal{}, false
	}
	d.exp = int32(exp)
	return d, true
}

// isInt reports whether d is an integer.
func (d decimal) isInt() bool { return d.mant == 0 || d.exp >= 0 }

// cmp compares d and e: -1, 0 or +1.
func (d decimal) cmp(e decimal) int {
	sd, se := d.sign(), e.sign()
	if sd != se || sd == 0 {
		return cmp.Compare(sd, se)
	}
	// Same sign: compare magnitudes, first by their number of integer digits.
	nd, ne := numDigits(d.mant), numDigits(e.mant)
	c := cmp.Compare(nd+int(d.exp), ne+int(e.exp))
	if c == 0 { // then the longer mantissa has the smaller exponent: align the other
		md, me := d.mant, e.mant
		if nd < ne {
			md *= pow10[ne-nd]
		} else {
			me *= pow10[nd-ne]
		}
		c = cmp.Compare(md, me)
	}
	return c * sd
}

func (d decimal) sign() int {
	switch {
	case d.mant == 0:
		return 0
	case d.neg:
		return -1
	}
	return 1
}

func numDigits(m uint64) int {
	n := 1
	for n < len(pow10) && m >= pow10[n] {
		n++
	}
	return n
}

// multipleOf reports whether d / m is an integer (m > 0).
func (d decimal) multipleOf(m decimal) bool {
	if d.mant == 0 {
		return true
	}
	// d / m = (d.mant / m.mant) × 10^q
	q := int64(d.exp) - int64(m.exp)
	if q < 0 { // m.mant × 10^-q must divide d.mant
		if -q >= int64(len(pow10)) {
			return false
		}
		hi, div := bits.Mul64(m.mant, pow10[-q])
		return hi == 0 && d.mant%div == 0
	}
	// m.mant must divide d.mant × 10^q. Beyond 64, more factors of 10 change
	// nothing: m.mant has fewer than 64 factors 2 and 5.
	r := d.mant % m.mant
	for range min(q, 64) {
		hi, lo := bits.Mul64(r, 10)
		r = bits.Rem64(hi, lo, m.mant)
	}
	return r == 0
}

// typeSet is the set of types a "type" keyword allows: bit k for kind k, and
// one more for "integer".
type typeSet uint8

const typeInteger typeSet = 1 << (kindObject + 1)

// typeNamed returns the type of a name, 0 for none.
func typeNamed(name string) typeSet {
	for k, n := range [...]string{kindNull: "null", kindBool: "boolean", kindNumber: "number",
		kindString: "string", kindArray: "array", kindObject: "object"} {
		if name == n {
			return 1 << k
		}
	}
	if name == "integer" {
		return typeInteger
	}
	return 0
}

// check follows the library: an integer-valued number (1.0, 1e2) is an "integer".
func (ts typeSet) check(v *jsonValue) verdict {
	switch {
	case ts&(1<<v.kind) != 0:
		return pass
	case v.kind != kindNumber || ts&typeInteger == 0:
		return fail
	case !v.exact:
		return unsure
	case v.num.isInt():
		return pass
	}
	return fail
}

// constant is a value of enum or const: null, a boolean, a string or a number.
type constant struct {
	kind  kind
	truth bool
	str   string
	num   decimal
}

// equals compares v and c as the library does (JSON equality, numbers exactly).
func (c *constant) equals(v *jsonValue) verdict {
	switch {
	case v.kind != c.kind:
		return fail
	case v.kind == kindNumber && !v.exact:
		return unsure
	case v.kind == kindNumber && v.num.cmp(c.num) == 0,
		v.kind == kindString && v.str == c.str,
		v.kind == kindBool && v.truth == c.truth,
		v.kind == kindNull:
		return pass
	}
	return fail
}

// fastSchema is a compiled schema (or subschema). A zero type set, a nil pointer,
// slice or map, or a negative count is a keyword that is absent (isEnum tells an
// empty enum from none).
type fastSchema struct {
	never bool // the false schema

	types  typeSet
	enum   []constant
	isEnum bool
	konst  *constant
	format func(string) bool // reports whether the library surely accepts the string

	ref                        *fastSchema
	allOf, oneOf               []*fastSchema
	not, cond, then, otherwise *fastSchema

	properties map[string]*fastSchema
	required   []string
	additional *fastSchema

	items              *fastSchema
	minItems, maxItems int

	minLength, maxLength int
	pattern              *regexp.Regexp

	minimum, maximum, exclusiveMinimum, exclusiveMaximum, multipleOf *decimal
}

// check returns the verdict for the value t.vals[i] against s.
func (s *fastSchema) check(t *jsonTree, i int) verdict {
	if s.never {
		return fail
	}
	v := &t.vals[i]
	r := pass
	// and records the verdict of one more condition; it reports whether the
	// answer is still open (a failed condition settles it).
	and := func(c verdict) bool {
		r = max(r, c)
		return r != fail
	}
	if s.types != 0 && !and(s.types.check(v)) {
		return fail
	}
	if s.konst != nil && !and(s.konst.equals(v)) {
		return fail
	}
	if s.isEnum && !and(s.enumCheck(v)) {
		return fail
	}
	switch v.kind {
	case kindString:
		if !and(s.checkString(v.str)) {
			return fail
		}
	case kindNumber:
		if !and(s.checkNumber(v)) {
			return fail
		}
	case kindArray:
		if !and(s.checkArray(t, i)) {
			return fail
		}
	case kindObject:
		if !and(s.checkObject(t, i)) {
			return fail
		}
	}
	if s.ref != nil && !and(s.ref.check(t, i)) {
		return fail
	}
	for _, sub := range s.allOf {
		if !and(sub.check(t, i)) {
			return fail
		}
	}
	if s.not != nil && !and(s.not.check(t, i).not()) {
		return fail
	}
	if s.oneOf != nil && !and(oneOf(s.oneOf, t, i)) {
		return fail
	}
	if s.cond != nil {
		var c verdict
		switch s.cond.check(t, i) {
		case pass:
			if s.then != nil {
				c = s.then.check(t, i)
			}
		case fail:
			if s.otherwise != nil {
				c = s.otherwise.check(t, i)
			}
		default:
			c = unsure
		}
		if !and(c) {
			return fail
		}
	}
	return r
}

func (s *fastSchema) enumCheck(v *jsonValue) verdict {
	r := fail
	for k := range s.enum {
		switch s.enum[k].equals(v) {
		case pass:
			return pass
		case unsure:
			r = unsure
		}
	}
	return r
}

// oneOf is pass when exactly one of subs passes and the others fail.
func oneOf(subs []*fastSchema, t *jsonTree, i int) verdict {
	passed, unsures := 0, 0
	for _, sub := range subs {
		switch sub.check(t, i) {
		case pass:
			if passed++; passed > 1 {
				return fail
			}
		case unsure:
			unsures++
		}
	}
	switch {
	case unsures > 0:
		return unsure
	case passed == 1:
		return pass
	}
	return fail
}

func (s *fastSchema) checkString(str string) verdict {
	// The library counts characters (code points), not bytes. A string has at most
	// one per byte and at least one per four: counting is often not needed.
	if n := len(str); s.maxLength >= 0 && n > s.maxLength || s.minLength > (n+3)/4 {
		n = utf8.RuneCountInString(str)
		if n < s.minLength || s.maxLength >= 0 && n > s.maxLength {
			return fail
		}
	}
	if s.pattern != nil && !s.pattern.MatchString(str) {
		return fail
	}
	if s.format != nil && !s.format(str) {
		return unsure
	}
	return pass
}

func (s *fastSchema) checkNumber(v *jsonValue) verdict {
	if s.minimum == nil && s.maximum == nil && s.exclusiveMinimum == nil && s.exclusiveMaximum == nil && s.multipleOf == nil {
		return pass
	}
	if !v.exact {
		return unsure
	}
	n := v.num
	if s.minimum != nil && n.cmp(*s.minimum) < 0 ||
		s.maximum != nil && n.cmp(*s.maximum) > 0 ||
		s.exclusiveMinimum != nil && n.cmp(*s.exclusiveMinimum) <= 0 ||
		s.exclusiveMaximum != nil && n.cmp(*s.exclusiveMaximum) >= 0 ||
		s.multipleOf != nil && !n.multipleOf(*s.multipleOf) {
		return fail
	}
	return pass
}

func (s *fastSchema) checkArray(t *jsonTree, i int) verdict {
	v := &t.vals[i]
	if n := v.n; n < s.minItems || s.maxItems >= 0 && n > s.maxItems {
		return fail
	}
	r := pass
	if s.items != nil {
		for j := i + 1; j < v.end; j = t.vals[j].end {
			if r = max(r, s.items.check(t, j)); r == fail {
				return fail
			}
		}
	}
	return r
}

func (s *fastSchema) checkObject(t *jsonTree, i int) verdict {
	end := t.vals[i].end
	for _, name := range s.required {
		j := i + 1
		for j < end && t.vals[j].key != name {
			j = t.vals[j].end
		}
		if j == end {
			return fail
		}
	}
	r := pass
	if s.properties == nil && s.additional == nil {
		return r
	}
	for j := i + 1; j < end; j = t.vals[j].end {
		sub := s.properties[t.vals[j].key]
		if sub == nil {
			sub = s.additional
		}
		if sub != nil {
			if r = max(r, sub.check(t, j)); r == fail {
				return fail
			}
		}
	}
	return r
}

// The formats the fast path asserts. Each accepts only what the library's check
// surely accepts (format.go: validateDate, validateDateTime), and less: a
// date-time must have an upper-case T and Z, no leap second, an offset of digits.

// isDate reports whether s is a date as time.Parse("2006-01-02", s) accepts it.
func isDate(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	y, ok1 := atoi(s[0:4])
	m, ok2 := atoi(s[5:7])
	d, ok3 := atoi(s[8:10])
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 {
		return false
	}
	days := [...]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[m-1]
	if m == 2 && y%4 == 0 && (y%100 != 0 || y%400 == 0) {
		days = 29
	}
	return d <= days
}

// isDateTime reports whether s is an RFC 3339 date-time of the form
// 2006-01-02T15:04:05[.frac](Z|±hh:mm).
func isDateTime(s string) bool {
	if len(s) < 20 || s[10] != 'T' || !isDate(s[:10]) || s[13] != ':' || s[16] != ':' {
		return false
	}
	h, ok1 := atoi(s[11:13])
	m, ok2 := atoi(s[14:16])
	sec, ok3 := atoi(s[17:19])
	if !ok1 || !ok2 || !ok3 || h > 23 || m > 59 || sec > 59 {
		return false
	}
	rest := s[19:]
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && '0' <= rest[n] && rest[n] <= '9' {
			n++
		}
		if n == 1 {
			return false
		}
		rest = rest[n:]
	}
	if rest == "Z" {
		return true
	}
	if len(rest) != 6 || rest[0] != '+' && rest[0] != '-' || rest[3] != ':' {
		return false
	}
	oh, ok1 := atoi(rest[1:3])
	om, ok2 := atoi(rest[4:6])
	return ok1 && ok2 && oh <= 23 && om <= 59
}

// atoi reads a run of ASCII digits.
func atoi(s string) (int, bool) {
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// draft2020 is the only $schema the compiler accepts (New defaults to it too).
const draft2020 = "https://json-schema.org/draft/2020-12/schema"

// fastCompiler compiles one schema document, as decoded by jsonschema.UnmarshalJSON.
type fastCompiler struct {
	defs map[string]*fastSchema // the root's $defs, the targets of $ref
}

// compileFast compiles a schema document for the fast path. It refuses (with an
// error) any keyword, $ref, format or constant it does not handle exactly as the
// library does, and schemas that refer to themselves without going into a member.
func compileFast(doc any) (*fastSchema, error) {
	c := &fastCompiler{defs: map[string]*fastSchema{}}
	root, _ := doc.(map[string]any)
	defs, _ := root["$defs"].(map[string]any)
	// The definitions first, as empty schemas filled in place, so that a $ref
	// to one can be resolved before (or while) it is compiled.
	for name := range defs {
		c.defs[name] = &fastSchema{}
	}
	for name, def := range defs {
		s, err := c.schema(def, "/$defs/"+name, false)
		if err != nil {
			return nil, err
		}
		*c.defs[name] = *s
	}
	s, err := c.schema(doc, "", true)
	if err != nil {
		return nil, err
	}
	if inPlaceCycle(s) {
		return nil, errors.New("a schema applies to itself on the same value")
	}
	return s, nil
}

// schema compiles the schema node found at ptr (a JSON pointer, for messages).
func (c *fastCompiler) schema(node any, ptr string, root bool) (*fastSchema, error) {
	s := &fastSchema{minItems: -1, maxItems: -1, minLength: -1, maxLength: -1}
	if b, ok := node.(bool); ok {
		if !b {
			return &fastSchema{never: true}, nil
		}
		return s, nil
	}
	obj, ok := node.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: not a schema", ptr)
	}
	_, hasIf := obj["if"]
	for kw, val := range obj {
		if err := c.keyword(s, kw, val, ptr+"/"+kw, root, hasIf); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// keyword compiles one keyword of s.
func (c *fastCompiler) keyword(s *fastSchema, kw string, val any, ptr string, root, hasIf bool) error {
	var err error
	sub := func() *fastSchema {
		var sch *fastSchema
		if err == nil {
			sch, err = c.schema(val, ptr, false)
		}
		return sch
	}
	switch kw {
	case "title", "description", "default", "examples":
	case "contentEncoding":
		// An annotation only: New does not call AssertContent.
	case "$schema":
		if !root || val != draft2020 {
			err = errors.New("only the root may give $schema, and only draft 2020-12")
		}
	case "$id":
		// Elsewhere than at the root it would change what $ref resolves against.
		if !root {
			err = errors.New("$id below the root")
		}
	case "$defs":
		if !root {
			err = errors.New("$defs below the root")
		}
	case "$ref":
		ref, _ := val.(string)
		name, ok := strings.CutPrefix(ref, "#/$defs/")
		if s.ref = c.defs[name]; !ok || s.ref == nil || strings.ContainsAny(name, "/~%") {
			err = fmt.Errorf("unsupported $ref %q", ref)
		}
	case "type":
		s.types, err = compileTypes(val)
	case "enum":
		list, ok := val.([]any)
		if !ok {
			return fmt.Errorf("%s: not an array", ptr)
		}
		s.isEnum = true
		s.enum = make([]constant, len(list))
		for i, item := range list {
			if s.enum[i], err = compileConstant(item); err != nil {
				break
			}
		}
	case "const":
		var k constant
		k, err = compileConstant(val)
		s.konst = &k
	case "format":
		switch val {
		case "date":
			s.format = isDate
		case "date-time":
			s.format = isDateTime
		default:
			err = fmt.Errorf("unsupported format %v", val)
		}
	case "pattern":
		p, ok := val.(string)
		if !ok {
			return fmt.Errorf("%s: not a string", ptr)
		}
		// The library's default regexp engine: Go's regexp.
		s.pattern, err = regexp.Compile(p)
	case "minLength":
		s.minLength, err = compileCount(val)
	case "maxLength":
		s.maxLength, err = compileCount(val)
	case "minItems":
		s.minItems, err = compileCount(val)
	case "maxItems":
		s.maxItems, err = compileCount(val)
	case "minimum":
		s.minimum, err = compileNumber(val)
	case "maximum":
		s.maximum, err = compileNumber(val)
	case "exclusiveMinimum":
		s.exclusiveMinimum, err = compileNumber(val)
	case "exclusiveMaximum":
		s.exclusiveMaximum, err = compileNumber(val)
	case "multipleOf":
		if s.multipleOf, err = compileNumber(val); err == nil && s.multipleOf.sign() <= 0 {
			err = errors.New("not positive")
		}
	case "required":
		list, ok := val.([]any)
		for _, item := range list {
			name, isString := item.(string)
			ok = ok && isString
			s.required = append(s.required, name)
		}
		if !ok {
			err = errors.New("not an array of strings")
		}
	case "properties":
		props, ok := val.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: not an object", ptr)
		}
		s.properties = make(map[string]*fastSchema, len(props))
		for name, p := range props {
			if s.properties[name], err = c.schema(p, ptr+"/"+name, false); err != nil {
				return err
			}
		}
	case "additionalProperties":
		s.additional = sub()
	case "items":
		s.items = sub()
	case "not":
		s.not = sub()
	case "if":
		s.cond = sub()
	case "then", "else":
		// The library ignores them without "if"; the fast path refuses them.
		if !hasIf {
			return fmt.Errorf("%s without if", ptr)
		}
		if kw == "then" {
			s.then = sub()
		} else {
			s.otherwise = sub()
		}
	case "allOf", "oneOf":
		list, ok := val.([]any)
		if !ok || len(list) == 0 {
			return fmt.Errorf("%s: not a non-empty array", ptr)
		}
		subs := make([]*fastSchema, len(list))
		for i, item := range list {
			if subs[i], err = c.schema(item, fmt.Sprintf("%s/%d", ptr, i), false); err != nil {
				return err
			}
		}
		if kw == "allOf" {
			s.allOf = subs
		} else {
			s.oneOf = subs
		}
	default:
		err = errors.New("unsupported keyword")
	}
	if err != nil {
		return fmt.Errorf("%s: %w", ptr, err)
	}
	return nil
}

func compileTypes(val any) (typeSet, error) {
	names := []any{val}
	if list, ok := val.([]any); ok {
		names = list
	}
	var ts typeSet
	for _, n := range names {
		name, _ := n.(string)
		t := typeNamed(name)
		if t == 0 {
			return 0, fmt.Errorf("unknown type %v", n)
		}
		ts |= t
	}
	if ts == 0 {
		return 0, errors.New("no type")
	}
	return ts, nil
}

// compileConstant compiles a value of enum or const: objects and arrays, and
// numbers that do not fit a decimal, are refused.
func compileConstant(val any) (constant, error) {
	switch val := val.(type) {
	case nil:
		return constant{kind: kindNull}, nil
	case bool:
		return constant{kind: kindBool, truth: val}, nil
	case string:
		return constant{kind: kindString, str: val}, nil
	case json.Number:
		d, err := compileNumber(val)
		if err != nil {
			return constant{}, err
		}
		return constant{kind: kindNumber, num: *d}, nil
	}
	return constant{}, fmt.Errorf("unsupported constant %v", val)
}

// compileNumber compiles a number keyword's value, which must fit a decimal.
func compileNumber(val any) (*decimal, error) {
	n, ok := val.(json.Number)
	if ok {
		var t jsonTree
		if t.parse(string(n)) == nil && t.vals[0].kind == kindNumber && t.vals[0].exact {
			return &t.vals[0].num, nil
		}
	}
	return nil, fmt.Errorf("unsupported number %v", val)
}

// compileCount compiles the value of minLength, maxItems..., a non-negative integer
// (written without fraction nor exponent: the fast path is stricter than it needs).
func compileCount(val any) (int, error) {
	n, ok := val.(json.Number)
	i, err := n.Int64()
	if !ok || err != nil || i < 0 || i > 1e9 {
		return 0, fmt.Errorf("unsupported count %v", val)
	}
	return int(i), nil
}

// subschemas returns the schemas s applies to the value itself ($ref, allOf,
// oneOf, not, if, then, else), and those it applies to its members.
func (s *fastSchema) subschemas() (same, members []*fastSchema) {
	for _, sub := range append([]*fastSchema{s.ref, s.not, s.cond, s.then, s.otherwise}, append(s.allOf, s.oneOf...)...) {
		if sub != nil {
			same = append(same, sub)
		}
	}
	for _, sub := range s.properties {
		members = append(members, sub)
	}
	for _, sub := range []*fastSchema{s.additional, s.items} {
		if sub != nil {
			members = append(members, sub)
		}
	}
	return same, members
}

// inPlaceCycle reports whether a schema reachable from root comes back to itself
// through keywords that apply it to the same value: the library reports such a
// cycle as an error, and the fast path would recurse for ever. (Coming back
// through a member is fine: the data is finite.)
func inPlaceCycle(root *fastSchema) bool {
	const walking, done = 1, 2
	state := map[*fastSchema]int{}
	var inPlace func(s *fastSchema) bool
	inPlace = func(s *fastSchema) bool {
		switch state[s] {
		case walking:
			return true
		case done:
			return false
		}
		state[s] = walking
		same, _ := s.subschemas()
		for _, sub := range same {
			if inPlace(sub) {
				return true
			}
		}
		state[s] = done
		return false
	}
	seen := map[*fastSchema]bool{}
	var walk func(s *fastSchema) bool
	walk = func(s *fastSchema) bool {
		if seen[s] {
			return false
		}
		seen[s] = true
		if inPlace(s) {
			return true
		}
		same, members := s.subschemas()
		for _, sub := range append(same, members...) {
			if walk(sub) {
				return true
			}
		}
		return false
	}
	return walk(root)
}
