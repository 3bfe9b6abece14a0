package choruspro

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits Chorus Pro puts on documents.
const (
	// MaxDocumentSize is the largest file accepted: a PDF of at most 10 MB
	// (Chorus Pro answers 413 above). The same bound is applied to flows and
	// attachments.
	MaxDocumentSize = 10 * 1024 * 1024
	// MaxFileNameLength is the longest file name accepted, in characters.
	MaxFileNameLength = 50
)

// DocumentKind says what a document is for; each kind has its own allowed
// extensions (see AllowedExtensions).
type DocumentKind int

const (
	// KindPDF is an invoice PDF for DeposerPDF: extension pdf, content
	// starting with %PDF-.
	KindPDF DocumentKind = iota + 1
	// KindFlux is a flow file for DeposerFlux: xml (UBL, CII), pdf
	// (Factur-X), gz or tgz (several invoices as .tar.gz), zip.
	KindFlux
	// KindAttachment is an attachment: the formats Chorus Pro accepts for
	// attachments.
	KindAttachment
)

// String names the kind.
func (k DocumentKind) String() string {
	switch k {
	case KindPDF:
		return "invoice PDF"
	case KindFlux:
		return "flow file"
	case KindAttachment:
		return "attachment"
	}
	return fmt.Sprintf("DocumentKind(%d)", int(k))
}

// AllowedExtensions returns the lower-case extensions (without dot) allowed
// for kind, nil for an unknown kind. The attachment list is the one Chorus
// Pro documents for attachments.
func AllowedExtensions(kind DocumentKind) []string {
	switch kind {
	case KindPDF:
		return []string{"pdf"}
	case KindFlux:
		return []string{"xml", "pdf", "gz", "tgz", "zip"}
	case KindAttachment:
		return []string{
			"bmp", "bz2", "csv", "doc", "docx", "fax", "gif", "gz", "gzip", "htm", "html",
			"jpeg", "jpg", "odp", "ods", "odt", "p7s", "pdf", "png", "pps", "ppt", "pptx",
			"rtf", "svg", "tgz", "tif", "tiff", "txt", "xhtml", "xlc", "xls", "xlm", "xlsx",
			"xml", "zip",
		}
	}
	return nil
}

// DocumentError says why a document was refused before any call. It matches
// ErrInvalidDocument, and ErrTooLarge when the document is too large.
type DocumentError struct {
	// Name is the file name, Kind what it was meant for.
	Name string
	Kind DocumentKind
	// Reason says what is wrong, in English.
	Reason string
	// InName: the name is at fault (otherwise the content).
	InName bool

	tooLarge bool
}

// Error describes the refusal.
func (e *DocumentError) Error() string {
	return fmt.Sprintf("%s %q refused: %s", e.Kind, e.Name, e.Reason)
}

// Unwrap returns ErrInvalidDocument, and ErrTooLarge for a too large file.
func (e *DocumentError) Unwrap() []error {
	if e.tooLarge {
		return []error{ErrInvalidDocument, ErrTooLarge}
	}
	return []error{ErrInvalidDocument}
}

// ValidateDocument checks a document the way Chorus Pro will, so that the
// worker can refuse it on intake: a non-empty name of at most
// MaxFileNameLength characters, without path separators or control
// characters, with an extension allowed for kind; non-empty content of at most
// MaxDocumentSize bytes; content matching the extension (%PDF- for pdf, "<"
// for xml, gzip or zip magic numbers). It returns nil or a *DocumentError.
func ValidateDocument(name string, content []byte, kind DocumentKind) error {
	fail := func(reason string) error { return &DocumentError{Name: name, Kind: kind, Reason: reason} }
	failName := func(reason string) error { return &DocumentError{Name: name, Kind: kind, Reason: reason, InName: true} }
	allowed := AllowedExtensions(kind)
	if allowed == nil {
		return fail("unknown document kind")
	}
	switch {
	case name == "":
		return failName("the file name is empty")
	case !utf8.ValidString(name):
		return failName("the file name is not valid UTF-8")
	case utf8.RuneCountInString(name) > MaxFileNameLength:
		return failName(fmt.Sprintf("the file name has %d characters, more than %d", utf8.RuneCountInString(name), MaxFileNameLength))
	case strings.ContainsAny(name, `/\`):
		return failName("the file name contains a path separator")
	case strings.ContainsFunc(name, unicode.IsControl):
		return failName("the file name contains a control character")
	}
	ext := strings.ToLower(strings.TrimPrefix(path.Ext(name), "."))
	if ext == "" || !slices.Contains(allowed, ext) {
		return failName(fmt.Sprintf("the extension %q is not allowed (allowed: %s)", ext, strings.Join(allowed, ", ")))
	}
	if len(content) == 0 {
		return fail("the file is empty")
	}
	if len(content) > MaxDocumentSize {
		var e *DocumentError
		if errors.As(fail(fmt.Sprintf("the file has %d bytes, more than %d", len(content), MaxDocumentSize)), &e) {
			e.tooLarge = true
		}
		return e
	}
	if reason := checkMagic(ext, content); reason != "" {
		return fail(reason)
	}
	return nil
}

// checkMagic checks that content looks like what ext announces; it returns
// what is wrong, or "".
func checkMagic(ext string, content []byte) string {
	switch ext {
	case "pdf":
		if !bytes.HasPrefix(content, []byte("%PDF-")) {
			return "the content is not a PDF (it does not start with %PDF-)"
		}
	case "xml":
		trimmed := bytes.TrimLeft(bytes.TrimPrefix(content, []byte("\xef\xbb\xbf")), " \t\r\n")
		if !bytes.HasPrefix(trimmed, []byte("<")) {
			return "the content is not XML (it does not start with <)"
		}
	case "gz", "tgz", "gzip":
		if !bytes.HasPrefix(content, []byte{0x1f, 0x8b}) {
			return "the content is not gzip-compressed"
		}
	case "zip":
		if !bytes.HasPrefix(content, []byte("PK\x03\x04")) && !bytes.HasPrefix(content, []byte("PK\x05\x06")) {
			return "the content is not a zip archive"
		}
	}
	return ""
}

// documentError wraps a document refusal into the *Error of operation op.
func documentError(op string, err error) error {
	return &Error{Op: op, Err: err, kind: ErrInvalidDocument}
}
