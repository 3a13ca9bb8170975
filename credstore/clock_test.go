package credstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/tlsapp"
)

// TestConfigTimeOnEveryPath: tlsapp.Config.Time is the clock of every
// verification path (issue 11, item 8): with a clock ten years ahead the
// server's certificate has expired for RootCAs, for a credstore Verifier and
// for Credentials alike, and the server's handshake fails; with the real
// clock all three succeed. Before the fix Verifier and Credentials ignored
// Config.Time and succeeded.
func TestConfigTimeOnEveryPath(t *testing.T) {
	ctx := context.Background()
	s := NewMemory()
	ca := newCA(t, "Clock CA", nil)
	if err := Import(ctx, s, 1, CACert, "ca.pem", ca.pem); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	v, err := NewVerifier(ctx, s, 1)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{newLeaf(t, ca, time.Now().Add(time.Hour))}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	serverErrs := make(chan error, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			err = c.(*tls.Conn).Handshake()
			if err == nil {
				_, err = c.Read(make([]byte, 1)) // the client's verdict comes after its Finished in TLS 1.3
				if errors.Is(err, io.EOF) {
					err = nil
				}
			}
			c.Close()
			serverErrs <- err
		}
	}()
	later := func() time.Time { return time.Now().AddDate(10, 0, 0) }
	for _, tt := range []struct {
		name string
		cfg  tlsapp.Config
	}{
		{"RootCAs", tlsapp.Config{RootCAs: pool}},
		{"Verifier", tlsapp.Config{Verifier: v}},
		{"Credentials", tlsapp.Config{Credentials: Select(s, 1)}},
	} {
		for _, clock := range []func() time.Time{nil, later} {
			name := tt.name + "/now"
			if clock != nil {
				name = tt.name + "/ten years ahead"
			}
			t.Run(name, func(t *testing.T) {
				cfg := tt.cfg
				cfg.ServerName, cfg.Time = "localhost", clock
				dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				c, err := tlsapp.Dial(dctx, "tcp", ln.Addr().String(), &cfg)
				if err == nil {
					c.Close()
				}
				serverErr := <-serverErrs
				var invalid x509.CertificateInvalidError
				expired := errors.As(err, &invalid) && invalid.Reason == x509.Expired
				if clock == nil && (err != nil || serverErr != nil) {
					t.Fatalf("client error %v, server error %v", err, serverErr)
				}
				if clock != nil && (!expired || serverErr == nil) {
					t.Fatalf("client error %v (want an expired certificate), server error %v", err, serverErr)
				}
			})
		}
	}
}
