// Package testnet runs the servers that the tests of several packages start
// on 127.0.0.1: an accept loop that hands each connection to a handler and
// leaves no goroutine behind when the test ends.
package testnet

import (
	"net"
	"sync"
	"testing"
	"time"
)

// Serve accepts connections on ln until the test ends and runs handle on
// each in its own goroutine, with a deadline of timeout on the connection,
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
				c.SetDeadline(time.Now().Add(timeout))
				handle(c)
			}()
		}
	}()
}
