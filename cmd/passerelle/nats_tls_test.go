package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/passerelle-dev/passerelle/workers/embedded/natstest"
)

// TestConnectWithNKeyAndTLS connects as passerelle run does to a NATS server that
// requires TLS and an nkey: with the seed file and the CA file it connects; without
// the CA the server's certificate is refused; with another seed the server refuses
// the user; and no error quotes the seed.
func TestConnectWithNKeyAndTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	caFile, serverCert := selfSignedCA(t, dir)
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := user.PublicKey()
	seed, _ := user.Seed()
	seedFile := filepath.Join(dir, "passerelle.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	srv := natstest.Custom(t, &server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT,
		Nkeys:     []*server.NkeyUser{{Nkey: pub}},
		TLS:       true,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{serverCert}, MinVersion: tls.VersionTLS12},
	}, nil)
	url := "tls://" + srv.Addr().String()

	nc, err := natsSettings{URL: url, NKey: seedFile, CA: caFile}.connect("test")
	if err != nil {
		t.Fatalf("connect with the nkey and the CA: %v", err)
	}
	nc.Close()

	if _, err := (natsSettings{URL: url, NKey: seedFile}).connect("test"); err == nil {
		t.Error("connected without the CA that signed the server's certificate")
	}

	other, _ := nkeys.CreateUser()
	otherSeed, _ := other.Seed()
	otherFile := filepath.Join(dir, "other.nk")
	if err := os.WriteFile(otherFile, otherSeed, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = natsSettings{URL: url, NKey: otherFile, CA: caFile}.connect("test")
	if err == nil {
		t.Fatal("connected with an nkey the server does not know")
	}
	if strings.Contains(err.Error(), string(otherSeed)) {
		t.Errorf("error %q quotes the seed", err)
	}
}

// selfSignedCA writes a CA certificate to dir and returns its file and a server
// certificate for 127.0.0.1 that it signed.
func selfSignedCA(t *testing.T, dir string) (string, tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "nats"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return caFile, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
