package tlsapp

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/peerproc"
	"github.com/tlsapp/tlsapp/internal/testnet"
	"github.com/tlsapp/tlsapp/internal/wire"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// TestHelloRecordOverMFL runs openssl s_server -tls1_2 behind a relay that
// joins the server's first flight (ServerHello to ServerHelloDone, which
// OpenSSL sends in records of at most 512 bytes once it agreed) into one
// record, and offers max_fragment_length 512. RFC 6066 §4 binds every record
// after the ServerHello message, so the joined record, which continues past
// the hello, is above the agreed length: the handshake fails with a
// RecordOverflowError, and the server receives record_overflow on the wire
// (the relay sees the client send it, and OpenSSL reports it). Issue 17,
// item 7: the record carrying the ServerHello was checked before the
// agreement inside it was read, and the handshake completed.
func TestHelloRecordOverMFL(t *testing.T) {
	bin := peerproc.Require(t, "openssl", "openssl")
	_, cert, key := pemFiles(t)
	target, output := peerproc.StartOutput(t, t.TempDir(), bin, "s_server", "-accept", "127.0.0.1:%PORT%",
		"-cert", cert, "-key", key, "-tls1_2", "-rev")
	var (
		mu        sync.Mutex
		joined    int    // the length of the record the relay made of the flight
		fromFirst []byte // the records the client sent, in order
	)
	addr := testnet.Relay(t, target, 30*time.Second, func(c, s net.Conn) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			b := make([]byte, 4096)
			for {
				n, err := c.Read(b)
				mu.Lock()
				fromFirst = append(fromFirst, b[:n]...)
				mu.Unlock()
				if _, werr := s.Write(b[:n]); err != nil || werr != nil {
					s.(*net.TCPConn).CloseWrite()
					return
				}
			}
		}()
		defer func() { <-done }()
		defer s.Close()
		var flight []byte // handshake bytes of the records held back
		for {
			hdr := make([]byte, wire.HeaderLen)
			if _, err := io.ReadFull(s, hdr); err != nil {
				return
			}
			body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
			if _, err := io.ReadFull(s, body); err != nil {
				return
			}
			if joined != 0 || hdr[0] != byte(recordlimit.TypeHandshake) {
				if _, err := c.Write(append(hdr, body...)); err != nil {
					return
				}
				continue
			}
			flight = append(flight, body...)
			if !endsWithHelloDone(flight) {
				continue
			}
			rec := append([]byte{hdr[0], hdr[1], hdr[2], byte(len(flight) >> 8), byte(len(flight))}, flight...)
			mu.Lock()
			joined = len(flight)
			mu.Unlock()
			if _, err := c.Write(rec); err != nil {
				return
			}
		}
	})

	cfg := Config{ServerName: "localhost", RootCAs: newTestPKI(t).Pool, MaxVersion: tls12, MaxFragmentLength: 512}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, "tcp", addr, &cfg)
	if err == nil {
		c.Close()
	}
	mu.Lock()
	n := joined
	mu.Unlock()
	if n <= 512 {
		t.Fatalf("the relay joined the flight into %d bytes, not above 512 (handshake: %v)", n, err)
	}
	var ov *recordlimit.RecordOverflowError
	if !errors.As(err, &ov) || ov.Len != n || ov.Limit != 512 || !ov.Agreed {
		t.Fatalf("handshake: %v; want a RecordOverflowError for the %d-byte record above the agreed 512", err, n)
	}

	// The client's alert, in the clear: the last record it sent.
	alert := []byte{byte(recordlimit.TypeAlert), 3, 3, 0, 2, 2, byte(recordlimit.AlertRecordOverflow)}
	var sent []byte
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		sent = append(sent[:0], fromFirst...)
		mu.Unlock()
		if strings.Contains(output(), "record overflow") && len(sent) > 0 {
			break
		}
	}
	if !endsWithRecord(sent, alert) {
		t.Errorf("the client's last record is not a fatal record_overflow alert: its bytes end % x", sent[max(0, len(sent)-7):])
	}
	out := output()
	i := strings.Index(out, "record overflow")
	if i < 0 {
		t.Fatalf("openssl did not report a record_overflow alert; its output:\n%s", out)
	}
	line := out[strings.LastIndexByte(out[:i], '\n')+1:]
	t.Logf("openssl: %s", line[:strings.IndexByte(line+"\n", '\n')])
}

const tls12 = 0x0303

// endsWithHelloDone reports whether b, handshake messages, ends with a
// whole ServerHelloDone.
func endsWithHelloDone(b []byte) bool {
	for len(b) >= 4 {
		n := 4 + (int(b[1])<<16 | int(b[2])<<8 | int(b[3]))
		if len(b) < n {
			return false
		}
		if len(b) == n {
			return b[0] == 14
		}
		b = b[n:]
	}
	return false
}

// endsWithRecord reports whether the record stream b ends with the record
// rec.
func endsWithRecord(b, rec []byte) bool {
	var last []byte
	for len(b) >= wire.HeaderLen {
		n := wire.HeaderLen + (int(b[3])<<8 | int(b[4]))
		if len(b) < n {
			return false
		}
		last, b = b[:n], b[n:]
	}
	return len(b) == 0 && string(last) == string(rec)
}
