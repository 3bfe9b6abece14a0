package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/passerelle-dev/passerelle/workers/devstack/devstacktest"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestHelp(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--help"}, envOf(nil), nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, c := range commands() {
		if !strings.Contains(out.String(), c.name) {
			t.Errorf("--help does not list %s", c.name)
		}
		var sub bytes.Buffer
		args := []string{c.name, "--help"}
		if err := run(context.Background(), args, envOf(nil), nil, &sub, io.Discard); err != nil {
			t.Errorf("%s --help: %v", c.name, err)
		}
		if !strings.Contains(sub.String(), "Usage: passerelle "+c.name) || !strings.Contains(sub.String(), "Example") {
			t.Errorf("%s --help has no usage line or examples:\n%s", c.name, sub.String())
		}
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{nil, "a subcommand is required"},
		{[]string{"frobnicate"}, `unknown subcommand "frobnicate"`},
		{[]string{"watch", "--type", "nope"}, `--type "nope"`},
		{[]string{"publish"}, "exactly one DATA.json"},
		{[]string{"dev", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"emulate", "nothing"}, `unknown API "nothing"`},
	}
	for _, tt := range tests {
		err := run(context.Background(), tt.args, envOf(nil), nil, io.Discard, io.Discard)
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) || exitCode(err) != 2 {
			t.Errorf("run(%q) = %v, want a usage error (exit 2) containing %q", tt.args, err, tt.want)
		}
	}
}

func TestRunConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env  map[string]string
		want string
	}{
		{nil, "PASSERELLE_ACCOUNTS_FILE"},
		{map[string]string{"PASSERELLE_ACCOUNTS_FILE": "a.json", "PASSERELLE_ACK_WAIT": "10s"}, "PASSERELLE_ACK_WAIT (10s) must be at least twice PASSERELLE_CALL_BUDGET (20s)"},
		{map[string]string{"PASSERELLE_ACCOUNTS_FILE": "a.json", "PASSERELLE_CONCURRENCY": "abc"}, "PASSERELLE_CONCURRENCY"},
		{map[string]string{"PASSERELLE_ACCOUNTS_FILE": "a.json", "PASSERELLE_REPLICAS": "2"}, "replicas are 1, 3 or 5"},
		{map[string]string{"PASSERELLE_ACCOUNTS_FILE": filepath.Join(t.TempDir(), "missing.json")}, "missing.json"},
		{map[string]string{"PASSERELLE_ACCOUNTS_FILE": "a.json", "PASSERELLE_LOG_LEVEL": "loud"}, `log level "loud"`},
	}
	for _, tt := range tests {
		err := run(context.Background(), []string{"run"}, envOf(tt.env), nil, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run with %v = %v, want an error containing %q", tt.env, err, tt.want)
		}
	}
}

// TestConfigurationDocumented fails when a setting of `passerelle run` is missing
// from the README's configuration reference, or documented with another default.
func TestConfigurationDocumented(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	typ := reflect.TypeFor[runConfig]()
	for i := range typ.NumField() {
		tag := typ.Field(i).Tag.Get("env")
		parts := strings.Split(tag, ",")
		name, def := parts[0], ""
		for _, p := range parts[1:] {
			if v, ok := strings.CutPrefix(strings.TrimSpace(p), "default="); ok {
				def = v
			}
		}
		row := regexp.MustCompile("(?m)^\\| `" + regexp.QuoteMeta(name) + "` \\|([^|]*)\\|").FindSubmatch(readme)
		if row == nil {
			t.Errorf("%s is not in the README's configuration table", name)
			continue
		}
		got := strings.Trim(strings.TrimSpace(string(row[1])), "`")
		if def != "" && got != def {
			t.Errorf("README documents %s with default %q, the code's is %q", name, got, def)
		}
	}
}

// TestDevDemo runs `passerelle dev --demo` as a newcomer would, publishes the schema
// example with `passerelle publish`, and checks what dev prints and serves.
func TestDevDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs dev mode end to end")
	}
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out devstacktest.SyncBuffer
	done := make(chan error, 1)
	args := []string{"dev", "--demo", "--listen-nats", "127.0.0.1:0", "--listen-http", "127.0.0.1:0", "--listen-choruspro", "127.0.0.1:0", "--data-dir", t.TempDir(), "--step", "200ms"}
	go func() { done <- run(ctx, args, envOf(nil), nil, &out, io.Discard) }()

	waitOutput := func(what string, re *regexp.Regexp, n int) [][]string {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			if m := re.FindAllStringSubmatch(out.String(), -1); len(m) >= n {
				return m
			}
			select {
			case err := <-done:
				t.Fatalf("dev stopped (%v) before %s; output:\n%s", err, what, out.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %s within 60s; output:\n%s", what, out.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	natsURL := waitOutput("NATS address", regexp.MustCompile(`NATS: +(nats://\S+)`), 1)[0][1]
	httpURL := waitOutput("HTTP address", regexp.MustCompile(`HTTP: +(http://\S+)`), 1)[0][1]

	finals := waitOutput("four final invoice statuses", regexp.MustCompile(`(?m)^.* invoice .*FINAL.*$`), 4)
	var paid, rejected int
	for _, f := range finals {
		switch {
		case strings.Contains(f[0], "MISE_EN_PAIEMENT"):
			paid++
		case strings.Contains(f[0], "rejected") && strings.Contains(f[0], "codeRetour"):
			rejected++
		}
	}
	if paid != 3 || rejected != 1 {
		t.Errorf("demo ended with %d paid and %d rejected by Chorus Pro, want 3 and 1:\n%s", paid, rejected, out.String())
	}

	// The declarations: the valid one accepted and its returns arriving, the guide's
	// sample invalid (its stray quote reported on line 48), one rejected by PASRAU.
	waitOutput("the valid declaration accepted", regexp.MustCompile(`declaration demo .* accepted .*CCO OK FINAL`), 1)
	waitOutput("the guide's sample invalid", regexp.MustCompile(`declaration demo .* invalid .*FINAL.*line 48 S21\.G00\.20\.007: stray quote`), 1)
	waitOutput("the avis de rejet", regexp.MustCompile(`declaration demo .* rejected .*ARE KO FINAL`), 1)
	waitOutput("the DGFIP's PAS rates", regexp.MustCompile(`return .* nature 94 v\d+ OK .*PAS rates`), 1)

	// The schema's example, published as-is by `passerelle publish`, goes through too.
	example := filepath.Join(t.TempDir(), "invoice.json")
	if err := os.WriteFile(example, []byte(`{"account":"demo","mode":"structured","invoice":{"number":"README-1","date":"2026-11-20","recipient":{"siret":"11000003100010"},"lines":[{"designation":"x","quantity":1,"unitPrice":10,"vatRate":20}],"vat":[{"rate":20,"base":10,"amount":2}],"totals":{"net":10,"vat":2,"gross":12,"payable":12}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var pubOut bytes.Buffer
	if err := run(ctx, []string{"publish", "--nats", natsURL, example}, envOf(nil), nil, &pubOut, io.Discard); err != nil {
		t.Fatalf("publish: %v", err)
	}
	waitOutput("the published invoice's final status", regexp.MustCompile(`README-1 .*MISE_EN_PAIEMENT.*FINAL`), 1)

	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := http.Get(httpURL + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d %s", path, resp.StatusCode, body)
		}
		if path == "/metrics" && !strings.Contains(string(body), "messaging_process_duration") {
			t.Errorf("/metrics lacks messaging_process_duration")
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("dev stopped with %v, want a clean stop", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("dev did not stop within 30s of Ctrl-C")
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := run(context.Background(), []string{"validate", "demo/guide-sample.txt"}, envOf(nil), nil, &out, io.Discard)
	if err == nil || exitCode(err) != 1 {
		t.Fatalf("validate of the guide's sample = %v, want problems (exit 1)", err)
	}
	if !strings.Contains(out.String(), "line 48 S21.G00.20.007") || !strings.Contains(out.String(), "stray quote") {
		t.Errorf("the stray quote of line 48 is not reported:\n%s", out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"validate", "../../workers/pasrau/testdata/valid-declaration.txt"}, envOf(nil), nil, &out, io.Discard); err != nil {
		t.Fatalf("validate of a valid file: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "53755096400010 2026-11") || !strings.Contains(out.String(), "valid") {
		t.Errorf("the identity or the verdict is missing:\n%s", out.String())
	}
}

// TestDevExportsTraces runs dev mode with the standard OTEL_* variables pointing at
// a local OTLP/HTTP collector, and checks that the demo's traces reach it, named
// and attributed, and that stopping flushes them.
func TestDevExportsTraces(t *testing.T) {
	if testing.Short() {
		t.Skip("runs dev mode with a collector")
	}
	var mu sync.Mutex
	spans := map[string]bool{}
	services := map[string]bool{}
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/v1/traces" {
			var req coltrace.ExportTraceServiceRequest
			if err := proto.Unmarshal(body, &req); err != nil {
				t.Errorf("collector: %v", err)
			}
			mu.Lock()
			for _, rs := range req.ResourceSpans {
				for _, kv := range rs.Resource.Attributes {
					if kv.Key == "service.name" {
						services[kv.Value.GetStringValue()] = true
					}
				}
				for _, ss := range rs.ScopeSpans {
					for _, s := range ss.Spans {
						spans[s.Name] = true
					}
				}
			}
			mu.Unlock()
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer collector.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_SERVICE_NAME", "passerelle-dev-test")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out devstacktest.SyncBuffer
	done := make(chan error, 1)
	args := []string{"dev", "--demo", "--listen-nats", "127.0.0.1:0", "--listen-http", "127.0.0.1:0", "--listen-choruspro", "127.0.0.1:0", "--listen-pasrau", "127.0.0.1:0", "--data-dir", t.TempDir(), "--step", "200ms"}
	go func() { done <- run(ctx, args, os.Getenv, nil, &out, io.Discard) }()
	deadline := time.Now().Add(60 * time.Second)
	for len(regexp.MustCompile(`(?m) invoice .*FINAL`).FindAllString(out.String(), -1)) < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("the demo's invoices did not end:\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, name := range []string{"process PASSERELLE_INVOICES", "choruspro factures/soumettre", "send invoice.status", "ledger create"} {
		if !spans[name] {
			t.Errorf("the collector received no %q span (got %v)", name, spans)
		}
	}
	if !services["passerelle-dev-test"] {
		t.Errorf("service.name from OTEL_SERVICE_NAME not honoured: %v", services)
	}
}
