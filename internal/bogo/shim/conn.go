package main

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"time"

	"github.com/tlsapp/tlsapp/recordlimit"
	"github.com/tlsapp/tlsapp/tlsapp"
)

// defaultReadSize is the read buffer of the echo loop without -read-size:
// a whole record.
const defaultReadSize = 16384

// shutdownWait bounds how long a failing shim reads what the runner still
// sends after the shim's alert.
const shutdownWait = 5 * time.Second

// run makes the connections the test asks for: one, and -resume-count more.
func (o *options) run() error {
	var (
		ccfg *tlsapp.Config
		scfg *tls.Config
		sopt tlsapp.ServerOptions
		v    countingVerifier
		err  error
	)
	if o.server {
		scfg, err = o.serverConfig()
		sopt = tlsapp.ServerOptions{
			MaxRecord:    o.maxSendFragment,
			SessionCache: tlsapp.NewServerSessionCache(tlsapp.DefaultServerSessions, tlsapp.DefaultServerSessionBytes),
		}
	} else {
		ccfg, err = o.clientConfig(tlsapp.NewSessionCache(0), &v)
	}
	if err != nil {
		return err
	}
	var session sessionWire
	for i := 0; i <= o.resumeCount; i++ {
		var c endpoint
		if o.server {
			c = &serverEndpoint{cfg: scfg, opts: sopt}
		} else {
			c = &clientEndpoint{cfg: ccfg, verifier: &v}
		}
		if err := o.connect(i, c, &session); err != nil {
			if i > 0 {
				return fmt.Errorf("resumption %d: %w", i, err)
			}
			return err
		}
	}
	return nil
}

// sessionWire is what the wire showed of the connection that made the
// session a resumption continues: a resumed handshake signs nothing.
type sessionWire struct {
	peerSigAlg uint16
	seen       bool
}

// endpoint is one side's connection over tlsapp.
type endpoint interface {
	// start begins the connection over raw, with keys logged to keyLog.
	start(raw net.Conn, keyLog io.Writer) net.Conn
	handshake(ctx context.Context) error
	state() tls.ConnectionState
	// check is the side's own checks after the handshake (i counts the
	// connections from 0) and after the runner closed (eof).
	check(o *options, i int, eof bool) error
}

// connect runs connection i: dial, shim id, handshake, checks, echo.
func (o *options) connect(i int, e endpoint, session *sessionWire) error {
	host := "127.0.0.1"
	if o.ipv6 {
		host = "::1"
	}
	raw, err := net.Dial("tcp", net.JoinHostPort(host, o.port))
	if err != nil {
		return err
	}
	defer raw.Close()
	if _, err := raw.Write(binary.LittleEndian.AppendUint64(nil, o.shimID)); err != nil {
		return err
	}
	w := newWire(raw, o.server)
	c := e.start(w, keyLog{w})
	if err := e.handshake(context.Background()); err != nil {
		return shutdown(raw, o.beyondClient(e, err))
	}
	cs := e.state()
	if err := o.checkState(cs); err != nil {
		return shutdown(raw, err)
	}
	if err := o.checkWire(w, cs, session); err != nil {
		return shutdown(raw, err)
	}
	if err := o.checkOffer(w); err != nil {
		return shutdown(raw, err)
	}
	afterHandshake := w.mark()
	if err := e.check(o, i, false); err != nil {
		return shutdown(raw, err)
	}
	if o.shimWritesFirst || (i > 0 && o.onResumeShimWritesFirst) {
		if _, err := c.Write([]byte("hello")); err != nil {
			return shutdown(raw, err)
		}
	}
	buf := make([]byte, defaultReadSize)
	if o.readSize > 0 {
		buf = make([]byte, o.readSize)
	}
	for {
		n, err := c.Read(buf)
		if n > 0 {
			for j := range buf[:n] {
				buf[j] ^= 0xff
			}
			if _, werr := c.Write(buf[:n]); werr != nil {
				return shutdown(raw, werr)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return shutdown(raw, err)
		}
	}
	if err := o.checkSendLimit(w, afterHandshake); err != nil {
		return err
	}
	return e.check(o, i, true)
}

// checkOffer checks that the client's ClientHello, on the wire, offered
// what the harness's -tlsapp- flags asked for: the runner ignores both
// extensions, so only the wire shows that run 2 offered them.
func (o *options) checkOffer(w *wire) error {
	if o.server || (o.offerRecordSizeLimit == 0 && o.offerMaxFragmentLength == 0) {
		return nil
	}
	exts, err := w.clientHelloExtensions()
	if err != nil {
		return err
	}
	if n := o.offerRecordSizeLimit; n != 0 {
		if got := exts[recordlimit.ExtRecordSizeLimit]; len(got) != 2 || int(got[0])<<8|int(got[1]) != n {
			return fmt.Errorf("the ClientHello's record_size_limit is %x, want %d", got, n)
		}
	}
	if n := o.offerMaxFragmentLength; n != 0 {
		code, err := recordlimit.MaxFragmentCodeFor(n)
		if err != nil {
			return err
		}
		if got := exts[recordlimit.ExtMaxFragmentLength]; len(got) != 1 || got[0] != byte(code) {
			return fmt.Errorf("the ClientHello's max_fragment_length is %x, want code %d", got, code)
		}
	}
	return nil
}

// sendLimitSlack is the most a record's protection adds to its content:
// a TLS 1.2 AES-CBC record's IV, MAC and padding, with room to spare.
const sendLimitSlack = 16 + 48 + 256

// checkSendLimit checks, on the wire, that with -max-send-fragment no
// record the client sent after the handshake carried more than the limit.
func (o *options) checkSendLimit(w *wire, mark int) error {
	if o.server || o.maxSendFragment == 0 {
		return nil
	}
	for _, n := range w.clientRecordsSince(mark) {
		if n > o.maxSendFragment+sendLimitSlack {
			return fmt.Errorf("the client sent a %d-byte record under -max-send-fragment %d", n, o.maxSendFragment)
		}
	}
	return nil
}

// beyondClient turns a handshake that failed because the server wants TLS
// 1.0 or 1.1, when the test's flags enable them, into an unimplemented
// test: the test needs a version tlsapp's client does not speak, and the
// failure proves nothing of what it checks. The server either chose such
// a version (the client refused its ServerHello) or answered the client's
// offer of 1.2 and 1.3 with protocol_version. When the flags exclude the
// old versions, as in BoGo's MinimumVersion tests, the refusal is the
// behaviour under test and stays a failure.
func (o *options) beyondClient(e endpoint, err error) error {
	ce, ok := e.(*clientEndpoint)
	lo, hi := o.versions()
	if !ok || lo >= clientMinVersion || lo > hi {
		return err
	}
	v := ce.c.RecordState().Version
	var ae *tlsapp.AlertError
	refused := v == 0 && errors.As(err, &ae) && ae.Remote && ae.Alert == recordlimit.AlertProtocolVersion
	if (v != 0 && v < clientMinVersion && v >= lo) || refused {
		return unimplemented("the server wants TLS 1.0 or 1.1 (%v): tlsapp's client speaks TLS 1.2 and 1.3 only", err)
	}
	return err
}

// shutdown ends a failed connection gently, so that the runner reads the
// alert the shim sent before it meets a closed socket: it half-closes the
// transport and reads what the runner still sends. It returns err.
func shutdown(raw net.Conn, err error) error {
	if tc, ok := raw.(*net.TCPConn); ok {
		tc.CloseWrite()
		tc.SetReadDeadline(time.Now().Add(shutdownWait))
		io.Copy(io.Discard, tc)
	}
	return err
}

// checkWire checks what only the wire shows: the peer's signature
// algorithm (on a resumption, that of the connection that made the
// session) and, on the client, the server's CertificateRequest.
func (o *options) checkWire(w *wire, cs tls.ConnectionState, session *sessionWire) error {
	wantReq := !o.server && len(o.expectPeerVerify) > 0
	if o.expectPeerSigAlg == 0 && !wantReq {
		return nil
	}
	h, err := w.read()
	if err != nil {
		return err
	}
	peer := "server"
	if o.server {
		peer = "client"
	}
	alg, signed := h.signedBy[peer]
	switch {
	case signed:
		session.peerSigAlg, session.seen = alg, true
	case cs.DidResume && session.seen:
		alg = session.peerSigAlg
	}
	if o.expectPeerSigAlg != 0 && alg != uint16(o.expectPeerSigAlg) {
		return fmt.Errorf("the %s signed with %v, want %v", peer, tls.SignatureScheme(alg), tls.SignatureScheme(o.expectPeerSigAlg))
	}
	if wantReq {
		want := make([]uint16, len(o.expectPeerVerify))
		for i, a := range o.expectPeerVerify {
			want[i] = uint16(a)
		}
		if !slices.Equal(h.certRequestAlgs, want) {
			return fmt.Errorf("the server's CertificateRequest lists %v, want %v", h.certRequestAlgs, want)
		}
	}
	return nil
}

// checkState checks the -expect- flags both sides share.
func (o *options) checkState(cs tls.ConnectionState) error {
	if !cs.HandshakeComplete {
		return errors.New("the handshake did not complete")
	}
	if o.expectVersion != 0 && cs.Version != uint16(o.expectVersion) {
		return fmt.Errorf("version %s, want %s", tls.VersionName(cs.Version), tls.VersionName(uint16(o.expectVersion)))
	}
	if o.expectALPN != "" && cs.NegotiatedProtocol != o.expectALPN {
		return fmt.Errorf("ALPN protocol %q, want %q", cs.NegotiatedProtocol, o.expectALPN)
	}
	if o.selectALPN != "" && cs.NegotiatedProtocol != o.selectALPN {
		return fmt.Errorf("ALPN protocol %q, want %q", cs.NegotiatedProtocol, o.selectALPN)
	}
	if o.declineALPN && cs.NegotiatedProtocol != "" {
		return fmt.Errorf("ALPN protocol %q after declining", cs.NegotiatedProtocol)
	}
	if o.expectCurve != 0 && cs.CurveID != tls.CurveID(o.expectCurve) {
		return fmt.Errorf("key exchange group %d, want %d", cs.CurveID, o.expectCurve)
	}
	if o.expectHRR && !cs.HelloRetryRequest {
		return errors.New("no HelloRetryRequest, want one")
	}
	if o.expectNoHRR && cs.HelloRetryRequest {
		return errors.New("a HelloRetryRequest, want none")
	}
	if o.expectSessionMiss && cs.DidResume {
		return errors.New("the session resumed, want a full handshake")
	}
	if o.expectServerName != "" && cs.ServerName != o.expectServerName {
		return fmt.Errorf("server name %q, want %q", cs.ServerName, o.expectServerName)
	}
	if o.expectECHAccept && !cs.ECHAccepted {
		return errors.New("ECH not accepted, want it accepted")
	}
	if !o.expectECHAccept && cs.ECHAccepted {
		return errors.New("ECH accepted, want it not")
	}
	return nil
}

type clientEndpoint struct {
	cfg      *tlsapp.Config
	verifier *countingVerifier
	c        *tlsapp.Conn
	calls    int32 // the verifier's calls before this connection
}

func (e *clientEndpoint) start(raw net.Conn, keyLog io.Writer) net.Conn {
	e.calls = e.verifier.calls.Load()
	cfg := *e.cfg
	cfg.KeyLogWriter = keyLog
	e.c = tlsapp.Client(raw, &cfg)
	return e.c
}

func (e *clientEndpoint) handshake(ctx context.Context) error { return e.c.HandshakeContext(ctx) }

func (e *clientEndpoint) state() tls.ConnectionState { return e.c.ConnectionState().ConnectionState }

func (e *clientEndpoint) check(o *options, i int, eof bool) error {
	if !eof {
		if o.reverifyOnResume && i > 0 && e.verifier.calls.Load() == e.calls {
			return errors.New("the verifier was not called on resumption")
		}
		return nil
	}
	if o.checkCloseNotify && !e.c.CloseNotifyReceived() {
		return errors.New("the connection ended without close_notify")
	}
	return nil
}

type serverEndpoint struct {
	cfg  *tls.Config
	opts tlsapp.ServerOptions
	c    *tlsapp.ServerConn
}

func (e *serverEndpoint) start(raw net.Conn, keyLog io.Writer) net.Conn {
	cfg := e.cfg.Clone()
	cfg.KeyLogWriter = keyLog
	e.c = tlsapp.Server(raw, cfg, e.opts)
	return e.c
}

func (e *serverEndpoint) handshake(ctx context.Context) error { return e.c.HandshakeContext(ctx) }

func (e *serverEndpoint) state() tls.ConnectionState { return e.c.ConnectionState() }

func (e *serverEndpoint) check(*options, int, bool) error { return nil }
