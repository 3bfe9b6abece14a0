package emulog_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/passerelle-dev/passerelle/workers/emulog"
)

func TestStatusWriter(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		want    int
	}{
		{"explicit status", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }, http.StatusTeapot},
		{"body only", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("x")) }, http.StatusOK},
		{"first status wins", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusTooManyRequests)
			w.WriteHeader(http.StatusOK)
		}, http.StatusTooManyRequests},
		{"nothing written", func(http.ResponseWriter, *http.Request) {}, 0},
	} {
		rr := httptest.NewRecorder()
		sw := &emulog.StatusWriter{ResponseWriter: rr}
		tc.handler(sw, httptest.NewRequest(http.MethodGet, "/", nil))
		if sw.Status != tc.want {
			t.Errorf("%s: recorded %d, want %d", tc.name, sw.Status, tc.want)
		}
		if tc.want != 0 && rr.Code != tc.want {
			t.Errorf("%s: the client got %d, want %d", tc.name, rr.Code, tc.want)
		}
	}
}
