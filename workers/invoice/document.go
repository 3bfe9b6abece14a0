package invoice

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/workers/choruspro"
	"github.com/passerelle-dev/passerelle/workers/runtime"
)

// readDocument returns the submission's document, decoded or fetched from the
// Object Store and checked (size, SHA-256, Chorus Pro's rules for its kind), with
// its SHA-256. Problems with the document are Invalid; Object Store outages are a
// Retry.
func (f *Flow) readDocument(ctx context.Context, sub *events.InvoiceSubmit) ([]byte, string, error) {
	doc := sub.Document
	if doc == nil {
		return nil, "", nil
	}
	var content []byte
	switch {
	case doc.Object != nil:
		b, err := events.ReadObject(ctx, f.deps.Documents, doc.Object, f.cfg.MaxDocumentSize)
		var oe *events.ObjectError
		if errors.As(err, &oe) {
			return nil, "", runtime.Invalid(problem("/document/object/"+oe.Field, oe.Reason))
		}
		if err != nil {
			return nil, "", runtime.Retry(err, 0)
		}
		content = b
	default:
		b, err := base64.StdEncoding.DecodeString(doc.Content)
		if err != nil {
			return nil, "", runtime.Invalid(problem("/document/content", "not valid base64: "+err.Error()))
		}
		content = b
	}
	kind := choruspro.KindPDF
	if sub.Mode == events.ModeFlow {
		kind = choruspro.KindFlux
	}
	if err := choruspro.ValidateDocument(doc.FileName, content, kind); err != nil {
		at := "/document/content"
		var de *choruspro.DocumentError
		switch {
		case errors.As(err, &de) && de.InName:
			at = "/document/fileName"
		case doc.Object != nil:
			at = "/document/object"
		}
		return nil, "", runtime.Invalid(problem(at, err.Error()))
	}
	sum := sha256.Sum256(content)
	return content, hex.EncodeToString(sum[:]), nil
}

// contentHash fingerprints a submission: its data with the document replaced by its
// name and SHA-256, so that inline and Object Store forms of the same file match.
func contentHash(sub *events.InvoiceSubmit, docSHA string) string {
	c := *sub
	if c.Document != nil {
		c.Document = &events.Document{FileName: c.Document.FileName, Content: docSHA}
	}
	b, _ := json.Marshal(c)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
