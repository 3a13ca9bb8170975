package tlsapp

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"

	"github.com/tlsapp/tlsapp/recordlimit"
)

// recordingConn keeps every byte the client writes.
type recordingConn struct {
	net.Conn
	mu  sync.Mutex
	out bytes.Buffer
}

func (c *recordingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.out.Write(p)
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// certificateVerifyScheme finds the client's TLS 1.2 CertificateVerify in
// the plaintext handshake records of wire (the client's bytes, up to its
// ChangeCipherSpec) and returns the signature scheme it names.
func certificateVerifyScheme(t *testing.T, wire []byte) (tls.SignatureScheme, bool) {
	t.Helper()
	var hs []byte
	for s := cryptobyte.String(wire); !s.Empty(); {
		var typ uint8
		var vers uint16
		var body cryptobyte.String
		if !s.ReadUint8(&typ) || !s.ReadUint16(&vers) || !s.ReadUint16LengthPrefixed(&body) {
			t.Fatal("malformed record from the client")
		}
		if recordlimit.ContentType(typ) == recordlimit.TypeChangeCipherSpec {
			break
		}
		if recordlimit.ContentType(typ) == recordlimit.TypeHandshake {
			hs = append(hs, body...)
		}
	}
	for s := cryptobyte.String(hs); !s.Empty(); {
		var typ uint8
		var body cryptobyte.String
		if !s.ReadUint8(&typ) || !s.ReadUint24LengthPrefixed(&body) {
			t.Fatal("malformed handshake message from the client")
		}
		var scheme uint16
		if typ == 15 && body.ReadUint16(&scheme) { // certificate_verify
			return tls.SignatureScheme(scheme), true
		}
	}
	return 0, false
}

// TestClientCertificateSignatureAlgorithms: a client certificate's
// SupportedSignatureAlgorithms (for a key that can only sign some ways, a
// token's for one) decide how the client signs, as crypto/tls does; the
// CertificateVerify on the wire names the one allowed. Before the fix the
// list was dropped on the way to utls, and the client signed with the
// first scheme the server asked for (BoGo Client-Sign-Negotiate-*).
func TestClientCertificateSignatureAlgorithms(t *testing.T) {
	p := newTestPKI(t)
	cert := p.Server // ECDSA P-256: TLS 1.2 lets it sign with any ECDSA hash
	for _, want := range []tls.SignatureScheme{tls.ECDSAWithP384AndSHA384, tls.ECDSAWithP521AndSHA512} {
		t.Run(want.String(), func(t *testing.T) {
			addr := startGoServer(t, &tls.Config{ClientAuth: tls.RequireAnyClientCert, MaxVersion: tls.VersionTLS12},
				func(c *tls.Conn) { c.Write([]byte("ok")); c.Close() })
			raw, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			rec := &recordingConn{Conn: raw}
			restricted := cert
			restricted.SupportedSignatureAlgorithms = []tls.SignatureScheme{want}
			c := Client(rec, &Config{ServerName: "localhost", RootCAs: p.Pool, Certificates: []tls.Certificate{restricted}})
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := c.HandshakeContext(ctx); err != nil {
				t.Fatal(err)
			}
			rec.mu.Lock()
			got, ok := certificateVerifyScheme(t, rec.out.Bytes())
			rec.mu.Unlock()
			if !ok {
				t.Fatal("no CertificateVerify from the client")
			}
			if got != want {
				t.Errorf("the client signed with %v, want %v", got, want)
			}
		})
	}
}
