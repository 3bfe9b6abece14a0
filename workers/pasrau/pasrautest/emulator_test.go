package pasrautest_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/passerelle-dev/passerelle/workers/clocktest"
	"github.com/passerelle-dev/passerelle/workers/pasrau"
	"github.com/passerelle-dev/passerelle/workers/pasrau/pasrautest"
)

// start serves a new emulator for cfg over HTTP.
func start(t *testing.T, cfg pasrautest.Config) (*pasrautest.Emulator, *httptest.Server) {
	t.Helper()
	emu, err := pasrautest.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return emu, srv
}

// call sends a raw request and returns the status, headers and body
// (gunzipped when the answer says gzip).
func call(t *testing.T, method, url string, header map[string]string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("answer claims gzip: %v", err)
		}
		if raw, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, resp.Header, raw
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const demoAuth = "<identifiants><siret>53755096400010</siret><nom>DEMO</nom><prenom>Passerelle</prenom>" +
	"<motdepasse>demo-pasrau</motdepasse><service>80</service></identifiants>"

// token authenticates the demo declarant.
func token(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	status, h, body := call(t, http.MethodPost, srv.URL+pasrautest.PathAuth, map[string]string{"Content-Type": "application/xml"}, []byte(demoAuth))
	if status != http.StatusOK {
		t.Fatalf("auth: %d", status)
	}
	if _, err := http.ParseTime(h.Get("Expires")); err != nil {
		t.Errorf("auth Expires %q: %v", h.Get("Expires"), err)
	}
	tok := string(body)
	if !strings.HasSuffix(tok, "=") || strings.Count(tok, "=") != 1 {
		t.Errorf("token %q is not base64 with '=' padding", tok)
	}
	return tok
}

// validLatin1 returns the valid declaration of the parent package's testdata
// in ISO-8859-1, with the contact name replaced when not empty.
func validLatin1(t *testing.T, contact string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "valid-declaration.txt"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if contact != "" {
		s = strings.Replace(s, "'Test PASRAU'", "'"+contact+"'", 1)
	}
	out, err := pasrau.ToLatin1([]byte(s), pasrau.UTF8)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAuthAnswers(t *testing.T) {
	t.Parallel()
	_, srv := start(t, pasrautest.Config{Declarants: []pasrautest.Declarant{
		pasrautest.DemoDeclarant(),
		{SIRET: "41027602600029", Nom: "N", Prenom: "P", MotDePasse: "password1", NotRegistered: true},
	}})
	auth := func(siret, nom, mdp, service string) string {
		return "<identifiants><siret>" + siret + "</siret><nom>" + nom + "</nom><prenom>Passerelle</prenom><motdepasse>" + mdp +
			"</motdepasse><service>" + service + "</service></identifiants>"
	}
	tests := []struct {
		name   string
		body   string
		status int
		realm  string
	}{
		{"ok", demoAuth, 200, ""},
		{"not XML", "siret=1", 422, ""},
		{"SIRET of 13 digits", auth("5375509640001", "DEMO", "demo-pasrau", "80"), 422, ""},
		{"nom of 65 characters", auth("53755096400010", strings.Repeat("N", 65), "demo-pasrau", "80"), 422, ""},
		{"password of 7 characters", auth("53755096400010", "DEMO", "1234567", "80"), 422, ""},
		{"service of 3 digits", auth("53755096400010", "DEMO", "demo-pasrau", "800"), 422, ""},
		{"wrong password", auth("53755096400010", "DEMO", "demo-pasrau2", "80"), 401, `Basic realm="net-entreprises.fr"`},
		{"production code on the test platform", auth("53755096400010", "DEMO", "demo-pasrau", "30"), 401, `PASRAULogin realm="Utilisateur non-inscrit au service"`},
		{"not registered", strings.Replace(auth("41027602600029", "N", "password1", "80"), "Passerelle", "P", 1), 401, `PASRAULogin realm="Utilisateur non-inscrit au service"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, h, _ := call(t, http.MethodPost, srv.URL+pasrautest.PathAuth, map[string]string{"Content-Type": "application/xml"}, []byte(tt.body))
			if status != tt.status || h.Get("WWW-Authenticate") != tt.realm {
				t.Errorf("got %d %q, want %d %q", status, h.Get("WWW-Authenticate"), tt.status, tt.realm)
			}
		})
	}
}

func TestDepositCheckOrder(t *testing.T) {
	t.Parallel()
	emu, srv := start(t, pasrautest.Config{})
	tok := token(t, srv)
	auth := "PASRAULogin jeton=" + tok
	file := validLatin1(t, "")
	tests := []struct {
		name   string
		header map[string]string
		body   []byte
		status int
		realm  string
	}{
		{"not gzip, no token, empty body: 415 first", map[string]string{}, nil, 415, ""},
		{"Accept-Encoding without gzip, no token: 406", map[string]string{"Content-Encoding": "gzip", "Accept-Encoding": "identity"}, nil, 406, ""},
		{"empty body, no token: 422", map[string]string{"Content-Encoding": "gzip"}, nil, 422, ""},
		{"no token: 401", map[string]string{"Content-Encoding": "gzip"}, gz(t, file), 401, `PASRAULogin realm="Jeton manquant ou invalide"`},
		{"unknown token: 401", map[string]string{"Content-Encoding": "gzip", "Authorization": "PASRAULogin jeton=abc="}, gz(t, file), 401, `PASRAULogin realm="Jeton manquant ou invalide"`},
		{"body not gzip: 400", map[string]string{"Content-Encoding": "gzip", "Authorization": auth}, file, 400, ""},
		{"not starting with S10: 422", map[string]string{"Content-Encoding": "gzip", "Authorization": auth}, gz(t, file[15:]), 422, ""},
		{"valid: 200", map[string]string{"Content-Encoding": "gzip", "Authorization": auth, "Accept-Encoding": "gzip, deflate"}, gz(t, file), 200, ""},
	}
	for _, tt := range tests {
		status, h, body := call(t, http.MethodPost, srv.URL+pasrautest.PathDeposit, tt.header, tt.body)
		if status != tt.status || h.Get("WWW-Authenticate") != tt.realm {
			t.Errorf("%s: got %d %q, want %d %q", tt.name, status, h.Get("WWW-Authenticate"), tt.status, tt.realm)
		}
		if status == 200 || status == 422 && len(body) > 0 {
			rep, err := pasrau.ParseReport(body, nil)
			if err != nil {
				t.Errorf("%s: answer is not a report: %v", tt.name, err)
			} else if want := map[int]string{200: "AEE", 422: "ARE"}[status]; rep.Type != want || len(rep.IDFlux) != 23 {
				t.Errorf("%s: report type %q idflux %q, want %s with a 23-character idflux", tt.name, rep.Type, rep.IDFlux, want)
			}
			if h.Get("Content-Encoding") != "gzip" {
				t.Errorf("%s: answer not gzip-compressed", tt.name)
			}
		}
	}
	if n := len(emu.Flux("53755096400010")); n != 2 {
		t.Errorf("%d flux registered, want 2 (the rejected one and the valid one)", n)
	}
}

func TestListingAnswers(t *testing.T) {
	t.Parallel()
	clock := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	_, srv := start(t, pasrautest.Config{Now: func() time.Time { return clock }, MinInterval: time.Minute})
	auth := map[string]string{"Authorization": "PASRAULogin jeton=" + token(t, srv)}
	url := srv.URL + pasrautest.PathListDeclarant + "20261205100000"
	status, h, body := call(t, http.MethodGet, url, auth, nil)
	if status != 200 || h.Get("Cache-Control") != "no-cache" || h.Get("Content-Encoding") != "gzip" ||
		h.Get("Accept-Ranges") != "minutes=0-60" || h.Get("Expires") != "Sat, 05 Dec 2026 10:01:00 GMT" {
		t.Errorf("listing: %d %v", status, h)
	}
	if !bytes.Contains(body, []byte("<retours></retours>")) {
		t.Errorf("empty listing = %s, want <retours></retours>", body)
	}
	for _, tt := range []struct {
		name   string
		url    string
		header map[string]string
		status int
	}{
		{"bad date", srv.URL + pasrautest.PathListDeclarant + "2026120510", auth, 422},
		{"end before start", url + "/20261205090000", auth, 422},
		{"identity only", url, map[string]string{"Authorization": auth["Authorization"], "Accept-Encoding": "identity"}, 406},
		{"no token", url, nil, 401},
		{"retourspage 7", url + "?retourspage=7", auth, 422},
		{"page 100", url + "?page=100", auth, 422},
		{"too soon", url, auth, 429},
		{"too wide", srv.URL + pasrautest.PathListDeclarant + "20261205080000/20261205100000", auth, 429},
	} {
		if status, _, _ := call(t, http.MethodGet, tt.url, tt.header, nil); status != tt.status {
			t.Errorf("%s: %d, want %d", tt.name, status, tt.status)
		}
	}
}

func TestControlEndpoints(t *testing.T) {
	t.Parallel()
	emu, srv := start(t, pasrautest.Config{})
	status, _, body := call(t, http.MethodPut, srv.URL+pasrautest.PathFaults, nil,
		[]byte(`{"seed": 7, "ops": ["download"], "slow_probability": 0.5, "slow_delay_ms": 10, "token_expires_after_calls": 3}`))
	if status != 200 {
		t.Fatalf("PUT faults: %d %s", status, body)
	}
	var f pasrautest.Faults
	if err := json.Unmarshal(body, &f); err != nil || f.Seed != 7 || f.TokenExpiresAfterCalls != 3 || f.Ops[0] != "download" {
		t.Errorf("faults = %+v, %v", f, err)
	}
	if got := emu.Faults(); got.SlowDelayMS != 10 {
		t.Errorf("Faults() = %+v", got)
	}
	for _, bad := range []string{`{"rate_limit_probability": 2}`, `{"ops": ["nap"]}`, `{"unknown": 1}`, `not json`} {
		if status, _, _ := call(t, http.MethodPut, srv.URL+pasrautest.PathFaults, nil, []byte(bad)); status != 400 {
			t.Errorf("PUT %s: %d, want 400", bad, status)
		}
	}
	token(t, srv)
	token(t, srv)
	status, _, body = call(t, http.MethodGet, srv.URL+pasrautest.PathRequests+"?since=1", nil, nil)
	var reqs []pasrautest.Request
	if err := json.Unmarshal(body, &reqs); status != 200 || err != nil || len(reqs) != 1 || reqs[0].Seq != 2 || reqs[0].Op != "auth" || reqs[0].Status != 200 || reqs[0].TimeNS == 0 {
		t.Errorf("GET requests?since=1: %d %+v %v", status, reqs, err)
	}
	if status, _, _ := call(t, http.MethodDelete, srv.URL+pasrautest.PathRequests, nil, nil); status != 204 {
		t.Errorf("DELETE requests: %d", status)
	}
	if got := emu.Requests(0); len(got) != 0 {
		t.Errorf("after DELETE: %+v", got)
	}
}

func TestDeterministicForASeed(t *testing.T) {
	t.Parallel()
	ids := func() []string {
		clock := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
		_, srv := start(t, pasrautest.Config{Seed: 42, Now: func() time.Time { return clock }})
		tok := token(t, srv)
		var out []string
		for range 3 {
			_, _, body := call(t, http.MethodPost, srv.URL+pasrautest.PathDeposit,
				map[string]string{"Content-Encoding": "gzip", "Authorization": "PASRAULogin jeton=" + tok}, gz(t, validLatin1(t, "")))
			rep, err := pasrau.ParseReport(body, nil)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, tok+rep.IDFlux)
		}
		return out
	}
	a, b := ids(), ids()
	if strings.Join(a, ",") != strings.Join(b, ",") {
		t.Errorf("two runs with seed 42 differ: %v and %v", a, b)
	}
}

// listReturns lists a flux with the raw client and returns nature -> statut
// and the raw XML.
func listReturns(t *testing.T, srv *httptest.Server, tok, idflux string) (map[string]pasrau.Status, []byte) {
	t.Helper()
	status, _, body := call(t, http.MethodGet, srv.URL+pasrautest.PathListFlux+idflux, map[string]string{"Authorization": "PASRAULogin jeton=" + tok}, nil)
	if status != 200 {
		t.Fatalf("list-flux: %d", status)
	}
	l, err := pasrau.ParseListing(body, nil)
	if err != nil {
		t.Fatalf("ParseListing: %v\n%s", err, body)
	}
	out := map[string]pasrau.Status{}
	for _, f := range l.Flux {
		for _, r := range f.Returns {
			out[r.Nature] = r.Statut
		}
	}
	return out, body
}

func TestTriggers(t *testing.T) {
	t.Parallel()
	twoS20 := strings.Replace(string(validLatin1(t, "")), "S21.G00.30.014,'75'", "S20.G00.05.001,'11'", 1)
	twoS20 = strings.Replace(twoS20, "S90.G00.90.002,'1'", "S90.G00.90.002,'2'", 1)
	tests := []struct {
		name     string
		file     []byte
		want     map[string]pasrau.Status
		anomaly  string // code of the first anomaly of the nature 11 report
		firstMsg string
	}{
		{"BAN-KO stops the flux", validLatin1(t, "Test BAN-KO"), map[string]pasrau.Status{"10": "OK", "11": "KO"}, "EMU-BAN-KO", ""},
		{"BAN-ANO goes on", validLatin1(t, "Test ban-ano"), map[string]pasrau.Status{"10": "OK", "11": "ANO", "20": "OK", "92": "OK", "94": "OK"}, "EMU-BAN-ANO", ""},
		{"two S20 blocks", []byte(twoS20), map[string]pasrau.Status{"10": "OK", "11": "KO"}, "EMU-DECLARATION-COUNT", "exactly one S20 block"},
		{"CRM94-KO", validLatin1(t, "CRM94-KO"), map[string]pasrau.Status{"10": "OK", "11": "OK", "20": "OK", "92": "OK", "94": "KO"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := clocktest.New(time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC))
			_, srv := start(t, pasrautest.Config{Now: clock.Now, Step: time.Second})
			tok := token(t, srv)
			status, _, body := call(t, http.MethodPost, srv.URL+pasrautest.PathDeposit,
				map[string]string{"Content-Encoding": "gzip", "Authorization": "PASRAULogin jeton=" + tok}, gz(t, tt.file))
			if status != 200 {
				t.Fatalf("deposit: %d %s", status, body)
			}
			aee, err := pasrau.ParseReport(body, nil)
			if err != nil {
				t.Fatal(err)
			}
			clock.Advance(10 * time.Second)
			got, raw := listReturns(t, srv, tok, aee.IDFlux)
			if len(got) != len(tt.want) {
				t.Errorf("returns %v, want %v", got, tt.want)
			}
			for n, s := range tt.want {
				if got[n] != s {
					t.Errorf("nature %s = %q, want %q", n, got[n], s)
				}
			}
			if tt.anomaly == "" {
				return
			}
			l, _ := pasrau.ParseListing(raw, nil)
			for _, r := range l.Flux[0].Returns {
				if r.Nature != "11" {
					continue
				}
				_, _, doc := call(t, http.MethodGet, r.URL, map[string]string{"Authorization": "PASRAULogin jeton=" + tok}, nil)
				rep, err := pasrau.ParseReport(doc, nil)
				if err != nil {
					t.Fatalf("BAN: %v\n%s", err, doc)
				}
				if len(rep.Anomalies) == 0 || rep.Anomalies[0].Code != tt.anomaly || !strings.Contains(rep.Anomalies[0].Message, tt.firstMsg) {
					t.Errorf("BAN anomalies %+v, want %s first", rep.Anomalies, tt.anomaly)
				}
				if id, ok := rep.Identity(); !ok || id.SIRET != "53755096400010" || id.Month != "2026-11" {
					t.Errorf("BAN identity %+v, %v", id, ok)
				}
			}
		})
	}
}

// checkFor calls f until it returns nil or the deadline passes.
func checkFor(t *testing.T, total, every time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", total, err)
		}
		time.Sleep(every)
	}
}

func TestRealTimeLifecycle(t *testing.T) {
	t.Parallel()
	_, srv := start(t, pasrautest.Config{Step: 20 * time.Millisecond})
	tok := token(t, srv)
	_, _, body := call(t, http.MethodPost, srv.URL+pasrautest.PathDeposit,
		map[string]string{"Content-Encoding": "gzip", "Authorization": "PASRAULogin jeton=" + tok}, gz(t, validLatin1(t, "")))
	aee, err := pasrau.ParseReport(body, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		got, _ := listReturns(t, srv, tok, aee.IDFlux)
		if got["94"] != pasrau.StatusOK {
			return fmt.Errorf("nature 94 is %q, want OK", got["94"])
		}
		return nil
	})
}

func TestLatency(t *testing.T) {
	t.Parallel()
	const latency = 40 * time.Millisecond
	emu, srv := start(t, pasrautest.Config{Latency: latency})
	tok := token(t, srv)
	begin := time.Now()
	status, _, _ := call(t, http.MethodPost, srv.URL+pasrautest.PathDeposit,
		map[string]string{"Content-Encoding": "gzip", "Authorization": "PASRAULogin jeton=" + tok}, gz(t, validLatin1(t, "")))
	if took := time.Since(begin); took < latency {
		t.Errorf("deposit answered after %s, want at least %s", took, latency)
	}
	if status != http.StatusOK {
		t.Fatalf("deposit: %d, want 200", status)
	}
	reqs := emu.Requests(0)
	if last := reqs[len(reqs)-1]; last.Fault != "" || last.Status != http.StatusOK {
		t.Errorf("got log entry %+v, want status 200 and no fault", last)
	}
	if _, err := pasrautest.New(pasrautest.Config{Latency: -time.Second}); err == nil {
		t.Error("New accepted a negative latency")
	}
}
