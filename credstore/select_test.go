package credstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/testnet"
	"github.com/tlsapp/tlsapp/internal/testpki"
	"github.com/tlsapp/tlsapp/tlsapp"
	"github.com/tlsapp/tlsapp/trust"
)

// clientPEM issues a client-auth certificate for cn under issuer and returns
// it and its key as PEM.
func clientPEM(t *testing.T, issuer *testCA, cn string) (certPEM, keyPEM []byte) {
	t.Helper()
	c := testpki.Issue(t, cn, false, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), &testpki.Cert{Cert: issuer.cert, Key: issuer.key})
	return c.PEM, c.KeyPEM
}

// selectionServer starts a crypto/tls server on 127.0.0.1 presenting chain.
// With clientCAs it requires a client certificate issued by them. Each
// connection gets the client certificate's common name (or "none") and is
// closed. Session tickets are on.
func selectionServer(t *testing.T, chain tls.Certificate, clientCAs *x509.CertPool) string {
	t.Helper()
	cfg := &tls.Config{Certificates: []tls.Certificate{chain}}
	if clientCAs != nil {
		cfg.ClientCAs, cfg.ClientAuth = clientCAs, tls.RequireAndVerifyClientCert
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	testnet.Serve(t, ln, 10*time.Second, func(c net.Conn) {
		tc := c.(*tls.Conn)
		if tc.Handshake() != nil {
			return
		}
		name := "none"
		if pc := tc.ConnectionState().PeerCertificates; len(pc) > 0 {
			name = pc[0].Subject.CommonName
		}
		tc.Write([]byte(name))
	})
	return ln.Addr().String()
}

// dialSelection connects through tlsapp with sel and returns what the
// server said and the connection's record state.
func dialSelection(addr string, sel trust.Credentials) (string, tlsapp.RecordState, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := tlsapp.Dial(ctx, "tcp", addr, &tlsapp.Config{ServerName: "localhost", Credentials: sel, RecordSizeLimit: 2048})
	if err != nil {
		return "", tlsapp.RecordState{}, err
	}
	defer c.Close()
	said, err := io.ReadAll(c)
	if err != nil {
		return "", tlsapp.RecordState{}, err
	}
	return string(said), c.RecordState(), nil
}

// TestSelectionFieldScenario runs the field report through
// tlsapp.Config.Credentials: the store's roots in either order, the tags in
// either order; the connection succeeds and names the DigiCert root's tag.
func TestSelectionFieldScenario(t *testing.T) {
	reversed := slices.Clone(fieldRoots)
	slices.Reverse(reversed)
	for _, tt := range []struct {
		name    string
		stored  []string
		tags    []Tag
		wantTag trust.Tag
	}{
		{"field order", fieldRoots, []Tag{1, 2, 3}, 3},
		{"field order, tags reversed", fieldRoots, []Tag{3, 2, 1}, 3},
		{"stored reversed", reversed, []Tag{1, 2, 3}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, roots := fieldStore(t, tt.stored)
			inter := newCA(t, "Intermediate", roots["DigiCert Global Root G2"])
			addr := selectionServer(t, newLeaf(t, inter, time.Now().Add(time.Hour)), nil)
			said, st, err := dialSelection(addr, Select(s, tt.tags...))
			if err != nil {
				t.Fatal(err)
			}
			if said != "none" {
				t.Errorf("client sent a certificate (%s) it does not hold", said)
			}
			if len(st.Anchors) != 1 || st.Anchors[0].Tag != tt.wantTag || st.Anchors[0].Subject != "CN=DigiCert Global Root G2" {
				t.Errorf("anchors %+v, want tag %d DigiCert Global Root G2", st.Anchors, tt.wantTag)
			}
		})
	}
}

// TestSelectionClientCertificate checks mutual TLS from the store: the
// first selected tag holding a client certificate answers the server's
// request; a selection without one sends none and the server refuses it.
func TestSelectionClientCertificate(t *testing.T) {
	ctx := context.Background()
	s, roots := fieldStore(t, fieldRoots)
	clientCA := newCA(t, "Device CA", nil)
	for tag, cn := range map[Tag]string{7: "device-7", 8: "device-8"} {
		certPEM, keyPEM := clientPEM(t, clientCA, cn)
		if err := ImportKeyPair(ctx, s, tag, cn+".pem", certPEM, cn+".key", keyPEM); err != nil {
			t.Fatal(err)
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(clientCA.cert)
	addr := selectionServer(t, newLeaf(t, roots["DigiCert Global Root G2"], time.Now().Add(time.Hour)), pool)

	for _, tt := range []struct {
		tags []Tag
		want string // "" means the handshake must fail
	}{
		{[]Tag{1, 2, 3, 7}, "device-7"},
		{[]Tag{8, 3, 7}, "device-8"},
		{[]Tag{1, 2, 3}, ""},
	} {
		said, _, err := dialSelection(addr, Select(s, tt.tags...))
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("tags %v: server accepted a client without a certificate (%q)", tt.tags, said)
		case tt.want != "" && (err != nil || said != tt.want):
			t.Errorf("tags %v: server saw %q, %v; want %q", tt.tags, said, err, tt.want)
		}
	}
}

// TestSelectionSessions checks that WithSessions keeps session state in the
// store: a second connection with a fresh Selection over the same store
// resumes and exchanges fewer handshake bytes.
func TestSelectionSessions(t *testing.T) {
	s, roots := fieldStore(t, fieldRoots)
	addr := selectionServer(t, newLeaf(t, roots["DigiCert Global Root G2"], time.Now().Add(time.Hour)), nil)
	_, first, err := dialSelection(addr, Select(s, 1, 2, 3).WithSessions(9))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(context.Background(), Ref{9, SessionState}); err != nil {
		t.Fatalf("no session state saved under tag 9: %v", err)
	}
	_, second, err := dialSelection(addr, Select(s, 1, 2, 3).WithSessions(9))
	if err != nil {
		t.Fatal(err)
	}
	if first.Resumed || !second.Resumed {
		t.Fatalf("resumed: first %v, second %v", first.Resumed, second.Resumed)
	}
	if second.HandshakeBytesReceived >= first.HandshakeBytesReceived {
		t.Errorf("resumed handshake received %d bytes, full one %d", second.HandshakeBytesReceived, first.HandshakeBytesReceived)
	}
	if len(second.Anchors) != 1 || second.Anchors[0].Tag != 3 {
		t.Errorf("resumed connection anchors %+v, want tag 3", second.Anchors)
	}
}

// TestSelectionErrors checks what a careful user must not get silently: a
// selection with no CA, a selection combined with other trust settings, and
// a store changed between connections.
func TestSelectionErrors(t *testing.T) {
	ctx := context.Background()
	s, roots := fieldStore(t, fieldRoots)
	addr := selectionServer(t, newLeaf(t, roots["DigiCert Global Root G2"], time.Now().Add(time.Hour)), nil)

	if _, _, err := dialSelection(addr, Select(s, 40, 41)); !errors.Is(err, ErrNotFound) {
		t.Errorf("tags without CA certificates: %v, want ErrNotFound", err)
	}
	for _, cfg := range []*tlsapp.Config{
		{ServerName: "localhost", Credentials: Select(s, 1), RootCAs: x509.NewCertPool()},
		{ServerName: "localhost", Credentials: Select(s, 1), InsecureSkipVerify: true},
	} {
		if _, err := tlsapp.Dial(ctx, "tcp", addr, cfg); !errors.Is(err, tlsapp.ErrConfig) {
			t.Errorf("conflicting trust settings: %v, want ErrConfig", err)
		}
	}
	// The store is read at each handshake: without DigiCert, nothing
	// verifies, and the error lists the anchors tried.
	sel := Select(s, 1, 2, 3)
	if _, _, err := dialSelection(addr, sel); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, Ref{3, CACert}); err != nil {
		t.Fatal(err)
	}
	_, _, err := dialSelection(addr, sel)
	var nae *NoAnchorError
	if !errors.As(err, &nae) || len(nae.Tried) != 2 {
		t.Fatalf("after deleting tag 3: %v, want a NoAnchorError over 2 anchors", err)
	}
}
