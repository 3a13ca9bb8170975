package testnet

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Cutter is a TCP relay on 127.0.0.1 that cuts connections: the n-th
// connection it accepts is closed once Cuts[n] bytes have gone from the
// target to the client (a reset when Resets[n] is true, else a FIN), and
// connections past len(Cuts) are relayed whole.
type Cutter struct {
	Addr string

	mu     sync.Mutex
	cuts   []int64
	resets []bool
	conns  int
	cut    int
}

// NewCutter starts a relay to target that cuts connection n after cuts[n]
// bytes towards the client, with a TCP reset where resets[n] is true.
func NewCutter(tb testing.TB, target string, cuts []int64, resets []bool) *Cutter {
	tb.Helper()
	c := &Cutter{cuts: cuts, resets: resets}
	c.Addr = Relay(tb, target, 60*time.Second, func(client, server net.Conn) {
		c.mu.Lock()
		n := c.conns
		c.conns++
		c.mu.Unlock()
		go func() {
			io.Copy(server, client)
			server.(*net.TCPConn).CloseWrite()
		}()
		if n >= len(cuts) {
			io.Copy(client, server)
			return
		}
		io.CopyN(client, server, cuts[n])
		if n < len(resets) && resets[n] {
			client.(*net.TCPConn).SetLinger(0)
		}
		c.mu.Lock()
		c.cut++
		c.mu.Unlock()
	})
	return c
}

// Stats returns how many connections the relay accepted and how many it cut.
func (c *Cutter) Stats() (conns, cut int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conns, c.cut
}
