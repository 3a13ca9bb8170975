package guard

import (
	"fmt"

	"golang.org/x/crypto/cryptobyte"

	"github.com/tlsapp/tlsapp/internal/wire"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// msgFollower follows handshake messages across and within records with
// bounded memory: it keeps a message's 4-byte header and at most the first
// keep bytes of its body, and counts the rest.
type msgFollower struct {
	hdr  [4]byte
	nhdr int    // header bytes seen of the current message
	typ  uint8  // the current message's type, once its header is whole
	n    int    // its declared body length
	got  int    // body bytes seen
	keep int    // body bytes to keep
	body []byte // the kept bytes; reused, never more than 64 KiB
	// scratch is a reused buffer for the content of a decrypted record.
	scratch []byte
}

// idle reports whether the follower sits at a message boundary.
func (f *msgFollower) idle() bool { return f.nhdr == 0 }

func (f *msgFollower) reset() {
	f.nhdr, f.got, f.n, f.keep = 0, 0, 0, 0
	f.body, f.scratch = nil, nil
}

// feed walks b. For each message header it calls start, which returns how
// many body bytes to keep or an error; for each whole message it calls done
// with the kept bytes and what is left of b after the message.
func (f *msgFollower) feed(b []byte, start func(typ uint8, n int) (int, error), done func(typ uint8, body, rest []byte) error) error {
	for len(b) > 0 {
		if f.nhdr < 4 {
			k := copy(f.hdr[f.nhdr:], b)
			f.nhdr += k
			b = b[k:]
			if f.nhdr < 4 {
				return nil
			}
			f.typ = f.hdr[0]
			f.n = int(f.hdr[1])<<16 | int(f.hdr[2])<<8 | int(f.hdr[3])
			f.got = 0
			keep, err := start(f.typ, f.n)
			if err != nil {
				return err
			}
			f.keep = min(keep, f.n)
			f.body = f.body[:0]
		}
		k := min(len(b), f.n-f.got)
		if want := f.keep - len(f.body); want > 0 {
			f.body = append(f.body, b[:min(k, want)]...)
		}
		f.got += k
		b = b[k:]
		if f.got == f.n {
			f.nhdr = 0
			if err := done(f.typ, f.body, b); err != nil {
				return err
			}
		}
	}
	return nil
}

func unexpected(format string, args ...any) *wire.ProtocolError {
	return &wire.ProtocolError{Desc: recordlimit.AlertUnexpectedMessage, Reason: fmt.Sprintf(format, args...)}
}

func tooLarge(typ uint8, n, limit int) *wire.ProtocolError {
	return &wire.ProtocolError{Desc: recordlimit.AlertDecodeError,
		Reason: fmt.Sprintf("handshake message %d of %d bytes is above the %d-byte bound", typ, n, limit)}
}

// msgStart and msgDone follow a message by the phase the read side is in
// when it starts or ends: within one record a TLS 1.2 ServerHello is
// followed by the rest of the server's flight.
func (c *Conn) msgStart(typ uint8, n int) (int, error) {
	c.mu.Lock()
	phase := c.phase
	c.mu.Unlock()
	switch phase {
	case waitServerHello:
		return c.helloStart(typ, n)
	case waitEncryptedExt:
		return c.flightStart(typ, n)
	}
	return c.follow12Start(typ, n)
}

func (c *Conn) msgDone(typ uint8, body, rest []byte) error {
	c.mu.Lock()
	phase := c.phase
	c.mu.Unlock()
	switch phase {
	case waitServerHello:
		return c.helloDone(typ, body, rest)
	case waitEncryptedExt:
		return c.flightDone(typ, body, rest)
	}
	return c.follow12Done(typ, body, rest)
}

// helloStart admits the server's first message: a ServerHello or
// HelloRetryRequest, whole.
func (c *Conn) helloStart(typ uint8, n int) (int, error) {
	if typ != typeServerHello {
		return 0, unexpected("handshake message %d where the ServerHello belongs", typ)
	}
	if n > maxHandshakeMessage {
		return 0, tooLarge(typ, n, maxHandshakeMessage)
	}
	return n, nil
}

// helloDone applies a ServerHello or HelloRetryRequest. rest is what its
// record holds after it.
func (c *Conn) helloDone(_ uint8, msg, rest []byte) error {
	sh, err := wire.ParseServerHello(msg)
	if err != nil {
		return err
	}
	if sh.HelloRetry {
		if c.hrr {
			return unexpected("a second HelloRetryRequest")
		}
		// A HelloRetryRequest may not answer either extension; the real
		// ServerHello follows the second ClientHello, which it answers.
		if _, err := wire.NegotiateServerHello(c.offer, wire.VersionTLS13, sh.Suite, sh.Extensions); err != nil {
			return err
		}
		if len(rest) > 0 || !c.follow.idle() {
			return unexpected("a message after the HelloRetryRequest in its record")
		}
		c.mu.Lock()
		c.hrr = true
		c.mu.Unlock()
		return nil
	}
	a, err := wire.NegotiateServerHello(c.offer, sh.Version, sh.Suite, sh.Extensions)
	if err != nil {
		return err
	}
	if sh.Version >= wire.VersionTLS13 {
		// RFC 8446, Section 5.1: handshake messages may not span a key
		// change, and the keys change right after the ServerHello.
		if len(rest) > 0 || !c.follow.idle() {
			return unexpected("a message after the TLS 1.3 ServerHello in its record")
		}
		c.mu.Lock()
		c.group = keyShareGroup(sh.Extensions)
		c.mu.Unlock()
		c.setAgreement(a, waitEncryptedExt)
		return nil
	}
	if c.hrr {
		return &wire.ProtocolError{Desc: recordlimit.AlertIllegalParameter, Reason: "a TLS 1.2 ServerHello after a HelloRetryRequest"}
	}
	c.setAgreement(a, negotiated)
	// The bytes after the hello in its record are bound by the agreement
	// (nextRecord checks the record's length once it is inspected).
	c.pastHello = len(rest) > 0
	return nil
}

// keyShareGroup returns the group of a TLS 1.3 ServerHello's key_share, or 0.
func keyShareGroup(exts []wire.Extension) uint16 {
	d, ok := wire.FindExtension(exts, extKeyShare)
	var g uint16
	if s := cryptobyte.String(d); ok && s.ReadUint16(&g) {
		return g
	}
	return 0
}

// flightStart admits a message of the server's TLS 1.3 handshake flight:
// EncryptedExtensions first, then anything up to Finished, each within its
// bound.
func (c *Conn) flightStart(typ uint8, n int) (int, error) {
	limit := maxHandshakeMessage
	if typ == typeCertificate {
		limit = wire.MaxCertificateMessage
	}
	if n > limit {
		return 0, tooLarge(typ, n, limit)
	}
	switch {
	case !c.eeSeen && typ != typeEncryptedExtensions:
		return 0, unexpected("handshake message %d before EncryptedExtensions", typ)
	case c.eeSeen && (typ == typeEncryptedExtensions || typ == typeServerHello):
		return 0, unexpected("handshake message %d after EncryptedExtensions", typ)
	case typ == typeEncryptedExtensions:
		return n, nil
	case typ == typeCompressedCertificate:
		return 5, nil // algorithm and uncompressed_length
	}
	return 0, nil
}

// flightDone applies a whole message of the server's TLS 1.3 flight.
func (c *Conn) flightDone(typ uint8, msg, rest []byte) error {
	switch typ {
	case typeEncryptedExtensions:
		exts, err := wire.ParseEncryptedExtensions(msg)
		if err != nil {
			return err
		}
		c.mu.Lock()
		suite := c.agr.Suite
		c.mu.Unlock()
		agr, err := wire.NegotiateEncryptedExtensions(c.offer, suite, exts)
		if err != nil {
			return err
		}
		c.eeSeen = true
		// The answer binds the records after this one.
		c.setAgreement(agr, waitEncryptedExt)
		c.mu.Lock()
		c.limits = agr.Limits(c.offer)
		c.mu.Unlock()
	case typeCompressedCertificate:
		if err := checkCompressedCertificate(msg); err != nil {
			return err
		}
		c.certAlg.Store(uint32(msg[0])<<8 | uint32(msg[1])) // checked: at least 5 bytes
	case typeFinished:
		// The server's keys change after its Finished.
		if len(rest) > 0 || !c.follow.idle() {
			return unexpected("a message after the server's Finished in its record")
		}
		c.endServerEpoch()
	}
	return nil
}

// follow12Start and follow12Done read the plaintext part of a TLS 1.2
// server flight for the key exchange group only; they never fail: the
// stack judges the flight.
func (c *Conn) follow12Start(typ uint8, n int) (int, error) {
	if typ == typeServerKeyExchange {
		return 3, nil // curve_type, named_curve
	}
	return 0, nil
}

func (c *Conn) follow12Done(typ uint8, msg, _ []byte) error {
	if typ == typeServerKeyExchange && len(msg) == 3 && msg[0] == 3 { // named_curve
		c.mu.Lock()
		c.group = uint16(msg[1])<<8 | uint16(msg[2])
		c.mu.Unlock()
	}
	return nil
}

// HelloRetried reports whether the server answered the first ClientHello
// with a HelloRetryRequest.
func (c *Conn) HelloRetried() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hrr
}

// KeyExchangeGroup returns the key exchange group the server chose, as the
// TLS registry numbers it (29 for X25519, 4588 for X25519MLKEM768), read
// from its TLS 1.3 ServerHello or TLS 1.2 ServerKeyExchange; 0 when it is not
// known (a TLS 1.2 resumption, or before the server said).
func (c *Conn) KeyExchangeGroup() uint16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.group
}
