package tlsapp

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/testnet"
)

// TestTransportHTTP1: against a server that prefers h2, the transport
// offers only http/1.1 in ALPN whatever the Config says, speaks HTTP/1.1,
// hands every connection to the hook, and refuses plain http.
func TestTransportHTTP1(t *testing.T) {
	var alpn atomic.Value
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		alpn.Store(r.TLS.NegotiatedProtocol)
		io.WriteString(w, "ok")
	}))
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{newTestPKI(t).Server}, NextProtos: []string{"h2", "http/1.1"}}
	srv.StartTLS()
	defer srv.Close()
	var hooked atomic.Int64
	tr := NewTransport(&Dialer{Config: &Config{RootCAs: newTestPKI(t).Pool, NextProtos: []string{"h2", "http/1.1"}}},
		func(c *Conn) {
			if c.ConnectionState().HandshakeComplete {
				hooked.Add(1)
			}
		})
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	for i := 0; i < 3; i++ {
		resp, err := c.Get(srv.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 1 || alpn.Load() != "http/1.1" {
			t.Fatalf("%s, server negotiated %q", resp.Proto, alpn.Load())
		}
	}
	if n := hooked.Load(); n != 1 {
		t.Errorf("hook called with %d handshaken connections, want 1 (kept alive)", n)
	}
	if _, err := c.Get("http://" + srv.Listener.Addr().String() + "/"); err == nil {
		t.Errorf("a plain http request went through")
	}
}

// TestDialerTimeout: NetDialer.Timeout bounds the handshake too, against a
// server that accepts and never answers.
func TestDialerTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	testnet.Serve(t, ln, 10*time.Second, func(c net.Conn) { io.Copy(io.Discard, c) })
	d := &Dialer{NetDialer: &net.Dialer{Timeout: 200 * time.Millisecond}, Config: &Config{RootCAs: newTestPKI(t).Pool}}
	start := time.Now()
	c, err := d.DialContext(context.Background(), "tcp", ln.Addr().String())
	if err == nil || c != nil {
		t.Fatalf("dial of a silent server: %v, %v", c, err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v, want the deadline", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("took %v", el)
	}
}
