package guard

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/tlsapp/tlsapp/internal/wire"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// TestServerFollowsClientFlightCuts: the server guard follows a TLS 1.2
// client's flight however it is cut, into records of every size from one
// byte and into transport reads of several sizes: the head of a
// Certificate of exactly 256 KiB reaches the stack byte for byte, and that
// of one of 256 KiB + 1 never does (the records from the one that completes its header are replaced by
// the record that makes crypto/tls send decode_error), and Read then
// returns the guard's error, matching ErrProtocol.
func TestServerFollowsClientFlightCuts(t *testing.T) {
	for _, n := range []int{maxCertificateMessage, maxCertificateMessage + 1} {
		msg := append([]byte{typeCertificate, byte(n >> 16), byte(n >> 8), byte(n)}, make([]byte, min(n, 3000))...)
		for _, recSize := range []int{1, 2, 3, 5, 700, recordlimit.MaxPlaintext} {
			flight := AppendRecords(nil, recordlimit.TypeHandshake, 0x0303, msg, recSize)
			for _, chunk := range []int{1, 7, 1024, wire.MaxRecord} {
				t.Run(fmt.Sprintf("%d/records of %d/reads of %d", n, recSize, chunk), func(t *testing.T) {
					cc := &chunkConn{stream: flight, n: chunk}
					g := NewServerConn(cc, 0)
					// As after a ClientHello answered with a TLS 1.2
					// ServerHello.
					g.in.first, g.version = &recordExtensions{}, wire.VersionTLS12
					var got []byte
					p := make([]byte, 1024)
					var err error
					for range 1 << 20 {
						var k int
						k, err = g.Read(p)
						got = append(got, p[:k]...)
						if err != nil {
							break
						}
					}
					if n <= maxCertificateMessage {
						// The client's records, whole, then its end.
						if !errors.Is(err, io.EOF) || !bytes.Equal(got, flight) {
							t.Fatalf("Read: %v after %d of the client's %d bytes (equal: %v)", err, len(got), len(flight), bytes.Equal(got, flight))
						}
						return
					}
					if !errors.Is(err, recordlimit.ErrProtocol) {
						t.Fatalf("Read: %v, want ErrProtocol", err)
					}
					if a, _ := recordlimit.AlertOf(g.Err()); a != recordlimit.AlertDecodeError {
						t.Fatalf("Err %v, want decode_error", g.Err())
					}
					// What came before the record completing the header,
					// then the signal.
					hdrEnd := 0 // records whose bytes hold the first 4 message bytes
					for covered := 0; covered < 4; hdrEnd++ {
						covered += min(recSize, len(msg)-covered)
					}
					want := append(bytes.Clone(flight[:(hdrEnd-1)*(wire.HeaderLen+recSize)]), signalDecodeError[:]...)
					if !bytes.Equal(got, want) {
						t.Fatalf("the stack got % x, want % x", got, want)
					}
				})
			}
		}
	}
}
