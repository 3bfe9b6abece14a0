package pasrau_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/passerelle-dev/passerelle/workers/clocktest"
	"github.com/passerelle-dev/passerelle/workers/pasrau"
	"github.com/passerelle-dev/passerelle/workers/pasrau/pasrautest"
)

// harness is an emulator served over real HTTP on two listeners: the
// returns host and the CRM host (guide 10.3). Its clock is shared by the
// emulator and the clients.
type harness struct {
	t     *testing.T
	clock *clocktest.Clock // nil when the emulator runs on real time
	emu   *pasrautest.Emulator
	srv   *httptest.Server
	crm   *httptest.Server
}

const testStep = time.Second

// alice, bob and carol are the accounts of the harness; carol is not
// registered for PASRAU.
func alice() pasrautest.Declarant {
	return pasrautest.Declarant{SIRET: "53755096400010", Nom: "DUPONT", Prenom: "Alice", MotDePasse: "s3cret-Alice!"}
}

func bob() pasrautest.Declarant {
	return pasrautest.Declarant{SIRET: "41027602600029", Nom: "MARTIN", Prenom: "Bob", MotDePasse: "s3cret-Bob!!"}
}

func carol() pasrautest.Declarant {
	return pasrautest.Declarant{SIRET: "31784106200019", Nom: "PETIT", Prenom: "Carol", MotDePasse: "s3cret-Carol", NotRegistered: true}
}

// newHarness starts an emulator for cfg. Unless realTime, the emulator's
// clock is a clocktest.Clock; Declarants default to alice, bob and carol,
// Step to testStep.
func newHarness(t *testing.T, cfg pasrautest.Config, realTime bool) *harness {
	t.Helper()
	h := &harness{t: t}
	if !realTime && cfg.Now == nil {
		h.clock = clocktest.New(time.Date(2026, 12, 5, 10, 0, 0, 0, pasrau.Paris()))
		cfg.Now = h.clock.Now
	}
	if cfg.Declarants == nil {
		cfg.Declarants = []pasrautest.Declarant{alice(), bob(), carol()}
	}
	if cfg.Step == 0 {
		cfg.Step = testStep
	}
	h.srv = httptest.NewUnstartedServer(http.NotFoundHandler())
	h.crm = httptest.NewUnstartedServer(http.NotFoundHandler())
	cfg.CRMBaseURL = "http://" + h.crm.Listener.Addr().String()
	emu, err := pasrautest.New(cfg)
	if err != nil {
		t.Fatalf("pasrautest.New: %v", err)
	}
	h.emu = emu
	h.srv.Config.Handler = emu
	h.crm.Config.Handler = emu
	h.srv.Start()
	h.crm.Start()
	t.Cleanup(h.srv.Close)
	t.Cleanup(h.crm.Close)
	return h
}

// config returns a client configuration for a declarant of the harness.
func (h *harness) config(d pasrautest.Declarant) pasrau.Config {
	hosts := []string{h.srv.Listener.Addr().String(), h.crm.Listener.Addr().String()}
	return pasrau.Config{
		Endpoints: pasrau.Endpoints{
			AuthURL:                h.srv.URL + pasrautest.PathAuth,
			DepositURL:             h.srv.URL + pasrautest.PathDeposit,
			ListFluxURL:            h.srv.URL + pasrautest.PathListFlux,
			ListDeclarantURL:       h.srv.URL + pasrautest.PathListDeclarant,
			AllowedDownloadHosts:   hosts,
			PlainHTTPDownloadHosts: hosts,
			Service:                pasrau.ServiceTest,
		},
		SIRET: d.SIRET, Nom: d.Nom, Prenom: d.Prenom, MotDePasse: pasrau.Secret(d.MotDePasse),
		UserAgent:      pasrau.UserAgent{Software: "passerelle", Version: "1.0", Editor: "passerelle-dev"},
		AttemptTimeout: 10 * time.Second,
	}
}

// client returns a Client for cfg on the harness's clock.
func (h *harness) client(cfg pasrau.Config, opts ...pasrau.Option) *pasrau.Client {
	h.t.Helper()
	if h.clock != nil {
		opts = append([]pasrau.Option{pasrau.WithClock(h.clock.Now)}, opts...)
	}
	c, err := pasrau.New(cfg, opts...)
	if err != nil {
		h.t.Fatalf("pasrau.New: %v", err)
	}
	return c
}

// requests returns the logged calls of an operation ("" for all).
func (h *harness) requests(op string) []pasrautest.Request {
	var out []pasrautest.Request
	for _, r := range h.emu.Requests(0) {
		if op == "" || r.Op == op {
			out = append(out, r)
		}
	}
	return out
}

// advance moves the fake clock by n steps.
func (h *harness) advance(n int) {
	h.t.Helper()
	if h.clock == nil {
		h.t.Fatal("advance on a real-time harness")
	}
	h.clock.Advance(time.Duration(n) * testStep)
}

// latin1File returns testdata/name converted to ISO-8859-1, with the contact
// name (S10.G00.02.002) replaced when contact is not empty and the month
// (S20.G00.05.005) when month is not empty.
func latin1File(t *testing.T, name, contact, month string) []byte {
	t.Helper()
	s := string(readTestdata(t, name))
	if contact != "" {
		s = strings.Replace(s, "S10.G00.02.002,'Test PASRAU'", "S10.G00.02.002,'"+contact+"'", 1)
	}
	if month != "" {
		s = strings.Replace(s, "S20.G00.05.005,'01112026'", "S20.G00.05.005,'"+month+"'", 1)
	}
	b, err := pasrau.ToLatin1([]byte(s), pasrau.UTF8)
	if err != nil {
		t.Fatalf("ToLatin1: %v", err)
	}
	return b
}

// asError returns err as a *pasrau.Error, failing the test otherwise.
func asError(t *testing.T, err error) *pasrau.Error {
	t.Helper()
	var e *pasrau.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *pasrau.Error", err, err)
	}
	return e
}
