package choruspro_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/passerelle-dev/passerelle/workers/choruspro"
	"github.com/passerelle-dev/passerelle/workers/choruspro/chorusprotest"
	"software.sslmate.com/src/go-pkcs12"
)

// env is an emulator served over TLS (httptest's certificate) and the PEM to
// trust it.
type env struct {
	emu   *chorusprotest.Emulator
	srv   *httptest.Server
	caPEM []byte
}

// startEmulator serves an emulator built from cfg over TLS.
func startEmulator(t *testing.T, cfg chorusprotest.Config) *env {
	t.Helper()
	e := serveTLS(t, cfg, nil)
	e.caPEM = serverPEM(e.srv)
	return e
}

// serveTLS serves an emulator built from cfg over TLS configured by tc
// (httptest's certificate when nil); the caller sets the env's caPEM.
func serveTLS(t *testing.T, cfg chorusprotest.Config, tc *tls.Config) *env {
	t.Helper()
	emu, err := chorusprotest.New(cfg)
	if err != nil {
		t.Fatalf("chorusprotest.New: %v", err)
	}
	srv := httptest.NewUnstartedServer(emu)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	srv.TLS = tc
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return &env{emu: emu, srv: srv}
}

// pisteConfig is a PISTE client configuration for the env, with the seed
// credentials.
func (e *env) pisteConfig() choruspro.Config {
	return choruspro.Config{
		BaseURL:      e.srv.URL + "/cpro",
		Auth:         choruspro.AuthPISTE,
		TokenURL:     e.srv.URL + "/api/oauth/token",
		ClientID:     chorusprotest.SeedClientID,
		ClientSecret: chorusprotest.SeedClientSecret,
		Login:        chorusprotest.SeedLogin,
		Password:     chorusprotest.SeedPassword,
		ExtraCAPEM:   e.caPEM,
		Timeout:      10 * time.Second,
	}
}

// client builds a client from cfg, failing the test on error.
func newClient(t *testing.T, cfg choruspro.Config, opts ...choruspro.Option) *choruspro.Client {
	t.Helper()
	c, err := choruspro.New(cfg, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// count returns how many logged calls were made to operation op.
func (e *env) count(op string) int {
	n := 0
	for _, r := range e.emu.Requests(0) {
		if r.Operation == op {
			n++
		}
	}
	return n
}

// pki is a test certification authority.
type pki struct {
	cert  *x509.Certificate
	key   *ecdsa.PrivateKey
	pem   []byte
	pool  *x509.CertPool
	count atomic.Int64
}

// newPKI creates a CA.
func newPKI(t *testing.T) *pki {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	p := &pki{cert: cert, key: key, pool: pool, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
	p.count.Store(1)
	return p
}

// issue signs a certificate for tmpl (serial number and key filled in).
func (p *pki) issue(t *testing.T, tmpl *x509.Certificate) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = big.NewInt(p.count.Add(1))
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// serverCert is a TLS server certificate for 127.0.0.1 and localhost.
func (p *pki) serverCert(t *testing.T) tls.Certificate {
	t.Helper()
	cert, key := p.issue(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "emulator"},
		NotBefore:   time.Now().Add(-time.Hour),
		NotAfter:    time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:    []string{"localhost"},
	})
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
}

// clientP12 is a client certificate valid over [notBefore, notAfter],
// packed with its key and the CA in a .p12 by enc.
func (p *pki) clientP12(t *testing.T, enc *pkcs12.Encoder, password string, notBefore, notAfter time.Time, usage x509.ExtKeyUsage) []byte {
	t.Helper()
	cert, key := p.issue(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "passerelle-client", Organization: []string{"Passerelle Demo"}},
		NotBefore:   notBefore,
		NotAfter:    notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{usage},
	})
	data, err := enc.Encode(key, cert, []*x509.Certificate{p.cert}, password)
	if err != nil {
		t.Fatalf("encoding the .p12: %v", err)
	}
	return data
}

// startMTLS serves an emulator over TLS requiring a client certificate
// issued by ca (direct mode).
func startMTLS(t *testing.T, ca *pki, cfg chorusprotest.Config) *env {
	t.Helper()
	cfg.RequireClientCert = true
	e := serveTLS(t, cfg, &tls.Config{
		Certificates: []tls.Certificate{ca.serverCert(t)},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.pool,
		MinVersion:   tls.VersionTLS12,
	})
	e.caPEM = ca.pem
	return e
}

// headerRecorder wraps a transport to record the headers of every request.
type headerRecorder struct {
	mu      sync.Mutex
	headers []http.Header
	paths   []string
}

func (h *headerRecorder) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		h.mu.Lock()
		h.headers = append(h.headers, r.Header.Clone())
		h.paths = append(h.paths, r.URL.Path)
		h.mu.Unlock()
		return rt.RoundTrip(r)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// stubServer serves a fixed answer over TLS, for answers the emulator never
// gives.
func stubServer(t *testing.T, status int, body string, header http.Header) *httptest.Server {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range header {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// serverPEM is the PEM of an httptest TLS server's own certificate, to trust
// it.
func serverPEM(srv *httptest.Server) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
}

// stubClient is a direct-mode client of a stub server.
func stubClient(t *testing.T, srv *httptest.Server) *choruspro.Client {
	t.Helper()
	p12 := newPKI(t).clientP12(t, pkcs12.Modern, secretP12, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), x509.ExtKeyUsageClientAuth)
	return newClient(t, choruspro.Config{
		BaseURL: srv.URL, Auth: choruspro.AuthDirect, Login: "TECH_1@cpro.fr", Password: secretPassword,
		P12: p12, P12Password: secretP12, ExtraCAPEM: serverPEM(srv), Timeout: 10 * time.Second,
	})
}
