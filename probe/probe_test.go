package probe

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/scripted"
	"github.com/tlsapp/tlsapp/internal/testpki"
	"github.com/tlsapp/tlsapp/tlsapp"
)

// pki is a CA and a leaf for 127.0.0.1 it issued.
type pki struct {
	ca, leaf *testpki.Cert
	pool     *x509.CertPool
}

func newPKI(t *testing.T, leafNotAfter time.Time) pki {
	now := time.Now()
	ca := testpki.Issue(t, "probe test CA", true, now.Add(-48*time.Hour), now.Add(48*time.Hour), nil)
	leaf := testpki.Issue(t, "127.0.0.1", false, now.Add(-47*time.Hour), leafNotAfter, ca, "127.0.0.1")
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return pki{ca, leaf, pool}
}

// httpServer serves body at every path over TLS on 127.0.0.1, through
// tlsapp.NewListener with maxRecord (0: Go's crypto/tls as it is).
func httpServer(t *testing.T, cert tls.Certificate, maxRecord int, body []byte) string {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}}
	var ln net.Listener
	if maxRecord > 0 {
		ln = tlsapp.NewListener(inner, cfg, tlsapp.ServerOptions{MaxRecord: maxRecord})
	} else {
		ln = tls.NewListener(inner, cfg)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "fw.bin", time.Unix(1700000000, 0), strings.NewReader(string(body)))
	}), ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return inner.Addr().String()
}

func runProbe(t *testing.T, addr string, cfg tlsapp.Config) *Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := Run(ctx, Options{Addr: addr, Config: cfg, ReadTime: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRunCappedServer probes a server that caps its records at 2048 bytes
// without answering either extension (tlsapp.NewListener, like tlsapp
// serve --max-record 2048), over a 1 MiB body: the verdict for a 2048-byte
// device is "works (capped without answering)", and the report's figures
// are the wire's.
func TestRunCappedServer(t *testing.T) {
	p := newPKI(t, time.Now().Add(24*time.Hour))
	addr := httpServer(t, p.leaf.TLS(), 2048, make([]byte, 1<<20))
	r := runProbe(t, addr, tlsapp.Config{RootCAs: p.pool})
	if r.Failure != nil {
		t.Fatalf("failure %+v", r.Failure)
	}
	for _, c := range r.Versions {
		b := recordBound(c.VersionCode, c.SuiteCode, 2048)
		if c.Result != ResultOK || c.LargestReceived > b || c.LargestReceived < b-64 {
			t.Errorf("%s: %s, largest %d, bound %d", c.Version, c.Result, c.LargestReceived, b)
		}
		if got := c.Largest.Received["application_data"]; got != c.LargestReceived {
			t.Errorf("%s: largest application_data %d, largest %d", c.Version, got, c.LargestReceived)
		}
		if c.Status != 200 || c.HeaderBytes < 100 || c.BodyBytes+int64(c.HeaderBytes) != c.ResponseBytes || c.ResponseBytes != 256<<10 {
			t.Errorf("%s: status %d, header %d, body %d, response %d", c.Version, c.Status, c.HeaderBytes, c.BodyBytes, c.ResponseBytes)
		}
		if len(c.FirstResponse) != MaxLayout || c.FirstResponse[0] != b {
			t.Errorf("%s: layout %v", c.Version, c.FirstResponse)
		}
	}
	for _, c := range r.Cases {
		if c.Result != ResultIgnored {
			t.Errorf("%s %s %d: %s, want ignored", c.Version, c.Extension, c.Limit, c.Result)
		}
	}
	if r.CertCompression == nil || r.CertCompression.Algorithm != "none" {
		t.Errorf("compression %+v: Go's server does not compress", r.CertCompression)
	}
	v := r.Verdict(2048)
	if v.Kind != WorksCapped {
		t.Errorf("verdict %+v", v)
	}
	// A device limit of 1024 is below the server's cap for clients that
	// offer nothing.
	if v := r.Verdict(1024); v.Kind != WorksCapped || !strings.Contains(v.Recommend, "offer") {
		t.Errorf("1024: %+v: the server keeps to an offered 1024 without answering", v)
	}
}

// TestRunUncappedServer probes Go's crypto/tls server: 16 KiB records, the
// verdict fails, and a small answer only fits by luck.
func TestRunUncappedServer(t *testing.T) {
	p := newPKI(t, time.Now().Add(24*time.Hour))
	big := runProbe(t, httpServer(t, p.leaf.TLS(), 0, make([]byte, 1<<20)), tlsapp.Config{RootCAs: p.pool})
	if v := big.Verdict(2048); v.Kind != Fails {
		t.Errorf("1 MiB: %+v", v)
	}
	small := runProbe(t, httpServer(t, p.leaf.TLS(), 0, make([]byte, 1000)), tlsapp.Config{RootCAs: p.pool})
	if v := small.Verdict(2048); v.Kind != Luck {
		t.Errorf("1000 B: %+v", v)
	}
}

// TestRunFailureCause checks that a failed handshake is reported with its
// cause, told apart with errors.As: an expired leaf, and a chain no given
// anchor issued.
func TestRunFailureCause(t *testing.T) {
	expired := newPKI(t, time.Now().Add(-time.Hour))
	good := newPKI(t, time.Now().Add(time.Hour))
	other := newPKI(t, time.Now().Add(time.Hour))
	for _, tc := range []struct {
		name string
		cert tls.Certificate
		pool *x509.CertPool
		kind FailureKind
		leaf bool
	}{
		{"expired leaf", expired.leaf.TLS(), expired.pool, FailExpired, true},
		{"unknown CA", good.leaf.TLS(), other.pool, FailUnknownAuthority, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runProbe(t, httpServer(t, tc.cert, 0, []byte("x")), tlsapp.Config{RootCAs: tc.pool})
			f := r.Failure
			if f == nil || f.Kind != tc.kind || f.Leaf != tc.leaf || f.Certificate != "CN=127.0.0.1" {
				t.Fatalf("failure %+v, want %s", f, tc.kind)
			}
			if !f.Verification() || len(r.Cases) != 0 || len(r.Chain) != 0 {
				t.Errorf("verification %v, %d cases, chain %v", f.Verification(), len(r.Cases), r.Chain)
			}
			if tc.kind == FailExpired && (f.NotAfter == nil || !f.NotAfter.Equal(tc.cert.Leaf.NotAfter)) {
				t.Errorf("not after %v, want %v", f.NotAfter, tc.cert.Leaf.NotAfter)
			}
			if v := r.Verdict(2048); v.Kind != Fails || !strings.Contains(v.Recommend, "--ca") {
				t.Errorf("verdict %+v", v)
			}
		})
	}
}

// TestRunCertCompression checks that the algorithm comes from the
// handshake: the scripted server compresses its chain with zstd.
func TestRunCertCompression(t *testing.T) {
	p := newPKI(t, time.Now().Add(time.Hour))
	chain := [][]byte{p.leaf.Cert.Raw, p.ca.Cert.Raw}
	addr := scripted.ServeEach(t, scripted.CertServer(chain, crypto.Signer(p.leaf.Key), scripted.Zstd, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := Run(ctx, Options{Addr: addr, Config: tlsapp.Config{RootCAs: p.pool}, ReadTime: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cc := r.CertCompression
	if cc == nil || cc.Algorithm != "zstd" || cc.HandshakeBytesUncompressed <= cc.HandshakeBytesReceived {
		t.Errorf("compression %+v", cc)
	}
}
