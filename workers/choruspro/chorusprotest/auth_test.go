package chorusprotest_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/passerelle-dev/passerelle/workers/choruspro/chorusprotest"
)

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	h := start(t, chorusprotest.Config{TokenLifetime: 90 * time.Second})

	t.Run("valid client", func(t *testing.T) {
		a := h.tokenRequest(chorusprotest.SeedClientID, chorusprotest.SeedClientSecret)
		if a.status != http.StatusOK {
			t.Fatalf("got status %d, want 200", a.status)
		}
		if a.str("access_token") == "" || a.str("token_type") != "Bearer" || a.num("expires_in") != 90 || a.str("scope") != "openid" {
			t.Errorf("got %s, want access_token, token_type Bearer, expires_in 90, scope openid", a.raw)
		}
	})
	for _, tc := range []struct {
		name, id, secret string
	}{
		{"wrong secret", chorusprotest.SeedClientID, "nope"},
		{"unknown client", "someone", chorusprotest.SeedClientSecret},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := h.tokenRequest(tc.id, tc.secret)
			if a.status != http.StatusBadRequest || a.str("error") != "invalid_client" || a.str("error_description") == "" {
				t.Errorf("got %d %s, want 400 invalid_client with a description", a.status, a.raw)
			}
		})
	}
	t.Run("wrong grant", func(t *testing.T) {
		req := h.request(http.MethodPost, "/api/oauth/token", nil)
		req.Body = http.NoBody
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if a := h.do(req); a.status != http.StatusBadRequest || a.str("error") != "unsupported_grant_type" {
			t.Errorf("got %d %s, want 400 unsupported_grant_type", a.status, a.raw)
		}
	})
}

func TestBusinessAuthentication(t *testing.T) {
	t.Parallel()
	cfg := chorusprotest.Config{
		PisteApps: []chorusprotest.PisteApp{
			{ClientID: chorusprotest.SeedClientID, ClientSecret: chorusprotest.SeedClientSecret},
			{ClientID: "factures-only", ClientSecret: "s", APIs: []string{"factures"}},
		},
		TechnicalAccounts: append(chorusprotest.SeedTechnicalAccounts(), chorusprotest.TechnicalAccount{
			Login: "TECH_EXPIRED@cpro.fr", Password: "old", IDUtilisateur: 2,
			IDFournisseurs:    []int64{chorusprotest.SeedIDFournisseur},
			PasswordExpiresAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		}),
		TokenLifetime: time.Hour,
	}
	h := start(t, cfg)
	body := map[string]any{"structure": map[string]any{"identifiantStructure": chorusprotest.SeedSIRETNoRule}}
	other := h.tokenRequest("factures-only", "s").str("access_token")

	for _, tc := range []struct {
		name       string
		path       string
		authz      string
		account    string
		wantStatus int
		wantWWW    string
		wantEmpty  bool
	}{
		{"valid", "structures/v1/rechercher", "Bearer " + h.bearer(), account(chorusprotest.SeedLogin, chorusprotest.SeedPassword), 200, "", false},
		{"no token", "structures/v1/rechercher", "", account(chorusprotest.SeedLogin, chorusprotest.SeedPassword), 401, `error="invalid_request"`, true},
		{"unknown token", "structures/v1/rechercher", "Bearer abc", account(chorusprotest.SeedLogin, chorusprotest.SeedPassword), 401, `error="invalid_token"`, true},
		{"wrong password", "structures/v1/rechercher", "Bearer " + h.bearer(), account(chorusprotest.SeedLogin, "bad"), 401,
			`Bearer realm="PISTE",error="Unauthorized",error_description="login or password incorrects"`, true},
		{"no account", "structures/v1/rechercher", "Bearer " + h.bearer(), "", 401, "login or password incorrects", true},
		{"expired password", "structures/v1/rechercher", "Bearer " + h.bearer(), account("TECH_EXPIRED@cpro.fr", "old"), 401, "password expired", true},
		{"unsubscribed", "structures/v1/rechercher", "Bearer " + other, account(chorusprotest.SeedLogin, chorusprotest.SeedPassword), 403, "", true},
		{"subscribed api", "factures/v1/rechercher/fournisseur", "Bearer " + other, account(chorusprotest.SeedLogin, chorusprotest.SeedPassword), 200, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := h.request(http.MethodPost, "/cpro/"+tc.path, body)
			if tc.authz != "" {
				req.Header.Set("Authorization", tc.authz)
			}
			if tc.account != "" {
				req.Header.Set("cpro-account", tc.account)
			}
			a := h.do(req)
			if a.status != tc.wantStatus {
				t.Fatalf("got status %d (%s), want %d", a.status, a.raw, tc.wantStatus)
			}
			if got := a.header.Get("WWW-Authenticate"); !strings.Contains(got, tc.wantWWW) {
				t.Errorf("got WWW-Authenticate %q, want it to contain %q", got, tc.wantWWW)
			}
			if tc.wantEmpty && len(a.raw) != 0 {
				t.Errorf("got body %q, want an empty body", a.raw)
			}
		})
	}

	t.Run("token expires with the clock", func(t *testing.T) {
		h := start(t, chorusprotest.Config{TokenLifetime: time.Hour})
		mustOK(t, "before expiry", h.call("structures/v1/rechercher", body))
		h.clock.Advance(time.Hour)
		a := h.call("structures/v1/rechercher", body)
		if a.status != http.StatusUnauthorized || !strings.Contains(a.header.Get("WWW-Authenticate"), "expired") {
			t.Errorf("got %d %q, want 401 with an expired token description", a.status, a.header.Get("WWW-Authenticate"))
		}
	})
}

func TestDirectMode(t *testing.T) {
	t.Parallel()
	body := map[string]any{"idStructureCPP": chorusprotest.SeedIDStructureNoRule}
	for _, tc := range []struct {
		name        string
		requireCert bool
		prefix      string
		login, pass string
		wantStatus  int
		wantWWW     string
	}{
		{"qualif", false, "/service-qualif/", chorusprotest.SeedLogin, chorusprotest.SeedPassword, 200, ""},
		{"production", false, "/service/", chorusprotest.SeedLogin, chorusprotest.SeedPassword, 200, ""},
		{"wrong password", false, "/service/", chorusprotest.SeedLogin, "bad", 401, `Basic realm="Chorus Pro"`},
		{"certificate required", true, "/service/", chorusprotest.SeedLogin, chorusprotest.SeedPassword, 401, "client certificate required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := start(t, chorusprotest.Config{RequireClientCert: tc.requireCert})
			req := h.request(http.MethodPost, tc.prefix+"structures/v1/consulter", body)
			req.SetBasicAuth(tc.login, tc.pass)
			a := h.do(req)
			if a.status != tc.wantStatus {
				t.Fatalf("got status %d (%s), want %d", a.status, a.raw, tc.wantStatus)
			}
			if got := a.header.Get("WWW-Authenticate"); !strings.Contains(got, tc.wantWWW) {
				t.Errorf("got WWW-Authenticate %q, want it to contain %q", got, tc.wantWWW)
			}
			recs := h.emu.Requests(0)
			if len(recs) != 1 || recs[0].AuthMode != "direct" || recs[0].Login != tc.login {
				t.Errorf("got log %+v, want one direct call by %s", recs, tc.login)
			}
		})
	}
}

func TestNewRejectsInconsistentConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  chorusprotest.Config
	}{
		{"negative step", chorusprotest.Config{Step: -time.Second}},
		{"account without supplier", chorusprotest.Config{TechnicalAccounts: []chorusprotest.TechnicalAccount{{Login: "a", Password: "b"}}}},
		{"unknown supplier", chorusprotest.Config{TechnicalAccounts: []chorusprotest.TechnicalAccount{{Login: "a", Password: "b", IDFournisseurs: []int64{1}}}}},
		{"unknown api", chorusprotest.Config{PisteApps: []chorusprotest.PisteApp{{ClientID: "a", ClientSecret: "b", APIs: []string{"paie"}}}}},
		{"duplicate SIRET", chorusprotest.Config{Recipients: []chorusprotest.Recipient{
			{IDStructureCPP: 1, SIRET: "1"}, {IDStructureCPP: 2, SIRET: "1"}}}},
		{"bad probability", chorusprotest.Config{Faults: chorusprotest.Faults{DropProbability: 1.5}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := chorusprotest.New(tc.cfg); err == nil {
				t.Errorf("New: got nil error, want one")
			}
		})
	}
}
