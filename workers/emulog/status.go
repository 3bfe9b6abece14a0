package emulog

import "net/http"

// StatusWriter is an http.ResponseWriter that remembers the status its handler
// answered (200 when the handler wrote a body without a status), so that a
// request log can record it.
type StatusWriter struct {
	http.ResponseWriter
	// Status is the status written, 0 while nothing was.
	Status int
}

// WriteHeader records the status and writes it.
func (s *StatusWriter) WriteHeader(code int) {
	if s.Status == 0 {
		s.Status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200 and writes b.
func (s *StatusWriter) Write(b []byte) (int, error) {
	if s.Status == 0 {
		s.Status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Flush flushes the underlying writer when it can (a reverse proxy streaming
// through the StatusWriter).
func (s *StatusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (s *StatusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
