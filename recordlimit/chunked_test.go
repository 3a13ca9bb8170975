package recordlimit

import (
	"bytes"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// opCountConn records the size of each Write it passes on.
type opCountConn struct {
	net.Conn
	mu     sync.Mutex
	writes []int
}

func (c *opCountConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes = append(c.writes, len(p))
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func FuzzChunked(f *testing.F) {
	f.Add(uint8(1), uint8(1), []byte("a modem that takes one byte at a time"))
	f.Add(uint8(7), uint8(255), bytes.Repeat([]byte{0x17, 3, 3, 0, 4, 1, 2, 3, 4}, 50))
	f.Add(uint8(0), uint8(3), []byte{})
	f.Fuzz(func(t *testing.T, nr, nw uint8, data []byte) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		wc := &opCountConn{Conn: a}
		w := Chunked(wc, int(nw))
		r := Chunked(b, int(nr))
		done := make(chan error, 1)
		go func() {
			n, err := w.Write(data)
			if err == nil && n != len(data) {
				err = io.ErrShortWrite
			}
			done <- err
		}()
		got := make([]byte, 0, len(data))
		buf := make([]byte, 300)
		b.SetReadDeadline(time.Now().Add(10 * time.Second))
		for len(got) < len(data) {
			n, err := r.Read(buf)
			if n > max(1, int(nr)) {
				t.Fatalf("Read returned %d bytes, chunk size %d", n, nr)
			}
			got = append(got, buf[:n]...)
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatal("stream changed")
		}
		for _, n := range wc.writes {
			if n > max(1, int(nw)) || n == 0 {
				t.Fatalf("transport write of %d bytes, chunk size %d", n, nw)
			}
		}
	})
}
