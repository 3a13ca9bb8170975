package tlsapp

import (
	"net"
	"strconv"
	"sync"

	"github.com/tlsapp/tlsapp/internal/wire"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// Direction is the way a traced record crossed the transport.
type Direction uint8

// The two directions of a client connection.
const (
	Sent     Direction = iota // from the client to the server
	Received                  // from the server to the client
)

// String returns "sent" or "received".
func (d Direction) String() string {
	if d == Sent {
		return "sent"
	}
	return "received"
}

// Epoch says which keys protect a traced record, as far as the connection
// knows when the record crosses the transport.
type Epoch uint8

// The epochs of a connection.
const (
	// EpochPlaintext is an unprotected record: the hellos, a TLS 1.2
	// handshake up to ChangeCipherSpec, ChangeCipherSpec itself, and
	// alerts sent before any keys.
	EpochPlaintext Epoch = iota
	// EpochHandshake is a protected record before the handshake completed:
	// TLS 1.3 EncryptedExtensions to Finished, TLS 1.2 Finished.
	EpochHandshake
	// EpochApplication is a record after the handshake completed.
	EpochApplication
)

// String returns "plaintext", "handshake" or "application".
func (e Epoch) String() string {
	switch e {
	case EpochPlaintext:
		return "plaintext"
	case EpochHandshake:
		return "handshake"
	case EpochApplication:
		return "application"
	}
	return "epoch(" + strconv.Itoa(int(e)) + ")"
}

// TraceRecord is one TLS record as it crossed the transport below the
// library (the bytes on the wire): its direction, the epoch the connection
// was in, the content type of the record header (in TLS 1.3 every
// protected record says application_data) and the length field of the
// header (the ciphertext length for protected records).
//
// The epoch is the connection's knowledge when the record crossed: a record
// the library read ahead of the handshake's end (a session ticket arriving
// in the same TCP segment as the server's Finished) is reported in the
// handshake epoch.
type TraceRecord struct {
	Direction Direction
	Epoch     Epoch
	Type      recordlimit.ContentType
	Len       int
}

// String formats the record as one trace line, for example
// "received application application_data 2065".
func (r TraceRecord) String() string {
	return r.Direction.String() + " " + r.Epoch.String() + " " + r.Type.String() + " " + strconv.Itoa(r.Len)
}

// tracedConn reports every record that crosses the transport to fn. It
// parses only record headers, across any split of the byte stream, and
// holds five bytes per direction.
type tracedConn struct {
	net.Conn
	fn      func(TraceRecord)
	version func() uint16 // the negotiated version, 0 before the ServerHello
	done    func() bool   // whether the handshake has completed
	in, out recordScanner
}

// recordScanner finds the record headers in one direction's byte stream.
type recordScanner struct {
	mu   sync.Mutex
	dir  Direction
	hdr  [wire.HeaderLen]byte
	nh   int  // bytes of hdr filled
	left int  // body bytes of the current record still to come
	ccs  bool // a ChangeCipherSpec has crossed in this direction
}

func (c *tracedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.in.scan(c, p[:n])
	return n, err
}

func (c *tracedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.out.scan(c, p[:n])
	return n, err
}

// CloseWrite half-closes the transport when it supports it.
func (c *tracedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (s *recordScanner) scan(c *tracedConn, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(b) > 0 {
		if s.left > 0 {
			n := min(s.left, len(b))
			s.left -= n
			b = b[n:]
			continue
		}
		n := copy(s.hdr[s.nh:], b)
		s.nh += n
		b = b[n:]
		if s.nh < wire.HeaderLen {
			return
		}
		s.nh = 0
		r := TraceRecord{Direction: s.dir, Type: recordlimit.ContentType(s.hdr[0]), Len: int(s.hdr[3])<<8 | int(s.hdr[4])}
		s.left = r.Len
		switch {
		case c.done():
			r.Epoch = EpochApplication
		case r.Type == recordlimit.TypeChangeCipherSpec:
			s.ccs = true
			r.Epoch = EpochPlaintext
		case r.Type == recordlimit.TypeApplicationData:
			// TLS 1.3 protected records all say application_data, and no
			// application data flows in either version before the
			// handshake completes.
			r.Epoch = EpochHandshake
		case s.ccs && c.version() == wire.VersionTLS12:
			r.Epoch = EpochHandshake
		default:
			r.Epoch = EpochPlaintext
		}
		c.fn(r)
	}
}

// traced returns raw wrapped so that Config.Trace sees every record, or raw
// itself when no trace is asked for.
func (c *Conn) traced(raw net.Conn) net.Conn {
	if c.cfg.Trace == nil {
		return raw
	}
	t := &tracedConn{Conn: raw, fn: c.cfg.Trace, done: c.handshakeComplete}
	t.in.dir, t.out.dir = Received, Sent
	t.version = func() uint16 {
		a, _ := c.guard.Agreement()
		return a.Version
	}
	return t
}

func (c *Conn) handshakeComplete() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.handshakeDone
}
