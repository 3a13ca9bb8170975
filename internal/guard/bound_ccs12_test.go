package guard_test

import (
	"crypto/tls"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/guard"
	"github.com/tlsapp/tlsapp/internal/testpki"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// TestClientBadFramingAfterCCS12: a record the client guard cannot frame
// (an unknown content type, a version that is not TLS) that a TLS 1.2
// server sends after its ChangeCipherSpec is replaced, for the stack, by a
// record that makes it fail. The stack reads every record after the
// server's ChangeCipherSpec under the server's keys, so whatever the
// replacement, the alert it sends is bad_record_mac, encrypted; the guard,
// which cannot read the stack's alert, must report (FatalAlert, as the
// client's own) the alert the server receives, which a crypto/tls server
// decrypts and reports here.
func TestClientBadFramingAfterCCS12(t *testing.T) {
	cert := testpki.Issue(t, "guard test", false, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), nil).TLS()
	for _, tc := range []struct {
		name string
		bad  []byte
	}{
		{"unknown type", []byte{99, 3, 3, 0, 1, 0}},
		{"version 2.0", []byte{ctAppData, 2, 0, 0, 1, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cconn, sconn := net.Pipe()
			defer cconn.Close()
			defer sconn.Close()
			deadline := time.Now().Add(10 * time.Second)
			cconn.SetDeadline(deadline)
			sconn.SetDeadline(deadline)

			srvErr := make(chan error, 1)
			go func() {
				s := tls.Server(sconn, &tls.Config{
					Certificates:           []tls.Certificate{cert},
					MaxVersion:             tls.VersionTLS12,
					SessionTicketsDisabled: true,
				})
				if err := s.Handshake(); err != nil {
					srvErr <- err
					return
				}
				// After the server's ChangeCipherSpec and Finished, a
				// record the client cannot frame.
				if _, err := sconn.Write(tc.bad); err != nil {
					srvErr <- err
					return
				}
				_, err := s.Read(make([]byte, 100))
				srvErr <- err
			}()

			g := guard.NewConn(cconn, recordlimit.Offer{})
			c := tls.Client(g, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12})
			if err := c.Handshake(); err != nil {
				t.Fatalf("handshake: %v", err)
			}
			if _, err := c.Read(make([]byte, 100)); err == nil {
				t.Fatal("the client read past the bad record")
			}
			err := <-srvErr
			var op *net.OpError
			if !errors.As(err, &op) || op.Op != "remote error" {
				t.Fatalf("the server: %v; want the client's alert", err)
			}
			a, remote, ok := g.FatalAlert()
			if !ok || remote || op.Err.Error() != tls.AlertError(a).Error() {
				t.Fatalf("FatalAlert %d (%v), remote %v; the server received %q", a, ok, remote, op.Err)
			}
			if op.Err.Error() != tls.AlertError(recordlimit.AlertBadRecordMAC).Error() {
				t.Fatalf("the server received %q, want bad_record_mac", op.Err)
			}
			if !errors.Is(g.Err(), recordlimit.ErrBadRecord) {
				t.Fatalf("Err: %v, want ErrBadRecord", g.Err())
			}
		})
	}
}
