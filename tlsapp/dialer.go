package tlsapp

import (
	"context"
	"net"
)

// Dialer dials connections and runs their handshakes, like crypto/tls's
// Dialer. The zero value dials with a zero net.Dialer and an empty Config,
// whose ServerName is taken from the address dialled.
type Dialer struct {
	// NetDialer dials the transport; nil means a zero net.Dialer. Its
	// Timeout and Deadline bound the dial and the handshake together.
	NetDialer *net.Dialer
	// Config configures the client; when its ServerName is empty, each
	// connection verifies the host part of the address it dials.
	Config *Config
	// DialTransport, when set, dials the transport in place of NetDialer
	// (whose Timeout and Deadline still bound the dial and the handshake),
	// for a transport of the caller's: one that traces the bytes on the
	// wire, or counts them. The connection it returns is closed when the
	// handshake fails.
	DialTransport func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Dial connects to addr on network and runs the handshake. The net.Conn
// it returns is a *Conn.
func (d *Dialer) Dial(network, addr string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, addr)
}

// DialContext connects to addr on network and runs the handshake, both
// bounded by ctx; once it returns, ctx has no effect on the connection. The
// net.Conn it returns is a *Conn.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := d.dial(ctx, network, addr)
	if err != nil {
		return nil, err // not a nil *Conn in a non-nil interface
	}
	return c, nil
}

func (d *Dialer) dial(ctx context.Context, network, addr string) (*Conn, error) {
	nd := d.NetDialer
	if nd == nil {
		nd = new(net.Dialer)
	}
	if nd.Timeout != 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, nd.Timeout)
		defer cancel()
	}
	if !nd.Deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, nd.Deadline)
		defer cancel()
	}
	cfg := d.Config
	if cfg == nil {
		cfg = &Config{}
	}
	dial := nd.DialContext
	if d.DialTransport != nil {
		dial = d.DialTransport
	}
	raw, err := dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if cfg.ServerName == "" {
		c := *cfg
		if c.ServerName, _, err = net.SplitHostPort(addr); err != nil {
			raw.Close()
			return nil, err
		}
		cfg = &c
	}
	c := Client(raw, cfg)
	if err := c.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, err
	}
	return c, nil
}
