package tlsapp

import (
	"io"
	"net"
	"time"

	"github.com/tlsapp/tlsapp/recordlimit"
)

// The address and deadline methods of Conn and ServerConn are those of the
// transport below them.

// LocalAddr returns the transport's local address.
func (c *Conn) LocalAddr() net.Addr { return c.raw.LocalAddr() }

// RemoteAddr returns the transport's remote address.
func (c *Conn) RemoteAddr() net.Addr { return c.raw.RemoteAddr() }

// SetDeadline sets the transport's read and write deadlines.
func (c *Conn) SetDeadline(t time.Time) error { return c.raw.SetDeadline(t) }

// SetReadDeadline sets the transport's read deadline.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.raw.SetReadDeadline(t) }

// SetWriteDeadline sets the transport's write deadline.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.raw.SetWriteDeadline(t) }

// LocalAddr returns the transport's local address.
func (c *ServerConn) LocalAddr() net.Addr { return c.raw.LocalAddr() }

// RemoteAddr returns the transport's remote address.
func (c *ServerConn) RemoteAddr() net.Addr { return c.raw.RemoteAddr() }

// SetDeadline sets the transport's read and write deadlines.
func (c *ServerConn) SetDeadline(t time.Time) error { return c.raw.SetDeadline(t) }

// SetReadDeadline sets the transport's read deadline.
func (c *ServerConn) SetReadDeadline(t time.Time) error { return c.raw.SetReadDeadline(t) }

// SetWriteDeadline sets the transport's write deadline.
func (c *ServerConn) SetWriteDeadline(t time.Time) error { return c.raw.SetWriteDeadline(t) }

// batchingGuard is a record layer guard that can gather the records of one
// write: guard.Conn and guard.ServerConn.
type batchingGuard interface {
	BeginBatch(size int)
	Buffered() int
	Flush(end bool) error
}

// recordOverhead is about what a record adds to its content on the wire
// with the AEAD suites: the header, and an explicit nonce and tag (TLS
// 1.2) or a tag and the content type (TLS 1.3).
const recordOverhead = 5 + 24

// writeSplit writes b through the TLS stack w in pieces of at most limit
// bytes, so that each becomes one record, and has g hand the records to the
// transport in one write per batchSize bytes. It returns how many bytes of b
// reached the transport. A b of one record goes straight through, already
// one transport write.
func writeSplit(w io.Writer, g batchingGuard, b []byte, limit int) (int, error) {
	if limit <= 0 {
		limit = recordlimit.MaxPlaintext
	}
	if len(b) <= limit {
		return w.Write(b)
	}
	first := min(len(b), batchSize)
	g.BeginBatch(first + (first/limit+1)*recordOverhead)
	var done, flushed int
	for done < len(b) {
		n, err := w.Write(b[done:min(len(b), done+limit)])
		done += n
		if err != nil {
			g.Flush(true)
			return flushed, err
		}
		if g.Buffered() >= batchSize {
			if err := g.Flush(false); err != nil {
				g.Flush(true)
				return flushed, err
			}
			flushed = done
		}
	}
	if err := g.Flush(true); err != nil {
		return flushed, err
	}
	return done, nil
}
