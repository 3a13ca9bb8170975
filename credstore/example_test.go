package credstore_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/tlsapp/tlsapp/credstore"
)

// ExampleNewVerifier stores three roots under three tags and verifies a
// chain that ends at the third: the verifier considers all of them at once
// and names the one that worked.
func ExampleNewVerifier() {
	ctx := context.Background()
	s := credstore.NewMemory()
	roots := map[string]*authority{}
	for i, name := range []string{"Amazon Root CA 1", "Starfield Services Root CA - G2", "DigiCert Global Root G2"} {
		roots[name] = newAuthority(name, nil)
		if err := credstore.Import(ctx, s, credstore.Tag(i+1), credstore.CACert, name+".pem", roots[name].pem()); err != nil {
			fmt.Println(err)
			return
		}
	}
	inter := newAuthority("Example Intermediate", roots["DigiCert Global Root G2"])
	leaf := inter.issueLeaf("device.example")

	v, err := credstore.NewVerifier(ctx, s, 1, 2, 3)
	if err != nil {
		fmt.Println(err)
		return
	}
	anchors, err := v.Verify(ctx, "device.example", []*x509.Certificate{leaf, inter.cert}, time.Now())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, a := range anchors {
		fmt.Printf("verified by tag %d: %s\n", a.Tag, a.Subject)
	}

	// Without the third tag, the error names each anchor tried.
	v, _ = credstore.NewVerifier(ctx, s, 1, 2)
	_, err = v.Verify(ctx, "device.example", []*x509.Certificate{leaf, inter.cert}, time.Now())
	var nae *credstore.NoAnchorError
	if errors.As(err, &nae) {
		for _, tried := range nae.Tried {
			fmt.Printf("tag %d (%s) does not verify it\n", tried.Anchor.Tag, tried.Anchor.Subject)
		}
	}
	// Output:
	// verified by tag 3: CN=DigiCert Global Root G2
	// tag 1 (CN=Amazon Root CA 1) does not verify it
	// tag 2 (CN=Starfield Services Root CA - G2) does not verify it
}

// authority is a throw-away CA for the example.
type authority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

var exampleSerial int64

func newAuthority(name string, parent *authority) *authority {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	exampleSerial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(exampleSerial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	issuer, issuerKey := tmpl, key
	if parent != nil {
		issuer, issuerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, &key.PublicKey, issuerKey)
	if err != nil {
		panic(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &authority{cert, key}
}

func (a *authority) pem() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.cert.Raw})
}

func (a *authority) issueLeaf(host string) *x509.Certificate {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	exampleSerial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(exampleSerial), Subject: pkix.Name{CommonName: host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{host},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, &key.PublicKey, a.key)
	if err != nil {
		panic(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert
}
