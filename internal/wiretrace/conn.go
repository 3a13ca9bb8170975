package wiretrace

import (
	"context"
	"net"
)

// Dial dials addr with d (nil: a zero net.Dialer) and returns the
// connection wrapped so that every byte read and written is decoded by a
// Tracer started before the dial: the times of its Events count from the
// dial's start. keys and emit are NewTracer's.
func Dial(ctx context.Context, d *net.Dialer, network, addr string, keys *Keys, emit func(Event)) (net.Conn, error) {
	if d == nil {
		d = new(net.Dialer)
	}
	t := NewTracer(keys, emit)
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		t.Connected(nil, dialAddr{network, addr}, err)
		t.Close()
		return nil, err
	}
	t.Connected(c.LocalAddr(), c.RemoteAddr(), nil)
	return Wrap(c, t), nil
}

// dialAddr names the address a failed dial was for.
type dialAddr struct{ network, addr string }

func (a dialAddr) Network() string { return a.network }
func (a dialAddr) String() string  { return a.addr }

// Wrap returns c with every byte read and written fed to t, and t closed
// when c is.
func Wrap(c net.Conn, t *Tracer) net.Conn { return &conn{Conn: c, t: t} }

type conn struct {
	net.Conn
	t *Tracer
}

func (c *conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.t.Feed(Received, p[:n])
	}
	return n, err
}

func (c *conn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if n > 0 {
		c.t.Feed(Sent, p[:n])
	}
	return n, err
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.t.Close()
	return err
}

// CloseWrite half-closes the transport when it can.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
