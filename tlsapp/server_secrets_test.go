package tlsapp

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/wire"
)

// tcpPair returns the two ends of a TCP connection on 127.0.0.1.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// TestServerHandshakeSecretsWiped: the server guard holds the TLS 1.3
// handshake traffic secrets (the server's to re-encrypt its flight, the
// client's to follow the client's) only while it needs them, as the
// client's guard does (TestHandshakeSecretsWiped; issue 20): after a
// handshake that succeeded, a client that refused the server's
// certificate, a cut, a deadline, a client certificate above its bound,
// and Close while the handshake waits for the client, it holds none, nor
// any key derived from them. Before, the server's guard never wiped on
// failure or close and had no Close.
func TestServerHandshakeSecretsWiped(t *testing.T) {
	p := newTestPKI(t)
	huge := chainOfSize(t, tls.VersionTLS13, bigClientChain(t), wire.MaxCertificateMessage+1)
	for _, tt := range []struct {
		name    string
		client  func(raw net.Conn, release <-chan struct{}) *tls.Config
		auth    bool
		timeout time.Duration
		close   bool // close the server while the client holds back its flight
		wantErr bool
	}{
		{name: "success", client: func(net.Conn, <-chan struct{}) *tls.Config {
			return &tls.Config{ServerName: "localhost", RootCAs: p.Pool}
		}},
		{name: "client refuses the certificate", wantErr: true, client: func(net.Conn, <-chan struct{}) *tls.Config {
			return &tls.Config{ServerName: "localhost"}
		}},
		{name: "cut during the client's flight", auth: true, wantErr: true, client: func(raw net.Conn, _ <-chan struct{}) *tls.Config {
			return &tls.Config{ServerName: "localhost", RootCAs: p.Pool,
				GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
					raw.Close()
					return &tls.Certificate{}, nil
				}}
		}},
		{name: "deadline", auth: true, timeout: 300 * time.Millisecond, wantErr: true, client: func(_ net.Conn, release <-chan struct{}) *tls.Config {
			return &tls.Config{ServerName: "localhost", RootCAs: p.Pool,
				GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
					<-release
					return &tls.Certificate{}, nil
				}}
		}},
		{name: "client certificate above its bound", auth: true, wantErr: true, client: func(net.Conn, <-chan struct{}) *tls.Config {
			return &tls.Config{ServerName: "localhost", RootCAs: p.Pool, Certificates: []tls.Certificate{huge}}
		}},
		{name: "Close during the handshake", auth: true, close: true, wantErr: true, client: func(_ net.Conn, release <-chan struct{}) *tls.Config {
			return &tls.Config{ServerName: "localhost", RootCAs: p.Pool,
				GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
					<-release
					return &tls.Certificate{}, nil
				}}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			leakCheck(t)
			craw, sraw := tcpPair(t)
			release := make(chan struct{})
			cfg := &tls.Config{Certificates: []tls.Certificate{p.Server}, MinVersion: tls.VersionTLS13}
			if tt.auth {
				cfg.ClientAuth = tls.RequireAnyClientCert
			}
			sc := Server(sraw, cfg, ServerOptions{MaxRecord: 1024})
			done := make(chan struct{})
			go func() {
				defer close(done)
				tc := tls.Client(craw, tt.client(craw, release))
				tc.SetDeadline(time.Now().Add(10 * time.Second))
				if tc.Handshake() == nil {
					tc.Read(make([]byte, 1)) // the server's verdict on the client's flight
				}
				craw.Close()
			}()
			if tt.close {
				go func() {
					for !sc.guard.HoldsSecrets() {
						time.Sleep(time.Millisecond)
					}
					sc.Close()
				}()
			}
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			err := sc.HandshakeContext(ctx)
			if (err != nil) != tt.wantErr {
				t.Errorf("handshake error %v, want an error: %v", err, tt.wantErr)
			}
			if tt.close && !errors.Is(err, net.ErrClosed) {
				t.Logf("handshake error after Close: %v", err)
			}
			if sc.guard.HoldsSecrets() {
				t.Errorf("the server guard still holds handshake secrets (handshake error %v)", err)
			}
			sc.Close()
			close(release)
			<-done
		})
	}
}
