// Package connlimit bounds how many connections a server holds open at
// once. A Listener's Accept takes a slot before it takes a connection from
// the kernel's queue, and the connection gives the slot back when it is
// first closed: clients beyond the bound wait in the queue (or give up)
// rather than cost the server memory.
package connlimit

import (
	"net"
	"sync"
)

// Listener holds at most a fixed number of its accepted connections open.
type Listener struct {
	net.Listener
	slots          chan struct{}
	done           chan struct{}
	once           sync.Once
	opened, closed func()
}

// New returns a Listener over inner that holds at most max connections
// open. opened and closed, when not nil, are called as each connection is
// accepted and when it is first closed (for a gauge of open connections).
func New(inner net.Listener, max int, opened, closed func()) *Listener {
	return &Listener{Listener: inner, slots: make(chan struct{}, max), done: make(chan struct{}), opened: opened, closed: closed}
}

// Accept waits for a free slot, then for a connection.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	if l.opened != nil {
		l.opened()
	}
	return &conn{Conn: c, release: l.release}, nil
}

func (l *Listener) release() {
	<-l.slots
	if l.closed != nil {
		l.closed()
	}
}

// Close closes the inner listener and ends an Accept waiting for a slot.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// conn gives its slot back once, on the first Close.
type conn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// CloseWrite half-closes the TCP connection (tlsapp.ServerConn uses it).
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
