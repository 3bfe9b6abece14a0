package events

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
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

// ObjectError is a reference that does not match what the Object Store holds:
// Field names the reference's field at fault (bucket, name, size or sha256).
type ObjectError struct {
	Field  string
	Reason string
}

func (e *ObjectError) Error() string { return e.Reason }

// ReadObject fetches the object ref names from obs (the DocumentsBucket store) and
// checks it: the bucket, a size of at most maxSize bytes, and the size and SHA-256
// the reference announces. A reference that does not match is an *ObjectError;
// other errors are the Object Store's (transient).
func ReadObject(ctx context.Context, obs jetstream.ObjectStore, ref *ObjectRef, maxSize int64) ([]byte, error) {
	if ref.Bucket != DocumentsBucket {
		return nil, &ObjectError{Field: "bucket", Reason: fmt.Sprintf("bucket %q is not passerelle's document bucket %q", ref.Bucket, DocumentsBucket)}
	}
	if ref.Size > maxSize {
		return nil, &ObjectError{Field: "size", Reason: fmt.Sprintf("the object has %d bytes, more than the %d allowed", ref.Size, maxSize)}
	}
	b, err := obs.GetBytes(ctx, ref.Name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, &ObjectError{Field: "name", Reason: fmt.Sprintf("object %q is not in bucket %q", ref.Name, ref.Bucket)}
	}
	if err != nil {
		return nil, fmt.Errorf("events: read object %q: %w", ref.Name, err)
	}
	if int64(len(b)) != ref.Size {
		return nil, &ObjectError{Field: "size", Reason: fmt.Sprintf("object %q has %d bytes, the reference says %d", ref.Name, len(b), ref.Size)}
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != ref.SHA256 {
		return nil, &ObjectError{Field: "sha256", Reason: fmt.Sprintf("object %q has SHA-256 %s, the reference says %s", ref.Name, got, ref.SHA256)}
	}
	return b, nil
}
