package pasrau_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/passerelle-dev/passerelle/workers/pasrau"
	"github.com/passerelle-dev/passerelle/workers/pasrau/pasrautest"
)

func TestDepositRegistered(t *testing.T) {
	t.Parallel()
	h := newHarness(t, pasrautest.Config{}, false)
	c := h.client(h.config(alice()))
	file := latin1File(t, "valid-declaration.txt", "", "")
	res, err := c.Deposit(context.Background(), file)
	if err != nil {
		t.Fatalf("Deposit: %v", err)
	}
	if !pasrau.ValidFluxID(res.IDFlux) || len(res.IDFlux) < 23 || len(res.IDFlux) > 24 {
		t.Errorf("idflux %q is not 23-24 characters of [0-9A-Za-z]", res.IDFlux)
	}
	if res.AEE.Type != pasrau.ReportAEE || res.AEE.Etat != pasrau.StatusOK || res.AEE.Declarant.SIRET != alice().SIRET ||
		res.AEE.EssaiReel != pasrau.EssaiReal || res.AEE.Registered.IsZero() {
		t.Errorf("AEE = %+v, want an OK AEE for alice, real, with a registration time", res.AEE)
	}
	if !bytes.Contains(res.Raw, []byte(res.IDFlux)) {
		t.Errorf("raw AEE does not hold the idflux: %s", res.Raw)
	}
	deposits := h.requests("deposit")
	if len(deposits) != 1 {
		t.Fatalf("%d deposits logged, want 1", len(deposits))
	}
	sum := sha256.Sum256(file)
	got := deposits[0]
	if got.Status != 200 || got.IDFlux != res.IDFlux || got.Month != "2026-11" || got.SHA256 != hex.EncodeToString(sum[:]) ||
		got.SIRET != alice().SIRET || got.UserAgent != "Client-PASRAU (passerelle/1.0; passerelle-dev)" {
		t.Errorf("logged deposit = %+v", got)
	}
}

func TestDepositRejected(t *testing.T) {
	t.Parallel()
	h := newHarness(t, pasrautest.Config{}, false)
	c := h.client(h.config(alice()))
	file := latin1File(t, "guide-sample.txt", "", "") // stray quote line 48, 82 lines announced
	_, err := c.Deposit(context.Background(), file)
	e := asError(t, err)
	if !errors.Is(err, pasrau.ErrRejected) || e.HTTPStatus != 422 || e.Retryable() || e.OutcomeUnknown() {
		t.Fatalf("got %v (retryable %v, unknown %v), want a permanent ErrRejected", err, e.Retryable(), e.OutcomeUnknown())
	}
	if e.Rejection == nil || e.Rejection.Report == nil || len(e.Rejection.Raw) == 0 {
		t.Fatalf("rejection = %+v, want the parsed notice and its raw XML", e.Rejection)
	}
	are := e.Rejection.Report
	lines := map[int]string{}
	for _, a := range are.Anomalies {
		lines[a.Line] = a.Rubric
	}
	if are.Type != pasrau.ReportARE || are.Etat != pasrau.StatusKO || lines[48] != "S21.G00.20.007" || lines[77] != "S90.G00.90.001" {
		t.Errorf("ARE type %q etat %q anomalies %+v, want KO with lines 48 and 77", are.Type, are.Etat, are.Anomalies)
	}
	if !strings.Contains(err.Error(), "B1-105-15") {
		t.Errorf("error %q does not quote the first anomaly", err)
	}
	if d := h.requests("deposit"); len(d) != 1 || d[0].Status != 422 || d[0].IDFlux == "" {
		t.Errorf("logged deposits = %+v, want one 422 registered as a flux", d)
	}
}

func TestDepositRefusesUTF8(t *testing.T) {
	t.Parallel()
	h := newHarness(t, pasrautest.Config{}, false)
	c := h.client(h.config(alice()))
	_, err := c.Deposit(context.Background(), readTestdata(t, "valid-declaration.txt")) // UTF-8 bytes
	e := asError(t, err)
	if !errors.Is(err, pasrau.ErrRejected) || e.Rejection.Report == nil || e.Rejection.Report.Anomalies[0].Line != 14 {
		t.Errorf("got %v, want a rejection naming line 14 (first accented letter)", err)
	}
}

// breakRequests returns a transport wrapper that damages deposit requests.
func breakRequests(damage func(*http.Request)) func(http.RoundTripper) http.RoundTripper {
	return func(next http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if strings.Contains(r.URL.Path, "deposer") {
				r = r.Clone(r.Context())
				damage(r)
			}
			return next.RoundTrip(r)
		})
	}
}

func TestDepositClientDefects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		damage func(*http.Request)
		status int
	}{
		{"not gzip encoded", func(r *http.Request) { r.Header.Del("Content-Encoding") }, http.StatusUnsupportedMediaType},
		{"gzip not accepted", func(r *http.Request) { r.Header.Set("Accept-Encoding", "identity") }, http.StatusNotAcceptable},
		{"body not compressed", func(r *http.Request) {
			body := []byte("S10.G00.00.001,'x'\n")
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		}, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, pasrautest.Config{}, false)
			c := h.client(h.config(alice()), pasrau.WithTransportWrapper(breakRequests(tt.damage)))
			_, err := c.Deposit(context.Background(), latin1File(t, "valid-declaration.txt", "", ""))
			e := asError(t, err)
			if !errors.Is(err, pasrau.ErrClientDefect) || e.HTTPStatus != tt.status || e.Retryable() || e.OutcomeUnknown() {
				t.Errorf("got %v (status %d), want a permanent ErrClientDefect with %d", err, e.HTTPStatus, tt.status)
			}
			if d := h.requests("deposit"); len(d) != 1 || d[0].IDFlux != "" {
				t.Errorf("logged deposits = %+v, want one, not registered", d)
			}
		})
	}
}

func TestDepositEmptyFileMakesNoRequest(t *testing.T) {
	t.Parallel()
	h := newHarness(t, pasrautest.Config{}, false)
	c := h.client(h.config(alice()))
	if _, err := c.Deposit(context.Background(), nil); !errors.Is(err, pasrau.ErrInvalidArgument) {
		t.Errorf("Deposit(nil) = %v, want ErrInvalidArgument", err)
	}
	if n := len(h.requests("")); n != 0 {
		t.Errorf("%d requests, want none", n)
	}
}

func TestDepositDroppedAfterTheBodyIsOutcomeUnknown(t *testing.T) {
	t.Parallel()
	h := newHarness(t, pasrautest.Config{Faults: pasrautest.Faults{DropProbability: 1, Ops: []string{"deposit"}}}, false)
	c := h.client(h.config(alice()))
	_, err := c.Deposit(context.Background(), latin1File(t, "valid-declaration.txt", "", ""))
	e := asError(t, err)
	if !errors.Is(err, pasrau.ErrNoAnswer) || !e.OutcomeUnknown() || e.Retryable() {
		t.Fatalf("got %v (unknown %v, retryable %v), want ErrNoAnswer with an unknown outcome, not retryable", err, e.OutcomeUnknown(), e.Retryable())
	}
	d := h.requests("deposit")
	if len(d) != 1 || d[0].Fault != pasrautest.FaultDrop || d[0].Status != 200 || d[0].IDFlux == "" {
		t.Fatalf("logged deposits = %+v, want one registered (200, idflux) and dropped", d)
	}
	if ids := h.emu.Flux(alice().SIRET); len(ids) != 1 || ids[0] != d[0].IDFlux {
		t.Errorf("emulator flux = %v, want [%s]", ids, d[0].IDFlux)
	}
}

func TestDepositTimeoutAfterTheBodyIsOutcomeUnknown(t *testing.T) {
	t.Parallel()
	h := newHarness(t, pasrautest.Config{Faults: pasrautest.Faults{SlowProbability: 1, SlowDelayMS: 5000, Ops: []string{"deposit"}}}, false)
	cfg := h.config(alice())
	cfg.AttemptTimeout = time.Second
	c := h.client(cfg)
	_, err := c.Deposit(context.Background(), latin1File(t, "valid-declaration.txt", "", ""))
	e := asError(t, err)
	if !errors.Is(err, pasrau.ErrNoAnswer) || !e.OutcomeUnknown() || e.Retryable() || !errors.Is(err, context.DeadlineExceeded) || e.RetryCause() != "timeout" {
		t.Errorf("got %v (cause %q), want a deadline ErrNoAnswer with an unknown outcome", err, e.RetryCause())
	}
}

func TestDepositServerFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		status    int
		kind      error
		retryable bool
		unknown   bool
	}{
		{"503", 503, pasrau.ErrUnavailable, true, false},
		{"404 during an incident", 404, pasrau.ErrUnavailable, true, false},
		{"500 may have registered", 500, pasrau.ErrUnavailable, false, true},
		{"504 may have registered", 504, pasrau.ErrUnavailable, false, true},
		{"418", 418, pasrau.ErrUnexpected, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, pasrautest.Config{}, false)
			c := h.client(h.config(alice()), pasrau.WithTransportWrapper(answer("deposer", tt.status)))
			_, err := c.Deposit(context.Background(), []byte("S10.G00.00.001,'x'\n"))
			e := asError(t, err)
			if !errors.Is(err, tt.kind) || e.Retryable() != tt.retryable || e.OutcomeUnknown() != tt.unknown || e.HTTPStatus != tt.status ||
				e.RetryCause() != strconv.Itoa(tt.status) {
				t.Errorf("got %v (retryable %v, unknown %v), want %v, retryable %v, unknown %v", err, e.Retryable(), e.OutcomeUnknown(), tt.kind, tt.retryable, tt.unknown)
			}
		})
	}
}

// answer returns a transport wrapper that answers the requests whose path
// holds part with status itself.
func answer(part string, status int) func(http.RoundTripper) http.RoundTripper {
	return func(next http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if !strings.Contains(r.URL.Path, part) {
				return next.RoundTrip(r)
			}
			rec := httptest.NewRecorder()
			rec.WriteHeader(status)
			return rec.Result(), nil
		})
	}
}

func TestStatusMeaningDependsOnTheService(t *testing.T) {
	t.Parallel()
	h := newHarness(t, pasrautest.Config{}, false)
	ctx := context.Background()
	download := "http://" + h.srv.Listener.Addr().String() + "/telecharger-retour/1.0/abc/1"
	tests := []struct {
		name      string
		part      string
		status    int
		call      func(c *pasrau.Client) error
		kind      error
		retryable bool
	}{
		{"404 on authentication", "authentifier", 404, func(c *pasrau.Client) error { _, err := c.ListByFlux(ctx, "abc", 0, 0); return err }, pasrau.ErrUnavailable, true},
		{"422 on authentication", "authentifier", 422, func(c *pasrau.Client) error { _, err := c.ListByFlux(ctx, "abc", 0, 0); return err }, pasrau.ErrInvalidParameters, false},
		{"403 on authentication", "authentifier", 403, func(c *pasrau.Client) error { _, err := c.ListByFlux(ctx, "abc", 0, 0); return err }, pasrau.ErrForbidden, false},
		{"404 on a listing by flux", "lister-retours-flux", 404, func(c *pasrau.Client) error { _, err := c.ListByFlux(ctx, "abc", 0, 0); return err }, pasrau.ErrUnknownFlux, false},
		{"404 on a listing by declarant", "lister-retours-declarant", 404, func(c *pasrau.Client) error {
			_, err := c.ListByDeclarant(ctx, h.clock.Now(), time.Time{}, 0, 0)
			return err
		}, pasrau.ErrUnknownDeclarant, false},
		{"422 on a listing", "lister-retours-declarant", 422, func(c *pasrau.Client) error {
			_, err := c.ListByDeclarant(ctx, h.clock.Now(), time.Time{}, 0, 0)
			return err
		}, pasrau.ErrInvalidParameters, false},
		{"404 on a download", "telecharger", 404, func(c *pasrau.Client) error { _, err := c.Download(ctx, download); return err }, pasrau.ErrPurged, false},
		{"502 on a download", "telecharger", 502, func(c *pasrau.Client) error { _, err := c.Download(ctx, download); return err }, pasrau.ErrUnavailable, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := h.client(h.config(alice()), pasrau.WithTransportWrapper(answer(tt.part, tt.status)))
			err := tt.call(c)
			e := asError(t, err)
			if !errors.Is(err, tt.kind) || e.Retryable() != tt.retryable || e.OutcomeUnknown() || e.HTTPStatus != tt.status {
				t.Errorf("got %v (retryable %v), want %v, retryable %v", err, e.Retryable(), tt.kind, tt.retryable)
			}
		})
	}
}

func TestDepositAcceptsAnUncompressedAnswer(t *testing.T) {
	t.Parallel()
	aee := readTestdata(t, "reports/aee.xml")
	var gotEncoding, gotType, gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "authentifier") {
			_, _ = io.WriteString(w, "dG9rZW4=")
			return
		}
		gotEncoding, gotType = r.Header.Get("Content-Encoding"), r.Header.Get("Content-Type")
		zr, err := gzip.NewReader(r.Body)
		if err == nil {
			b, _ := io.ReadAll(zr)
			gotBody = string(b)
		}
		w.Header().Set("Content-Type", "application/xml")
		_, _ = w.Write(aee) // no Content-Encoding
	}))
	t.Cleanup(srv.Close)
	cfg := pasrau.Config{
		Endpoints: pasrau.Endpoints{AuthURL: srv.URL + "/authentifier/1.0/", DepositURL: srv.URL + "/deposer-pasrau/1.0/",
			ListFluxURL: srv.URL + "/f/", ListDeclarantURL: srv.URL + "/d/", AllowedDownloadHosts: []string{"x"}, Service: "80"},
		SIRET: alice().SIRET, Nom: "N", Prenom: "P", MotDePasse: "12345678",
	}
	c, err := pasrau.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Deposit(context.Background(), []byte("S10.G00.00.001,'x'\n"))
	if err != nil {
		t.Fatalf("Deposit: %v", err)
	}
	if res.IDFlux != "Xq7Lm2Pz9Rt4Vw6Yb8Nc1Dk" {
		t.Errorf("idflux = %q", res.IDFlux)
	}
	if gotEncoding != "gzip" || gotType != "text/plain; charset=iso-8859-1" || gotBody != "S10.G00.00.001,'x'\n" {
		t.Errorf("request: Content-Encoding %q, Content-Type %q, body %q", gotEncoding, gotType, gotBody)
	}
}
