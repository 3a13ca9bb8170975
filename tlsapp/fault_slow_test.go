package tlsapp

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/wire"
)

// slack is what the time bounds allow beyond a timeout on a loaded 2-core
// machine under -race.
const slack = 2 * time.Second

// TestFaultTrickle puts a server that sends one byte per write behind the
// client: the handshake completes, slowly, and data still echoes intact.
func TestFaultTrickle(t *testing.T) {
	leakCheck(t)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(versionName(v), func(t *testing.T) {
			srv := startGoServer(t, &tls.Config{MinVersion: v, MaxVersion: v}, echo)
			var writes atomic.Int64
			addr := startFaultRelay(t, srv, func(c net.Conn, _ int, _ wire.Header, rec []byte) bool {
				for i := range rec {
					if _, err := c.Write(rec[i : i+1]); err != nil {
						return false
					}
					writes.Add(1)
					time.Sleep(50 * time.Microsecond)
				}
				return true
			})
			c := dialTest(t, addr, Config{MaxFragmentLength: 512, RecordSizeLimit: 512})
			msg := bytes.Repeat([]byte("trickle "), 300)
			if _, err := c.Write(msg); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("echo: %v", err)
			}
			if n := writes.Load(); n < 1000 {
				t.Fatalf("only %d one-byte writes: the trickle did not happen", n)
			}
		})
	}
}

// stallServer accepts connections, reads everything and never answers.
func stallServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		io.Copy(io.Discard, c)
	}()
	return ln.Addr().String()
}

// TestFaultStallHandshake: a server that stalls before or in the middle of
// its handshake flight cannot hold Dial past its context, whether the
// context times out or is cancelled.
func TestFaultStallHandshake(t *testing.T) {
	const timeout = 300 * time.Millisecond
	stallAfter := func(records int) func(t *testing.T) string {
		return func(t *testing.T) string {
			srv := startGoServer(t, &tls.Config{MinVersion: tls.VersionTLS13}, echo)
			stop := make(chan struct{})
			addr := startFaultRelay(t, srv, func(c net.Conn, idx int, h wire.Header, rec []byte) bool {
				if idx >= records {
					select { // stall until the test ends
					case <-stop:
					case <-time.After(10 * time.Second):
					}
					return false
				}
				return forward(c, idx, h, rec)
			})
			t.Cleanup(func() { close(stop) }) // runs before the relay's cleanup
			return addr
		}
	}
	for _, tt := range []struct {
		name   string
		server func(t *testing.T) string
	}{
		{"no answer", stallServer},
		{"after ServerHello", stallAfter(2)},
		{"after EncryptedExtensions", stallAfter(3)},
	} {
		for _, cancelIt := range []bool{false, true} {
			name := tt.name + "/timeout"
			if cancelIt {
				name = tt.name + "/cancel"
			}
			t.Run(name, func(t *testing.T) {
				leakCheck(t)
				addr := tt.server(t)
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				defer cancel()
				want := context.DeadlineExceeded
				if cancelIt {
					ctx, cancel = context.WithCancel(context.Background())
					defer cancel()
					time.AfterFunc(timeout, cancel)
					want = context.Canceled
				}
				start := time.Now()
				c, err := Dial(ctx, "tcp", addr, &Config{ServerName: "localhost", RootCAs: newTestPKI(t).Pool, RecordSizeLimit: 1024})
				within(t, "Dial", time.Since(start), timeout+slack)
				if err == nil {
					c.Close()
					t.Fatal("Dial succeeded")
				}
				if !errors.Is(err, want) {
					t.Fatalf("err = %v, want %v", err, want)
				}
			})
		}
	}
}

// TestFaultStallAfterHandshake: once connected, a server that sends nothing
// cannot hold a Read past its deadline, nor one that reads nothing a Write
// past its deadline; both report a timeout (os.ErrDeadlineExceeded).
func TestFaultStallAfterHandshake(t *testing.T) {
	const timeout = 300 * time.Millisecond
	t.Run("read", func(t *testing.T) {
		leakCheck(t)
		srv := startGoServer(t, &tls.Config{}, func(c *tls.Conn) {
			c.Handshake()
			time.Sleep(3 * time.Second)
		})
		c := dialTest(t, srv, Config{RecordSizeLimit: 2048})
		c.SetReadDeadline(time.Now().Add(timeout))
		start := time.Now()
		n, err := c.Read(make([]byte, 100))
		within(t, "Read", time.Since(start), timeout+slack)
		if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Read = %d, %v; want a deadline error", n, err)
		}
		c.Close()
	})
	t.Run("write", func(t *testing.T) {
		leakCheck(t)
		release := make(chan struct{})
		srv := startGoServer(t, &tls.Config{}, func(c *tls.Conn) {
			c.Handshake()
			<-release
		})
		defer close(release)
		c := dialTest(t, srv, Config{RecordSizeLimit: 2048})
		c.SetWriteDeadline(time.Now().Add(timeout))
		start := time.Now()
		_, err := c.Write(make([]byte, 64<<20))
		within(t, "Write", time.Since(start), timeout+slack)
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Write error %v; want a deadline error", err)
		}
		c.Close()
	})
}
