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

// initCert makes the simulator's first certificate.
func (s *Server) initCert() error { return s.RotateCertificate() }

// newCert makes a self-signed certificate like the gateway's (CN envoy-<serial>,
// 1 year), plus loopback IP SANs so clients can verify it when pinned via tls_ca.
// It uses the real clock, not Options.Now: TLS clients check validity against it.
func (s *Server) newCert() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("envoysim: generating TLS key: %w", err)
	}
	serialNo, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("envoysim: certificate serial: %w", err)
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
		return tls.Certificate{}, nil, fmt.Errorf("envoysim: creating certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// RotateCertificate replaces the key and certificate with new ones, as a
// gateway does when it renews its certificate (about once a year): new
// connections are served the new one; open connections keep the old one, as
// on the gateway, whose web server finishes them first.
func (s *Server) RotateCertificate() error {
	cert, certPEM, err := s.newCert()
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.cert, s.certPEM = cert, certPEM
	s.mu.Unlock()
	return nil
}

// currentCert is the certificate to present now.
func (s *Server) currentCert(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cert
	return &c, nil
}

// TLSConfig is a server config presenting the simulator's certificate, the
// current one at each handshake (see RotateCertificate).
func (s *Server) TLSConfig() *tls.Config {
	serve := &tls.Config{
		GetCertificate: s.currentCert,
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"http/1.1"}, // the gateway's openresty speaks HTTP/1.1
	}
	// httptest.Server.StartTLS puts its own certificate into an empty
	// Certificates, and a listed certificate wins over GetCertificate for
	// clients that send no server name (IP addresses): GetConfigForClient
	// makes every handshake use serve, whoever starts the listener.
	cfg := serve.Clone()
	cfg.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) { return serve, nil }
	return cfg
}

// CertificatePEM is the current certificate in PEM form, for clients to trust it.
func (s *Server) CertificatePEM() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.certPEM...)
}
