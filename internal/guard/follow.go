package guard

import (
	"slices"

	"golang.org/x/crypto/cryptobyte"

	"github.com/tlsapp/tlsapp/internal/wire"
	"github.com/tlsapp/tlsapp/recordlimit"
)

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
	return n, nil
}

// helloDone applies a ServerHello or HelloRetryRequest. rest is what its
// record holds after it.
func (c *Conn) helloDone(_ uint8, msg, rest []byte) error {
	sh, err := wire.ParseServerHello(msg)
	if err != nil {
		return malformed("ServerHello", err)
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
		if len(rest) > 0 || !c.in.follow.idle() {
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
		if len(rest) > 0 || !c.in.follow.idle() {
			return unexpected("a message after the TLS 1.3 ServerHello in its record")
		}
		c.mu.Lock()
		c.group = keyShareGroup(sh.Extensions)
		c.mu.Unlock()
		c.setAgreement(a, waitEncryptedExt)
		return nil
	}
	if c.hrr {
		return protocolErr(recordlimit.AlertIllegalParameter, "a TLS 1.2 ServerHello after a HelloRetryRequest")
	}
	c.setAgreement(a, negotiated)
	// The bytes after the hello in its record are bound by the agreement
	// (nextRecord checks the record's length once it is inspected).
	c.in.pastHello = len(rest) > 0
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
	switch {
	case !c.in.eeSeen && typ != typeEncryptedExtensions:
		return 0, unexpected("handshake message %d before EncryptedExtensions", typ)
	case c.in.eeSeen && (typ == typeEncryptedExtensions || typ == typeServerHello):
		return 0, unexpected("handshake message %d after EncryptedExtensions", typ)
	case typ == typeEncryptedExtensions:
		return n, nil
	case typ == typeCompressedCertificate:
		return 5, nil // algorithm and uncompressed_length
	case typ == typeCertificateVerify:
		return 2, nil // algorithm
	}
	return 0, nil
}

// flightDone applies a whole message of the server's TLS 1.3 flight.
func (c *Conn) flightDone(typ uint8, msg, rest []byte) error {
	switch typ {
	case typeEncryptedExtensions:
		exts, err := wire.ParseEncryptedExtensions(msg)
		if err != nil {
			return malformed("EncryptedExtensions", err)
		}
		c.mu.Lock()
		suite := c.agr.Suite
		c.mu.Unlock()
		agr, err := wire.NegotiateEncryptedExtensions(c.offer, suite, exts)
		if err != nil {
			return err
		}
		c.in.eeSeen = true
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
	case typeCertificateVerify:
		// A shorter message is the stack's to refuse (decode_error).
		if alg, ok := sigAlg(msg); ok && c.sigAlgs != nil && !slices.Contains(c.sigAlgs, alg) {
			return protocolErr(recordlimit.AlertIllegalParameter, "the server signed its CertificateVerify with %#04x, which the client did not offer", alg)
		}
	case typeFinished:
		// The server's keys change after its Finished.
		if len(rest) > 0 || !c.in.follow.idle() {
			return unexpected("a message after the server's Finished in its record")
		}
		c.endServerEpoch()
	}
	return nil
}

// sigAlg reads the algorithm a CertificateVerify starts with.
func sigAlg(msg []byte) (uint16, bool) {
	var alg uint16
	s := cryptobyte.String(msg)
	return alg, s.ReadUint16(&alg)
}

// follow12Start and follow12Done read the plaintext part of a TLS 1.2
// server flight for the key exchange group only; they fail only on a group
// the client did not offer (utls takes any it implements): the stack
// judges the rest of the flight.
func (c *Conn) follow12Start(typ uint8, n int) (int, error) {
	if typ == typeServerKeyExchange {
		return 3, nil // curve_type, named_curve
	}
	return 0, nil
}

func (c *Conn) follow12Done(typ uint8, msg, _ []byte) error {
	if typ == typeServerKeyExchange && len(msg) == 3 && msg[0] == 3 { // named_curve
		g := uint16(msg[1])<<8 | uint16(msg[2])
		if c.groups != nil && !slices.Contains(c.groups, g) {
			return protocolErr(recordlimit.AlertIllegalParameter, "the server's ServerKeyExchange uses group %d, which the client did not offer", g)
		}
		c.mu.Lock()
		c.group = g
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
