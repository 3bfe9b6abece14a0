package choruspro_test

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/passerelle-dev/passerelle/workers/choruspro"
	"software.sslmate.com/src/go-pkcs12"
)

// Secret values used by the configuration tests; none may appear in errors.
const (
	secretClient   = "s3cr3t-client-XYZZY"
	secretPassword = "s3cr3t-password-PLUGH"
	secretP12      = "s3cr3t-p12-FROBOZZ"
)

func validPISTE() choruspro.Config {
	return choruspro.Config{
		BaseURL:      "https://sandbox-api.piste.gouv.fr/cpro",
		Auth:         choruspro.AuthPISTE,
		TokenURL:     "https://sandbox-oauth.piste.gouv.fr/api/oauth/token",
		ClientID:     "client",
		ClientSecret: secretClient,
		Login:        "TECH_1@cpro.fr",
		Password:     secretPassword,
	}
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	ca := newPKI(t)
	goodP12 := ca.clientP12(t, pkcs12.Modern, secretP12, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), x509.ExtKeyUsageClientAuth)
	direct := func(mut func(*choruspro.Config)) choruspro.Config {
		c := choruspro.Config{
			BaseURL: "https://chorus-pro.gouv.fr:5443/service-qualif", Auth: choruspro.AuthDirect,
			Login: "TECH_1@cpro.fr", Password: secretPassword, P12: goodP12, P12Password: secretP12,
		}
		mut(&c)
		return c
	}
	piste := func(mut func(*choruspro.Config)) choruspro.Config {
		c := validPISTE()
		mut(&c)
		return c
	}
	for _, tc := range []struct {
		name    string
		cfg     choruspro.Config
		wantErr string // "" for success
	}{
		{"valid PISTE", validPISTE(), ""},
		{"valid direct", direct(func(*choruspro.Config) {}), ""},
		{"valid direct, legacy .p12", direct(func(c *choruspro.Config) {
			c.P12 = ca.clientP12(t, pkcs12.LegacyRC2, secretP12, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), x509.ExtKeyUsageClientAuth)
		}), ""},
		{"no base URL", piste(func(c *choruspro.Config) { c.BaseURL = "" }), "BaseURL is required"},
		{"http base URL", piste(func(c *choruspro.Config) { c.BaseURL = "http://example.org/cpro" }), "BaseURL must use https"},
		{"http allowed", piste(func(c *choruspro.Config) { c.BaseURL = "http://example.org/cpro"; c.AllowHTTP = true }), ""},
		{"credentials in URL", piste(func(c *choruspro.Config) { c.BaseURL = "https://u:" + secretPassword + "@example.org/cpro" }), "must not carry credentials"},
		{"no auth mode", piste(func(c *choruspro.Config) { c.Auth = "" }), "Auth is required"},
		{"unknown auth mode", piste(func(c *choruspro.Config) { c.Auth = "saml" }), `Auth "saml" is unknown`},
		{"no token URL", piste(func(c *choruspro.Config) { c.TokenURL = "" }), "TokenURL is required"},
		{"no client id", piste(func(c *choruspro.Config) { c.ClientID = "" }), "ClientID is required"},
		{"no client secret", piste(func(c *choruspro.Config) { c.ClientSecret = "" }), "ClientSecret is required"},
		{"no login", piste(func(c *choruspro.Config) { c.Login = "" }), "Login (technical account) is required"},
		{"no password", piste(func(c *choruspro.Config) { c.Password = "" }), "Password (technical account) is required"},
		{"negative timeout", piste(func(c *choruspro.Config) { c.Timeout = -time.Second }), "Timeout must not be negative"},
		{"bad extra CA", piste(func(c *choruspro.Config) { c.ExtraCAPEM = []byte("not a PEM") }), "ExtraCAPEM holds no PEM certificate"},
		{"no .p12 in direct mode", direct(func(c *choruspro.Config) { c.P12 = nil }), "P12 (client certificate) is required"},
		{"wrong .p12 password", direct(func(c *choruspro.Config) { c.P12Password = "wrong-" + secretP12 }), "P12Password does not open P12 (incorrect password)"},
		{"garbage .p12", direct(func(c *choruspro.Config) { c.P12 = []byte("garbage") }), "P12 cannot be decoded"},
		{"expired certificate", direct(func(c *choruspro.Config) {
			c.P12 = ca.clientP12(t, pkcs12.Modern, secretP12, time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour), x509.ExtKeyUsageClientAuth)
		}), "expired on"},
		{"certificate not yet valid", direct(func(c *choruspro.Config) {
			c.P12 = ca.clientP12(t, pkcs12.Modern, secretP12, time.Now().Add(24*time.Hour), time.Now().Add(48*time.Hour), x509.ExtKeyUsageClientAuth)
		}), "not valid before"},
		{"server-only certificate", direct(func(c *choruspro.Config) {
			c.P12 = ca.clientP12(t, pkcs12.Modern, secretP12, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), x509.ExtKeyUsageServerAuth)
		}), "not valid for TLS client authentication"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := choruspro.New(tc.cfg)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("New: got %v, want no error", err)
				}
				c.CloseIdleConnections()
				return
			}
			if err == nil {
				t.Fatalf("New: got no error, want one containing %q", tc.wantErr)
			}
			if !errors.Is(err, choruspro.ErrConfig) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("New: got %q, want an ErrConfig containing %q", err, tc.wantErr)
			}
			assertNoSecret(t, err.Error())
		})
	}
}

func TestConfigStringHidesSecrets(t *testing.T) {
	t.Parallel()
	cfg := validPISTE()
	cfg.P12Password = secretP12
	for _, s := range []string{cfg.String(), fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg)} {
		assertNoSecret(t, s)
		if !strings.Contains(s, "TECH_1@cpro.fr") {
			t.Errorf("got %q, want the login shown", s)
		}
	}
}

func TestClientStringHidesSecrets(t *testing.T) {
	t.Parallel()
	c, err := choruspro.New(validPISTE())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{c.String(), fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c)} {
		assertNoSecret(t, s)
	}
}

// assertNoSecret fails if s holds one of the test secrets.
func assertNoSecret(t *testing.T, s string, more ...string) {
	t.Helper()
	for _, secret := range append([]string{secretClient, secretPassword, secretP12}, more...) {
		if secret != "" && strings.Contains(s, secret) {
			t.Errorf("got %q, which reveals a secret", s)
		}
	}
}
