package tlsapp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/testnet"
)

// testPKI is a throw-away CA and a server certificate for 127.0.0.1.
type testPKI struct {
	Pool   *x509.CertPool
	CA     *x509.Certificate
	CAKey  *ecdsa.PrivateKey
	Server tls.Certificate
}

var (
	pkiOnce sync.Once
	pki     testPKI
)

func newTestPKI(t testing.TB) testPKI {
	pkiOnce.Do(func() {
		caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		caTmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tlsapp test CA"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
		}
		caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
		pki.CA, _ = x509.ParseCertificate(caDER)
		pki.CAKey = caKey
		pki.Pool = x509.NewCertPool()
		pki.Pool.AddCert(pki.CA)
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		der, _ := x509.CreateCertificate(rand.Reader, tmpl, pki.CA, &key.PublicKey, caKey)
		pki.Server = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	})
	if pki.CA == nil {
		t.Fatal("test PKI generation failed")
	}
	return pki
}

// startGoServer runs a crypto/tls server on 127.0.0.1 that hands every
// connection to handle, and returns its address.
func startGoServer(t testing.TB, cfg *tls.Config, handle func(*tls.Conn)) string {
	t.Helper()
	if cfg.Certificates == nil {
		cfg.Certificates = []tls.Certificate{newTestPKI(t).Server}
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	testnet.Serve(t, ln, 30*time.Second, func(c net.Conn) { handle(c.(*tls.Conn)) })
	return ln.Addr().String()
}

// countingConn counts the transport writes and remembers their sizes.
type countingConn struct {
	net.Conn
	mu     sync.Mutex
	writes []int
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes = append(c.writes, len(p))
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *countingConn) Writes() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.writes...)
}
