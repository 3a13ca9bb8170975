package recordlimit

import (
	"bytes"
	"errors"
	"fmt"
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

// scriptConn is a transport that records the size of every Read and Write
// asked of it, fails the Write numbered failAt (from 1) after taking half
// of it, and counts CloseWrite calls.
type scriptConn struct {
	net.Conn
	reads, writes []int
	failAt        int
	closeWrites   int
}

var errTransport = errors.New("transport failed")

func (c *scriptConn) Read(p []byte) (int, error) {
	c.reads = append(c.reads, len(p))
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

func (c *scriptConn) Write(p []byte) (int, error) {
	c.writes = append(c.writes, len(p))
	if len(c.writes) == c.failAt {
		return len(p) / 2, errTransport
	}
	return len(p), nil
}

func (c *scriptConn) CloseWrite() error { c.closeWrites++; return nil }

// noCloseWrite hides scriptConn's CloseWrite.
type noCloseWrite struct{ net.Conn }

// TestChunked checks the chunk size on both sides of each buffer length: a
// Read asks for at most n bytes, a Write goes out in pieces of at most n
// bytes, in order, and a size below 1 means 1.
func TestChunked(t *testing.T) {
	tests := []struct {
		n      int
		read   int   // len(p) of one Read
		wantR  int   // what the transport is asked for
		write  int   // len(p) of one Write
		wantWs []int // the transport writes
	}{
		{n: 3, read: 2, wantR: 2, write: 2, wantWs: []int{2}},
		{n: 3, read: 3, wantR: 3, write: 3, wantWs: []int{3}},
		{n: 3, read: 4, wantR: 3, write: 4, wantWs: []int{3, 1}},
		{n: 3, read: 7, wantR: 3, write: 7, wantWs: []int{3, 3, 1}},
		{n: 3, read: 6, wantR: 3, write: 6, wantWs: []int{3, 3}},
		{n: 1, read: 5, wantR: 1, write: 3, wantWs: []int{1, 1, 1}},
		{n: 0, read: 5, wantR: 1, write: 2, wantWs: []int{1, 1}},
		{n: -1, read: 5, wantR: 1, write: 2, wantWs: []int{1, 1}},
		{n: 2303, read: 16384, wantR: 2303, write: 5000, wantWs: []int{2303, 2303, 394}},
		{n: 4, read: 0, wantR: 0, write: 0, wantWs: nil},
	}
	for _, tt := range tests {
		tc := &scriptConn{}
		c := Chunked(tc, tt.n)
		if n, err := c.Read(make([]byte, tt.read)); n != tt.wantR || err != nil || len(tc.reads) != 1 || tc.reads[0] != tt.wantR {
			t.Errorf("n=%d: Read of %d = %d, %v; transport asked for %v, want %d", tt.n, tt.read, n, err, tc.reads, tt.wantR)
		}
		data := make([]byte, tt.write)
		for i := range data {
			data[i] = byte(i)
		}
		rec := &recordConn{}
		w := Chunked(rec, tt.n)
		if n, err := w.Write(data); n != tt.write || err != nil {
			t.Errorf("n=%d: Write of %d = %d, %v", tt.n, tt.write, n, err)
		}
		if !bytes.Equal(rec.buf.Bytes(), data) {
			t.Errorf("n=%d: transport got % x, want % x", tt.n, rec.buf.Bytes(), data)
		}
		if fmt.Sprint(rec.writes) != fmt.Sprint(tt.wantWs) {
			t.Errorf("n=%d: Write of %d went out as %v, want %v", tt.n, tt.write, rec.writes, tt.wantWs)
		}
	}
}

// recordConn keeps what is written to it.
type recordConn struct {
	net.Conn
	buf    bytes.Buffer
	writes []int
}

func (c *recordConn) Write(p []byte) (int, error) {
	c.writes = append(c.writes, len(p))
	return c.buf.Write(p)
}

// TestChunkedWriteError checks that a transport error stops the Write at
// once and reports the bytes the transport took.
func TestChunkedWriteError(t *testing.T) {
	for _, tt := range []struct {
		failAt int
		want   int
		writes []int
	}{
		{1, 2, []int{4}},
		{2, 6, []int{4, 4}},
		{3, 9, []int{4, 4, 2}},
	} {
		tc := &scriptConn{failAt: tt.failAt}
		n, err := Chunked(tc, 4).Write(make([]byte, 10))
		if n != tt.want || !errors.Is(err, errTransport) || fmt.Sprint(tc.writes) != fmt.Sprint(tt.writes) {
			t.Errorf("failing write %d: %d, %v after writes %v; want %d after %v", tt.failAt, n, err, tc.writes, tt.want, tt.writes)
		}
	}
}

func TestChunkedCloseWrite(t *testing.T) {
	tc := &scriptConn{}
	type closeWriter interface{ CloseWrite() error }
	if err := Chunked(tc, 8).(closeWriter).CloseWrite(); err != nil || tc.closeWrites != 1 {
		t.Errorf("CloseWrite = %v, transport saw %d calls", err, tc.closeWrites)
	}
	if err := Chunked(noCloseWrite{tc}, 8).(closeWriter).CloseWrite(); err != nil || tc.closeWrites != 1 {
		t.Errorf("CloseWrite without transport support = %v, transport saw %d calls", err, tc.closeWrites)
	}
}
