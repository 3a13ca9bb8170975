package main

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/tlsapp/tlsapp/internal/peerproc"
)

// peerFiles writes a throw-away CA, and a server certificate and key for
// 127.0.0.1 that it issued, as PEM files.
func peerFiles(t *testing.T) (ca, cert, key string) {
	t.Helper()
	ta, err := newThrowaway("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyDER, err := x509.MarshalPKCS8PrivateKey(ta.Server.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, cert, key = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(ca, pemCert(ta.CA), 0o644)
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ta.Server.Certificate[0]}), 0o644)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	return ca, cert, key
}

// TestProbePeers runs probe against real servers and checks that it reports
// what each was measured to do: OpenSSL honours max_fragment_length and
// ignores record_size_limit; GnuTLS honours record_size_limit in both
// versions and max_fragment_length in TLS 1.3, and in TLS 1.2 echoes
// max_fragment_length and then sends larger records.
func TestProbePeers(t *testing.T) {
	type want map[string]string // "version extension" -> result
	tests := []struct {
		name   string
		bin    string
		pkg    string
		args   func(cert, key string) []string
		expect want
	}{
		{"openssl", "openssl", "openssl", func(cert, key string) []string {
			return []string{"s_server", "-accept", "127.0.0.1:%PORT%", "-cert", cert, "-key", key, "-WWW", "-quiet"}
		}, want{"TLS 1.2 max_fragment_length": "agreed", "TLS 1.3 max_fragment_length": "agreed",
			"TLS 1.2 record_size_limit": "ignored", "TLS 1.3 record_size_limit": "ignored"}},
		{"gnutls", "gnutls-serv", "gnutls-bin", func(cert, key string) []string {
			return []string{"--http", "-p", "%PORT%", "--x509certfile", cert, "--x509keyfile", key, "--priority", "NORMAL:%ALLOW_SMALL_RECORDS"}
		}, want{"TLS 1.3 max_fragment_length": "agreed", "TLS 1.2 record_size_limit": "agreed", "TLS 1.3 record_size_limit": "agreed",
			// Its HTTP page (~1 KB) goes out in one record despite the echo.
			"TLS 1.2 max_fragment_length 512": "violated"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin := peerproc.Require(t, tt.bin, tt.pkg)
			ca, cert, key := peerFiles(t)
			addr := peerproc.Start(t, t.TempDir(), bin, tt.args(cert, key)...)
			r := runBin(t, "probe", "--json", "--ca", ca, "--read-time", "1s", addr)
			var rep probeReport
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
				t.Fatalf("probe exited %d: %v", r.code, err)
			}
			if len(rep.Cases) != 16 {
				t.Fatalf("%d cases", len(rep.Cases))
			}
			for _, c := range rep.Cases {
				key := c.Version + " " + c.Extension
				w, ok := tt.expect[key]
				if exact, found := tt.expect[fmt.Sprintf("%s %d", key, c.Limit)]; found {
					w, ok = exact, true
				}
				if ok && c.Result != w {
					t.Errorf("%s %d: %s (%s), want %s", key, c.Limit, c.Result, c.Error, w)
				}
				if c.Result == "agreed" && !c.Within {
					t.Errorf("%s %d: agreed but largest record %d above %d", key, c.Limit, c.LargestReceived, c.Bound)
				}
			}
			if len(rep.Anchors) != 1 || !rep.Anchors[0].Verifies {
				t.Errorf("anchors %+v", rep.Anchors)
			}
			if !rep.Verdict.Works {
				t.Errorf("verdict %+v: a 2048-byte device works with %s", rep.Verdict, tt.name)
			}
		})
	}
}
