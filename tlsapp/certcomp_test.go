package tlsapp

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"io"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/scripted"
)

var compressors = map[string]*scripted.Compressor{"zstd": scripted.Zstd, "brotli": scripted.Brotli}

// TestCertificateCompression completes TLS 1.3 handshakes with a server
// that sends its chain as an RFC 8879 CompressedCertificate when the client
// offers the algorithm: the client decompresses and verifies it, and
// receives fewer handshake bytes than with DisableCertCompression, when
// the server sends the chain as it is. No server on this machine compresses
// (Debian 12's GnuTLS is built without zstd and brotli, OpenSSL 3.0 predates
// RFC 8879), so the server is the scripted one.
func TestCertificateCompression(t *testing.T) {
	chain := bigChain(t, x509.ExtKeyUsageServerAuth) // about 5 KiB of repetitive names: compresses well
	received := map[string]int64{}
	for _, tc := range []struct {
		name    string
		alg     string // what the server uses if the client offers it
		disable bool
		wantAlg bool
	}{
		{"zstd", "zstd", false, true},
		{"brotli", "brotli", false, true},
		{"disabled", "zstd", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			comp := compressors[tc.alg]
			offered := make(chan bool, 1)
			addr := scripted.Serve(t, scripted.CertServer(chain.Certificate, chain.PrivateKey.(crypto.Signer), comp,
				func(s *scripted.Session) error {
					offered <- s.OffersCompression(comp.Algorithm)
					return s.SendApp([]byte("firmware"))
				}))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := Dial(ctx, "tcp", addr, &Config{ServerName: "localhost", RootCAs: newTestPKI(t).Pool,
				MinVersion: tls.VersionTLS13, DisableCertCompression: tc.disable})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if got := <-offered; got != tc.wantAlg {
				t.Errorf("client offered %s: %v, want %v", tc.alg, got, tc.wantAlg)
			}
			data, err := io.ReadAll(c)
			if string(data) != "firmware" {
				t.Fatalf("read %q, %v", data, err)
			}
			st := c.RecordState()
			if len(st.Anchors) != 1 || st.Anchors[0].Subject != "CN=tlsapp test CA" {
				t.Errorf("anchors %+v", st.Anchors)
			}
			received[tc.name] = st.HandshakeBytesReceived
		})
	}
	plain := received["disabled"]
	for _, alg := range []string{"zstd", "brotli"} {
		if got := received[alg]; got == 0 || plain == 0 || got > plain-1000 {
			t.Errorf("handshake bytes received: %s %d, uncompressed %d: compression saved too little", alg, got, plain)
		}
	}
	t.Logf("handshake bytes received: zstd %d, brotli %d, uncompressed %d", received["zstd"], received["brotli"], plain)
}
