package accounts_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/passerelle-dev/passerelle/workers/accounts"
)

func TestDeployAccountsFileParses(t *testing.T) {
	t.Parallel()
	f, err := accounts.Load("../../deploy/accounts.json")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DEMO_PISTE_CLIENT_SECRET": "s", "DEMO_CHORUSPRO_PASSWORD": "p", "DEMO_PASRAU_PASSWORD": "demo-pasrau"}
	reg, err := accounts.Build(f, accounts.Options{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := reg.ChorusPro("demo"); !ok || a.SupplierID != 26300001 {
		t.Errorf("ChorusPro(demo) = %+v, %v", a, ok)
	}
	if a, ok := reg.PASRAU("demo"); !ok || a.SIRET != "53755096400010" {
		t.Errorf("PASRAU(demo) = %+v, %v", a, ok)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, file, want string }{
		{"unknown field", `{"accounts":{"a":{"choruspro":{"environment":"qualification","pasword":"x"}}}}`, `unknown field "pasword"`},
		{"no account", `{"accounts":{}}`, "no account"},
		{"bad name", `{"accounts":{"a.b":{}}}`, `account name "a.b"`},
		{"not json", `accounts: {}`, "invalid character"},
	}
	for _, tt := range tests {
		if _, err := accounts.Parse([]byte(tt.file)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Parse = %v, want %q", tt.name, err, tt.want)
		}
	}
}

// TestBuildNeverLeaksSecrets builds accounts that fail in each way a secret can be
// wrong, and checks that no error shows a secret's value.
func TestBuildNeverLeaksSecrets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const p12Password = "p12-s3cret-VALUE"
	p12Path := filepath.Join(dir, "client.p12")
	if err := os.WriteFile(p12Path, selfSignedP12(t, p12Password), 0o600); err != nil {
		t.Fatal(err)
	}
	secretFile := filepath.Join(dir, "password")
	if err := os.WriteFile(secretFile, []byte("file-s3cret-VALUE\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PISTE_SECRET": "env-s3cret-VALUE", "P12_PASSWORD": "wrong-p12-s3cret"}
	getenv := func(k string) string { return env[k] }
	tests := []struct {
		name string
		cp   accounts.ChorusPro
		want string
	}{
		{"missing env", accounts.ChorusPro{Environment: "qualification", ClientID: "c", ClientSecret: "env:NOPE", Login: "l", Password: "x-s3cret", SupplierID: 1, UserID: 1}, "clientSecret: environment variable NOPE is empty"},
		{"missing file", accounts.ChorusPro{Environment: "qualification", ClientID: "c", ClientSecret: "env:PISTE_SECRET", Login: "l", Password: accounts.Secret("file:" + filepath.Join(dir, "none")), SupplierID: 1, UserID: 1}, "password: read secret file"},
		{"wrong p12 password", accounts.ChorusPro{Environment: "qualification", Auth: "direct", Login: "l", Password: accounts.Secret("file:" + secretFile), P12File: p12Path, P12Password: "env:P12_PASSWORD", SupplierID: 1, UserID: 1}, "P12"},
		{"no ids", accounts.ChorusPro{Environment: "production", ClientID: "c", ClientSecret: "env:PISTE_SECRET", Login: "l", Password: accounts.Secret("file:" + secretFile)}, "supplierId and userId"},
		{"bad environment", accounts.ChorusPro{Environment: "staging", Login: "l", Password: "x", SupplierID: 1, UserID: 1}, `environment "staging"`},
	}
	for _, tt := range tests {
		cp := tt.cp
		_, err := accounts.Build(&accounts.File{Accounts: map[string]accounts.Account{"acme": {ChorusPro: &cp}}}, accounts.Options{Getenv: getenv})
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "account acme") {
			t.Errorf("%s: Build = %v, want an error about account acme containing %q", tt.name, err, tt.want)
			continue
		}
		for _, secret := range []string{"env-s3cret-VALUE", "file-s3cret-VALUE", "wrong-p12-s3cret", p12Password, "x-s3cret"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%s: error %q shows a secret", tt.name, err)
			}
		}
	}
	// The right password opens the certificate: direct mode builds.
	env["P12_PASSWORD"] = p12Password
	cp := tests[2].cp
	if _, err := accounts.Build(&accounts.File{Accounts: map[string]accounts.Account{"acme": {ChorusPro: &cp}}}, accounts.Options{Getenv: getenv}); err != nil {
		t.Errorf("direct mode with the right .p12 password: %v", err)
	}
}

func TestSecretString(t *testing.T) {
	t.Parallel()
	if s := accounts.Secret("hunter2"); s.String() == "hunter2" || strings.Contains(s.String(), "hunter2") {
		t.Errorf("Secret.String() = %q shows the value", s.String())
	}
}

func selfSignedP12(t *testing.T, password string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "acme"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	p12, err := pkcs12.Modern.Encode(key, cert, nil, password)
	if err != nil {
		t.Fatal(err)
	}
	return p12
}

func TestPASRAUAccountErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    accounts.PASRAU
		want string
	}{
		{"short password", accounts.PASRAU{Environment: "test", SIRET: "53755096400010", Nom: "DUPONT", Prenom: "Marie", Password: "s3cr3t"}, "MotDePasse"},
		{"bad siret", accounts.PASRAU{Environment: "production", SIRET: "1234", Nom: "DUPONT", Prenom: "Marie", Password: "long-enough-s3cret"}, "SIRET"},
		{"no environment", accounts.PASRAU{SIRET: "53755096400010", Nom: "DUPONT", Prenom: "Marie", Password: "long-enough-s3cret"}, `environment ""`},
	}
	for _, tt := range tests {
		p := tt.p
		_, err := accounts.Build(&accounts.File{Accounts: map[string]accounts.Account{"acme": {PASRAU: &p}}}, accounts.Options{})
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "account acme: pasrau") {
			t.Errorf("%s: Build = %v, want an error about account acme's pasrau settings naming %q", tt.name, err, tt.want)
			continue
		}
		if strings.Contains(err.Error(), string(p.Password)) {
			t.Errorf("%s: error %q shows the password", tt.name, err)
		}
	}
}
