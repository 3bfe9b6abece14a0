package pasrau

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// MaxDocumentSize bounds the XML documents ParseListing and ParseReport read
// and the (decompressed) bodies the client accepts: 64 MiB holds a nominative
// report of several hundred thousand individuals.
const MaxDocumentSize = 64 << 20

// ErrMalformed is matched (errors.Is) by the errors of ParseListing and
// ParseReport, and by a client *Error when an answer cannot be read.
var ErrMalformed = errors.New("pasrau: malformed document")

// decodeXML decodes the single root element of data into v. It refuses
// documents over MaxDocumentSize, any DOCTYPE or other directive (no entity
// declarations, hence no entity expansion), text or elements outside the root,
// and encodings other than UTF-8 and ISO-8859-1.
func decodeXML(data []byte, v any) error {
	if len(data) > MaxDocumentSize {
		return fmt.Errorf("%w: %d bytes is over the %d-byte limit", ErrMalformed, len(data), MaxDocumentSize)
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	d.CharsetReader = charsetReader
	root := false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			if !root {
				return fmt.Errorf("%w: no root element", ErrMalformed)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return fmt.Errorf("%w: DOCTYPE and other directives are refused", ErrMalformed)
		case xml.StartElement:
			if root {
				return fmt.Errorf("%w: element <%s> after the root element", ErrMalformed, t.Name.Local)
			}
			root = true
			if err := d.DecodeElement(v, &t); err != nil {
				return fmt.Errorf("%w: %w", ErrMalformed, err)
			}
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return fmt.Errorf("%w: text outside the root element", ErrMalformed)
			}
		}
	}
}

// charsetReader lets the decoder read documents declared ISO-8859-1.
func charsetReader(label string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(label) {
	case "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "l1":
		return &latin1Reader{in: bufio.NewReader(in)}, nil
	}
	return nil, fmt.Errorf("unsupported XML encoding %q", label)
}

// latin1Reader converts ISO-8859-1 bytes to UTF-8.
type latin1Reader struct {
	in      *bufio.Reader
	pending []byte
}

// Read implements io.Reader.
func (r *latin1Reader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(r.pending) > 0 {
			c := copy(p[n:], r.pending)
			r.pending = r.pending[c:]
			n += c
			continue
		}
		b, err := r.in.ReadByte()
		if err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		if b < utf8.RuneSelf {
			p[n] = b
			n++
			continue
		}
		r.pending = utf8.AppendRune(r.pending[:0], rune(b))
	}
	return n, nil
}
