package choruspro

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// buildTLSConfig returns the client TLS configuration: system roots plus
// ExtraCAPEM, and the .p12 client certificate when given. Verification is
// always on. Errors wrap ErrConfig and never contain the .p12 password.
func buildTLSConfig(cfg Config, now time.Time) (*tls.Config, error) {
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	if len(cfg.ExtraCAPEM) > 0 && !roots.AppendCertsFromPEM(cfg.ExtraCAPEM) {
		return nil, configError("ExtraCAPEM holds no PEM certificate")
	}
	tc := &tls.Config{
		MinVersion: tls.VersionTLS12,
		RootCAs:    roots,
	}
	if len(cfg.P12) > 0 {
		cert, err := loadP12(cfg.P12, cfg.P12Password, now)
		if err != nil {
			return nil, err
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// loadP12 decodes a PKCS#12 file into a TLS client certificate and checks
// that it can authenticate a client now: right password, key matching the
// certificate, validity period, key usage.
func loadP12(data []byte, password string, now time.Time) (tls.Certificate, error) {
	key, leaf, chain, err := pkcs12.DecodeChain(data, password)
	if errors.Is(err, pkcs12.ErrIncorrectPassword) {
		return tls.Certificate{}, configError("P12Password does not open P12 (incorrect password)")
	}
	if err != nil {
		return tls.Certificate{}, configError(fmt.Sprintf("P12 cannot be decoded: %v", err))
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return tls.Certificate{}, configError(fmt.Sprintf("P12 private key of type %T cannot sign", key))
	}
	pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(signer.Public()) {
		return tls.Certificate{}, configError("P12 private key does not match its certificate")
	}
	subject := leaf.Subject.String()
	if now.After(leaf.NotAfter) {
		return tls.Certificate{}, configError(fmt.Sprintf("P12 certificate %q expired on %s", subject, leaf.NotAfter.UTC().Format(time.RFC3339)))
	}
	if now.Before(leaf.NotBefore) {
		return tls.Certificate{}, configError(fmt.Sprintf("P12 certificate %q is not valid before %s", subject, leaf.NotBefore.UTC().Format(time.RFC3339)))
	}
	if len(leaf.ExtKeyUsage) > 0 &&
		!slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth) &&
		!slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny) {
		return tls.Certificate{}, configError(fmt.Sprintf("P12 certificate %q is not valid for TLS client authentication (extended key usage)", subject))
	}
	raw := [][]byte{leaf.Raw}
	for _, c := range chain {
		raw = append(raw, c.Raw)
	}
	return tls.Certificate{Certificate: raw, PrivateKey: signer, Leaf: leaf}, nil
}
