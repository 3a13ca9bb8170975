// Package testnet runs the servers and relays that the tests of several
// packages start on 127.0.0.1: an accept loop that hands each connection to
// a handler, and a relay that hands each to a pump with its own connection
// to a target, both leaving no goroutine behind when the test ends.
package testnet

import (
	"net"
	"sync"
	"testing"
	"time"
)

// Serve accepts connections on ln until the test ends and runs handle on
// each in its own goroutine, with a deadline of timeout on the connection
// (none when timeout is 0),
// closing the connection when handle returns. When the test ends Serve
// closes ln and every connection still open, and waits for the handlers, so
// that a test checking for leaked goroutines sees none of its servers.
func Serve(tb testing.TB, ln net.Listener, timeout time.Duration, handle func(net.Conn)) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
	)
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = struct{}{}
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					c.Close()
					mu.Lock()
					delete(conns, c)
					mu.Unlock()
				}()
				if timeout > 0 {
					c.SetDeadline(time.Now().Add(timeout))
				}
				handle(c)
			}()
		}
	}()
}

// Relay listens on 127.0.0.1 and, for every connection a client makes,
// dials target and runs pump with both connections, which copies between
// them as the test wants (parsing, delaying, cutting) and returns when it
// is done; both are then closed. timeout is the client connection's
// deadline, as with Serve. It returns the address clients dial. When the
// test ends, every connection is closed and every pump waited for.
func Relay(tb testing.TB, target string, timeout time.Duration, pump func(client, server net.Conn)) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var (
		mu      sync.Mutex
		servers = map[net.Conn]struct{}{}
	)
	Serve(tb, ln, timeout, func(client net.Conn) {
		server, err := net.Dial("tcp", target)
		if err != nil {
			return
		}
		mu.Lock()
		servers[server] = struct{}{}
		mu.Unlock()
		defer func() {
			server.Close()
			mu.Lock()
			delete(servers, server)
			mu.Unlock()
		}()
		pump(client, server)
	})
	// Runs before Serve's cleanup, which waits for the pumps: a pump
	// blocked on the target returns once its connection is closed.
	tb.Cleanup(func() {
		mu.Lock()
		for s := range servers {
			s.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}
