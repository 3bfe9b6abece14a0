package events

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
