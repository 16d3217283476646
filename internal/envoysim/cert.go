package envoysim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// initCert makes a self-signed certificate like the gateway's (CN envoy-<serial>,
// 1 year), plus loopback IP SANs so clients can verify it when pinned via tls_ca.
// It uses the real clock, not Options.Now: TLS clients check validity against it.
func (s *Server) initCert() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("envoysim: generating TLS key: %w", err)
	}
	serialNo, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return fmt.Errorf("envoysim: certificate serial: %w", err)
	}
	name := "envoy-" + s.serial
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serialNo,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(1, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // self-signed: it is its own trust anchor
		DNSNames:              []string{name},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("envoysim: creating certificate: %w", err)
	}
	s.certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	s.cert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return nil
}

// TLSConfig is a server config presenting the simulator's certificate.
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{s.cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"}, // the gateway's openresty speaks HTTP/1.1
	}
}

// CertificatePEM is the certificate in PEM form, for clients to trust it.
func (s *Server) CertificatePEM() []byte {
	return append([]byte(nil), s.certPEM...)
}
