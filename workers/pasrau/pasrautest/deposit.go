package pasrautest

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// maxDeposit bounds a deposit body, compressed and decompressed.
const maxDeposit = 64 << 20

// serveDeposit is the deposit service, checking in the DSN emulator's order:
// 415 (Content-Encoding not gzip), 406 (Accept-Encoding without gzip), 422
// (empty body), 401 (token), 400 (body not gzip), then registers the flux:
// 422 with the rejection notice (ARE) when the file's form is wrong (see
// blocking), else 200 with the AEE. Both answers are gzip-compressed.
func (e *Emulator) serveDeposit(w http.ResponseWriter, r *http.Request) {
	entry := newEntry(opDeposit, r)
	body, readErr := io.ReadAll(io.LimitReader(r.Body, maxDeposit+1))
	e.business(w, r, entry, http.MethodPost, func(w http.ResponseWriter, now time.Time, entry *Request) {
		if !strings.EqualFold(strings.TrimSpace(r.Header.Get("Content-Encoding")), "gzip") {
			w.WriteHeader(http.StatusUnsupportedMediaType)
			return
		}
		if !acceptsGzip(r) {
			w.WriteHeader(http.StatusNotAcceptable)
			return
		}
		if readErr != nil || len(body) == 0 || len(body) > maxDeposit {
			w.WriteHeader(http.StatusUnprocessableEntity)
			return
		}
		acc := e.authorize(w, r, now, entry)
		if acc == nil {
			return
		}
		file, err := gunzip(body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		sum := sha256.Sum256(file)
		entry.SHA256 = hex.EncodeToString(sum[:])
		f := e.newFlux(acc, file, now)
		entry.IDFlux, entry.Month = f.id, f.decl.Month
		status, doc := http.StatusOK, f.returns[0].versions[0]
		if f.rejected {
			status = http.StatusUnprocessableEntity
		}
		xmlDoc, err := e.render(f, doc)
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		writeGzip(w, status, "application/xml; charset=UTF-8", xmlDoc)
	})
}

// gunzip decompresses a deposit, refusing more than maxDeposit bytes.
func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("gunzip: %w", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxDeposit+1))
	if err != nil {
		return nil, fmt.Errorf("gunzip: %w", err)
	}
	if len(out) > maxDeposit || len(out) == 0 {
		return nil, fmt.Errorf("gunzip: %d bytes", len(out))
	}
	return out, nil
}
