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

// TestRecordStateCertCompression checks that RecordState names the
// algorithm the server compressed its chain with, as the scripted server
// sent it on the wire (its CompressedCertificate carries the algorithm), and
// 0 when the chain went uncompressed.
func TestRecordStateCertCompression(t *testing.T) {
	chain := bigChain(t, x509.ExtKeyUsageServerAuth)
	for _, tc := range []struct {
		name    string
		comp    *scripted.Compressor
		disable bool
		want    uint16
	}{
		{"zstd", scripted.Zstd, false, 3},
		{"brotli", scripted.Brotli, false, 2},
		{"not offered", scripted.Zstd, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := scripted.Serve(t, scripted.CertServer(chain.Certificate, chain.PrivateKey.(crypto.Signer), tc.comp,
				func(s *scripted.Session) error { return s.SendApp([]byte("ok")) }))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := Dial(ctx, "tcp", addr, &Config{ServerName: "localhost", RootCAs: newTestPKI(t).Pool,
				MinVersion: tls.VersionTLS13, DisableCertCompression: tc.disable})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			io.ReadAll(c)
			if got := c.RecordState().CertCompression; got != tc.want {
				t.Errorf("CertCompression %d, want %d", got, tc.want)
			}
		})
	}
}
