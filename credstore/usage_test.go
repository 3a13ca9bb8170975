package credstore

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"testing"
	"time"
)

// leafWithUsage issues a certificate for localhost under issuer carrying
// exactly the extended key usages eku (none when empty).
func leafWithUsage(t *testing.T, issuer *testCA, eku ...x509.ExtKeyUsage) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: eku, DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer.cert, &key.PublicKey, issuer.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der, issuer.cert.Raw}, PrivateKey: key}
}

// TestVerifierKeyUsage: the store's verifier accepts a server certificate
// only for server authentication, as crypto/tls does: one whose only
// extended key usage is clientAuth (a device's own certificate, say) or
// codeSigning is refused with x509's IncompatibleUsage, on the wire and
// from Verify; serverAuth, serverAuth with clientAuth, any, or no extended
// key usage at all are accepted.
func TestVerifierKeyUsage(t *testing.T) {
	ctx := context.Background()
	s, roots := fieldStore(t, fieldRoots)
	root := roots["DigiCert Global Root G2"]
	v, err := NewVerifier(ctx, s, 1, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		eku  []x509.ExtKeyUsage
		ok   bool
	}{
		{"clientAuth only", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, false},
		{"codeSigning only", []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}, false},
		{"serverAuth", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, true},
		{"clientAuth and serverAuth", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}, true},
		{"any", []x509.ExtKeyUsage{x509.ExtKeyUsageAny}, true},
		{"none", nil, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			leaf := leafWithUsage(t, root, tt.eku...)
			anchors, err := v.Verify(ctx, "localhost", chainOf(leaf), time.Now())
			var inv x509.CertificateInvalidError
			switch {
			case tt.ok && (err != nil || len(anchors) != 1 || anchors[0].Tag != 3):
				t.Fatalf("Verify: %v, anchors %+v; want tag 3", err, anchors)
			case !tt.ok && (!errors.As(err, &inv) || inv.Reason != x509.IncompatibleUsage):
				t.Fatalf("Verify: %v, anchors %+v; want x509.IncompatibleUsage", err, anchors)
			}
			said, _, err := dialSelection(selectionServer(t, leaf, nil), Select(s, 1, 2, 3))
			if tt.ok != (err == nil) {
				t.Fatalf("handshake with the store's verifier: server said %q, %v; want ok %v", said, err, tt.ok)
			}
			if !tt.ok && (!errors.As(err, &inv) || inv.Reason != x509.IncompatibleUsage) {
				t.Errorf("handshake: %v, want x509.IncompatibleUsage", err)
			}
		})
	}
}

// TestClientCertificateWithoutKey: a tag that holds a client certificate
// and no key (or a key of another certificate) fails the handshake the
// server asked a certificate in, naming the tag, instead of being skipped
// for the next tag or answered with no certificate.
func TestClientCertificateWithoutKey(t *testing.T) {
	ctx := context.Background()
	s, roots := fieldStore(t, fieldRoots)
	clientCA := newCA(t, "Device CA", nil)
	c7, _ := clientPEM(t, clientCA, "device-7")
	if err := s.Put(ctx, Ref{7, ClientCert}, c7); err != nil { // no key
		t.Fatal(err)
	}
	c8, k8 := clientPEM(t, clientCA, "device-8")
	if err := ImportKeyPair(ctx, s, 8, "c8.pem", c8, "k8.pem", k8); err != nil {
		t.Fatal(err)
	}
	c9, _ := clientPEM(t, clientCA, "device-9")
	_, k9other := clientPEM(t, clientCA, "device-9")
	if err := s.Put(ctx, Ref{9, ClientCert}, c9); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, Ref{9, PrivateKey}, k9other); err != nil { // another certificate's key
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(clientCA.cert)
	addr := selectionServer(t, newLeaf(t, roots["DigiCert Global Root G2"], time.Now().Add(time.Hour)), pool)

	for _, tt := range []struct {
		tags []Tag
		want error // nil: device-8 is sent
	}{
		{[]Tag{3, 8}, nil},
		{[]Tag{3, 7, 8}, ErrNotFound},
		{[]Tag{3, 9, 8}, ErrKeyMismatch},
	} {
		sel := Select(s, tt.tags...)
		cert, err := sel.ClientCertificate(ctx)
		if tt.want == nil {
			if err != nil || cert == nil || cert.Leaf.Subject.CommonName != "device-8" {
				t.Errorf("tags %v: ClientCertificate %v; want device-8", tt.tags, err)
			}
		} else if !errors.Is(err, tt.want) || cert != nil {
			t.Errorf("tags %v: ClientCertificate %v, %v; want %v", tt.tags, cert != nil, err, tt.want)
		}
		said, _, err := dialSelection(addr, sel)
		switch {
		case tt.want == nil && (err != nil || said != "device-8"):
			t.Errorf("tags %v: server saw %q, %v; want device-8", tt.tags, said, err)
		case tt.want != nil && (err == nil || !errors.Is(err, tt.want)):
			t.Errorf("tags %v: server saw %q, %v; want the handshake to fail with %v", tt.tags, said, err, tt.want)
		}
	}
}
