package tlsapp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	utls "github.com/refraction-networking/utls"

	"github.com/tlsapp/tlsapp/internal/guard"
	"github.com/tlsapp/tlsapp/trust"
)

// batchSize is how many wire bytes of records a Write gathers before handing
// them to the transport in one write call (64 KiB). A Write of up to about
// this much data costs one transport write; a larger one, one per batchSize.
const batchSize = 64 << 10

// Conn is a client TLS connection that honours and enforces the record size
// agreed with the server. It is a net.Conn; Read and Write may be called
// concurrently.
type Conn struct {
	raw   net.Conn
	guard *guard.Conn
	u     *utls.UConn
	cfg   *Config
	err   error // a Config error, returned by every call

	wmu sync.Mutex // serialises Write so that a Write's records stay together

	closeNotify atomic.Bool // Read returned io.EOF from the server's close_notify

	mu                 sync.Mutex // guards the fields below
	handshakeDone      bool
	hsCtx              context.Context // the running handshake's, for the Verifier
	hsSent, hsReceived int64
	anchors            []trust.Anchor
	verifier           trust.Verifier // Config.Verifier, or the one Config.Credentials gave
}

// Dial connects to addr on network with a net.Dialer and runs the handshake.
// ctx bounds the dial and the handshake; once Dial returns it has no effect
// on the connection.
func Dial(ctx context.Context, network, addr string, cfg *Config) (*Conn, error) {
	return (&Dialer{Config: cfg}).dial(ctx, network, addr)
}

// Client returns a client connection over raw, which may be any net.Conn: a
// TCP socket, or a modem socket wrapped with recordlimit.Chunked. The
// handshake runs on the first Read or Write, or on Handshake.
func Client(raw net.Conn, cfg *Config) *Conn {
	if cfg == nil {
		cfg = &Config{} // refused below: no ServerName to verify
	}
	c := &Conn{raw: raw, cfg: cfg, verifier: cfg.Verifier}
	offer, err := cfg.offer()
	if err != nil {
		c.err = err
		return c
	}
	suites, err := cfg.suites()
	if err != nil {
		c.err = err
		return c
	}
	vmin, vmax, err := cfg.versions()
	if err != nil {
		c.err = err
		return c
	}
	groups, err := cfg.curves(vmax)
	if err != nil {
		c.err = err
		return c
	}
	sigAlgs, err := cfg.signatureSchemes()
	if err != nil {
		c.err = err
		return c
	}
	c.guard = guard.NewConn(c.traced(raw), offer)
	c.guard.SetDeviceLimit(guard.DeviceLimit{Content: cfg.DeviceLimit, Record: cfg.MaxReceivedRecord})
	// utls checks a TLS 1.2 ServerKeyExchange's signature algorithm
	// against the ClientHello, but a TLS 1.3 CertificateVerify's only
	// against the schemes it implements: the guard holds the server to
	// the offer.
	c.guard.SetSignatureSchemes(sigAlgs)
	// Nor does it check a TLS 1.2 ServerKeyExchange's group against the
	// offer.
	c.guard.SetGroups(groups)
	uc := &utls.Config{
		ServerName:                  cfg.ServerName,
		RootCAs:                     cfg.RootCAs,
		InsecureSkipVerify:          cfg.InsecureSkipVerify || cfg.Verifier != nil || cfg.Credentials != nil,
		NextProtos:                  cfg.NextProtos,
		MinVersion:                  vmin,
		MaxVersion:                  vmax,
		CipherSuites:                suites,
		ClientSessionCache:          stackCacheOf(cfg.ClientSessionCache),
		OmitEmptyPsk:                true,
		DynamicRecordSizingDisabled: true,
		Renegotiation:               utls.RenegotiateNever,
		KeyLogWriter:                c.guard.KeyLogWriter(cfg.KeyLogWriter),
		Time:                        cfg.Time,
		VerifyConnection:            c.verifyConnection,
	}
	if cfg.Credentials != nil {
		if uc.ClientSessionCache == nil {
			uc.ClientSessionCache = stackCacheOf(cfg.Credentials.SessionCache())
		}
		if len(cfg.Certificates) == 0 {
			uc.GetClientCertificate = c.clientCertificate
		}
	}
	for _, cert := range cfg.Certificates {
		uc.Certificates = append(uc.Certificates, stackCertificate(&cert))
	}
	c.u = utls.UClient(stackSide(c.guard), uc, utls.HelloCustom)
	if err := c.u.ApplyPreset(helloSpec(cfg, offer, suites, groups, sigAlgs, vmin, vmax, uc.ClientSessionCache != nil)); err != nil {
		c.err = fmt.Errorf("tlsapp: building the ClientHello: %w", err)
	}
	return c
}

// stackSide is the transport the TLS stack is given: the guard. Tests
// replace it to see how the guard copes with a stack that writes its
// records differently.
var stackSide = func(g *guard.Conn) net.Conn { return g }

// verifyConnection runs after the server's chain is known, in full and
// resumed handshakes alike, and records which anchors verified it.
func (c *Conn) verifyConnection(cs utls.ConnectionState) error {
	c.mu.Lock()
	v, ctx := c.verifier, c.hsCtx
	c.mu.Unlock()
	if ctx == nil {
		ctx = context.Background()
	}
	var anchors []trust.Anchor
	switch {
	case v != nil:
		var err error
		if anchors, err = v.Verify(ctx, c.cfg.ServerName, cs.PeerCertificates, c.now()); err != nil {
			return err
		}
	case c.cfg.Credentials != nil:
		// Fail closed: utls does not verify when Credentials is set.
		return fmt.Errorf("%w: no verifier loaded from Credentials", ErrConfig)
	case !c.cfg.InsecureSkipVerify:
		seen := map[*x509.Certificate]bool{}
		for _, chain := range cs.VerifiedChains {
			root := chain[len(chain)-1]
			if !seen[root] {
				seen[root] = true
				anchors = append(anchors, trust.AnchorOf(trust.NoTag, root))
			}
		}
	}
	c.mu.Lock()
	c.anchors = anchors
	c.mu.Unlock()
	return nil
}

// now is the time certificates are checked at: Config.Time, or the
// current time.
func (c *Conn) now() time.Time {
	if c.cfg.Time != nil {
		return c.cfg.Time()
	}
	return time.Now()
}

// loadVerifier asks Config.Credentials for its verifier before the first
// handshake.
func (c *Conn) loadVerifier(ctx context.Context) error {
	if c.cfg.Credentials == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.verifier != nil || c.handshakeDone {
		return nil
	}
	v, err := c.cfg.Credentials.Verifier(ctx)
	if err != nil {
		return fmt.Errorf("tlsapp: loading the trust anchors: %w", err)
	}
	if v == nil {
		return fmt.Errorf("%w: Credentials gave no verifier", ErrConfig)
	}
	c.verifier = v
	return nil
}

// clientCertificate answers a server's certificate request from
// Config.Credentials; with nothing stored, the client sends no certificate
// and the server decides.
func (c *Conn) clientCertificate(info *utls.CertificateRequestInfo) (*utls.Certificate, error) {
	cert, err := c.cfg.Credentials.ClientCertificate(info.Context())
	if err != nil {
		return nil, fmt.Errorf("tlsapp: loading the client certificate: %w", err)
	}
	if cert == nil {
		return &utls.Certificate{}, nil
	}
	sc := stackCertificate(cert)
	return &sc, nil
}

// stackCertificate gives utls a client certificate: the chain, the key, the
// parsed leaf and the signature algorithms the key may use (which decide
// how the client signs its CertificateVerify).
func stackCertificate(c *tls.Certificate) utls.Certificate {
	sc := utls.Certificate{Certificate: c.Certificate, PrivateKey: c.PrivateKey, Leaf: c.Leaf}
	for _, s := range c.SupportedSignatureAlgorithms {
		sc.SupportedSignatureAlgorithms = append(sc.SupportedSignatureAlgorithms, utls.SignatureScheme(s))
	}
	return sc
}

// Handshake runs the handshake if it has not run yet.
func (c *Conn) Handshake() error { return c.HandshakeContext(context.Background()) }

// HandshakeContext runs the handshake if it has not run yet. If ctx ends
// first, the connection is closed and ctx's error returned.
func (c *Conn) HandshakeContext(ctx context.Context) error {
	if c.err != nil {
		return c.err
	}
	if err := c.loadVerifier(ctx); err != nil {
		return err
	}
	c.mu.Lock()
	running := !c.handshakeDone && c.hsCtx == nil
	if running {
		c.hsCtx = ctx // for the Verifier
	}
	c.mu.Unlock()
	err := c.u.HandshakeContext(ctx)
	if running {
		c.mu.Lock()
		c.hsCtx = nil
		c.mu.Unlock()
	}
	if err != nil {
		c.guard.ForgetSecrets() // also on the paths the guard cannot see, a deadline
		return c.mapErr(err)
	}
	c.mu.Lock()
	if !c.handshakeDone {
		c.handshakeDone = true
		st := c.guard.Stats()
		c.hsSent, c.hsReceived = st.SentBytes, st.ReceivedBytes
		c.guard.EndHandshake()
		c.releaseHandshake()
	}
	c.mu.Unlock()
	return nil
}

// releaseHandshake drops what utls keeps of the handshake once it is over:
// the hello messages, key shares (an ML-KEM key alone is about 8 KB), the
// session being resumed and the ClientHello spec. utls reads none of them
// after the handshake.
func (c *Conn) releaseHandshake() {
	hs := &c.u.HandshakeState
	hs.Hello, hs.ServerHello, hs.MasterSecret, hs.Session = nil, nil, nil, nil
	hs.State12 = utls.TLS12OnlyState{}
	hs.State13 = utls.TLS13OnlyState{}
	c.u.Extensions = nil
}

// mapErr prefers the record layer's typed error over the stack's report of
// the failure it caused, and wraps either in an *AlertError when a fatal
// alert ended the connection.
func (c *Conn) mapErr(err error) error {
	if err == nil {
		return nil
	}
	inner := err
	if gerr := c.guard.Err(); gerr != nil {
		inner = gerr
		var de *guard.DeviceError
		if errors.As(gerr, &de) {
			inner = &DeviceLimitError{Type: de.Type, Len: de.Len, Limit: de.Limit}
		}
	}
	if a, remote, ok := c.guard.FatalAlert(); ok {
		return &AlertError{Alert: a, Remote: remote, Err: inner}
	}
	if a, remote, ok := stackAlert(err); ok {
		return &AlertError{Alert: a, Remote: remote, Err: inner}
	}
	return inner
}

// Read reads application data.
func (c *Conn) Read(b []byte) (int, error) {
	if err := c.HandshakeContext(context.Background()); err != nil {
		return 0, err
	}
	n, err := c.u.Read(b)
	if err == io.EOF && !c.guard.ReturnedEOF() {
		// utls returns io.EOF for a close_notify and for the transport's
		// end alike; only the guard below it knows which it was.
		c.closeNotify.Store(true)
	}
	return n, c.mapErr(err)
}

// Write writes b as records of at most the send limit each, gathering the
// records of up to 64 KiB into one transport write.
func (c *Conn) Write(b []byte) (int, error) {
	if err := c.HandshakeContext(context.Background()); err != nil {
		return 0, err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	n, err := writeSplit(c.u, c.guard, b, c.sendLimit(c.guard.Limits().Send))
	return n, c.mapErr(err)
}

// sendLimit is the content limit of the application data records Write
// sends: owed, or Config.SendRecordLimit when that is lower.
func (c *Conn) sendLimit(owed int) int {
	if l := c.cfg.SendRecordLimit; l > 0 && l < owed {
		return l
	}
	return owed
}

// Close sends close_notify (when the handshake has completed) and closes the
// transport.
func (c *Conn) Close() error {
	if c.u == nil {
		return c.raw.Close()
	}
	return c.u.Close()
}

// CloseWrite sends close_notify and half-closes the transport when it
// supports CloseWrite. The handshake must have completed.
func (c *Conn) CloseWrite() error {
	if c.err != nil {
		return c.err
	}
	if err := c.u.CloseWrite(); err != nil {
		return err
	}
	if cw, ok := c.raw.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ConnectionState returns the state of the TLS session in crypto/tls's
// terms: every field utls fills, the key exchange group (CurveID) and
// whether the server sent a HelloRetryRequest as the record layer read them
// from the server's hellos, and a working ExportKeyingMaterial.
func (c *Conn) ConnectionState() ConnectionState {
	if c.u == nil {
		return ConnectionState{}
	}
	s := c.u.ConnectionState()
	cs := ConnectionState{ConnectionState: tls.ConnectionState{
		Version:                     s.Version,
		HandshakeComplete:           s.HandshakeComplete,
		DidResume:                   s.DidResume,
		CipherSuite:                 s.CipherSuite,
		NegotiatedProtocol:          s.NegotiatedProtocol,
		ServerName:                  s.ServerName,
		PeerCertificates:            s.PeerCertificates,
		VerifiedChains:              s.VerifiedChains,
		SignedCertificateTimestamps: s.SignedCertificateTimestamps,
		OCSPResponse:                s.OCSPResponse,
		TLSUnique:                   s.TLSUnique,
		ECHAccepted:                 s.ECHAccepted,
		CurveID:                     tls.CurveID(c.guard.KeyExchangeGroup()),
		HelloRetryRequest:           c.guard.HelloRetried(),
	}}
	if s.HandshakeComplete {
		cs.ekm = s.ExportKeyingMaterial
	}
	return cs
}

// CloseNotifyReceived reports whether the server ended the connection with
// a close_notify alert. A Read that returns io.EOF while this is false met a
// transport that closed without one: data that ends at the connection's close
// (an HTTP body without Content-Length) may have been cut.
func (c *Conn) CloseNotifyReceived() bool { return c.closeNotify.Load() }

// RecordState reports the record-size negotiation and the records seen so
// far.
func (c *Conn) RecordState() RecordState {
	if c.guard == nil {
		return RecordState{}
	}
	agr, _ := c.guard.Agreement()
	lim := c.guard.Limits()
	st := c.guard.Stats()
	offer := c.guard.Offer()
	rs := RecordState{
		Version:                  agr.Version,
		CipherSuite:              agr.Suite,
		OfferedMaxFragmentLength: offer.MaxFragmentLength.Bytes(),
		OfferedRecordSizeLimit:   offer.RecordSizeLimit,
		Agreed:                   agr.Kind,
		AgreedMaxFragmentLength:  agr.MaxFragmentLength.Bytes(),
		PeerRecordSizeLimit:      agr.PeerRecordSizeLimit,
		CertCompression:          c.guard.CertCompression(),
		SendLimit:                c.sendLimit(lim.Send),
		ReceiveLimit:             lim.Receive,
		LargestSent:              st.LargestSent,
		LargestReceived:          st.LargestReceived,
		RecordsSent:              st.SentRecords,
		RecordsReceived:          st.ReceivedRecords,
		BytesSent:                st.SentBytes,
		BytesReceived:            st.ReceivedBytes,
		CloseNotify:              c.closeNotify.Load(),
	}
	rs.Resumed = c.u.ConnectionState().DidResume
	c.mu.Lock()
	rs.HandshakeBytesSent, rs.HandshakeBytesReceived = c.hsSent, c.hsReceived
	rs.Anchors = append([]trust.Anchor(nil), c.anchors...)
	c.mu.Unlock()
	return rs
}
