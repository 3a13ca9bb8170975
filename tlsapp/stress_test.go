package tlsapp

import (
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// hammer runs a reader, two writers and a state poller on c at once and
// closes c from a fifth goroutine while they run: every goroutine must end
// (the race detector and leakCheck watch the rest).
func hammer(t *testing.T, c net.Conn, state func()) {
	t.Helper()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(4)
	go func() {
		defer wg.Done()
		buf := make([]byte, 1500)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	}()
	for w := range 2 {
		go func() {
			defer wg.Done()
			buf := make([]byte, 6000)
			rand.Read(buf)
			for i := 0; ; i++ {
				if _, err := c.Write(buf[:(i*997+w*31)%len(buf)+1]); err != nil {
					return
				}
			}
		}()
	}
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				state()
			}
		}
	}()
	time.Sleep(150 * time.Millisecond)
	c.Close()
	close(stop)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("Read, Write or the state accessors still running 15 s after Close")
	}
}

// TestConcurrentReadWriteClose drives both guards with a real crypto/tls
// peer on 127.0.0.1, with small records so that every write is split and
// batched: Read, two Writes, the state accessors and Close run at once. Run
// with -race: the two halves of each guard have their own locks and share
// state only under the leaf lock (doc.go in internal/guard), and nothing
// may deadlock or leak a goroutine.
func TestConcurrentReadWriteClose(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(fmt.Sprintf("client/%s", versionName(v)), func(t *testing.T) {
			leakCheck(t)
			addr := startGoServer(t, &tls.Config{MinVersion: v, MaxVersion: v}, func(c *tls.Conn) { io.Copy(c, c) })
			for range 3 {
				c := dialTest(t, addr, Config{MinVersion: v, MaxVersion: v, RecordSizeLimit: 512})
				hammer(t, c, func() { c.RecordState(); c.ConnectionState() })
			}
		})
		t.Run(fmt.Sprintf("server/%s", versionName(v)), func(t *testing.T) {
			leakCheck(t)
			p := newTestPKI(t)
			for range 3 {
				craw, sraw := tcpPair(t)
				sc := Server(sraw, &tls.Config{Certificates: []tls.Certificate{p.Server}, MinVersion: v, MaxVersion: v},
					ServerOptions{MaxRecord: 700})
				done := make(chan struct{})
				go func() {
					defer close(done)
					tc := tls.Client(craw, &tls.Config{ServerName: "localhost", RootCAs: p.Pool})
					tc.SetDeadline(time.Now().Add(20 * time.Second))
					io.Copy(tc, tc)
					craw.Close()
				}()
				hammer(t, sc, func() { sc.Cap(); sc.Offer(); sc.ConnectionState() })
				<-done
			}
		})
	}
}
