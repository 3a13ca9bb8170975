package credstore

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/testnet"
	"github.com/tlsapp/tlsapp/internal/testpki"
	"github.com/tlsapp/tlsapp/tlsapp"
	"github.com/tlsapp/tlsapp/trust"
)

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

// newCA issues a CA certificate for name, valid for a day, signed by parent
// (self-signed when nil).
func newCA(t *testing.T, name string, parent *testCA) *testCA {
	t.Helper()
	var issuer *testpki.Cert
	if parent != nil {
		issuer = &testpki.Cert{Cert: parent.cert, Key: parent.key}
	}
	c := testpki.Issue(t, name, true, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), issuer)
	return &testCA{c.Cert, c.Key, c.PEM}
}

// newLeaf issues a server certificate for fota.example and localhost,
// valid until notAfter, and returns it with issuer as its chain.
func newLeaf(t *testing.T, issuer *testCA, notAfter time.Time) tls.Certificate {
	t.Helper()
	c := testpki.Issue(t, "fota.example", false, time.Now().Add(-2*time.Hour), notAfter,
		&testpki.Cert{Cert: issuer.cert, Key: issuer.key}, "fota.example", "localhost")
	return tls.Certificate{Certificate: [][]byte{c.Cert.Raw, issuer.cert.Raw}, PrivateKey: c.Key}
}

// fieldStore holds the three roots of the field report under tags 1, 2, 3
// in the given order, and returns the DigiCert one.
func fieldStore(t *testing.T, names []string) (Store, map[string]*testCA) {
	s := NewMemory()
	roots := map[string]*testCA{}
	for i, name := range names {
		roots[name] = newCA(t, name, nil)
		if err := Import(context.Background(), s, Tag(i+1), CACert, name+".pem", roots[name].pem); err != nil {
			t.Fatal(err)
		}
	}
	return s, roots
}

func chainOf(c tls.Certificate) []*x509.Certificate {
	var out []*x509.Certificate
	for _, der := range c.Certificate {
		x, _ := x509.ParseCertificate(der)
		out = append(out, x)
	}
	return out
}

// TestFieldScenario is the field report: three roots stored in a fixed
// order, a server anchored at the third. Every anchor is considered at
// once, in either order, and the one that verified is named.
func TestFieldScenario(t *testing.T) {
	order := []string{"Amazon Root CA 1", "Starfield Services Root CA - G2", "DigiCert Global Root G2"}
	for _, names := range [][]string{order, {order[2], order[1], order[0]}} {
		t.Run(names[0], func(t *testing.T) {
			s, roots := fieldStore(t, names)
			inter := newCA(t, "DigiCert Global G2 TLS RSA SHA256 2020 CA1", roots["DigiCert Global Root G2"])
			leaf := newLeaf(t, inter, time.Now().Add(time.Hour))
			v, err := NewVerifier(context.Background(), s, 1, 2, 3)
			if err != nil {
				t.Fatal(err)
			}
			anchors, err := v.verifyNow("fota.example", chainOf(leaf))
			if err != nil {
				t.Fatal(err)
			}
			wantTag := Tag(3)
			if names[0] == "DigiCert Global Root G2" {
				wantTag = 1
			}
			if len(anchors) != 1 || anchors[0].Subject != "CN=DigiCert Global Root G2" || anchors[0].Tag != wantTag {
				t.Errorf("anchors %+v, want DigiCert Global Root G2 under tag %d", anchors, wantTag)
			}
		})
	}
}

// TestFieldScenarioEndToEnd runs the same through tlsapp.Dial against a
// local server.
func TestFieldScenarioEndToEnd(t *testing.T) {
	s, roots := fieldStore(t, []string{"Amazon Root CA 1", "Starfield Services Root CA - G2", "DigiCert Global Root G2"})
	inter := newCA(t, "Intermediate", roots["DigiCert Global Root G2"])
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{newLeaf(t, inter, time.Now().Add(time.Hour))}})
	if err != nil {
		t.Fatal(err)
	}
	testnet.Serve(t, ln, 10*time.Second, func(c net.Conn) { c.Write([]byte("ok")) })
	v, err := NewVerifier(context.Background(), s, 1, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := tlsapp.Dial(ctx, "tcp", ln.Addr().String(), &tlsapp.Config{ServerName: "localhost", Verifier: v, RecordSizeLimit: 2048})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.ReadAll(conn)
	st := conn.RecordState()
	if len(st.Anchors) != 1 || st.Anchors[0].Tag != 3 || st.Anchors[0].Subject != "CN=DigiCert Global Root G2" {
		t.Errorf("RecordState.Anchors = %+v", st.Anchors)
	}
}

// TestNoAnchorError checks that a chain no anchor verifies is refused with
// every anchor tried and its reason, for an unknown root, a wrong name and
// an expired leaf.
func TestNoAnchorError(t *testing.T) {
	s, roots := fieldStore(t, []string{"Amazon Root CA 1", "Starfield Services Root CA - G2"})
	other := newCA(t, "DigiCert Global Root G2", nil)
	v, _ := NewVerifier(context.Background(), s, 1, 2)
	tests := []struct {
		name, host string
		chain      tls.Certificate
		want       string
	}{
		{"unknown root", "fota.example", newLeaf(t, other, time.Now().Add(time.Hour)), "unknown authority"},
		{"wrong name", "other.example", newLeaf(t, roots["Amazon Root CA 1"], time.Now().Add(time.Hour)), "other.example"},
		{"expired", "fota.example", newLeaf(t, roots["Amazon Root CA 1"], time.Now().Add(-time.Hour)), "expired"},
	}
	for _, tt := range tests {
		_, err := v.verifyNow(tt.host, chainOf(tt.chain))
		var nae *NoAnchorError
		if !errors.As(err, &nae) || len(nae.Tried) != 2 {
			t.Fatalf("%s: %v", tt.name, err)
		}
		msg := err.Error()
		if !strings.Contains(msg, "Amazon Root CA 1") || !strings.Contains(msg, "Starfield Services Root CA - G2") || !strings.Contains(msg, tt.want) {
			t.Errorf("%s: error does not list the anchors and the reason: %s", tt.name, msg)
		}
	}
	if _, err := NewVerifier(context.Background(), s, 5); !errors.Is(err, ErrNotFound) {
		t.Errorf("verifier over an empty tag: %v", err)
	}
}

var _ net.Conn = (*tlsapp.Conn)(nil)

// verifyNow is Verify at the current time, for tests.
func (v *Verifier) verifyNow(serverName string, chain []*x509.Certificate) ([]trust.Anchor, error) {
	return v.Verify(context.Background(), serverName, chain, time.Now())
}
