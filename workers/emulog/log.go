// Package emulog is the request log of passerelle's API emulators
// (chorusprotest, pasrautest): the calls an emulator received, numbered from
// 1 in the order they were received, kept in that order and bounded, read in
// Go with Since and over HTTP with GET /emulator/requests?since=SEQ, emptied
// with Clear or DELETE /emulator/requests.
//
// A Log knows nothing of what a record holds: the emulator numbers a call
// with Next when it receives it and adds the record with Add, under that
// number, when it is complete; records added out of order are still kept in
// sequence order.
package emulog

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"sync"
)

// Config bounds a Log and shapes the answers of its ServeHTTP. The zero
// value keeps every record and answers GET with the records as a JSON array.
type Config[T any] struct {
	// Max bounds the log: when adding a record makes it hold more than Max
	// records, only the newest Keep are kept. Zero or less keeps everything.
	Max int
	// Keep is how many records are kept when Max is passed; a Keep above
	// Max is taken as Max, below zero as zero.
	Keep int
	// Body returns the value GET answers as JSON, given the last sequence
	// number handed out and the records above since (never nil). Nil
	// answers the records themselves, as a JSON array.
	Body func(lastSeq uint64, records []T) any
	// WriteJSON answers status with v as JSON. Nil encodes v with
	// encoding/json, as application/json, followed by a newline.
	WriteJSON func(w http.ResponseWriter, status int, v any)
	// JSONErrors answers a since that is not a sequence number with
	// {"error": "..."} through WriteJSON; otherwise that 400 is plain text.
	JSONErrors bool
}

// Log is a bounded request log of records of type T, safe for concurrent
// use. It serves GET and DELETE /emulator/requests as an http.Handler.
type Log[T any] struct {
	cfg Config[T]

	mu      sync.Mutex
	seq     uint64
	entries []entry[T] // in seq order
}

// entry is a record and its sequence number.
type entry[T any] struct {
	seq uint64
	rec T
}

// New returns an empty Log configured by cfg.
func New[T any](cfg Config[T]) *Log[T] {
	return &Log[T]{cfg: cfg}
}

// Next hands out the next sequence number: 1, then 2, and so on. Clear does
// not reset it.
func (l *Log[T]) Next() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	return l.seq
}

// Add logs rec under seq, a number handed out by Next, keeping the records
// in sequence order. When the log then holds more than Config.Max records,
// only the newest Config.Keep are kept.
func (l *Log[T]) Add(seq uint64, rec T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := len(l.entries)
	for i > 0 && l.entries[i-1].seq > seq {
		i--
	}
	l.entries = slices.Insert(l.entries, i, entry[T]{seq: seq, rec: rec})
	if limit := l.cfg.Max; limit > 0 && len(l.entries) > limit {
		keep := min(max(l.cfg.Keep, 0), limit)
		l.entries = append(l.entries[:0:0], l.entries[len(l.entries)-keep:]...)
	}
}

// Since returns the records whose sequence number is above since (0 for
// all), oldest first. The slice is never nil, and is the caller's.
func (l *Log[T]) Since(since uint64) []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sinceLocked(since)
}

// sinceLocked is Since for callers holding l.mu.
func (l *Log[T]) sinceLocked(since uint64) []T {
	i := sort.Search(len(l.entries), func(i int) bool { return l.entries[i].seq > since })
	out := make([]T, 0, len(l.entries)-i)
	for _, e := range l.entries[i:] {
		out = append(out, e.rec)
	}
	return out
}

// Clear empties the log; sequence numbers keep growing.
func (l *Log[T]) Clear() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = nil
}

// ServeHTTP serves GET /emulator/requests[?since=SEQ], the records above
// SEQ (see Config.Body), 400 when SEQ is not a sequence number, and DELETE
// /emulator/requests, which empties the log and answers 204. Other methods
// get 405.
func (l *Log[T]) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		var since uint64
		if s := r.URL.Query().Get("since"); s != "" {
			v, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				l.badRequest(w, "since must be a sequence number")
				return
			}
			since = v
		}
		l.mu.Lock()
		last, records := l.seq, l.sinceLocked(since)
		l.mu.Unlock()
		var body any = records
		if l.cfg.Body != nil {
			body = l.cfg.Body(last, records)
		}
		l.writeJSON(w, http.StatusOK, body)
	case http.MethodDelete:
		l.Clear()
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", "GET, DELETE")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// badRequest answers 400 with msg, as JSON when Config.JSONErrors.
func (l *Log[T]) badRequest(w http.ResponseWriter, msg string) {
	if l.cfg.JSONErrors {
		l.writeJSON(w, http.StatusBadRequest, map[string]string{"error": msg})
		return
	}
	http.Error(w, msg, http.StatusBadRequest)
}

// writeJSON answers status with v as JSON, through Config.WriteJSON when
// set.
func (l *Log[T]) writeJSON(w http.ResponseWriter, status int, v any) {
	if l.cfg.WriteJSON != nil {
		l.cfg.WriteJSON(w, status, v)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// An error here is the client's connection failing: the status is sent.
	_ = json.NewEncoder(w).Encode(v)
}
