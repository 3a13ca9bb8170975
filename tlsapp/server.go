package tlsapp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/tlsapp/tlsapp/internal/guard"
	"github.com/tlsapp/tlsapp/recordlimit"
	"github.com/tlsapp/tlsapp/ticketkey"
)

// ServerOptions configure a listener that keeps records small.
type ServerOptions struct {
	// MaxRecord caps the plaintext bytes per record for every client, for
	// clients that cannot ask (like a modem without max_fragment_length
	// support). 0 means only what clients ask for.
	MaxRecord int

	// SessionCache keeps the state of resumable sessions (TLS 1.2 and 1.3)
	// on the server, so that a session ticket is only a short random name
	// for it: small enough for any cap (see ServerSessionCache), whatever
	// the session carries, a client's certificate chain included.
	// NewListener makes one per listener when it is nil. A connection made
	// by Server without one (nor TicketKeys) sends no tickets and never
	// resumes.
	SessionCache *ServerSessionCache

	// TicketKeys, when set, makes tickets that hold the session state
	// sealed under the ring's newest key, so that every server holding the
	// same keys (other processes, other hosts behind one load balancer)
	// resumes the session, also after a rotation that keeps the key. A
	// session whose ticket would not fit gets a name in SessionCache
	// instead, resumable by this cache alone: a ticket longer than
	// ticketkey.MaxTicketLen (a client's large certificate chain), or in
	// TLS 1.3 a NewSessionTicket message (17 bytes and the ticket) above
	// the connection's cap; without a SessionCache it gets a name that
	// resolves to nothing. Without client authentication a TLS 1.3 ticket
	// is 113 to 129 bytes (a message of at most 146), a TLS 1.2 one 131;
	// a one-certificate client chain adds its certificate and its CA's.
	TicketKeys *ticketkey.Ring
}

// minTicketCap is the smallest cap at which the server sends session
// tickets. A TLS 1.3 ticket travels in an application-epoch record that the
// guard cannot re-encrypt; with ServerSessionCache's names its message is
// ticketMessageLen bytes, within every cap a client can ask for
// (record_size_limit 64 leaves 63). Only a MaxRecord below it turns tickets
// off.
const minTicketCap = ticketMessageLen

// NewListener wraps inner: each accepted connection is a *ServerConn running
// a crypto/tls server handshake with cfg; every record the server sends,
// handshake records included, carries at most min(MaxRecord, what the client
// offered in max_fragment_length/record_size_limit, 16384) content bytes.
//
// The accepted connections are plain net.Conns to net/http (not *tls.Conn),
// so an http.Server over this listener speaks HTTP/1.1 only, and its
// Request.TLS is taken before the handshake (empty, without the client's
// certificate); set cfg.NextProtos to []string{"http/1.1"}. ServeTLS does
// all this in one call, and sets Request.TLS right.
//
// Sessions resume across the listener's connections through
// opts.SessionCache, or a cache of DefaultServerSessions sessions made for
// the listener; with opts.TicketKeys, also across listeners and processes
// that hold the same keys.
func NewListener(inner net.Listener, cfg *tls.Config, opts ServerOptions) net.Listener {
	if opts.SessionCache == nil {
		opts.SessionCache = NewServerSessionCache(DefaultServerSessions, DefaultServerSessionBytes)
	}
	return &listener{Listener: inner, cfg: cfg, opts: opts}
}

type listener struct {
	net.Listener
	cfg  *tls.Config
	opts ServerOptions
}

func (l *listener) Accept() (net.Conn, error) {
	raw, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return Server(raw, l.cfg, l.opts), nil
}

// ServerConn is a server connection (a net.Conn) whose records stay within
// its cap. The client's request is honoured but not answered: crypto/tls
// cannot put max_fragment_length or record_size_limit in its hello.
type ServerConn struct {
	raw   net.Conn
	guard *guard.ServerConn
	tc    *tls.Conn
	wmu   sync.Mutex
}

// Server returns a server connection over raw; the handshake runs on the
// first Read or Write, or on HandshakeContext. Sessions resume through
// opts.TicketKeys and opts.SessionCache; without either the server sends no
// session tickets (its per-connection configuration could not decrypt them,
// and a crypto/tls TLS 1.3 ticket can be larger than the cap). cfg's
// WrapSession and UnwrapSession, when set, apply to the state sealed or
// kept; session ticket keys set on cfg are not used.
func Server(raw net.Conn, cfg *tls.Config, opts ServerOptions) *ServerConn {
	g := guard.NewServerConn(raw, opts.MaxRecord)
	c := cfg.Clone()
	c.DynamicRecordSizingDisabled = true
	c.KeyLogWriter = g.KeyLogWriter(cfg.KeyLogWriter)
	installTickets(c, opts, g.Cap)
	userGet := cfg.GetConfigForClient
	c.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		base := c
		if userGet != nil {
			got, err := userGet(hello)
			if err != nil {
				return nil, err
			}
			if got != nil {
				base = got.Clone()
				base.DynamicRecordSizingDisabled = true
				base.KeyLogWriter = c.KeyLogWriter
				installTickets(base, opts, g.Cap)
			}
		}
		if g.Cap() < minTicketCap && !base.SessionTicketsDisabled {
			if base == c {
				base = c.Clone()
			}
			base.SessionTicketsDisabled = true
		}
		if base == c {
			return nil, nil
		}
		base.GetConfigForClient = nil
		return base, nil
	}
	return &ServerConn{raw: raw, guard: g, tc: tls.Server(g, c)}
}

// HandshakeContext runs the handshake if it has not run yet.
func (c *ServerConn) HandshakeContext(ctx context.Context) error {
	return c.mapErr(c.tc.HandshakeContext(ctx))
}

// mapErr puts the guard's own error, when it ended the connection, before
// the stack's report of it, so that errors.Is finds recordlimit's sentinels.
func (c *ServerConn) mapErr(err error) error {
	if err == nil {
		return nil
	}
	c.guard.ForgetSecrets() // also on the paths the guard cannot see, a deadline
	if gerr := c.guard.Err(); gerr != nil && !errors.Is(err, gerr) {
		return fmt.Errorf("%w (the TLS stack: %w)", gerr, err)
	}
	return err
}

// ConnectionState returns the TLS state of the connection.
func (c *ServerConn) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }

// Cap returns the content bytes per record in force (known once the
// ClientHello has been read).
func (c *ServerConn) Cap() int { return c.guard.Cap() }

// Offer returns what the client asked for, and whether its ClientHello has
// been read.
func (c *ServerConn) Offer() (recordlimit.Offer, bool) { return c.guard.Offer() }

// Read reads application data.
func (c *ServerConn) Read(b []byte) (int, error) {
	n, err := c.tc.Read(b)
	if err == io.EOF {
		return n, err
	}
	return n, c.mapErr(err)
}

// Write writes b in records of at most Cap bytes, gathering the records of
// up to 64 KiB into one transport write.
func (c *ServerConn) Write(b []byte) (int, error) {
	if err := c.tc.Handshake(); err != nil {
		return 0, c.mapErr(err)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return writeSplit(c.tc, c.guard, b, c.guard.Cap())
}

// Close sends close_notify and closes the transport.
func (c *ServerConn) Close() error { return c.tc.Close() }

// CloseWrite sends close_notify and half-closes the transport when it can.
func (c *ServerConn) CloseWrite() error {
	if err := c.tc.CloseWrite(); err != nil {
		return err
	}
	if cw, ok := c.raw.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
