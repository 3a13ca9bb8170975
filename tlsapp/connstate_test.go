package tlsapp

import (
	"bytes"
	"crypto/tls"
	"reflect"
	"testing"
)

// TestConnectionStateComplete: ConnectionState copies everything utls
// reports and what the record layer saw, and its exporter works (issue 11,
// item 7; before the fix ExportKeyingMaterial panicked on a nil exporter,
// and CurveID and TLSUnique were zero). What counts is the server's own
// view: Go's crypto/tls server reports the same version, suite, curve and
// tls-unique, and exports the same keying material.
func TestConnectionStateComplete(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(versionName(v), func(t *testing.T) {
			leakCheck(t)
			states := make(chan tls.ConnectionState, 1)
			addr := startGoServer(t, &tls.Config{MinVersion: v, MaxVersion: v}, func(c *tls.Conn) {
				if c.Handshake() == nil {
					states <- c.ConnectionState()
				}
				echo(c)
			})
			c := dialTest(t, addr, Config{MinVersion: v, MaxVersion: v, RecordSizeLimit: 2048})
			got := c.ConnectionState()
			srv := <-states
			if got.Version != srv.Version || got.CipherSuite != srv.CipherSuite || got.CurveID != srv.CurveID || got.CurveID == 0 {
				t.Errorf("client: version %#x suite %#x curve %v; server: %#x %#x %v",
					got.Version, got.CipherSuite, got.CurveID, srv.Version, srv.CipherSuite, srv.CurveID)
			}
			if !bytes.Equal(got.TLSUnique, srv.TLSUnique) || (v == tls.VersionTLS12) != (len(got.TLSUnique) > 0) {
				t.Errorf("tls-unique %x, server's %x", got.TLSUnique, srv.TLSUnique)
			}
			u := c.u.ConnectionState()
			if !reflect.DeepEqual(got.OCSPResponse, u.OCSPResponse) || !reflect.DeepEqual(got.SignedCertificateTimestamps, u.SignedCertificateTimestamps) ||
				got.ECHAccepted != u.ECHAccepted || !got.HandshakeComplete || len(got.PeerCertificates) == 0 || len(got.VerifiedChains) == 0 {
				t.Errorf("fields differ from utls's state: %+v", got.ConnectionState)
			}
			km, err := got.ExportKeyingMaterial("EXPERIMENTAL tlsapp", []byte("ctx"), 32)
			if err != nil {
				t.Fatal(err)
			}
			want, err := srv.ExportKeyingMaterial("EXPERIMENTAL tlsapp", []byte("ctx"), 32)
			if err != nil || !bytes.Equal(km, want) {
				t.Errorf("exported %x, server exported %x (%v)", km, want, err)
			}
		})
	}
	t.Run("before the handshake", func(t *testing.T) {
		c := Client(nil, &Config{InsecureSkipVerify: true})
		if _, err := c.ConnectionState().ExportKeyingMaterial("x", nil, 8); err == nil {
			t.Error("exporter before the handshake gave no error")
		}
	})
}

// TestConnectionStateHelloRetryRequest: HelloRetryRequest says whether the
// server asked for another key share, as the server itself reports it: one
// that takes only P-256 answers the client's X25519 share with a
// HelloRetryRequest. Before the fix it was always false (BoGo
// TLS13-HelloRetryRequest-Client-*).
func TestConnectionStateHelloRetryRequest(t *testing.T) {
	for _, tt := range []struct {
		name   string
		curves []tls.CurveID
	}{
		{"X25519 share taken", []tls.CurveID{tls.X25519}},
		{"P-256 asked for", []tls.CurveID{tls.CurveP256}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			leakCheck(t)
			states := make(chan tls.ConnectionState, 1)
			addr := startGoServer(t, &tls.Config{MinVersion: tls.VersionTLS13, CurvePreferences: tt.curves}, func(c *tls.Conn) {
				if c.Handshake() == nil {
					states <- c.ConnectionState()
				}
				echo(c)
			})
			c := dialTest(t, addr, Config{})
			got := c.ConnectionState()
			srv := <-states
			if got.HelloRetryRequest != srv.HelloRetryRequest || got.CurveID != srv.CurveID {
				t.Errorf("client: HelloRetryRequest %v, curve %v; server: %v, %v", got.HelloRetryRequest, got.CurveID, srv.HelloRetryRequest, srv.CurveID)
			}
			if srv.HelloRetryRequest != (tt.curves[0] == tls.CurveP256) {
				t.Errorf("the server's HelloRetryRequest is %v: the test's premise does not hold", srv.HelloRetryRequest)
			}
		})
	}
}
