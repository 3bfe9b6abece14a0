package pasrau_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/passerelle-dev/passerelle/workers/pasrau"
	"github.com/passerelle-dev/passerelle/workers/pasrau/pasrautest"
)

// finalReturns deposits file as account, moves the clock until every return
// is final, and returns them by nature.
func finalReturns(t *testing.T, h *harness, c *pasrau.Client, file []byte) (string, map[string]pasrau.Return) {
	t.Helper()
	ctx := context.Background()
	res, err := c.Deposit(ctx, file)
	if err != nil {
		t.Fatalf("Deposit: %v", err)
	}
	h.advance(4)
	l, err := c.ListByFlux(ctx, res.IDFlux, 0, 0)
	if err != nil {
		t.Fatalf("ListByFlux: %v", err)
	}
	return res.IDFlux, natures(t, l, res.IDFlux)
}

func TestDownloadEveryReturn(t *testing.T) {
	t.Parallel()
	h := newHarness(t, pasrautest.Config{}, false)
	c := h.client(h.config(alice()))
	// An organism other than DGFIP brings the ACOSS returns 65 to 68.
	file := []byte(strings.Replace(string(latin1File(t, "valid-declaration.txt", "BIS-ANO CRM93-KO CRM94-ANO", "")),
		"S21.G00.20.001,'DGFIP'", "S21.G00.20.001,'URSSAF'", 1))
	idflux, returns := finalReturns(t, h, c, file)
	crmHost := h.crm.Listener.Addr().String()
	tests := []struct {
		nature   string
		statut   pasrau.Status
		typ      string
		etat     pasrau.Status
		host     string
		rates    int
		anomaly  string
		noDocURL bool
	}{
		{nature: "10", statut: "OK", typ: pasrau.ReportAEE, etat: "OK"},
		{nature: "11", statut: "OK", typ: pasrau.ReportCCO, etat: "OK"},
		{nature: "20", statut: "ANO", typ: pasrau.ReportBIS, etat: "OK", anomaly: "I0320"},
		{nature: "92", statut: "OK", noDocURL: true},
		{nature: "93", statut: "KO", typ: pasrau.ReportCRMPayment, etat: "KO", host: crmHost, anomaly: "CBS03"},
		{nature: "94", statut: "ANO", typ: pasrau.ReportCRMNominative, etat: "ANO", host: crmHost, rates: 1, anomaly: "ADR05"},
		{nature: "65", statut: "OK", noDocURL: true},
		{nature: "66", statut: "OK", typ: pasrau.ReportCRM, etat: "OK"},
		{nature: "67", statut: "OK", noDocURL: true},
		{nature: "68", statut: "OK", typ: pasrau.ReportCRM, etat: "OK"},
	}
	if len(returns) != len(tests) {
		t.Errorf("returns %v, want %d natures", returns, len(tests))
	}
	for _, tt := range tests {
		r, ok := returns[tt.nature]
		if !ok || r.Statut != tt.statut {
			t.Errorf("nature %s: %+v, want statut %s", tt.nature, r, tt.statut)
			continue
		}
		if tt.noDocURL {
			if r.URL != "" {
				t.Errorf("nature %s has a url %q, want none", tt.nature, r.URL)
			}
			continue
		}
		if tt.host != "" && !strings.Contains(r.URL, "//"+tt.host+"/") {
			t.Errorf("nature %s url %q, want the CRM host %s", tt.nature, r.URL, tt.host)
		}
		doc, err := c.Download(context.Background(), r.URL)
		if err != nil {
			t.Errorf("nature %s: Download(%s): %v", tt.nature, r.URL, err)
			continue
		}
		if !strings.HasPrefix(doc.ContentType, "application/xml") {
			t.Errorf("nature %s: Content-Type %q", tt.nature, doc.ContentType)
		}
		rep, err := pasrau.ParseReport(doc.Body, nil)
		if err != nil {
			t.Errorf("nature %s: ParseReport: %v\n%s", tt.nature, err, doc.Body)
			continue
		}
		if rep.Type != tt.typ || rep.Etat != tt.etat || rep.IDFlux != idflux || len(rep.Rates) != tt.rates {
			t.Errorf("nature %s: type %q etat %q idflux %q rates %d, want %q %q %q %d", tt.nature, rep.Type, rep.Etat, rep.IDFlux, len(rep.Rates), tt.typ, tt.etat, idflux, tt.rates)
		}
		if tt.anomaly != "" && (len(rep.Anomalies) == 0 || rep.Anomalies[0].Code != tt.anomaly) {
			t.Errorf("nature %s: anomalies %+v, want %s first", tt.nature, rep.Anomalies, tt.anomaly)
		}
	}
}

func TestDownloadACOSSURLWithAmpersand(t *testing.T) {
	t.Parallel()
	h := newHarness(t, pasrautest.Config{}, false)
	cfg := h.config(alice())
	c := h.client(cfg)
	file := []byte(strings.Replace(string(latin1File(t, "valid-declaration.txt", "ACOSS68-KO", "")),
		"S21.G00.20.001,'DGFIP'", "S21.G00.20.001,'URSSAF'", 1))
	_, returns := finalReturns(t, h, c, file)
	r := returns["68"]
	if !strings.Contains(r.URL, "/downloadcr?idflux=") || !strings.Contains(r.URL, "&idretour=") || strings.Contains(r.URL, "&amp;") {
		t.Fatalf("nature 68 url %q, want /downloadcr?idflux=...&idretour=... unescaped", r.URL)
	}
	// The listing itself escapes the ampersand, as the guide says.
	raw := rawListing(t, h, cfg)
	if !strings.Contains(raw, "&amp;idretour=") {
		t.Errorf("the listing XML does not escape & as &amp;:\n%s", raw)
	}
	// A url left double-escaped is repaired before the call.
	doc, err := c.Download(context.Background(), strings.Replace(r.URL, "&", "&amp;", 1))
	if err != nil {
		t.Fatalf("Download: %v", err)
	}
	rep, err := pasrau.ParseReport(doc.Body, nil)
	if err != nil || rep.Etat != pasrau.StatusKO {
		t.Errorf("ACOSS report: %+v, %v; want etat KO", rep, err)
	}
}

// rawListing lists alice's returns by declarant with net/http and returns
// the XML as sent.
func rawListing(t *testing.T, h *harness, cfg pasrau.Config) string {
	t.Helper()
	c := &http.Client{}
	resp, err := c.Post(cfg.AuthURL, "application/xml", strings.NewReader(
		"<identifiants><siret>"+cfg.SIRET+"</siret><nom>"+cfg.Nom+"</nom><prenom>"+cfg.Prenom+"</prenom><motdepasse>"+
			string(cfg.MotDePasse)+"</motdepasse><service>80</service></identifiants>"))
	if err != nil {
		t.Fatal(err)
	}
	token, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	start := pasrau.FormatTime(h.clock.Now().Add(-30*time.Minute), nil)
	req, _ := http.NewRequest(http.MethodGet, cfg.ListDeclarantURL+start, nil)
	req.Header.Set("Authorization", "PASRAULogin jeton="+string(token))
	resp, err = c.Do(req) // Go's transport asks for and removes gzip itself
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("listing Cache-Control = %q, want no-cache", resp.Header.Get("Cache-Control"))
	}
	return string(body)
}

func TestDownloadRefusesOtherHostsWithoutARequest(t *testing.T) {
	t.Parallel()
	h := newHarness(t, pasrautest.Config{}, false)
	cfg := h.config(alice())
	cfg.PlainHTTPDownloadHosts = nil
	c := h.client(cfg)
	host := h.srv.Listener.Addr().String()
	tests := []struct {
		url  string
		kind error
	}{
		{"https://evil.example/telecharger-retour/1.0/a/1", pasrau.ErrHostNotAllowed},
		{"https://169.254.169.254/latest/meta-data", pasrau.ErrHostNotAllowed},
		{"http://" + host + "/telecharger-retour/1.0/a/1", pasrau.ErrHostNotAllowed}, // plain http not allowed
		{"https://user:pass@" + host + "/x", pasrau.ErrInvalidURL},
		{"https://" + host + "/" + strings.Repeat("x", 260), pasrau.ErrInvalidURL},
		{"file:///etc/passwd", pasrau.ErrInvalidURL},
		{"", pasrau.ErrInvalidURL},
	}
	for _, tt := range tests {
		_, err := c.Download(context.Background(), tt.url)
		if e := asError(t, err); !errors.Is(err, tt.kind) || e.Retryable() {
			t.Errorf("Download(%.60q) = %v, want permanent %v", tt.url, err, tt.kind)
		}
	}
	if n := len(h.requests("")); n != 0 {
		t.Errorf("%d requests, want none", n)
	}
}

func TestDownloadPurgedAndOverwritten(t *testing.T) {
	t.Parallel()
	h := newHarness(t, pasrautest.Config{Retention: 24 * time.Hour}, false)
	c := h.client(h.config(alice()))
	ctx := context.Background()
	idflux, returns := finalReturns(t, h, c, latin1File(t, "valid-declaration.txt", "OVERWRITE", ""))
	first := returns["94"]
	if first.Statut != pasrau.StatusOK || first.URL == "" {
		t.Fatalf("94 before the overwrite: %+v", first)
	}
	if _, err := c.Download(ctx, first.URL); err != nil {
		t.Fatalf("Download before the overwrite: %v", err)
	}
	h.advance(1)
	l, err := c.ListByFlux(ctx, idflux, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	second := natures(t, l, idflux)["94"]
	if second.Statut != pasrau.StatusANO || second.URL == first.URL || second.ID == first.ID || !second.Publication.After(first.Publication) {
		t.Errorf("94 after the overwrite: %+v, want ANO with a new id, url and publication (was %+v)", second, first)
	}
	_, err = c.Download(ctx, first.URL)
	if e := asError(t, err); !errors.Is(err, pasrau.ErrPurged) || e.HTTPStatus != 404 || e.Retryable() {
		t.Errorf("old url after the overwrite: %v, want a permanent ErrPurged (404)", err)
	}
	if _, err := c.Download(ctx, second.URL); err != nil {
		t.Errorf("new url: %v", err)
	}
	h.clock.Advance(25 * time.Hour)
	if _, err := c.Download(ctx, second.URL); !errors.Is(err, pasrau.ErrPurged) {
		t.Errorf("after the retention: %v, want ErrPurged", err)
	}
}

func TestDownloadAnotherDeclarantsReturn(t *testing.T) {
	t.Parallel()
	h := newHarness(t, pasrautest.Config{}, false)
	ca, cb := h.client(h.config(alice())), h.client(h.config(bob()))
	_, returns := finalReturns(t, h, ca, latin1File(t, "valid-declaration.txt", "", ""))
	_, err := cb.Download(context.Background(), returns["10"].URL)
	if e := asError(t, err); !errors.Is(err, pasrau.ErrForbidden) || e.HTTPStatus != 403 {
		t.Errorf("bob downloading alice's AEE: %v, want ErrForbidden (403)", err)
	}
}
