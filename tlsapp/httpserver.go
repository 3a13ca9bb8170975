package tlsapp

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"slices"
)

// ServerState is the state of a server connection: crypto/tls's state of
// its session, what the client asked for, and the records the server sent.
// ServerConn.State returns it, and so does ServerStateFrom for the
// connection an HTTP request came on.
type ServerState struct {
	// ConnectionState is crypto/tls's state of the session: the version,
	// the cipher suite, whether it resumed, and PeerCertificates and
	// VerifiedChains when the client authenticated with a certificate.
	tls.ConnectionState

	// OfferedMaxFragmentLength and OfferedRecordSizeLimit are what the
	// client's ClientHello asked for, in bytes (0: not asked for).
	OfferedMaxFragmentLength int
	OfferedRecordSizeLimit   int

	// Cap is the most content bytes the server puts in one record: the
	// smallest of ServerOptions.MaxRecord, what the client asked for, and
	// 16384.
	Cap int

	// LargestSent is the length field of the largest record the server
	// sent so far, handshake records included; RecordsSent and BytesSent
	// count them (record headers included). They grow as the connection is
	// used.
	LargestSent int
	RecordsSent int64
	BytesSent   int64
}

// State returns the connection's state. Before the handshake its
// ConnectionState is empty, and before the ClientHello has been read Cap is
// ServerOptions.MaxRecord (or 16384) alone.
func (c *ServerConn) State() ServerState {
	offer, _ := c.guard.Offer()
	st := c.guard.Stats()
	s := ServerState{
		ConnectionState:        c.tc.ConnectionState(),
		OfferedRecordSizeLimit: offer.RecordSizeLimit,
		Cap:                    c.guard.Cap(),
		LargestSent:            st.LargestSent,
		RecordsSent:            st.SentRecords,
		BytesSent:              st.SentBytes,
	}
	if offer.MaxFragmentLength.Valid() {
		s.OfferedMaxFragmentLength = offer.MaxFragmentLength.Bytes()
	}
	return s
}

// serverConn returns c. A type that embeds *ServerConn (a connection that
// wraps it to count or log) has the method too, and ConnContext finds the
// ServerConn through it.
func (c *ServerConn) serverConn() *ServerConn { return c }

// serverConnKey is the context key of the *ServerConn a request came on.
type serverConnKey struct{}

// ConnContext returns ctx carrying c when c is a *ServerConn (or embeds
// one), for ServerStateFrom. It is what http.Server.ConnContext must be
// for an http.Server that serves a listener made with NewListener: ServeTLS
// sets it itself.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if sc, ok := c.(interface{ serverConn() *ServerConn }); ok {
		return context.WithValue(ctx, serverConnKey{}, sc.serverConn())
	}
	return ctx
}

// ServerStateFrom returns the state of the connection an HTTP request came
// on, from the request's context (r.Context()), and whether there was one:
// the http.Server must serve a listener made with NewListener and have
// ConnContext as its ConnContext, as ServeTLS arranges.
func ServerStateFrom(ctx context.Context) (ServerState, bool) {
	sc, ok := ctx.Value(serverConnKey{}).(*ServerConn)
	if !ok {
		return ServerState{}, false
	}
	return sc.State(), true
}

// errNoCertificate is ServeTLS's error when no certificate is given.
var errNoCertificate = errors.New("tlsapp: ServeTLS needs a certificate: certFile and keyFile, or Certificates, GetCertificate or GetConfigForClient in srv.TLSConfig")

// ServeTLS is http.Server.ServeTLS with small records: it accepts
// connections on ln and serves srv over TLS through NewListener, so that
// no record the server sends, handshake records included, carries more than
// opts.MaxRecord content bytes nor more than the client asked for with
// max_fragment_length or record_size_limit. As in net/http the certificate
// comes from srv.TLSConfig (Certificates, GetCertificate or
// GetConfigForClient), or from certFile and keyFile (PEM), which then
// replace TLSConfig's Certificates.
//
// HTTP/1.1 only: the connections are not *tls.Conns, so net/http does not
// speak HTTP/2 over them; ServeTLS offers "http/1.1" in ALPN and drops "h2"
// from srv.TLSConfig's NextProtos.
//
// Handlers see Request.TLS as over crypto/tls (the client certificate in
// r.TLS.PeerCertificates), and ServerStateFrom(r.Context()) returns the
// rest of the connection's state: what the client asked for, the record cap
// in force, the records sent. ServeTLS sets srv.ConnContext (calling the one
// already set first) and wraps srv.Handler (http.DefaultServeMux when nil)
// for that.
//
// ServeTLS returns what srv.Serve returns: http.ErrServerClosed after
// srv.Shutdown or srv.Close.
func ServeTLS(srv *http.Server, ln net.Listener, certFile, keyFile string, opts ServerOptions) error {
	cfg := &tls.Config{}
	if srv.TLSConfig != nil {
		cfg = srv.TLSConfig.Clone()
	}
	hasCert := len(cfg.Certificates) > 0 || cfg.GetCertificate != nil || cfg.GetConfigForClient != nil
	switch {
	case certFile != "" || keyFile != "":
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return err
		}
		cfg.Certificates = []tls.Certificate{cert}
	case !hasCert:
		return errNoCertificate
	}
	cfg.NextProtos = slices.DeleteFunc(cfg.NextProtos, func(p string) bool { return p == "h2" })
	if !slices.Contains(cfg.NextProtos, "http/1.1") {
		cfg.NextProtos = append(cfg.NextProtos, "http/1.1")
	}
	prepare(srv)
	return srv.Serve(NewListener(ln, cfg, opts))
}

// ListenAndServeTLS is http.Server.ListenAndServeTLS with small records: it
// listens on srv.Addr (":https" when empty) and calls ServeTLS.
func ListenAndServeTLS(srv *http.Server, certFile, keyFile string, opts ServerOptions) error {
	addr := srv.Addr
	if addr == "" {
		addr = ":https"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	return ServeTLS(srv, ln, certFile, keyFile, opts)
}

// prepare sets srv's ConnContext and wraps its handler for ServeTLS, once.
func prepare(srv *http.Server) {
	if _, done := srv.Handler.(tlsStateHandler); done {
		return
	}
	h := srv.Handler
	if h == nil {
		h = http.DefaultServeMux
	}
	srv.Handler = tlsStateHandler{h}
	if user := srv.ConnContext; user != nil {
		srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
			return ConnContext(user(ctx, c), c)
		}
	} else {
		srv.ConnContext = ConnContext
	}
}

// tlsStateHandler sets Request.TLS from the connection's state. net/http
// runs the handshake and sets it only for a *tls.Conn; for another conn
// with a ConnectionState method (Go 1.26) it takes the state before the
// handshake, which a ServerConn runs on its first Read: an empty state,
// without the client's certificate.
type tlsStateHandler struct{ h http.Handler }

func (t tlsStateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil || !r.TLS.HandshakeComplete {
		if st, ok := ServerStateFrom(r.Context()); ok {
			cs := st.ConnectionState
			r.TLS = &cs
		}
	}
	t.h.ServeHTTP(w, r)
}
