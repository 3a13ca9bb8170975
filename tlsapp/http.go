package tlsapp

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"time"
)

// NewTransport returns an HTTP/1.1 transport whose https connections are
// Conns dialled by d, so that net/http requests get the record-size
// negotiation, its enforcement and the library's certificate verification.
// Plain http URLs are refused: nothing goes out unencrypted.
//
// The transport speaks HTTP/1.1 only and offers only "http/1.1" in ALPN,
// whatever d.Config.NextProtos holds: net/http negotiates HTTP/2 only over
// a *tls.Conn. For the same reason resp.TLS is nil; the connection that
// carried a response is the *Conn that httptrace.GotConnInfo.Conn holds, or
// the one handed to onConn.
//
// onConn, when not nil, is called with every new connection once its
// handshake has completed, before the transport sends a request on it, in
// the goroutine that dialled it. Compression is off (a Range request
// must count the bytes the server sends), and idle connections are dropped
// after 30 seconds.
func NewTransport(d *Dialer, onConn func(*Conn)) *http.Transport {
	dd := &Dialer{NetDialer: d.NetDialer, Config: d.Config, DialTransport: d.DialTransport}
	cfg := Config{}
	if d.Config != nil {
		cfg = *d.Config
	}
	cfg.NextProtos = []string{"http/1.1"}
	dd.Config = &cfg
	return &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return nil, fmt.Errorf("tlsapp: refusing a plain-text connection to %s: only https goes through this transport", addr)
		},
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dd.dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			if onConn != nil {
				onConn(c)
			}
			return c, nil
		},
		ForceAttemptHTTP2:   false,
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{},
		MaxIdleConnsPerHost: 1,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
}
