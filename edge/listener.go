package edge

import (
	"context"
	"net"
	"sync"
	"sync/atomic"

	"github.com/tlsapp/tlsapp/tlsapp"
)

// wireConn is a device's TCP connection, below TLS: it reads the record
// headers in what the server writes, to report the largest record sent
// (handshake records included) as the device's side of the wire sees it.
type wireConn struct {
	net.Conn
	release func()
	once    sync.Once

	largest atomic.Int64
	mu      sync.Mutex // guards the parser state
	hdr     [5]byte
	hdrN    int
	remain  int
}

func (c *wireConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.mu.Lock()
	c.scan(b[:n])
	c.mu.Unlock()
	return n, err
}

// scan follows the record headers in the bytes written.
func (c *wireConn) scan(b []byte) {
	for len(b) > 0 {
		if c.remain > 0 {
			k := min(c.remain, len(b))
			c.remain -= k
			b = b[k:]
			continue
		}
		k := copy(c.hdr[c.hdrN:], b)
		c.hdrN += k
		b = b[k:]
		if c.hdrN == len(c.hdr) {
			c.hdrN = 0
			c.remain = int(c.hdr[3])<<8 | int(c.hdr[4])
			if int64(c.remain) > c.largest.Load() {
				c.largest.Store(int64(c.remain))
			}
		}
	}
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
	last  *wireConn // the connection the latest Accept returned
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
	wc := &wireConn{Conn: c, release: func() { <-l.slots; l.m.connections.Dec() }}
	l.last = wc
	return wc, nil
}

func (l *wireListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// deviceListener is what the edge's http.Server accepts from: TLS through
// tlsapp.NewListener over a wireListener. Each connection it returns is the
// *tlsapp.ServerConn paired with the wireConn below it.
type deviceListener struct {
	tls  net.Listener // tlsapp.NewListener(wire, ...)
	wire *wireListener
	mu   sync.Mutex
}

// deviceConn is a device's TLS connection and the TCP connection under it.
type deviceConn struct {
	*tlsapp.ServerConn
	wire *wireConn
}

func (l *deviceListener) Accept() (net.Conn, error) {
	// NewListener's Accept calls the wire listener's Accept in this
	// goroutine, and the lock keeps another Accept from running between.
	l.mu.Lock()
	defer l.mu.Unlock()
	c, err := l.tls.Accept()
	if err != nil {
		return nil, err
	}
	sc, ok := c.(*tlsapp.ServerConn)
	if !ok {
		return c, nil
	}
	return &deviceConn{ServerConn: sc, wire: l.wire.last}, nil
}

func (l *deviceListener) Close() error   { return l.tls.Close() }
func (l *deviceListener) Addr() net.Addr { return l.tls.Addr() }

// connKey is the context key under which ConnContext stores the device's
// connection.
type connKey struct{}

// connContext is the http.Server's ConnContext: the request handler finds
// the connection's TLS facts through it.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if dc, ok := c.(*deviceConn); ok {
		return context.WithValue(ctx, connKey{}, dc)
	}
	return ctx
}

func connFrom(ctx context.Context) *deviceConn {
	dc, _ := ctx.Value(connKey{}).(*deviceConn)
	return dc
}
