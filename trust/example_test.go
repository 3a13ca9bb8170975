package trust_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"time"

	"github.com/tlsapp/tlsapp/trust"
)

// ExampleAnchorOf shows how an anchor names its origin: the tag it is
// stored under, or NoTag for a root from a certificate pool.
func ExampleAnchorOf() {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Fleet Root"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
	}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	root, _ := x509.ParseCertificate(der)

	for _, tag := range []trust.Tag{3, trust.NoTag} {
		a := trust.AnchorOf(tag, root)
		if a.Tag == trust.NoTag {
			fmt.Printf("%s from a certificate pool\n", a.Subject)
			continue
		}
		fmt.Printf("%s under tag %d\n", a.Subject, a.Tag)
	}
	// Output:
	// CN=Fleet Root under tag 3
	// CN=Fleet Root from a certificate pool
}
