package edge

import (
	"net"
	"sync"
)

// wireConn is a device's TCP connection, below TLS, which gives its slot
// back when it closes.
type wireConn struct {
	net.Conn
	release func()
	once    sync.Once
}

func (c *wireConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// CloseWrite half-closes the TCP connection (tlsapp.ServerConn uses it).
func (c *wireConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// wireListener holds at most max connections open at once (Accept waits
// for one to close; more clients wait in the kernel's queue) and wraps each
// in a wireConn.
type wireListener struct {
	net.Listener
	slots chan struct{}
	done  chan struct{}
	once  sync.Once
	m     *metrics
}

func (l *wireListener) Accept() (net.Conn, error) {
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
	l.m.connections.Inc()
	return &wireConn{Conn: c, release: func() { <-l.slots; l.m.connections.Dec() }}, nil
}

func (l *wireListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}
