package tlsapp

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/wire"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// TestFaultCutMidHandshake cuts the server's side of real handshakes (Go's
// crypto/tls server behind a relay) in the middle of a record header, of the
// ServerHello and of a later handshake record: Dial fails at once with an
// end-of-stream error, not a hang, and leaves no goroutine. (Which one: see
// TestFaultTruncationIsUnexpectedEOF.)
func TestFaultCutMidHandshake(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		for _, cut := range []struct {
			name   string
			record int // which server record to cut
			keep   int // how many of its bytes reach the client
		}{
			{"mid header", 0, 3},
			{"mid ServerHello", 0, 30},
			{"mid later record", 2, 10},
		} {
			t.Run(fmt.Sprintf("%s/%s", versionName(v), cut.name), func(t *testing.T) {
				leakCheck(t)
				srv := startGoServer(t, &tls.Config{MinVersion: v, MaxVersion: v}, echo)
				addr := startFaultRelay(t, srv, func(c net.Conn, idx int, h wire.Header, rec []byte) bool {
					if idx == cut.record {
						c.Write(rec[:min(cut.keep, len(rec)-1)])
						return false
					}
					return forward(c, idx, h, rec)
				})
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				start := time.Now()
				c, err := Dial(ctx, "tcp", addr, &Config{ServerName: "localhost", RootCAs: newTestPKI(t).Pool, RecordSizeLimit: 2048})
				within(t, "Dial", time.Since(start), 5*time.Second)
				if err == nil {
					c.Close()
					t.Fatal("handshake over a cut connection succeeded")
				}
				if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
					t.Fatalf("err = %v (%T), want io.ErrUnexpectedEOF or io.EOF", err, err)
				}
			})
		}
	}
}

// TestFaultCutMidRecord cuts the connection in the middle of the fifth
// 2048-byte application data record: the client's reads deliver exactly the
// four whole records before it (nothing of the cut one), then
// io.ErrUnexpectedEOF.
func TestFaultCutMidRecord(t *testing.T) {
	const chunk, n = 2048, 16
	data := make([]byte, chunk*n)
	for i := range data {
		data[i] = byte(i * 7)
	}
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(versionName(v), func(t *testing.T) {
			leakCheck(t)
			srv := startGoServer(t, &tls.Config{MinVersion: v, MaxVersion: v, SessionTicketsDisabled: true, DynamicRecordSizingDisabled: true}, func(c *tls.Conn) {
				for i := 0; i < len(data); i += chunk {
					if _, err := c.Write(data[i : i+chunk]); err != nil {
						return
					}
				}
			})
			// Application records of 2048 bytes: + 16-byte tag and the inner
			// type byte in TLS 1.3, + 8-byte nonce and tag in TLS 1.2 GCM.
			dataLen := chunk + 17
			if v == tls.VersionTLS12 {
				dataLen = chunk + 24
			}
			seen := 0
			addr := startFaultRelay(t, srv, func(c net.Conn, idx int, h wire.Header, rec []byte) bool {
				if h.Type == recordlimit.TypeApplicationData && h.Len == dataLen {
					if seen++; seen == 5 {
						c.Write(rec[:len(rec)/2])
						return false
					}
				}
				return forward(c, idx, h, rec)
			})
			c := dialTest(t, addr, Config{RecordSizeLimit: 4096, CipherSuites: []uint16{
				tls.TLS_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}})
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			var got []byte
			buf := make([]byte, 1000)
			var err error
			for err == nil {
				var k int
				k, err = c.Read(buf)
				got = append(got, buf[:k]...)
			}
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("err = %v, want io.ErrUnexpectedEOF", err)
			}
			if !bytes.Equal(got, data[:4*chunk]) {
				t.Fatalf("read %d bytes (a prefix: %v), want exactly the %d of the whole records",
					len(got), bytes.Equal(got, data[:min(len(got), len(data))]), 4*chunk)
			}
		})
	}
}

// TestFaultCutMidWrite closes the server while the client is in the middle
// of a 4 MiB Write: the Write ends with a network error (reset or broken
// pipe), not a hang, reports fewer bytes than asked, and every later Write
// fails too.
func TestFaultCutMidWrite(t *testing.T) {
	leakCheck(t)
	srv := startGoServer(t, &tls.Config{}, func(c *tls.Conn) {
		io.CopyN(io.Discard, c, 64<<10)
		// Closing with unread bytes queued makes the kernel send RST.
	})
	c := dialTest(t, srv, Config{RecordSizeLimit: 2048})
	c.SetWriteDeadline(time.Now().Add(20 * time.Second))
	start := time.Now()
	n, err := c.Write(make([]byte, 4<<20))
	within(t, "Write", time.Since(start), 10*time.Second)
	if err == nil || n >= 4<<20 {
		t.Fatalf("Write = %d, %v; want a short write and an error", n, err)
	}
	var op *net.OpError
	if !errors.As(err, &op) || op.Timeout() {
		t.Errorf("err = %v (%T), want a *net.OpError from the transport", err, err)
	}
	if _, err := c.Write([]byte("again")); err == nil {
		t.Error("Write after a failed Write succeeded")
	}
}

// TestFaultTruncationIsUnexpectedEOF checks that a connection cut inside a
// record the guard holds back (a record header, a ServerHello, TLS 1.3
// EncryptedExtensions) is reported as io.ErrUnexpectedEOF, like a cut inside
// any other record, and not as io.EOF, which the TLS stack reserves for a
// close at a record boundary.
func TestFaultTruncationIsUnexpectedEOF(t *testing.T) {
	for _, cut := range []struct {
		name         string
		record, keep int
	}{
		{"mid header", 0, 3},
		{"mid ServerHello", 0, 30},
		{"mid EncryptedExtensions", 2, 10},
	} {
		t.Run(cut.name, func(t *testing.T) {
			srv := startGoServer(t, &tls.Config{MinVersion: tls.VersionTLS13}, echo)
			addr := startFaultRelay(t, srv, func(c net.Conn, idx int, h wire.Header, rec []byte) bool {
				if idx == cut.record {
					c.Write(rec[:cut.keep])
					return false
				}
				return forward(c, idx, h, rec)
			})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := Dial(ctx, "tcp", addr, &Config{ServerName: "localhost", RootCAs: newTestPKI(t).Pool, RecordSizeLimit: 2048})
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
			}
		})
	}
}
