package emulog_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/passerelle-dev/passerelle/workers/emulog"
)

// call is a logged call, as the emulators log them: its Seq is the one Next
// gave.
type call struct {
	Seq uint64 `json:"seq"`
	Op  string `json:"op"`
}

// add numbers and logs a call of op.
func add(l *emulog.Log[call], op string) call {
	c := call{Seq: l.Next(), Op: op}
	l.Add(c.Seq, c)
	return c
}

// seqs returns the sequence numbers of calls.
func seqs(calls []call) []uint64 {
	out := []uint64{}
	for _, c := range calls {
		out = append(out, c.Seq)
	}
	return out
}

func TestSince(t *testing.T) {
	t.Parallel()
	l := emulog.New(emulog.Config[call]{})
	if got := l.Since(0); got == nil || len(got) != 0 {
		t.Fatalf("Since(0) of an empty log = %#v, want an empty, non-nil slice", got)
	}
	for _, op := range []string{"a", "b", "c"} {
		add(l, op)
	}
	for _, tt := range []struct {
		name  string
		since uint64
		want  []uint64
	}{
		{"all", 0, []uint64{1, 2, 3}},
		{"after the first", 1, []uint64{2, 3}},
		{"after the last", 3, []uint64{}},
		{"beyond the last", 10, []uint64{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := seqs(l.Since(tt.since)); !slices.Equal(got, tt.want) {
				t.Errorf("Since(%d) = %v, want %v", tt.since, got, tt.want)
			}
		})
	}
}

func TestAddKeepsSequenceOrder(t *testing.T) {
	t.Parallel()
	l := emulog.New(emulog.Config[call]{})
	first, second, third := l.Next(), l.Next(), l.Next()
	// Calls finish in another order than they were received.
	l.Add(second, call{Seq: second, Op: "second"})
	l.Add(third, call{Seq: third, Op: "third"})
	l.Add(first, call{Seq: first, Op: "first"})
	if got, want := seqs(l.Since(0)), []uint64{1, 2, 3}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestBound(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name      string
		max, keep int
		adds      int
		want      []uint64
	}{
		{"under the bound", 4, 3, 4, []uint64{1, 2, 3, 4}},
		{"past the bound keeps the newest", 4, 3, 5, []uint64{3, 4, 5}},
		{"keep above max is max", 4, 9, 5, []uint64{2, 3, 4, 5}},
		{"negative keep empties", 4, -1, 5, []uint64{}},
		{"no bound", 0, 0, 6, []uint64{1, 2, 3, 4, 5, 6}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := emulog.New(emulog.Config[call]{Max: tt.max, Keep: tt.keep})
			for range tt.adds {
				add(l, "x")
			}
			if got := seqs(l.Since(0)); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestClearKeepsNumbering(t *testing.T) {
	t.Parallel()
	l := emulog.New(emulog.Config[call]{})
	add(l, "a")
	add(l, "b")
	l.Clear()
	if got := l.Since(0); len(got) != 0 {
		t.Fatalf("after Clear: %v, want nothing", got)
	}
	if c := add(l, "c"); c.Seq != 3 {
		t.Errorf("after Clear: seq %d, want 3", c.Seq)
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	l := emulog.New(emulog.Config[call]{Max: 50, Keep: 25})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				add(l, "x")
				_ = l.Since(10)
			}
		})
	}
	wg.Wait()
	got := seqs(l.Since(0))
	if !slices.IsSorted(got) || len(got) > 50 || got[len(got)-1] != 800 {
		t.Errorf("got %v, want at most 50 sorted records ending with 800", got)
	}
}

// do serves one request and returns the recorded answer.
func do(h http.Handler, method, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec
}

func TestServeHTTP(t *testing.T) {
	t.Parallel()
	type envelope struct {
		LastSeq  uint64 `json:"lastSeq"`
		Requests []call `json:"requests"`
	}
	plain := emulog.New(emulog.Config[call]{})
	wrapped := emulog.New(emulog.Config[call]{
		Body:       func(lastSeq uint64, records []call) any { return envelope{LastSeq: lastSeq, Requests: records} },
		JSONErrors: true,
	})
	for _, l := range []*emulog.Log[call]{plain, wrapped} {
		add(l, "a")
		add(l, "b")
	}
	for _, tt := range []struct {
		name        string
		log         *emulog.Log[call]
		method, url string
		wantStatus  int
		wantBody    string
		wantType    string
	}{
		{"array", plain, http.MethodGet, "/emulator/requests", 200, `[{"seq":1,"op":"a"},{"seq":2,"op":"b"}]` + "\n", "application/json"},
		{"array since", plain, http.MethodGet, "/emulator/requests?since=2", 200, "[]\n", "application/json"},
		{"envelope", wrapped, http.MethodGet, "/emulator/requests?since=1", 200, `{"lastSeq":2,"requests":[{"seq":2,"op":"b"}]}` + "\n", "application/json"},
		{"text error", plain, http.MethodGet, "/emulator/requests?since=x", 400, "since must be a sequence number\n", "text/plain; charset=utf-8"},
		{"JSON error", wrapped, http.MethodGet, "/emulator/requests?since=-1", 400, `{"error":"since must be a sequence number"}` + "\n", "application/json"},
		{"method", plain, http.MethodPost, "/emulator/requests", 405, "method not allowed\n", "text/plain; charset=utf-8"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := do(tt.log, tt.method, tt.url)
			if rec.Code != tt.wantStatus || rec.Body.String() != tt.wantBody || rec.Header().Get("Content-Type") != tt.wantType {
				t.Errorf("got %d %q (%s), want %d %q (%s)", rec.Code, rec.Body, rec.Header().Get("Content-Type"), tt.wantStatus, tt.wantBody, tt.wantType)
			}
			if tt.wantStatus == http.StatusMethodNotAllowed && rec.Header().Get("Allow") != "GET, DELETE" {
				t.Errorf("got Allow %q, want GET, DELETE", rec.Header().Get("Allow"))
			}
		})
	}
}

func TestServeHTTPDelete(t *testing.T) {
	t.Parallel()
	l := emulog.New(emulog.Config[call]{Body: func(lastSeq uint64, records []call) any {
		return map[string]any{"lastSeq": lastSeq, "requests": records}
	}})
	add(l, "a")
	if rec := do(l, http.MethodDelete, "/emulator/requests"); rec.Code != http.StatusNoContent {
		t.Fatalf("DELETE: got %d, want 204", rec.Code)
	}
	rec := do(l, http.MethodGet, "/emulator/requests")
	var body struct {
		LastSeq  uint64 `json:"lastSeq"`
		Requests []call `json:"requests"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.LastSeq != 1 || body.Requests == nil || len(body.Requests) != 0 {
		t.Errorf("after DELETE: got %s (%v), want lastSeq 1 and no requests", rec.Body, err)
	}
}

func TestWriteJSON(t *testing.T) {
	t.Parallel()
	l := emulog.New(emulog.Config[call]{WriteJSON: func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/x-test")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}})
	add(l, "a")
	rec := do(l, http.MethodGet, "/emulator/requests")
	if rec.Header().Get("Content-Type") != "application/x-test" || !strings.Contains(rec.Body.String(), `"op":"a"`) {
		t.Errorf("got %q (%s), want the records through WriteJSON", rec.Body, rec.Header().Get("Content-Type"))
	}
}
