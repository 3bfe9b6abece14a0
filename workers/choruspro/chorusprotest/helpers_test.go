package chorusprotest_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/passerelle-dev/passerelle/workers/choruspro/chorusprotest"
	"github.com/passerelle-dev/passerelle/workers/clocktest"
)

// testStep is the lifecycle step of the test emulators (fake clock).
const testStep = time.Minute

// harness is an emulator behind an httptest server, with a fake clock.
type harness struct {
	t     *testing.T
	emu   *chorusprotest.Emulator
	srv   *httptest.Server
	clock *clocktest.Clock
	token string
}

// start serves an emulator built from cfg; Now and Step default to a fake
// clock and testStep.
func start(t *testing.T, cfg chorusprotest.Config) *harness {
	t.Helper()
	clock := clocktest.New(time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC))
	if cfg.Now == nil {
		cfg.Now = clock.Now
	}
	if cfg.Step == 0 {
		cfg.Step = testStep
	}
	emu, err := chorusprotest.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return &harness{t: t, emu: emu, srv: srv, clock: clock}
}

// answer is a decoded HTTP answer.
type answer struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

// codeRetour returns the answer's codeRetour.
func (a answer) codeRetour() int {
	v, _ := a.body["codeRetour"].(float64)
	return int(v)
}

// str returns a string field of the answer.
func (a answer) str(key string) string {
	v, _ := a.body[key].(string)
	return v
}

// num returns a number field of the answer.
func (a answer) num(key string) int64 {
	v, _ := a.body[key].(float64)
	return int64(v)
}

// do sends a request and decodes the answer.
func (h *harness) do(req *http.Request) answer {
	h.t.Helper()
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("reading %s: %v", req.URL.Path, err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &a.body); err != nil {
			h.t.Fatalf("decoding %s answer %q: %v", req.URL.Path, raw, err)
		}
	}
	return a
}

// tokenRequest asks the token endpoint for a token.
func (h *harness) tokenRequest(clientID, secret string) answer {
	h.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}, "scope": {"openid"}}
	req, err := http.NewRequestWithContext(h.t.Context(), http.MethodPost, h.srv.URL+"/api/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return h.do(req)
}

// bearer returns a token for the seed application, fetched once.
func (h *harness) bearer() string {
	h.t.Helper()
	if h.token == "" {
		a := h.tokenRequest(chorusprotest.SeedClientID, chorusprotest.SeedClientSecret)
		if a.status != http.StatusOK {
			h.t.Fatalf("token: status %d, body %s", a.status, a.raw)
		}
		h.token = a.str("access_token")
	}
	return h.token
}

// account is the cpro-account header of a technical account.
func account(login, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(login + ":" + password))
}

// request builds a JSON business request.
func (h *harness) request(method, path string, body any) *http.Request {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte: // already JSON
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(h.t.Context(), method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json;charset=utf-8")
	}
	req.Header.Set("Accept", "application/json;charset=utf-8")
	return req
}

// call makes a PISTE business call with the seed credentials; path is below
// /cpro/.
func (h *harness) call(path string, body any) answer {
	h.t.Helper()
	req := h.request(http.MethodPost, "/cpro/"+path, body)
	req.Header.Set("Authorization", "Bearer "+h.bearer())
	req.Header.Set("cpro-account", account(chorusprotest.SeedLogin, chorusprotest.SeedPassword))
	return h.do(req)
}

// mustOK fails unless the answer is 200 with codeRetour 0.
func mustOK(t *testing.T, what string, a answer) answer {
	t.Helper()
	if a.status != http.StatusOK || a.codeRetour() != 0 {
		t.Fatalf("%s: got status %d body %s, want 200 codeRetour 0", what, a.status, a.raw)
	}
	return a
}

// invoiceBody is a valid soumettre body for the no-rule recipient.
func invoiceBody(numero string) map[string]any {
	return map[string]any{
		"modeDepot":            "SAISIE_API",
		"numeroFactureSaisi":   numero,
		"dateFacture":          "2025-03-01",
		"idUtilisateurCourant": chorusprotest.SeedIDUtilisateurCourant,
		"cadreDeFacturation":   map[string]any{"codeCadreFacturation": "A1_FACTURE_FOURNISSEUR"},
		"destinataire":         map[string]any{"codeDestinataire": chorusprotest.SeedSIRETNoRule},
		"fournisseur":          map[string]any{"idFournisseur": chorusprotest.SeedIDFournisseur},
		"references":           map[string]any{"deviseFacture": "EUR", "typeFacture": "FACTURE", "typeTva": "TVA_SUR_DEBIT", "modePaiement": "VIREMENT"},
		"montantTotal":         map[string]any{"montantHtTotal": 100.10, "montantTVA": 20.02, "montantTtcTotal": 120.12, "montantAPayer": 120.12},
	}
}

// with returns a copy of body with key set (a nested key as "a.b").
func with(body map[string]any, key string, value any) map[string]any {
	out := map[string]any{}
	for k, v := range body {
		if m, ok := v.(map[string]any); ok {
			c := map[string]any{}
			for k2, v2 := range m {
				c[k2] = v2
			}
			v = c
		}
		out[k] = v
	}
	if parent, child, nested := strings.Cut(key, "."); nested {
		out[parent].(map[string]any)[child] = value
	} else {
		out[key] = value
	}
	return out
}

// statuses returns an invoice's history codes, oldest first, and its
// current status.
func (h *harness) history(id int64) ([]string, []map[string]any, string) {
	h.t.Helper()
	a := mustOK(h.t, "historique", h.call("factures/v1/consulter/historique", map[string]any{"idFacture": id}))
	list := a.body["historiquesDesStatuts"].(map[string]any)["histoStatut"].([]any)
	var codes []string
	var entries []map[string]any
	for i := len(list) - 1; i >= 0; i-- {
		m := list[i].(map[string]any)
		codes = append(codes, m["histoStatutCode"].(string))
		entries = append(entries, m)
	}
	return codes, entries, a.str("statutCourantCode")
}
