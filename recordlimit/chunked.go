package recordlimit

import "net"

// Chunked adapts a transport that moves at most n bytes per call, such as a
// cellular modem socket driven by AT commands: every Read asks the transport
// for at most n bytes and every Write is passed on in pieces of at most n
// bytes. Records are reassembled by the reader above it.
func Chunked(transport net.Conn, n int) net.Conn {
	if n <= 0 {
		n = 1
	}
	return &chunkedConn{Conn: transport, n: n}
}

type chunkedConn struct {
	net.Conn
	n int
}

func (c *chunkedConn) Read(p []byte) (int, error) {
	if len(p) > c.n {
		p = p[:c.n]
	}
	return c.Conn.Read(p)
}

func (c *chunkedConn) Write(p []byte) (int, error) {
	var done int
	for done < len(p) {
		m, err := c.Conn.Write(p[done:min(len(p), done+c.n)])
		done += m
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// CloseWrite half-closes the transport when it supports it.
func (c *chunkedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
