package edge

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"flag"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var genPKI = flag.Bool("gen-pki", false, "write a new testdata/pki (RSA 4096 root, intermediate and leaf)")

// The test chain: a root CA, and a leaf for 127.0.0.1 and localhost with
// the intermediate that issued it, all RSA 4096: the 3.6 KB chain the
// issue measured nginx's records with. The files are fixed, so that every
// run sends the same bytes; TestGeneratePKI -gen-pki writes new ones.
const pkiDir = "testdata/pki"

// TestGeneratePKI writes testdata/pki when run with -gen-pki.
func TestGeneratePKI(t *testing.T) {
	if !*genPKI {
		t.Skip("run with -gen-pki to write testdata/pki")
	}
	key := func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 4096)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	rootKey, interKey, leafKey := key(), key(), key()
	notBefore := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	notAfter := time.Date(2125, 1, 1, 0, 0, 0, 0, time.UTC)
	name := func(cn string) pkix.Name {
		return pkix.Name{CommonName: cn, Organization: []string{"tlsapp test fleet"}, OrganizationalUnit: []string{"firmware distribution"},
			Country: []string{"NO"}, Province: []string{"Trondelag"}, Locality: []string{"Trondheim"}}
	}
	root := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: name("tlsapp test root CA"), NotBefore: notBefore, NotAfter: notAfter,
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	inter := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: name("tlsapp test intermediate CA R1"), NotBefore: notBefore, NotAfter: notAfter,
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		CRLDistributionPoints: []string{"http://crl.fleet.example/root.crl"}, IssuingCertificateURL: []string{"http://ca.fleet.example/root.der"},
		PolicyIdentifiers: []asn1.ObjectIdentifier{{2, 23, 140, 1, 2, 2}}}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: name("fota.fleet.example"), NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:              []string{"localhost", "fota.fleet.example", "edge.fleet.example", "fota-eu.fleet.example", "fota-us.fleet.example", "fota-ap.fleet.example", "fota-cn.fleet.example", "fota-sa.fleet.example", "fota-af.fleet.example"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		CRLDistributionPoints: []string{"http://crl.fleet.example/r1.crl"}, IssuingCertificateURL: []string{"http://ca.fleet.example/r1.der"},
		OCSPServer: []string{"http://ocsp.fleet.example"}}
	rootDER, err := x509.CreateCertificate(rand.Reader, root, root, &rootKey.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	root, _ = x509.ParseCertificate(rootDER)
	interDER, err := x509.CreateCertificate(rand.Reader, inter, root, &interKey.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	inter, _ = x509.ParseCertificate(interDER)
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, inter, &leafKey.PublicKey, interKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(leafKey)
	if err != nil {
		t.Fatal(err)
	}
	pemOf := func(typ string, b []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}) }
	os.MkdirAll(pkiDir, 0o755)
	for name, data := range map[string][]byte{
		"root.pem":  pemOf("CERTIFICATE", rootDER),
		"chain.pem": append(pemOf("CERTIFICATE", leafDER), pemOf("CERTIFICATE", interDER)...),
		"key.pem":   pemOf("PRIVATE KEY", keyDER),
	} {
		if err := os.WriteFile(filepath.Join(pkiDir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("chain: leaf %d B + intermediate %d B = %d B", len(leafDER), len(interDER), len(leafDER)+len(interDER))
}

// testChain returns the test chain's certificate (leaf and intermediate,
// with the leaf's key) and a pool holding its root.
func testChain(tb testing.TB) (tls.Certificate, *x509.CertPool) {
	tb.Helper()
	cert, err := tls.LoadX509KeyPair(filepath.Join(pkiDir, "chain.pem"), filepath.Join(pkiDir, "key.pem"))
	if err != nil {
		tb.Fatal(err)
	}
	rootPEM, err := os.ReadFile(filepath.Join(pkiDir, "root.pem"))
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(rootPEM) {
		tb.Fatal("no root in " + pkiDir)
	}
	return cert, pool
}

// TestChainSize: the chain is the size the issue measured nginx with.
func TestChainSize(t *testing.T) {
	cert, _ := testChain(t)
	n := 0
	for _, c := range cert.Certificate {
		n += len(c)
	}
	if len(cert.Certificate) != 2 || n < 3500 || n > 3800 {
		t.Fatalf("chain: %d certificates, %d bytes; want 2 and about 3.6 KB", len(cert.Certificate), n)
	}
}
