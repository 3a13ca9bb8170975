package tlsapp

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/testnet"
)

// TestFaultLoad runs 500 connections at once (100 with -short) against an
// in-process crypto/tls server. Each client offers record_size_limit and
// max_fragment_length 2048 and uploads 256 KiB; the server, which ignores
// both extensions, writes back the SHA-256 of what it got and then 256 KiB of
// its own in Write calls of at most 2048 bytes. Every byte arrives intact
// (SHA-256 both ways), no record the client receives exceeds 2048 bytes of
// content, no goroutine is left, and the heap per open connection (client
// and server side together) is logged.
func TestFaultLoad(t *testing.T) {
	leakCheck(t)
	conns := 500
	if testing.Short() {
		conns = 100
	}
	const size, chunk = 256 << 10, 2048

	payload := func(seed uint64) []byte {
		r := rand.New(rand.NewPCG(seed, 1))
		b := make([]byte, size)
		for i := 0; i+8 <= len(b); i += 8 {
			binary.LittleEndian.PutUint64(b[i:], r.Uint64())
		}
		return b
	}
	// The server's connections get no deadline of their own: under the
	// race detector on a loaded machine the 500 transfers take longer than
	// startGoServer's 30 s, and a crypto/tls server whose write times out
	// mid-record and then closes sends the client a cut record followed by
	// close_notify, which the client reads as bad_record_mac. The client's
	// deadline bounds the test instead, and reports a timeout as one.
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{newTestPKI(t).Server}})
	if err != nil {
		t.Fatal(err)
	}
	srv := ln.Addr().String()
	testnet.Serve(t, ln, 0, func(nc net.Conn) {
		c := nc.(*tls.Conn)
		var seed [8]byte
		if _, err := io.ReadFull(c, seed[:]); err != nil {
			return
		}
		h := sha256.New()
		if _, err := io.CopyN(h, c, size); err != nil {
			return
		}
		if _, err := c.Write(h.Sum(nil)); err != nil {
			return
		}
		out := payload(binary.BigEndian.Uint64(seed[:]))
		for i := 0; i < len(out); i += chunk {
			if _, err := c.Write(out[i : i+chunk]); err != nil {
				return
			}
		}
		io.Copy(io.Discard, c) // until the client closes
	})

	var before, open runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()

	var wg, done sync.WaitGroup
	release := make(chan struct{})
	errs := make(chan error, conns)
	cfg := &Config{ServerName: "localhost", RootCAs: newTestPKI(t).Pool, RecordSizeLimit: 2048, MaxFragmentLength: 2048}
	for i := range conns {
		wg.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			var c *Conn
			err := func() error {
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
				defer cancel()
				var err error
				if c, err = Dial(ctx, "tcp", srv, cfg); err != nil {
					return err
				}
				c.SetDeadline(time.Now().Add(3 * time.Minute))
				var seed [8]byte
				binary.BigEndian.PutUint64(seed[:], uint64(i))
				up := payload(uint64(i) + 1<<32)
				if _, err := c.Write(append(seed[:], up...)); err != nil {
					return err
				}
				sum := make([]byte, sha256.Size)
				if _, err := io.ReadFull(c, sum); err != nil {
					return err
				}
				if want := sha256.Sum256(up); string(sum) != string(want[:]) {
					return fmt.Errorf("connection %d: upload corrupted", i)
				}
				h := sha256.New()
				if _, err := io.CopyN(h, c, size); err != nil {
					return err
				}
				if want := sha256.Sum256(payload(uint64(i))); string(h.Sum(nil)) != string(want[:]) {
					return fmt.Errorf("connection %d: download corrupted", i)
				}
				// 2048 bytes of content, tag and type byte: 2065.
				if st := c.RecordState(); st.LargestReceived > chunk+17 {
					return fmt.Errorf("connection %d: a %d-byte record arrived", i, st.LargestReceived)
				}
				return nil
			}()
			if err != nil {
				errs <- err
			}
			wg.Done() // data moved; hold the connection open until all are measured
			<-release
			if c != nil {
				c.Close()
			}
		}()
	}
	wg.Wait() // every connection has moved its data and is still open
	runtime.GC()
	runtime.ReadMemStats(&open)
	moved := time.Since(start)
	close(release)
	done.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d connections, 256 KiB each way, in %v; heap with all open: %d KiB per connection (client and server side)",
		conns, moved.Round(time.Millisecond), (int64(open.HeapInuse)-int64(before.HeapInuse))/int64(conns)>>10)
}
