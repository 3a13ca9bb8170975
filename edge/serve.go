package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/tlsapp/tlsapp/internal/connlimit"
	"github.com/tlsapp/tlsapp/tlsapp"
)

// CipherSuites returns the TLS 1.2 suites an edge accepts, in the order it
// prefers them: the AEAD suites crypto/tls enables by default, then the
// ECDHE AES-CBC ones an nRF91 modem on older firmware offers, SHA-1 MACs
// before SHA-256 ones (crypto/tls leaves the SHA-256 ones off by default;
// an edge turns them on for such modems). The modem's other suites cannot
// be served: crypto/tls implements no PSK suite, no AES-CCM(-8) and no
// CBC suite with SHA-384. TLS 1.3's suites are not configurable in
// crypto/tls and are all accepted.
func CipherSuites() []uint16 {
	return []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
	}
}

// ServeOptions configure Serve.
type ServeOptions struct {
	// TLS holds the edge's certificates (Certificates or GetCertificate);
	// the rest defaults for devices: HTTP/1.1 only, TLS 1.2 and 1.3, and
	// CipherSuites() when CipherSuites is nil.
	TLS *tls.Config

	// Server is handed to tlsapp.NewListener. Its MaxRecord, the content
	// bytes per record the edge sends, handshake records included, defaults
	// to DefaultMaxRecord (2048); a device that offers a smaller
	// max_fragment_length or record_size_limit gets records within it.
	Server tlsapp.ServerOptions

	// MaxConns bounds the device connections open at once; more wait in
	// the kernel's queue. 0 means 1024.
	MaxConns int

	// Timeouts of the http.Server (0: the defaults in brackets):
	// the handshake and a request's headers (10s), a whole request (30s),
	// a response (10m: a modem takes minutes for an image), and a
	// keep-alive connection's wait for its next request (60s).
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration

	// MaxHeaderBytes bounds a request's header. 0 means 16 KiB.
	MaxHeaderBytes int

	// ShutdownTimeout bounds how long Serve waits, once ctx is done, for
	// the responses in progress before it closes their connections. 0
	// means 30s.
	ShutdownTimeout time.Duration
}

// Serve serves devices on ln (a TCP listener) until ctx is done, then
// stops accepting, lets responses in progress end within the shutdown
// timeout, and returns nil. Every record sent to a device, handshake
// records included, carries at most MaxRecord content bytes
// (tlsapp.NewListener). Serve does not close the Edge.
func (e *Edge) Serve(ctx context.Context, ln net.Listener, o ServeOptions) error {
	if o.TLS == nil || len(o.TLS.Certificates) == 0 && o.TLS.GetCertificate == nil {
		return fmt.Errorf("%w: ServeOptions.TLS needs a certificate", ErrConfig)
	}
	if o.MaxConns < 0 || o.MaxHeaderBytes < 0 {
		return fmt.Errorf("%w: negative MaxConns or MaxHeaderBytes", ErrConfig)
	}
	cfg := o.TLS.Clone()
	cfg.NextProtos = []string{"http/1.1"}
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	if cfg.CipherSuites == nil {
		cfg.CipherSuites = CipherSuites()
	}
	so := o.Server
	if so.MaxRecord == 0 {
		so.MaxRecord = DefaultMaxRecord
	}
	wl := connlimit.New(ln, orDefault(o.MaxConns, 1024), e.m.connections.Inc, e.m.connections.Dec)
	srv := &http.Server{
		Handler:           e,
		TLSConfig:         cfg,
		ReadHeaderTimeout: orDefault(o.ReadHeaderTimeout, 10*time.Second),
		ReadTimeout:       orDefault(o.ReadTimeout, 30*time.Second),
		WriteTimeout:      orDefault(o.WriteTimeout, 10*time.Minute),
		IdleTimeout:       orDefault(o.IdleTimeout, 60*time.Second),
		MaxHeaderBytes:    orDefault(o.MaxHeaderBytes, 16<<10),
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	errc := make(chan error, 1)
	go func() { errc <- tlsapp.ServeTLS(srv, wl, "", "", so) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), orDefault(o.ShutdownTimeout, 30*time.Second))
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func orDefault[T int | time.Duration](v, d T) T {
	if v == 0 {
		return d
	}
	return v
}
