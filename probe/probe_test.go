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
	// The chain is the one the server sent (its leaf alone), from the
	// first connection that succeeded; without a device limit no Range
	// measurement is made.
	if len(r.Chain) != 1 || r.Chain[0].Subject != "CN=127.0.0.1" || r.Chain[0].Issuer != "CN=probe test CA" ||
		r.ChainBytes != len(p.leaf.Cert.Raw) || r.Chain[0].Bytes != r.ChainBytes || !r.Chain[0].NotAfter.Equal(p.leaf.Cert.NotAfter) {
		t.Errorf("chain %+v (%d bytes), want the leaf of %d bytes", r.Chain, r.ChainBytes, len(p.leaf.Cert.Raw))
	}
	if r.Range != nil || r.RangeError != "" {
		t.Errorf("range %+v %q measured without a device limit", r.Range, r.RangeError)
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

// TestRunMostTellingFailure: a server that does only TLS 1.2 with a chain
// no given anchor issued fails both versions; the report's failure is the
// certificate's (the TLS 1.2 one), not the TLS 1.3 refusal that came after
// it, and the TLS 1.3 connection names the alert the server sent.
func TestRunMostTellingFailure(t *testing.T) {
	p, other := newPKI(t, time.Now().Add(time.Hour)), newPKI(t, time.Now().Add(time.Hour))
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{p.leaf.TLS()}, MaxVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	r := runProbe(t, ln.Addr().String(), tlsapp.Config{RootCAs: other.pool})
	if r.Failure == nil || r.Failure.Kind != FailUnknownAuthority {
		t.Fatalf("failure %+v, want %s", r.Failure, FailUnknownAuthority)
	}
	if len(r.Versions) != 2 || r.Versions[1].Failure == nil {
		t.Fatalf("versions %+v", r.Versions)
	}
	if f := r.Versions[1].Failure; f.Kind != FailAlert || f.Alert != "protocol_version" {
		t.Errorf("TLS 1.3 against a TLS 1.2 server: %+v, want %s protocol_version", f, FailAlert)
	}
}

// TestDeviceLimitBounds: Options.DeviceLimit is 0 (none) or a
// record_size_limit a device can have, 64 to 16384 bytes: one byte
// outside either end is refused before anything is dialled.
func TestDeviceLimitBounds(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // every dial is refused at once
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tc := range []struct {
		limit int
		ok    bool
	}{{0, true}, {63, false}, {64, true}, {16384, true}, {16385, false}, {-1, false}} {
		r, err := Run(ctx, Options{Addr: addr, DeviceLimit: tc.limit, Timeout: time.Second, ReadTime: 10 * time.Millisecond})
		if tc.ok != (err == nil) || tc.ok != (r != nil) {
			t.Errorf("device limit %d: %v; want ok %v", tc.limit, err, tc.ok)
		}
		if tc.ok && (r.Failure == nil || r.Failure.Kind != FailConnect) {
			t.Errorf("device limit %d: failure %+v, want %s", tc.limit, r.Failure, FailConnect)
		}
	}
}
