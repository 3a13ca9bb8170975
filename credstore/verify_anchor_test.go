package credstore

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/testnet"
	"github.com/tlsapp/tlsapp/trust"
)

var fieldRoots = []string{"Amazon Root CA 1", "Starfield Services Root CA - G2", "DigiCert Global Root G2"}

// serveTLS starts a crypto/tls server on 127.0.0.1 presenting chain and
// returns its address.
func serveTLS(t *testing.T, chain tls.Certificate) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{chain}})
	if err != nil {
		t.Fatal(err)
	}
	testnet.Serve(t, ln, 10*time.Second, func(c net.Conn) { c.(*tls.Conn).Handshake() })
	return ln.Addr().String()
}

// dialVerified connects with crypto/tls, leaving all verification to v
// through VerifyConnection, and returns the anchors v reported.
func dialVerified(addr, serverName string, v trust.Verifier) ([]trust.Anchor, error) {
	var anchors []trust.Anchor
	c, err := tls.Dial("tcp", addr, &tls.Config{
		ServerName:         serverName,
		InsecureSkipVerify: true, // VerifyConnection does it, with v
		VerifyConnection: func(cs tls.ConnectionState) error {
			var err error
			anchors, err = v.Verify(context.Background(), cs.ServerName, cs.PeerCertificates, time.Now())
			return err
		},
	})
	if err != nil {
		return nil, err
	}
	c.Close()
	return anchors, nil
}

// TestFieldScenarioTLS is the field report over a real handshake: three
// roots under three tags, a server whose chain (leaf and intermediate) ends
// at DigiCert Global Root G2. However the roots are stored and whatever the
// order of the tags, the handshake succeeds and names DigiCert and its tag.
func TestFieldScenarioTLS(t *testing.T) {
	reversed := slices.Clone(fieldRoots)
	slices.Reverse(reversed)
	tests := []struct {
		name    string
		stored  []string // subject of tags 1, 2, 3
		tags    []Tag    // the order given to NewVerifier
		wantTag trust.Tag
	}{
		{"stored in field order", fieldRoots, []Tag{1, 2, 3}, 3},
		{"stored in field order, tags reversed", fieldRoots, []Tag{3, 2, 1}, 3},
		{"stored reversed", reversed, []Tag{1, 2, 3}, 1},
		{"stored reversed, tags reversed", reversed, []Tag{3, 2, 1}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, roots := fieldStore(t, tt.stored)
			inter := newCA(t, "DigiCert Global G2 TLS RSA SHA256 2020 CA1", roots["DigiCert Global Root G2"])
			addr := serveTLS(t, newLeaf(t, inter, time.Now().Add(time.Hour)))
			v, err := NewVerifier(context.Background(), s, tt.tags...)
			if err != nil {
				t.Fatal(err)
			}
			anchors, err := dialVerified(addr, "fota.example", v)
			if err != nil {
				t.Fatal(err)
			}
			want := trust.AnchorOf(tt.wantTag, roots["DigiCert Global Root G2"].cert)
			if len(anchors) != 1 || anchors[0] != want {
				t.Errorf("anchors = %+v, want only %+v", anchors, want)
			}
		})
	}

	t.Run("without the right root", func(t *testing.T) {
		s, roots := fieldStore(t, fieldRoots)
		inter := newCA(t, "Intermediate", roots["DigiCert Global Root G2"])
		addr := serveTLS(t, newLeaf(t, inter, time.Now().Add(time.Hour)))
		v, _ := NewVerifier(context.Background(), s, 1, 2)
		_, err := dialVerified(addr, "fota.example", v)
		var nae *NoAnchorError
		if !errors.As(err, &nae) || len(nae.Tried) != 2 || nae.Tried[0].Anchor.Tag != 1 || nae.Tried[1].Anchor.Tag != 2 {
			t.Fatalf("handshake error %v, want a NoAnchorError trying tags 1 and 2", err)
		}
	})
}

// serial numbers the cross-signed certificates, which share a key and so
// cannot come from testpki.
var serial int64 = 10

// crossSigned returns an intermediate CA with one key and one subject,
// certified by each of parents.
func crossSigned(t *testing.T, name string, parents ...*testCA) []*testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var out []*testCA
	for _, p := range parents {
		serial++
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		out = append(out, &testCA{c, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})})
	}
	return out
}

// TestEveryAnchorReported checks that every distinct anchor of the
// verified chains is reported: both roots of a cross-signed intermediate,
// and a root stored under two tags once per tag.
func TestEveryAnchorReported(t *testing.T) {
	ctx := context.Background()
	s, roots := fieldStore(t, fieldRoots)
	amazon, digicert := roots["Amazon Root CA 1"], roots["DigiCert Global Root G2"]

	cross := crossSigned(t, "Cross-signed Intermediate", amazon, digicert)
	leaf := newLeaf(t, cross[0], time.Now().Add(time.Hour))
	chain := append(chainOf(leaf), cross[1].cert) // leaf, intermediate by Amazon, intermediate by DigiCert
	v, err := NewVerifier(ctx, s, 1, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.verifyNow("fota.example", chain)
	if err != nil {
		t.Fatal(err)
	}
	want := []trust.Anchor{trust.AnchorOf(1, amazon.cert), trust.AnchorOf(3, digicert.cert)}
	if !slices.Equal(got, want) {
		t.Errorf("cross-signed: anchors %+v, want %+v", got, want)
	}

	// The same root under a fourth tag: reported for both tags.
	if err := Import(ctx, s, 4, CACert, "digicert-again.pem", digicert.pem); err != nil {
		t.Fatal(err)
	}
	inter := newCA(t, "Intermediate", digicert)
	v, _ = NewVerifier(ctx, s, 4, 1, 2, 3)
	got, err = v.verifyNow("fota.example", chainOf(newLeaf(t, inter, time.Now().Add(time.Hour))))
	want = []trust.Anchor{trust.AnchorOf(4, digicert.cert), trust.AnchorOf(3, digicert.cert)}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("root under two tags: anchors %+v, %v; want %+v", got, err, want)
	}
}

// TestPins checks SPKI pinning per tag: a chain through a pinned tag counts
// only if it holds a pinned key, and other tags are not affected.
func TestPins(t *testing.T) {
	ctx := context.Background()
	s, roots := fieldStore(t, fieldRoots)
	digicert := roots["DigiCert Global Root G2"]
	if err := Import(ctx, s, 4, CACert, "digicert-again.pem", digicert.pem); err != nil {
		t.Fatal(err)
	}
	inter := newCA(t, "Intermediate", digicert)
	leafPair := newLeaf(t, inter, time.Now().Add(time.Hour))
	chain := chainOf(leafPair)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherPin := SPKIHash(&x509.Certificate{RawSubjectPublicKeyInfo: mustPKIX(t, &other.PublicKey)})

	tests := []struct {
		name     string
		tags     []Tag
		pin      func(*Verifier) *Verifier
		wantTags []trust.Tag // nil: verification fails with ErrPinMismatch
	}{
		{"no pins", []Tag{3}, func(v *Verifier) *Verifier { return v }, []Tag{3}},
		{"intermediate pinned", []Tag{3}, func(v *Verifier) *Verifier { return v.WithPins(3, SPKIHash(inter.cert)) }, []Tag{3}},
		{"leaf pinned", []Tag{3}, func(v *Verifier) *Verifier { return v.WithPins(3, SPKIHash(chain[0])) }, []Tag{3}},
		{"root pinned", []Tag{3}, func(v *Verifier) *Verifier { return v.WithPins(3, SPKIHash(digicert.cert)) }, []Tag{3}},
		{"one of two pins matches", []Tag{3}, func(v *Verifier) *Verifier { return v.WithPins(3, otherPin).WithPins(3, SPKIHash(inter.cert)) }, []Tag{3}},
		{"wrong pin", []Tag{3}, func(v *Verifier) *Verifier { return v.WithPins(3, otherPin) }, nil},
		{"pins on another tag", []Tag{1, 3}, func(v *Verifier) *Verifier { return v.WithPins(1, otherPin) }, []Tag{3}},
		{"same root, one tag pinned wrong", []Tag{3, 4}, func(v *Verifier) *Verifier { return v.WithPins(3, otherPin) }, []Tag{4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, err := NewVerifier(ctx, s, tt.tags...)
			if err != nil {
				t.Fatal(err)
			}
			v := tt.pin(base)
			anchors, err := v.verifyNow("fota.example", chain)
			if tt.wantTags == nil {
				var nae *NoAnchorError
				if !errors.Is(err, ErrPinMismatch) || !errors.As(err, &nae) {
					t.Fatalf("err = %v, want a NoAnchorError wrapping ErrPinMismatch", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []trust.Tag
			for _, a := range anchors {
				got = append(got, a.Tag)
			}
			if !slices.Equal(got, tt.wantTags) {
				t.Errorf("anchor tags %v, want %v", got, tt.wantTags)
			}
			// WithPins returned a copy: the base verifier is unpinned.
			if _, err := base.verifyNow("fota.example", chain); err != nil {
				t.Errorf("WithPins changed the verifier it was called on: %v", err)
			}
		})
	}
}

func mustPKIX(t *testing.T, pub any) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestNoAnchorErrorUnwrap checks that the x509 reasons are reachable with
// errors.As through a NoAnchorError, one per anchor tried.
func TestNoAnchorErrorUnwrap(t *testing.T) {
	s, roots := fieldStore(t, fieldRoots[:2])
	v, _ := NewVerifier(context.Background(), s, 1, 2)
	amazon := roots["Amazon Root CA 1"]
	tests := []struct {
		name  string
		host  string
		chain tls.Certificate
		check func(error) bool
	}{
		{"unknown root", "fota.example", newLeaf(t, newCA(t, "DigiCert Global Root G2", nil), time.Now().Add(time.Hour)),
			func(err error) bool { var e x509.UnknownAuthorityError; return errors.As(err, &e) }},
		{"wrong name", "other.example", newLeaf(t, amazon, time.Now().Add(time.Hour)),
			func(err error) bool { var e x509.HostnameError; return errors.As(err, &e) && e.Host == "other.example" }},
		{"expired", "fota.example", newLeaf(t, amazon, time.Now().Add(-time.Hour)),
			func(err error) bool {
				var e x509.CertificateInvalidError
				return errors.As(err, &e) && e.Reason == x509.Expired
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.verifyNow(tt.host, chainOf(tt.chain))
			var nae *NoAnchorError
			if !errors.As(err, &nae) {
				t.Fatalf("err = %v, want a NoAnchorError", err)
			}
			if nae.ServerName != tt.host || len(nae.Unwrap()) != 1+len(nae.Tried) {
				t.Errorf("NoAnchorError %+v", nae)
			}
			for _, tr := range nae.Tried {
				if tr.Err == nil {
					t.Errorf("anchor %q tried without a reason", tr.Anchor.Subject)
				}
			}
			if !tt.check(err) {
				t.Errorf("the x509 reason is not reachable through %v", err)
			}
		})
	}
	if _, err := v.verifyNow("fota.example", nil); err == nil {
		t.Error("an empty chain verified")
	}
}

// TestVerifierConcurrent verifies from many goroutines at once (for -race).
func TestVerifierConcurrent(t *testing.T) {
	s, roots := fieldStore(t, fieldRoots)
	chain := chainOf(newLeaf(t, newCA(t, "Intermediate", roots["DigiCert Global Root G2"]), time.Now().Add(time.Hour)))
	v, _ := NewVerifier(context.Background(), s, 1, 2, 3)
	v = v.WithPins(3, SPKIHash(chain[1]))
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if a, err := v.verifyNow("fota.example", chain); err != nil || len(a) != 1 {
					t.Errorf("VerifyServer: %v, %v", a, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
