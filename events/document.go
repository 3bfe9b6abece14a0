package events

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// DocumentsBucket is the JetStream Object Store bucket of documents too large to
// travel inside events.
const DocumentsBucket = "passerelle-documents"

// DefaultInlineMax is the size above which NewDocument puts a file in the Object
// Store rather than inline.
const DefaultInlineMax = 256 << 10

// Document is a file carried by a submit event: inline as base64 when small, or as a
// reference to an object in passerelle's JetStream Object Store bucket when large.
// Exactly one of Content and Object is set.
type Document struct {
	// FileName is the file's name as the administration will see it.
	FileName string `json:"fileName"`
	// ContentType is the media type of the file, such as application/pdf.
	ContentType string `json:"contentType,omitempty"`
	// Content is the file, base64-encoded (standard alphabet, no line breaks).
	Content string `json:"content,omitempty"`
	// Object references the file in the Object Store instead.
	Object *ObjectRef `json:"object,omitempty"`
}

// ObjectRef names an object of a JetStream Object Store bucket, with the size and
// SHA-256 that the reader checks before using it.
type ObjectRef struct {
	Bucket string `json:"bucket"`
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	// SHA256 is the lower-case hexadecimal SHA-256 of the object's content.
	SHA256 string `json:"sha256"`
}

// NewDocument returns the Document for a file: inline when it has at most inlineMax
// bytes, else stored in obs (the DocumentsBucket store) under a name made of its
// SHA-256 and referenced. It returns an error when the upload fails.
func NewDocument(ctx context.Context, obs jetstream.ObjectStore, fileName, contentType string, content []byte, inlineMax int) (*Document, error) {
	d := &Document{FileName: fileName, ContentType: contentType}
	if len(content) <= inlineMax || obs == nil {
		d.Content = base64.StdEncoding.EncodeToString(content)
		return d, nil
	}
	sum := sha256.Sum256(content)
	digest := hex.EncodeToString(sum[:])
	name := digest + "/" + fileName
	if _, err := obs.Put(ctx, jetstream.ObjectMeta{Name: name, Description: fileName}, bytes.NewReader(content)); err != nil {
		return nil, fmt.Errorf("events: store document %s: %w", fileName, err)
	}
	d.Object = &ObjectRef{Bucket: DocumentsBucket, Name: name, Size: int64(len(content)), SHA256: digest}
	return d, nil
}
