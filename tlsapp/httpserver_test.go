package tlsapp_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/testpki"
	"github.com/tlsapp/tlsapp/tlsapp"
)

// helperPKI is a CA, a server certificate for 127.0.0.1 and a device's
// client certificate.
type helperPKI struct {
	ca             *testpki.Cert
	server, device *testpki.Cert
	pool           *x509.CertPool
}

func newHelperPKI(t *testing.T) helperPKI {
	now := time.Now()
	ca := testpki.Issue(t, "helper CA", true, now.Add(-time.Hour), now.Add(time.Hour), nil)
	p := helperPKI{ca: ca, pool: x509.NewCertPool(),
		server: testpki.Issue(t, "server", false, now.Add(-time.Hour), now.Add(time.Hour), ca, "127.0.0.1"),
		device: testpki.Issue(t, "device-7", false, now.Add(-time.Hour), now.Add(time.Hour), ca)}
	p.pool.AddCert(ca.Cert)
	return p
}

// seen is what a handler saw of its request's connection.
type seen struct {
	TLS         bool   `json:"tls"`
	Complete    bool   `json:"complete"`
	Version     uint16 `json:"version"`
	Peer        string `json:"peer"`
	State       bool   `json:"state"`
	OfferedRSL  int    `json:"offered_rsl"`
	OfferedMFL  int    `json:"offered_mfl"`
	Cap         int    `json:"cap"`
	LargestSent int    `json:"largest_sent"`
	Records     int64  `json:"records"`
	UserCtx     bool   `json:"user_ctx"`
}

type userKey struct{}

// reporter answers every request with what it saw, as JSON, after a body
// of ?n= bytes... kept simple: /big sends 64 KiB first, then the report.
func reporter(w http.ResponseWriter, r *http.Request) {
	var s seen
	if r.TLS != nil {
		s.TLS, s.Complete, s.Version = true, r.TLS.HandshakeComplete, r.TLS.Version
		if len(r.TLS.PeerCertificates) > 0 {
			s.Peer = r.TLS.PeerCertificates[0].Subject.CommonName
		}
	}
	st, ok := tlsapp.ServerStateFrom(r.Context())
	s.State, s.OfferedRSL, s.OfferedMFL, s.Cap, s.LargestSent, s.Records = ok, st.OfferedRecordSizeLimit, st.OfferedMaxFragmentLength, st.Cap, st.LargestSent, st.RecordsSent
	s.UserCtx = r.Context().Value(userKey{}) != nil
	if r.URL.Path == "/big" {
		w.Write(make([]byte, 64<<10))
		return
	}
	json.NewEncoder(w).Encode(s)
}

// TestServeTLS serves an http.Server with ServeTLS and checks, from a
// device that authenticates with a certificate and asks for
// record_size_limit 1024: the records it received stay within the cap,
// handlers see Request.TLS with the device's certificate and the state with
// its offer, the cap and the largest record sent (equal to the largest the
// device received), and a ConnContext set before is kept.
func TestServeTLS(t *testing.T) {
	p := newHelperPKI(t)
	srv := &http.Server{
		Handler: http.HandlerFunc(reporter),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{p.server.TLS()},
			ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: p.pool},
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, userKey{}, true)
		},
		ReadHeaderTimeout: 10 * time.Second,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- tlsapp.ServeTLS(srv, ln, "", "", tlsapp.ServerOptions{MaxRecord: 4096}) }()

	var conn *tlsapp.Conn
	tr := tlsapp.NewTransport(&tlsapp.Dialer{Config: &tlsapp.Config{RootCAs: p.pool,
		Certificates: []tls.Certificate{p.device.TLS()}, RecordSizeLimit: 1024, MaxFragmentLength: 2048}}, nil)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	get := func(path string) []byte {
		t.Helper()
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) { conn = info.Conn.(*tlsapp.Conn) }})
		req, _ := http.NewRequestWithContext(ctx, "GET", "https://"+ln.Addr().String()+path, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.Proto != "HTTP/1.1" {
			t.Errorf("%s", resp.Proto)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	get("/big")
	first := conn
	received := conn.RecordState()
	var s seen
	if err := json.Unmarshal(get("/report"), &s); err != nil {
		t.Fatal(err)
	}
	if conn != first {
		t.Fatal("the second request went on a new connection")
	}
	// TLS 1.3: record_size_limit 1024 leaves 1023 content bytes; the
	// records carry the inner content type and a 16-byte tag besides.
	if received.LargestReceived > 1023+1+16 || received.LargestReceived < 1000 {
		t.Errorf("the device received records of up to %d bytes; it asked for 1024", received.LargestReceived)
	}
	want := seen{TLS: true, Complete: true, Version: tls.VersionTLS13, Peer: "device-7", State: true,
		OfferedRSL: 1024, OfferedMFL: 2048, Cap: 1023, LargestSent: received.LargestReceived, Records: s.Records, UserCtx: true}
	if s != want {
		t.Errorf("the handler saw\n%+v\nwant\n%+v", s, want)
	}
	if s.Records < received.RecordsReceived {
		t.Errorf("the server counts %d records sent before the report; the device received %d before it", s.Records, received.RecordsReceived)
	}

	srv.Close()
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("ServeTLS returned %v, want http.ErrServerClosed", err)
	}
}

// TestServeTLSHTTP1Only: a client offering h2 first gets http/1.1 in ALPN
// and an HTTP/1.1 answer, even when the server's config names h2.
func TestServeTLSHTTP1Only(t *testing.T) {
	p := newHelperPKI(t)
	srv := &http.Server{Handler: http.HandlerFunc(reporter),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{p.server.TLS()}, NextProtos: []string{"h2", "http/1.1"}}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go tlsapp.ServeTLS(srv, ln, "", "", tlsapp.ServerOptions{})
	defer srv.Close()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.pool}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("https://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s seen
	json.NewDecoder(resp.Body).Decode(&s)
	if resp.Proto != "HTTP/1.1" || resp.TLS.NegotiatedProtocol != "http/1.1" {
		t.Errorf("%s over ALPN %q, want HTTP/1.1 over http/1.1", resp.Proto, resp.TLS.NegotiatedProtocol)
	}
	if !s.TLS || !s.Complete || s.Peer != "" || s.OfferedRSL != 0 || s.Cap != 16384 {
		t.Errorf("a crypto/tls client without a certificate or an offer: the handler saw %+v", s)
	}
}

// TestServeTLSCertificates: the certificate from files, a missing one, and
// ListenAndServeTLS on srv.Addr.
func TestServeTLSCertificates(t *testing.T) {
	p := newHelperPKI(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, p.server.PEM, 0o600)
	os.WriteFile(keyFile, p.server.KeyPEM, 0o600)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := tlsapp.ServeTLS(&http.Server{}, ln, "", "", tlsapp.ServerOptions{}); err == nil {
		t.Error("ServeTLS without a certificate returned nil")
	}
	if err := tlsapp.ServeTLS(&http.Server{}, ln, certFile, filepath.Join(dir, "missing.pem"), tlsapp.ServerOptions{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ServeTLS with a missing key file: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()

	var served atomic.Int64
	srv := &http.Server{Addr: addr, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		reporter(w, r)
	})}
	done := make(chan error, 1)
	go func() { done <- tlsapp.ListenAndServeTLS(srv, certFile, keyFile, tlsapp.ServerOptions{MaxRecord: 512}) }()
	tr := tlsapp.NewTransport(&tlsapp.Dialer{Config: &tlsapp.Config{RootCAs: p.pool}}, nil)
	defer tr.CloseIdleConnections()
	var resp *http.Response
	for i := 0; ; i++ {
		if resp, err = (&http.Client{Transport: tr}).Get("https://" + addr + "/"); err == nil || i == 100 {
			break
		}
		time.Sleep(10 * time.Millisecond) // until ListenAndServeTLS listens
	}
	if err != nil {
		t.Fatal(err)
	}
	var s seen
	json.NewDecoder(resp.Body).Decode(&s)
	resp.Body.Close()
	if served.Load() != 1 || !s.State || s.Cap != 512 {
		t.Errorf("ListenAndServeTLS with --max-record 512: the handler saw %+v", s)
	}
	srv.Close()
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("ListenAndServeTLS returned %v", err)
	}
}

// TestNewListenerRequestTLS: an http.Server over NewListener alone gets a
// Request.TLS that net/http took before the handshake (no certificate), and
// no state in the context; with ConnContext the state is there.
func TestNewListenerRequestTLS(t *testing.T) {
	p := newHelperPKI(t)
	for _, withCtx := range []bool{false, true} {
		inner, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(reporter)}
		if withCtx {
			srv.ConnContext = tlsapp.ConnContext
		}
		go srv.Serve(tlsapp.NewListener(inner, &tls.Config{Certificates: []tls.Certificate{p.server.TLS()},
			NextProtos: []string{"http/1.1"}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: p.pool}, tlsapp.ServerOptions{}))
		tr := tlsapp.NewTransport(&tlsapp.Dialer{Config: &tlsapp.Config{RootCAs: p.pool,
			Certificates: []tls.Certificate{p.device.TLS()}, RecordSizeLimit: 2048}}, nil)
		resp, err := (&http.Client{Transport: tr}).Get("https://" + inner.Addr().String() + "/")
		if err != nil {
			t.Fatal(err)
		}
		var s seen
		json.NewDecoder(resp.Body).Decode(&s)
		resp.Body.Close()
		tr.CloseIdleConnections()
		srv.Close()
		if s.Complete || s.Peer != "" || s.State != withCtx || withCtx && (s.OfferedRSL != 2048 || s.Cap != 2047) {
			t.Errorf("ConnContext %v: the handler saw %+v", withCtx, s)
		}
	}
}
