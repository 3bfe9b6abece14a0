package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// healthServer answers /healthz with 200 and /readyz with 503, as a replica whose
// account credentials are refused does.
func healthServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "not ready:\n- account choruspro/acme: credentials refused\n")
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestHealthcheck(t *testing.T) {
	t.Parallel()
	srv := healthServer(t)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	_ = closed.Close()

	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string // "" for success
	}{
		{"listen address of run, all interfaces", []string{"healthcheck"}, map[string]string{"PASSERELLE_HTTP_LISTEN": ":" + port}, ""},
		{"listen address of run, one host", []string{"healthcheck"}, map[string]string{"PASSERELLE_HTTP_LISTEN": "127.0.0.1:" + port}, ""},
		{"listen address of run, unspecified IPv4", []string{"healthcheck"}, map[string]string{"PASSERELLE_HTTP_LISTEN": "0.0.0.0:" + port}, ""},
		{"not ready", []string{"healthcheck", "--ready"}, map[string]string{"PASSERELLE_HTTP_LISTEN": ":" + port}, "503 Service Unavailable: not ready:\n- account choruspro/acme: credentials refused"},
		{"explicit url", []string{"healthcheck", "--url", srv.URL + "/healthz"}, nil, ""},
		{"explicit url answering 404", []string{"healthcheck", "--url", srv.URL + "/nothing"}, nil, "404 Not Found"},
		{"nobody listening", []string{"healthcheck", "--url", "http://" + closedAddr + "/healthz"}, nil, "connection refused"},
		{"too slow", []string{"healthcheck", "--timeout", "100ms", "--url", srv.URL + "/slow"}, nil, "context deadline exceeded"},
		{"bad listen address", []string{"healthcheck"}, map[string]string{"PASSERELLE_HTTP_LISTEN": "8080"}, `PASSERELLE_HTTP_LISTEN "8080" is not host:port`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			err := run(context.Background(), tt.args, envOf(tt.env), nil, &out, io.Discard)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("run(%q) = %v, want success", tt.args, err)
			case tt.wantErr == "" && !strings.Contains(out.String(), "200 OK"):
				t.Errorf("run(%q) printed %q, want the 200 answer", tt.args, out.String())
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("run(%q) = %v, want an error containing %q", tt.args, err, tt.wantErr)
			case tt.wantErr != "" && exitCode(err) != 1:
				t.Errorf("run(%q) exits %d, want 1 (Docker reads any other non-zero code as reserved)", tt.args, exitCode(err))
			}
		})
	}
}

func TestHealthcheckUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"healthcheck", "extra"}, "no argument expected"},
		{[]string{"healthcheck", "--ready", "--url", "http://127.0.0.1:1/x"}, "exclude each other"},
		{[]string{"healthcheck", "--url", "127.0.0.1:8080/healthz"}, "is not an http(s) URL"},
		{[]string{"healthcheck", "--timeout", "0s"}, "must be positive"},
		{[]string{"healthcheck", "--bogus"}, "flag provided but not defined: -bogus"},
	}
	for _, tt := range tests {
		err := run(context.Background(), tt.args, envOf(nil), nil, io.Discard, io.Discard)
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run(%q) = %v, want a usage error containing %q", tt.args, err, tt.want)
		}
	}
}

// TestHealthURLDefault checks that without PASSERELLE_HTTP_LISTEN the health check
// asks the address `passerelle run` listens on by default.
func TestHealthURLDefault(t *testing.T) {
	t.Parallel()
	tests := []struct {
		listen string
		ready  bool
		want   string
	}{
		{"", false, "http://127.0.0.1:8080/healthz"},
		{"", true, "http://127.0.0.1:8080/readyz"},
		{"[::]:9090", false, "http://127.0.0.1:9090/healthz"},
		{"[::1]:9090", false, "http://[::1]:9090/healthz"},
		{"10.0.0.7:8080", true, "http://10.0.0.7:8080/readyz"},
	}
	for _, tt := range tests {
		got, err := healthURL(envOf(map[string]string{"PASSERELLE_HTTP_LISTEN": tt.listen}), tt.ready)
		if err != nil || got != tt.want {
			t.Errorf("healthURL(listen %q, ready %v) = %q, %v; want %q", tt.listen, tt.ready, got, err, tt.want)
		}
	}
	if got, want := runDefault("PASSERELLE_HTTP_LISTEN"), ":8080"; got != want {
		t.Errorf("default of PASSERELLE_HTTP_LISTEN read from runConfig = %q, want %q", got, want)
	}
}
