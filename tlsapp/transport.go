package tlsapp

import (
	"io"
	"net"
	"time"
)

// transport gives a connection the address and deadline methods of the
// transport below it.
type transport struct{ raw net.Conn }

// LocalAddr returns the transport's local address.
func (t transport) LocalAddr() net.Addr { return t.raw.LocalAddr() }

// RemoteAddr returns the transport's remote address.
func (t transport) RemoteAddr() net.Addr { return t.raw.RemoteAddr() }

// SetDeadline sets the transport's read and write deadlines.
func (t transport) SetDeadline(d time.Time) error { return t.raw.SetDeadline(d) }

// SetReadDeadline sets the transport's read deadline.
func (t transport) SetReadDeadline(d time.Time) error { return t.raw.SetReadDeadline(d) }

// SetWriteDeadline sets the transport's write deadline.
func (t transport) SetWriteDeadline(d time.Time) error { return t.raw.SetWriteDeadline(d) }

// batchingGuard is a record layer guard that can gather the records of one
// write: recordlimit.Conn and recordlimit.ServerConn.
type batchingGuard interface {
	BeginBatch()
	Buffered() int
	Flush(end bool) error
}

// writeSplit writes b through the TLS stack w in pieces of at most limit
// bytes, so that each becomes one record, and has g hand the records to the
// transport in one write per BatchSize bytes. It returns how many bytes of b
// reached the transport.
func writeSplit(w io.Writer, g batchingGuard, b []byte, limit int) (int, error) {
	g.BeginBatch()
	var done, flushed int
	for done < len(b) {
		n, err := w.Write(b[done:min(len(b), done+limit)])
		done += n
		if err != nil {
			g.Flush(true)
			return flushed, err
		}
		if g.Buffered() >= BatchSize {
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
