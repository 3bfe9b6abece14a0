package service_test

import (
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/passerelle-dev/passerelle/events"
	"github.com/passerelle-dev/passerelle/workers/choruspro/chorusprotest"
	"github.com/passerelle-dev/passerelle/workers/devstack"
	"github.com/passerelle-dev/passerelle/workers/devstack/devstacktest"
	"github.com/passerelle-dev/passerelle/workers/pasrau/pasrautest"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestMetrics runs an invoice (through a 503 and a 429) and a declaration, and
// checks that /metrics exposes the messaging and domain metrics by their names.
func TestMetrics(t *testing.T) {
	t.Parallel()
	h := devstacktest.New(t, devstack.Config{
		ChorusProFaults: chorusprotest.Faults{Queue: []string{"503", "429"}, Operations: []string{"soumettre"}, RetryAfterSeconds: 1},
		PASRAU:          pasrautest.Config{MinInterval: time.Second},
	})
	h.CollectSpans()
	h.Config.HTTPListen = "127.0.0.1:0"
	h.StartService()
	inv, err := events.NewInvoiceSubmit("", invoiceExample(t, "METRICS-1"))
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile("../pasrau/testdata/valid-declaration.txt")
	if err != nil {
		t.Fatal(err)
	}
	decl, err := events.NewDeclarationSubmit("", events.DeclarationSubmit{Account: devstack.DemoAccount, File: events.DeclarationFile{Encoding: events.EncodingUTF8, Text: string(text)}})
	if err != nil {
		t.Fatal(err)
	}
	bad, err := events.NewInvoiceSubmit("", events.InvoiceSubmit{Account: devstack.DemoAccount, Mode: "structured"})
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{h.Publish(inv), h.Publish(decl), h.Publish(bad)}
	h.WaitFinal(time.Minute, ids...)
	h.WaitFor(30*time.Second, "a return", func() bool { return len(h.Events(events.TypeDeclarationReturn)) > 0 })
	var body string
	// A series: a metric name and some of its labels.
	want := [][]string{
		{"messaging_process_duration_seconds_bucket", `messaging_consumer_group_name="invoice-submit"`},
		{"messaging_client_consumed_messages_total", `passerelle_outcome="rejected"`},
		{"messaging_client_sent_messages_total", `messaging_destination_name="declaration.return"`},
		{"passerelle_submissions_total", `flow="invoice"`, `account="demo"`, `outcome="MISE_EN_PAIEMENT"`},
		{"passerelle_submissions_total", `flow="invoice"`, `outcome="rejected"`},
		{"passerelle_submissions_total", `flow="declaration"`, `outcome="accepted"`},
		{"passerelle_retries_total", `upstream="choruspro"`, `cause="503"`},
		{"passerelle_retries_total", `upstream="choruspro"`, `cause="429"`},
		{"passerelle_token_refreshes_total", `upstream="choruspro"`, `account="demo"`, `outcome="ok"`},
		{"passerelle_token_refreshes_total", `upstream="pasrau"`, `account="demo"`, `outcome="ok"`},
		{"passerelle_dead_letters_total", `kind="rejected"`},
		{"passerelle_ledger_transitions_total", `flow="invoice"`, `step="sending"`},
		{"passerelle_ledger_transitions_total", `flow="declaration"`, `step="deposited"`},
		{"passerelle_pasrau_polls_total", `outcome="ok"`},
		{"passerelle_followups_planned"},
		{"passerelle_followups_due", `kind="invoice"`},
		{"passerelle_followups_oldest_due_age_seconds", `kind="pasrau-poll"`},
		{"http_client_request_duration_seconds_bucket", `passerelle_operation="factures/soumettre"`},
		{"http_client_request_duration_seconds_bucket", `passerelle_operation="deposit"`, `passerelle_upstream="pasrau"`},
	}
	has := func(body string, series []string) bool {
		for _, line := range strings.Split(body, "\n") {
			if !strings.HasPrefix(line, series[0]+"{") && !strings.HasPrefix(line, series[0]+" ") {
				continue
			}
			all := true
			for _, label := range series[1:] {
				all = all && strings.Contains(line, label)
			}
			if all {
				return true
			}
		}
		return false
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, body = get(t, "http://"+h.HTTPAddr+"/metrics")
		var missing [][]string
		for _, w := range want {
			if !has(body, w) {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %q", missing)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, line := range strings.Split(body, "\n") {
		if strings.Contains(line, "METRICS-1") || strings.Contains(line, inv.ID()) {
			t.Errorf("a metric carries an invoice number or an event id: %s", line)
		}
	}
	// The alert rules and the dashboard use metrics passerelle exposes.
	for _, file := range []string{"../../deploy/observability/alerts.yml", "../../deploy/observability/grafana-dashboard.json"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range regexp.MustCompile(`\b(?:passerelle|messaging|http_client)_[a-z_]+`).FindAllString(string(b), -1) {
			metric := regexp.MustCompile(`(?m)^` + name + `[{ ]`).MatchString(body)
			label := strings.Contains(body, name+`="`)
			if !metric && !label {
				t.Errorf("%s uses %s, which /metrics does not expose (as a metric or a label)", file, name)
			}
		}
	}
}

// TestHealth checks /healthz and /readyz, and that an account whose credentials
// an administration refuses makes the replica not ready, naming the account.
func TestHealth(t *testing.T) {
	t.Parallel()
	h := devstacktest.New(t, devstack.Config{})
	h.Config.HTTPListen = "127.0.0.1:0"
	h.StartService()
	base := "http://" + h.HTTPAddr
	if code, body := get(t, base+"/healthz"); code != 200 || !strings.Contains(body, "ok") {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := get(t, base+"/readyz"); code != 200 {
		t.Errorf("/readyz = %d %q, want ready", code, body)
	}
	// The declarant is no longer registered for PASRAU: its deposits are refused.
	if err := h.Stack.PASRAU.SetRegistered(pasrautest.DemoDeclarant().SIRET, false); err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile("../pasrau/testdata/valid-declaration.txt")
	if err != nil {
		t.Fatal(err)
	}
	e, err := events.NewDeclarationSubmit("", events.DeclarationSubmit{Account: devstack.DemoAccount, File: events.DeclarationFile{Encoding: events.EncodingUTF8, Text: string(text)}})
	if err != nil {
		t.Fatal(err)
	}
	h.Publish(e)
	var body string
	h.WaitFor(30*time.Second, "the replica to say it is not ready", func() bool {
		var code int
		code, body = get(t, base+"/readyz")
		return code == http.StatusServiceUnavailable
	})
	if !strings.Contains(body, "account pasrau/demo") || !strings.Contains(body, "non-inscrit") {
		t.Errorf("/readyz does not name the account and why: %q", body)
	}
	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Errorf("/healthz = %d: refused credentials do not make the process unhealthy", code)
	}
	_, metrics := get(t, base+"/metrics")
	if !strings.Contains(metrics, `passerelle_auth_failing{`) || !strings.Contains(metrics, `upstream="pasrau"} 1`) {
		t.Errorf("/metrics lacks passerelle_auth_failing for pasrau")
	}
}
