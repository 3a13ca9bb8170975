package connlimit

import (
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// TestLimit: with a bound of 2, two connections are accepted at once and
// the third only once one of them closes (twice: the slot comes back
// once); Close ends an Accept waiting for a slot; the gauge hooks see each
// connection open and close once.
func TestLimit(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var open atomic.Int64
	l := New(inner, 2, func() { open.Add(1) }, func() { open.Add(-1) })
	accepted := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	for range 3 {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	first, second := <-accepted, <-accepted
	select {
	case <-accepted:
		t.Fatal("a third connection was accepted with two open and a bound of 2")
	case <-time.After(200 * time.Millisecond):
	}
	if n := open.Load(); n != 2 {
		t.Fatalf("%d open, want 2", n)
	}
	first.Close()
	first.Close() // a second Close gives nothing more back
	third := <-accepted
	if n := open.Load(); n != 2 {
		t.Fatalf("%d open after one closed and one more accepted, want 2", n)
	}
	if cw, ok := third.(interface{ CloseWrite() error }); !ok || cw.CloseWrite() != nil {
		t.Fatal("the connection does not half-close")
	}
	l.Close()
	if _, ok := <-accepted; ok {
		t.Fatal("Accept went on after Close")
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
	second.Close()
	third.Close()
	if n := open.Load(); n != 0 {
		t.Fatalf("%d open after all closed", n)
	}
}
