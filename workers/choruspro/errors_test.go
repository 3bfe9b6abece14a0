package choruspro_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/passerelle-dev/passerelle/workers/choruspro"
	"github.com/passerelle-dev/passerelle/workers/choruspro/chorusprotest"
)

func TestAuthenticationErrors(t *testing.T) {
	t.Parallel()
	expired := chorusprotest.TechnicalAccount{
		Login: "TECH_EXPIRED@cpro.fr", Password: secretPassword, IDUtilisateur: 2,
		IDFournisseurs: []int64{chorusprotest.SeedIDFournisseur}, PasswordExpiresAt: time.Now().Add(-time.Hour),
	}
	for _, tc := range []struct {
		name        string
		cfg         chorusprotest.Config
		mutate      func(*choruspro.Config)
		wantIs      []error
		wantNot     []error
		wantStatus  int
		wantWWWText string
	}{
		{"wrong technical account", chorusprotest.Config{}, func(c *choruspro.Config) { c.Password = secretPassword },
			[]error{choruspro.ErrAuth}, []error{choruspro.ErrPasswordExpired}, 401, "login or password incorrects"},
		{"expired password", chorusprotest.Config{TechnicalAccounts: append(chorusprotest.SeedTechnicalAccounts(), expired)},
			func(c *choruspro.Config) { c.Login, c.Password = expired.Login, expired.Password },
			[]error{choruspro.ErrAuth, choruspro.ErrPasswordExpired}, nil, 401, "password expired"},
		{"not subscribed", chorusprotest.Config{PisteApps: []chorusprotest.PisteApp{{ClientID: chorusprotest.SeedClientID,
			ClientSecret: chorusprotest.SeedClientSecret, APIs: []string{"structures"}}}}, func(*choruspro.Config) {},
			[]error{choruspro.ErrForbidden}, []error{choruspro.ErrAuth}, 403, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := startEmulator(t, tc.cfg)
			cfg := e.pisteConfig()
			tc.mutate(&cfg)
			_, err := newClient(t, cfg).Soumettre(context.Background(), invoice("A-1"))
			var ce *choruspro.Error
			if !errors.As(err, &ce) || ce.HTTPStatus != tc.wantStatus || ce.Retryable() || ce.OutcomeUnknown() {
				t.Fatalf("got %v, want a non-retryable *Error with status %d", err, tc.wantStatus)
			}
			for _, target := range tc.wantIs {
				if !errors.Is(err, target) {
					t.Errorf("got %q, want it to match %q", err, target)
				}
			}
			for _, target := range tc.wantNot {
				if errors.Is(err, target) {
					t.Errorf("got %q, want it not to match %q", err, target)
				}
			}
			if !strings.Contains(ce.WWWAuthenticate, tc.wantWWWText) || !strings.Contains(err.Error(), tc.wantWWWText) {
				t.Errorf("got %q, want the WWW-Authenticate text %q", err, tc.wantWWWText)
			}
			if n := e.count("soumettre"); n > 2 {
				t.Errorf("got %d soumettre calls, want at most 2", n)
			}
			assertNoSecret(t, err.Error())
		})
	}
}

func TestBusinessErrors(t *testing.T) {
	t.Parallel()
	e := startEmulator(t, chorusprotest.Config{})
	c := newClient(t, e.pisteConfig())
	ctx := context.Background()

	t.Run("400 with codeRetour", func(t *testing.T) {
		req := invoice("B-1")
		req.Destinataire.CodeDestinataire = "99999999999999"
		_, err := c.Soumettre(ctx, req)
		var ce *choruspro.Error
		if !errors.As(err, &ce) || !errors.Is(err, choruspro.ErrBusiness) || ce.Retryable() || ce.OutcomeUnknown() {
			t.Fatalf("got %v, want a permanent ErrBusiness", err)
		}
		want := "Le destinataire 99999999999999 n'existe pas ou n'est pas actif dans Chorus Pro"
		if ce.HTTPStatus != 400 || ce.CodeRetour != chorusprotest.CodeDestinataireInconnu || ce.Libelle != want || ce.Op != "Soumettre" {
			t.Errorf("got %+v, want 400, codeRetour %d and libelle %q verbatim", ce, chorusprotest.CodeDestinataireInconnu, want)
		}
	})

	t.Run("duplicate", func(t *testing.T) {
		if _, err := c.Soumettre(ctx, invoice("B-2")); err != nil {
			t.Fatal(err)
		}
		_, err := c.Soumettre(ctx, invoice("B-2"))
		var ce *choruspro.Error
		if !errors.As(err, &ce) || ce.CodeRetour != chorusprotest.CodeFactureEnDoublon {
			t.Fatalf("got %v, want codeRetour %d", err, chorusprotest.CodeFactureEnDoublon)
		}
	})

	t.Run("unknown invoice", func(t *testing.T) {
		_, err := c.ConsulterHistorique(ctx, choruspro.ConsulterHistoriqueRequest{IDFacture: 1})
		if !errors.Is(err, choruspro.ErrBusiness) {
			t.Fatalf("got %v, want ErrBusiness", err)
		}
	})

	t.Run("200 with codeRetour", func(t *testing.T) {
		srv := stubServer(t, http.StatusOK, `{"codeRetour":20099,"libelle":"Erreur fonctionnelle"}`, nil)
		_, err := stubClient(t, srv).Soumettre(ctx, invoice("B-3"))
		var ce *choruspro.Error
		if !errors.As(err, &ce) || !errors.Is(err, choruspro.ErrBusiness) || ce.HTTPStatus != 200 || ce.CodeRetour != 20099 || ce.Libelle != "Erreur fonctionnelle" {
			t.Fatalf("got %v, want ErrBusiness with codeRetour 20099 and its libelle", err)
		}
	})
}

func TestRetryableAnswers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name           string
		faults         chorusprotest.Faults
		wantStatus     int
		wantRetryAfter time.Duration
	}{
		{"429", chorusprotest.Faults{Queue: []string{"429"}, RetryAfterSeconds: 7}, 429, 7 * time.Second},
		{"503", chorusprotest.Faults{Queue: []string{"503"}}, 503, 0},
		{"502", chorusprotest.Faults{Queue: []string{"502"}}, 502, 0},
		{"504", chorusprotest.Faults{Queue: []string{"504"}}, 504, 0},
		{"outage", chorusprotest.Faults{Outage: true}, 503, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := startEmulator(t, chorusprotest.Config{})
			c := newClient(t, e.pisteConfig())
			if err := c.HealthCheck(context.Background()); err != nil { // fetch the token first
				t.Fatal(err)
			}
			if err := e.emu.SetFaults(tc.faults); err != nil {
				t.Fatal(err)
			}
			_, err := c.Soumettre(context.Background(), invoice("Y-1"))
			var ce *choruspro.Error
			if !errors.As(err, &ce) || !ce.Retryable() || ce.OutcomeUnknown() || ce.HTTPStatus != tc.wantStatus || ce.RetryAfter() != tc.wantRetryAfter {
				t.Fatalf("got %v (retryable %t, after %s), want retryable %d with Retry-After %s", err, ce.Retryable(), ce.RetryAfter(), tc.wantStatus, tc.wantRetryAfter)
			}
			if errors.Is(err, choruspro.ErrBusiness) || errors.Is(err, choruspro.ErrAuth) {
				t.Errorf("got %q, want neither ErrBusiness nor ErrAuth", err)
			}
			if n := e.count("soumettre"); n != 1 {
				t.Errorf("got %d soumettre calls, want 1 (the client does not retry)", n)
			}
		})
	}
}

func TestOutcomeUnknown(t *testing.T) {
	t.Parallel()

	t.Run("connection dropped after the body", func(t *testing.T) {
		t.Parallel()
		e := startEmulator(t, chorusprotest.Config{Faults: chorusprotest.Faults{Queue: []string{"drop"}, Operations: []string{"soumettre"}}})
		c := newClient(t, e.pisteConfig())
		_, err := c.Soumettre(context.Background(), invoice("U-1"))
		var ce *choruspro.Error
		if !errors.As(err, &ce) || !ce.OutcomeUnknown() || ce.Retryable() || ce.HTTPStatus != 0 {
			t.Fatalf("got %v, want an unknown outcome, not retryable", err)
		}
		var created bool
		for _, r := range e.emu.Requests(0) {
			if r.Operation == "soumettre" && r.NumeroFacture == "U-1" {
				created = r.Applied && r.IdentifiantFactureCPP != 0 && r.Fault == "drop" && r.Status == 0
			}
		}
		if !created {
			t.Fatalf("got log %+v, want U-1 created though its answer was dropped", e.emu.Requests(0))
		}
		found, err := c.RechercherFacturesFournisseur(context.Background(), choruspro.RechercherFacturesFournisseurRequest{NumeroFacture: "U-1"})
		if err != nil || len(found.ListeFactures) != 1 {
			t.Fatalf("looking U-1 up: got %+v, %v; want it found", found, err)
		}
		if _, err := c.Soumettre(context.Background(), invoice("U-1")); !errors.Is(err, choruspro.ErrBusiness) {
			t.Errorf("re-submitting U-1: got %v, want the duplicate refused", err)
		}
	})

	t.Run("timeout after the body", func(t *testing.T) {
		t.Parallel()
		e := startEmulator(t, chorusprotest.Config{Faults: chorusprotest.Faults{Queue: []string{"slow"}, SlowDelayMillis: 5000, Operations: []string{"deposerFlux"}}})
		cfg := e.pisteConfig()
		cfg.Timeout = time.Second
		c := newClient(t, cfg)
		_, err := c.DeposerFlux(context.Background(), choruspro.DeposerFluxRequest{FichierFlux: ublFlow("U-2"), NomFichier: "u2.xml", SyntaxeFlux: choruspro.SyntaxeUBL})
		var ce *choruspro.Error
		if !errors.As(err, &ce) || !ce.OutcomeUnknown() || ce.Retryable() || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want an unknown outcome after a timeout; log %+v", err, e.emu.Requests(0))
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			var applied bool
			for _, r := range e.emu.Requests(0) {
				applied = applied || (r.Operation == "deposerFlux" && r.Applied && r.NumeroFluxDepot != "")
			}
			if applied {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("got log %+v, want the flow deposited", e.emu.Requests(0))
			}
			time.Sleep(10 * time.Millisecond)
		}
	})

	t.Run("connection refused", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		cfg := validPISTE()
		cfg.BaseURL, cfg.TokenURL, cfg.AllowHTTP = "http://"+addr+"/cpro", "http://"+addr+"/api/oauth/token", true
		_, err = newClient(t, cfg).Soumettre(context.Background(), invoice("U-3"))
		var ce *choruspro.Error
		if !errors.As(err, &ce) || !ce.Retryable() || ce.OutcomeUnknown() || ce.HTTPStatus != 0 {
			t.Fatalf("got %v, want a retryable error with a known outcome", err)
		}
		assertNoSecret(t, err.Error())
	})
}

func TestErrorsNeverRevealSecrets(t *testing.T) {
	t.Parallel()
	e := startEmulator(t, chorusprotest.Config{Faults: chorusprotest.Faults{Queue: []string{"expire-token", "expire-token"}}})
	var rec headerRecorder
	cfg := e.pisteConfig()
	c := newClient(t, cfg, choruspro.WithTransportWrapper(rec.wrap))
	_, err := c.DeposerPDF(context.Background(), choruspro.DeposerPDFRequest{FichierFacture: []byte("%PDF-1.4 " + secretP12), NomFichier: "f.pdf"})
	if err == nil {
		t.Fatal("got no error, want a second 401")
	}
	var secrets []string
	for _, h := range rec.headers {
		secrets = append(secrets, strings.TrimPrefix(h.Get("Authorization"), "Bearer "), h.Get("cpro-account"))
	}
	assertNoSecret(t, err.Error(), append(secrets, chorusprotest.SeedPassword, chorusprotest.SeedClientSecret)...)
	if strings.Contains(err.Error(), "JVBER") {
		t.Errorf("got %q, which holds the file", err)
	}
}
