package pasrau_test

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/passerelle-dev/passerelle/workers/pasrau"
	"github.com/passerelle-dev/passerelle/workers/pasrau/pasrautest"
)

func TestNewRefusesConfigBeforeAnyCall(t *testing.T) {
	t.Parallel()
	h := newHarness(t, pasrautest.Config{}, false)
	const secret = "TopSecretPassword-1234567890-xyz" // 32 characters: too long
	tests := []struct {
		name  string
		edit  func(*pasrau.Config)
		field string
	}{
		{"SIRET of 13 digits", func(c *pasrau.Config) { c.SIRET = "5375509640001" }, "SIRET"},
		{"SIRET with a letter", func(c *pasrau.Config) { c.SIRET = "5375509640001A" }, "SIRET"},
		{"empty nom", func(c *pasrau.Config) { c.Nom = "" }, "Nom"},
		{"nom of 65 characters", func(c *pasrau.Config) { c.Nom = strings.Repeat("é", 65) }, "Nom"},
		{"prenom of 40 characters", func(c *pasrau.Config) { c.Prenom = strings.Repeat("a", 40) }, "Prenom"},
		{"password of 7 characters", func(c *pasrau.Config) { c.MotDePasse = "1234567" }, "MotDePasse"},
		{"password of 32 characters", func(c *pasrau.Config) { c.MotDePasse = secret }, "MotDePasse"},
		{"service of 3 digits", func(c *pasrau.Config) { c.Service = "800" }, "Service"},
		{"relative auth url", func(c *pasrau.Config) { c.AuthURL = "/authentifier/1.0/" }, "AuthURL"},
		{"no download host", func(c *pasrau.Config) { c.AllowedDownloadHosts = nil }, "AllowedDownloadHosts"},
		{"ExtraCAPEM without certificate", func(c *pasrau.Config) { c.ExtraCAPEM = []byte("not a PEM") }, "ExtraCAPEM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := h.config(alice())
			tt.edit(&cfg)
			c, err := pasrau.New(cfg)
			if !errors.Is(err, pasrau.ErrInvalidConfig) {
				t.Fatalf("New = %v, %v; want an error matching ErrInvalidConfig", c, err)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("error %q does not name %s", err, tt.field)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), string(cfg.MotDePasse)) && cfg.MotDePasse != "" {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
	if reqs := h.requests(""); len(reqs) != 0 {
		t.Errorf("the emulator got %d requests, want none: %+v", len(reqs), reqs)
	}
}

func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	h := newHarness(t, pasrautest.Config{}, false)
	cfg := h.config(alice())
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "cfg", cfg, "password", cfg.MotDePasse)
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), logged.String()} {
		if strings.Contains(s, alice().MotDePasse) {
			t.Errorf("the password shows in %q", s)
		}
	}
}

func TestUserAgent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ua   pasrau.UserAgent
		want string
	}{
		{pasrau.UserAgent{Software: "PASBuilder", Version: "12.5", Editor: "Paie.fr"}, "Client-PASRAU (PASBuilder/12.5; Paie.fr)"},
		{pasrau.UserAgent{}, "Client-PASRAU"},
	}
	for _, tt := range tests {
		if got := tt.ua.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.ua, got, tt.want)
		}
	}
}

func TestEndpoints(t *testing.T) {
	t.Parallel()
	for _, e := range []pasrau.Endpoints{pasrau.EditeurEndpoints(), pasrau.ProductionEndpoints()} {
		cfg := pasrau.Config{Endpoints: e, SIRET: "53755096400010", Nom: "N", Prenom: "P", MotDePasse: "12345678"}
		if _, err := pasrau.New(cfg); err != nil {
			t.Errorf("New with %s: %v", e.AuthURL, err)
		}
	}
	if got := pasrau.EditeurEndpoints().Service; got != pasrau.ServiceTest {
		t.Errorf("editeur service = %q, want 80", got)
	}
}
