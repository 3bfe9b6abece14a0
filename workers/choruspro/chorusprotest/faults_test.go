package chorusprotest_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/passerelle-dev/passerelle/workers/choruspro/chorusprotest"
)

// putFaults sets faults through the HTTP endpoint.
func (h *harness) putFaults(f any) answer {
	h.t.Helper()
	b, err := json.Marshal(f)
	if err != nil {
		h.t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(h.t.Context(), http.MethodPut, h.srv.URL+"/emulator/faults", bytes.NewReader(b))
	if err != nil {
		h.t.Fatal(err)
	}
	return h.do(req)
}

func TestFaultsEndpoint(t *testing.T) {
	t.Parallel()
	h := start(t, chorusprotest.Config{})
	for _, tc := range []struct {
		name       string
		faults     any
		wantStatus int
	}{
		{"valid", map[string]any{"rateLimitProbability": 0.5, "retryAfterSeconds": 3, "queue": []string{"drop"}, "operations": []string{"soumettre"}, "seed": 7}, 200},
		{"probability above 1", map[string]any{"unavailableProbability": 1.2}, 400},
		{"sum above 1", map[string]any{"unavailableProbability": 0.6, "dropProbability": 0.6}, 400},
		{"unknown queued fault", map[string]any{"queue": []string{"500"}}, 400},
		{"unknown operation", map[string]any{"operations": []string{"payer"}}, 400},
		{"unknown field", map[string]any{"chaos": true}, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if a := h.putFaults(tc.faults); a.status != tc.wantStatus {
				t.Errorf("got %d %s, want %d", a.status, a.raw, tc.wantStatus)
			}
		})
	}
	a := h.do(h.request(http.MethodGet, "/emulator/faults", nil))
	want := chorusprotest.Faults{RateLimitProbability: 0.5, RetryAfterSeconds: 3, Queue: []string{"drop"}, Operations: []string{"soumettre"}, Seed: 7}
	var got chorusprotest.Faults
	if err := json.Unmarshal(a.raw, &got); err != nil {
		t.Fatal(err)
	}
	if got.RateLimitProbability != want.RateLimitProbability || got.Seed != want.Seed || !slices.Equal(got.Queue, want.Queue) || !slices.Equal(got.Operations, want.Operations) {
		t.Errorf("got faults %+v, want %+v (invalid updates change nothing)", got, want)
	}
}

func TestInjectedFaults(t *testing.T) {
	t.Parallel()
	body := map[string]any{"structure": map[string]any{}}
	for _, tc := range []struct {
		name           string
		faults         chorusprotest.Faults
		wantStatus     int
		wantRetryAfter string
		wantFault      string
	}{
		{"rate limit", chorusprotest.Faults{Queue: []string{"429"}, RetryAfterSeconds: 4}, 429, "4", "429"},
		{"unavailable", chorusprotest.Faults{UnavailableProbability: 1}, 503, "", "503"},
		{"bad gateway", chorusprotest.Faults{Queue: []string{"502"}}, 502, "", "502"},
		{"gateway timeout", chorusprotest.Faults{Queue: []string{"504"}}, 504, "", "504"},
		{"outage", chorusprotest.Faults{Outage: true}, 503, "", "outage"},
		{"other operation", chorusprotest.Faults{Queue: []string{"503"}, Operations: []string{"soumettre"}}, 200, "", ""},
		{"expired token", chorusprotest.Faults{Queue: []string{"expire-token"}}, 401, "", "expire-token"},
		{"slow", chorusprotest.Faults{Queue: []string{"slow"}, SlowDelayMillis: 30}, 200, "", "slow"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := start(t, chorusprotest.Config{})
			h.bearer()
			if err := h.emu.SetFaults(tc.faults); err != nil {
				t.Fatal(err)
			}
			begin := time.Now()
			a := h.call("structures/v1/rechercher", body)
			if a.status != tc.wantStatus {
				t.Fatalf("got status %d (%s), want %d", a.status, a.raw, tc.wantStatus)
			}
			if got := a.header.Get("Retry-After"); got != tc.wantRetryAfter {
				t.Errorf("got Retry-After %q, want %q", got, tc.wantRetryAfter)
			}
			if tc.wantFault == "slow" && time.Since(begin) < 30*time.Millisecond {
				t.Errorf("got an answer after %s, want at least 30ms", time.Since(begin))
			}
			recs := h.emu.Requests(0)
			last := recs[len(recs)-1]
			if last.Fault != tc.wantFault || last.Status != tc.wantStatus {
				t.Errorf("got record %+v, want fault %q status %d", last, tc.wantFault, tc.wantStatus)
			}
			if tc.wantRetryAfter != "" && last.RetryAfterSeconds != 4 {
				t.Errorf("got retryAfterSeconds %d, want 4", last.RetryAfterSeconds)
			}
		})
	}

	t.Run("token expiry every N calls", func(t *testing.T) {
		t.Parallel()
		h := start(t, chorusprotest.Config{Faults: chorusprotest.Faults{TokenExpiryEvery: 2}})
		var got []int
		for range 3 {
			got = append(got, h.call("structures/v1/rechercher", body).status)
		}
		if !slices.Equal(got, []int{200, 200, 401}) {
			t.Errorf("got statuses %v, want [200 200 401]", got)
		}
	})

	t.Run("token endpoint down", func(t *testing.T) {
		t.Parallel()
		h := start(t, chorusprotest.Config{Faults: chorusprotest.Faults{TokenEndpointDown: true}})
		if a := h.tokenRequest(chorusprotest.SeedClientID, chorusprotest.SeedClientSecret); a.status != 503 {
			t.Errorf("got %d, want 503", a.status)
		}
	})

	t.Run("token endpoint affected", func(t *testing.T) {
		t.Parallel()
		h := start(t, chorusprotest.Config{Faults: chorusprotest.Faults{AffectTokenEndpoint: true, Queue: []string{"429"}, RetryAfterSeconds: 2}})
		if a := h.tokenRequest(chorusprotest.SeedClientID, chorusprotest.SeedClientSecret); a.status != 429 || a.header.Get("Retry-After") != "2" {
			t.Errorf("got %d Retry-After %q, want 429 and 2", a.status, a.header.Get("Retry-After"))
		}
	})
}

func TestDroppedConnectionAppliesTheOperation(t *testing.T) {
	t.Parallel()
	h := start(t, chorusprotest.Config{Faults: chorusprotest.Faults{Queue: []string{"drop"}, Operations: []string{"soumettre"}}})
	req := h.request(http.MethodPost, "/cpro/factures/v1/soumettre", invoiceBody("DROP-1"))
	req.Header.Set("Authorization", "Bearer "+h.bearer())
	req.Header.Set("cpro-account", account(chorusprotest.SeedLogin, chorusprotest.SeedPassword))
	resp, err := h.srv.Client().Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("got status %d, want the connection dropped", resp.StatusCode)
	}
	if !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "EOF") {
		t.Logf("dropped connection error: %v", err)
	}
	var rec *chorusprotest.RequestRecord
	for _, r := range h.emu.Requests(0) {
		if r.Operation == "soumettre" {
			rec = &r
		}
	}
	if rec == nil || rec.Status != 0 || rec.Fault != "drop" || !rec.Applied || rec.IdentifiantFactureCPP == 0 || rec.NumeroFacture != "DROP-1" {
		t.Fatalf("got record %+v, want status 0, fault drop, applied, an invoice id and DROP-1", rec)
	}
	a := mustOK(t, "rechercher", h.call("factures/v1/rechercher/fournisseur", map[string]any{"numeroFacture": "DROP-1"}))
	if n := len(a.body["listeFactures"].([]any)); n != 1 {
		t.Errorf("got %d invoices DROP-1, want 1", n)
	}
}

func TestFaultsAreReproducible(t *testing.T) {
	t.Parallel()
	run := func() []int {
		h := start(t, chorusprotest.Config{Faults: chorusprotest.Faults{Seed: 42, RateLimitProbability: 0.3, UnavailableProbability: 0.3, RetryAfterSeconds: 1}})
		var got []int
		for range 30 {
			got = append(got, h.call("structures/v1/rechercher", map[string]any{}).status)
		}
		return got
	}
	first, second := run(), run()
	if !slices.Equal(first, second) {
		t.Errorf("got %v then %v, want the same statuses from the same seed", first, second)
	}
	if !slices.Contains(first, 429) || !slices.Contains(first, 503) || !slices.Contains(first, 200) {
		t.Errorf("got %v, want a mix of 200, 429 and 503", first)
	}
}

func TestRequestLog(t *testing.T) {
	t.Parallel()
	h := start(t, chorusprotest.Config{})
	mustOK(t, "soumettre", h.call("factures/v1/soumettre", invoiceBody("LOG-1")))
	h.clock.Advance(time.Second)
	mustOK(t, "health", h.do(func() *http.Request {
		req := h.request(http.MethodGet, "/cpro/transverses/v1/health-check", nil)
		req.Header.Set("Authorization", "Bearer "+h.bearer())
		req.Header.Set("cpro-account", account(chorusprotest.SeedLogin, chorusprotest.SeedPassword))
		return req
	}()))

	get := func(query string) (uint64, []chorusprotest.RequestRecord) {
		a := h.do(h.request(http.MethodGet, "/emulator/requests"+query, nil))
		var body struct {
			LastSeq  uint64                        `json:"lastSeq"`
			Requests []chorusprotest.RequestRecord `json:"requests"`
		}
		if err := json.Unmarshal(a.raw, &body); err != nil {
			t.Fatalf("decoding %s: %v", a.raw, err)
		}
		if strings.Contains(string(a.raw), chorusprotest.SeedPassword) || strings.Contains(string(a.raw), chorusprotest.SeedClientSecret) ||
			strings.Contains(string(a.raw), h.bearer()) {
			t.Errorf("got log %s, want no password, secret nor token", a.raw)
		}
		return body.LastSeq, body.Requests
	}
	last, all := get("")
	ops := []string{}
	for _, r := range all {
		ops = append(ops, r.Operation)
	}
	if !slices.Equal(ops, []string{"token", "soumettre", "healthCheck"}) || last != 3 {
		t.Fatalf("got operations %v lastSeq %d, want [token soumettre healthCheck] and 3", ops, last)
	}
	s := all[1]
	if s.Login != chorusprotest.SeedLogin || s.ClientID != chorusprotest.SeedClientID || s.AuthMode != "piste" || s.NumeroFacture != "LOG-1" ||
		s.IDFournisseur != chorusprotest.SeedIDFournisseur || s.Status != 200 || !s.Applied || s.IdentifiantFactureCPP == 0 {
		t.Errorf("got soumettre record %+v, want login, client, piste, LOG-1, supplier, 200, applied, invoice id", s)
	}
	if !all[2].Time.After(s.Time) {
		t.Errorf("got times %s then %s, want increasing times from the clock", s.Time, all[2].Time)
	}
	if _, since := get("?since=2"); len(since) != 1 || since[0].Operation != "healthCheck" {
		t.Errorf("got %+v since 2, want only healthCheck", since)
	}
	if a := h.do(h.request(http.MethodDelete, "/emulator/requests", nil)); a.status != http.StatusNoContent {
		t.Errorf("DELETE: got %d, want 204", a.status)
	}
	if last, rest := get(""); len(rest) != 0 || last != 3 {
		t.Errorf("after DELETE: got %d records lastSeq %d, want 0 and 3", len(rest), last)
	}
}

func TestStructures(t *testing.T) {
	t.Parallel()
	h := start(t, chorusprotest.Config{})
	a := mustOK(t, "rechercher", h.call("structures/v1/rechercher", map[string]any{
		"structure": map[string]any{"identifiantStructure": chorusprotest.SeedSIRETServiceRequired, "typeIdentifiantStructure": "SIRET"}}))
	list := a.body["listeStructures"].([]any)
	if len(list) != 1 || int64(list[0].(map[string]any)["idStructureCPP"].(float64)) != chorusprotest.SeedIDStructureServiceRequired {
		t.Fatalf("got %s, want the service-required recipient", a.raw)
	}
	for _, tc := range []struct {
		id                  int64
		service, engagement bool
	}{
		{chorusprotest.SeedIDStructureServiceRequired, true, false},
		{chorusprotest.SeedIDStructureEngagementRequired, false, true},
		{chorusprotest.SeedIDStructureNoRule, false, false},
	} {
		a := mustOK(t, "consulter", h.call("structures/v1/consulter", map[string]any{"idStructureCPP": tc.id}))
		p := a.body["parametres"].(map[string]any)
		if p["codeServiceDoitEtreRenseigne"] != tc.service || p["numeroEJDoitEtreRenseigne"] != tc.engagement {
			t.Errorf("structure %d: got parametres %v, want service %t engagement %t", tc.id, p, tc.service, tc.engagement)
		}
	}
	s := mustOK(t, "services", h.call("structures/v1/rechercher/services", map[string]any{"idStructure": chorusprotest.SeedIDStructureServiceRequired}))
	if n := len(s.body["listeServices"].([]any)); n != 2 {
		t.Errorf("got %d services, want 2", n)
	}
	if a := h.call("structures/v1/consulter", map[string]any{"idStructureCPP": 1}); a.codeRetour() != chorusprotest.CodeStructureInconnue {
		t.Errorf("got %s, want codeRetour %d", a.raw, chorusprotest.CodeStructureInconnue)
	}
}

func TestServe(t *testing.T) {
	t.Parallel()
	emu, err := chorusprotest.New(chorusprotest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- emu.Serve(ctx, ln) }()
	t.Cleanup(cancel)

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+ln.Addr().String()+"/emulator/faults", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET faults: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("got %d, want 200", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: got %v, want nil after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
}

func TestFaultedCallsNameTheirInvoice(t *testing.T) {
	t.Parallel()
	h := start(t, chorusprotest.Config{Faults: chorusprotest.Faults{Queue: []string{"429", "503", "expire-token"}, RetryAfterSeconds: 2}})
	h.bearer()
	if a := h.call("factures/v1/soumettre", invoiceBody("F-429")); a.status != 429 {
		t.Fatalf("got %d, want 429", a.status)
	}
	flux := map[string]any{
		"fichierFlux": base64.StdEncoding.EncodeToString(ublInvoice("UBL-503", chorusprotest.SeedSIRETNoRule, "1", "0", "1")),
		"nomFichier":  "f.xml", "syntaxeFlux": "IN_DP_E1_UBL_INVOICE",
	}
	if a := h.call("factures/v1/deposer/flux", flux); a.status != 503 {
		t.Fatalf("got %d, want 503", a.status)
	}
	if a := h.call("factures/v1/consulter/historique", map[string]any{"idFacture": 8000042}); a.status != 401 {
		t.Fatalf("got %d, want 401", a.status)
	}
	recs := h.emu.Requests(1) // after the token request
	want := []struct {
		numero string
		id     int64
		status int
		fault  string
	}{{"F-429", 0, 429, "429"}, {"UBL-503", 0, 503, "503"}, {"", 8000042, 401, "expire-token"}}
	if len(recs) != len(want) {
		t.Fatalf("got %d records, want %d", len(recs), len(want))
	}
	for i, w := range want {
		r := recs[i]
		if r.NumeroFacture != w.numero || r.IdentifiantFactureCPP != w.id || r.Status != w.status || r.Fault != w.fault || r.Applied {
			t.Errorf("record %d: got %+v, want numero %q id %d status %d fault %s, not applied", i, r, w.numero, w.id, w.status, w.fault)
		}
	}
	if recs[0].RetryAfterSeconds != 2 || recs[0].IDFournisseur != chorusprotest.SeedIDFournisseur {
		t.Errorf("got %+v, want Retry-After 2 and the supplier", recs[0])
	}
}

func TestLatency(t *testing.T) {
	t.Parallel()
	const latency = 40 * time.Millisecond
	h := start(t, chorusprotest.Config{Latency: latency})
	h.bearer()
	begin := time.Now()
	a := h.call("structures/v1/rechercher", map[string]any{"structure": map[string]any{}})
	if took := time.Since(begin); took < latency {
		t.Errorf("got an answer after %s, want at least %s", took, latency)
	}
	if a.status != http.StatusOK {
		t.Fatalf("got status %d (%s), want 200", a.status, a.raw)
	}
	recs := h.emu.Requests(0)
	if last := recs[len(recs)-1]; last.Fault != "" || last.Status != http.StatusOK {
		t.Errorf("got record %+v, want status 200 and no fault", last)
	}

	t.Run("client gives up", func(t *testing.T) {
		t.Parallel()
		h := start(t, chorusprotest.Config{Latency: time.Minute})
		h.bearer()
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()
		req := h.request(http.MethodPost, "/cpro/structures/v1/rechercher", map[string]any{"structure": map[string]any{}})
		req = req.WithContext(ctx)
		req.Header.Set("Authorization", "Bearer "+h.bearer())
		req.Header.Set("cpro-account", account(chorusprotest.SeedLogin, chorusprotest.SeedPassword))
		if resp, err := h.srv.Client().Do(req); err == nil {
			resp.Body.Close()
			t.Fatalf("got an answer (%d), want none", resp.StatusCode)
		}
		checkLog := func() bool {
			recs := h.emu.Requests(0)
			return len(recs) > 0 && recs[len(recs)-1].Operation == "rechercherStructures" && recs[len(recs)-1].Status == 0
		}
		deadline := time.Now().Add(5 * time.Second)
		for !checkLog() {
			if time.Now().After(deadline) {
				t.Fatalf("the abandoned call is not logged as unanswered: %+v", h.emu.Requests(0))
			}
			time.Sleep(10 * time.Millisecond)
		}
	})

	t.Run("negative", func(t *testing.T) {
		t.Parallel()
		if _, err := chorusprotest.New(chorusprotest.Config{Latency: -time.Second}); err == nil {
			t.Error("New accepted a negative latency")
		}
	})
}
