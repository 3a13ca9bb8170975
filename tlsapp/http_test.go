package tlsapp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
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

// tapConn counts the bytes that cross it each way.
type tapConn struct {
	net.Conn
	read, written *atomic.Int64
	closed        *atomic.Int64
}

func (c tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func (c tapConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written.Add(int64(n))
	return n, err
}

func (c tapConn) Close() error {
	c.closed.Add(1)
	return c.Conn.Close()
}

// TestDialTransport: a Dialer's DialTransport carries every byte of the
// connections it dials, through NewTransport too, and is closed after a
// failed handshake; NetDialer's Timeout still bounds the handshake.
func TestDialTransport(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{newTestPKI(t).Server}}
	srv.StartTLS()
	defer srv.Close()
	var read, written, closed, dials atomic.Int64
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		c, err := new(net.Dialer).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return tapConn{c, &read, &written, &closed}, nil
	}
	tr := NewTransport(&Dialer{Config: &Config{RootCAs: newTestPKI(t).Pool}, DialTransport: dial}, nil)
	resp, err := (&http.Client{Transport: tr}).Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	tr.CloseIdleConnections()
	if string(body) != "ok" || dials.Load() != 1 || read.Load() < 500 || written.Load() < 200 {
		t.Errorf("body %q, %d dials, %d B read, %d B written through DialTransport", body, dials.Load(), read.Load(), written.Load())
	}

	// A failed handshake (no trust in the server) closes the transport.
	closed.Store(0)
	d := &Dialer{Config: &Config{RootCAs: x509.NewCertPool()}, DialTransport: dial}
	if c, err := d.DialContext(context.Background(), "tcp", srv.Listener.Addr().String()); err == nil {
		c.Close()
		t.Fatal("handshake with an untrusted server succeeded")
	}
	if closed.Load() != 1 {
		t.Errorf("transport closed %d times after a failed handshake", closed.Load())
	}

	// NetDialer.Timeout bounds the handshake over DialTransport's conn.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	testnet.Serve(t, ln, 10*time.Second, func(c net.Conn) { io.Copy(io.Discard, c) })
	d = &Dialer{NetDialer: &net.Dialer{Timeout: 200 * time.Millisecond}, Config: &Config{RootCAs: newTestPKI(t).Pool}, DialTransport: dial}
	if _, err := d.DialContext(context.Background(), "tcp", ln.Addr().String()); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("silent server: %v, want the deadline", err)
	}
}
