package main

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net"
	"sync"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/cryptobyte"

	"github.com/tlsapp/tlsapp/internal/tls13"
)

// wire records a connection's bytes below tlsapp, both ways, and the
// handshake secrets the stack logs, so that the shim can read from the
// wire what neither crypto/tls nor utls reports: the signature algorithm
// of the peer's CertificateVerify (or TLS 1.2 ServerKeyExchange) and the
// signature algorithms of the server's CertificateRequest. It decrypts the
// TLS 1.3 handshake flights with the logged handshake traffic secrets
// (with crypto/aes, crypto/cipher and x/crypto's ChaCha20-Poly1305) and
// reads TLS 1.2's in the clear. It keeps at most wireCap bytes a direction:
// the handshake.
type wire struct {
	net.Conn
	mu      sync.Mutex
	fromCli bytes.Buffer // the client's bytes
	fromSrv bytes.Buffer // the server's bytes
	secrets map[string][]byte
	server  bool // this end is the server: its writes are the server's bytes
}

const wireCap = 256 << 10

func newWire(c net.Conn, server bool) *wire {
	return &wire{Conn: c, server: server, secrets: map[string][]byte{}}
}

func (w *wire) keep(buf *bytes.Buffer, p []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if n := min(len(p), wireCap-buf.Len()); n > 0 {
		buf.Write(p[:n])
	}
}

func (w *wire) Read(p []byte) (int, error) {
	n, err := w.Conn.Read(p)
	if w.server {
		w.keep(&w.fromCli, p[:n])
	} else {
		w.keep(&w.fromSrv, p[:n])
	}
	return n, err
}

func (w *wire) Write(p []byte) (int, error) {
	n, err := w.Conn.Write(p)
	if w.server {
		w.keep(&w.fromSrv, p[:n])
	} else {
		w.keep(&w.fromCli, p[:n])
	}
	return n, err
}

// CloseWrite half-closes the transport.
func (w *wire) CloseWrite() error {
	if cw, ok := w.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// keyLog is the stack's key log writer: NSS key log lines.
type keyLog struct{ w *wire }

func (k keyLog) Write(line []byte) (int, error) {
	f := bytes.Fields(line)
	if len(f) == 3 {
		if secret, err := hex.DecodeString(string(f[2])); err == nil {
			k.w.mu.Lock()
			k.w.secrets[string(f[0])] = secret
			k.w.mu.Unlock()
		}
	}
	return len(line), nil
}

// handshake is what the wire showed of a handshake.
type handshake struct {
	version, suite uint16
	// signedBy maps a side ("client", "server") to the signature
	// algorithm it signed with.
	signedBy map[string]uint16
	// certRequestAlgs are the signature algorithms of the server's
	// CertificateRequest, nil when it sent none.
	certRequestAlgs []uint16
}

// Handshake message types read here.
const (
	msgServerHello        = 2
	msgServerKeyExchange  = 12
	msgCertificateRequest = 13
	msgCertificateVerify  = 15
	msgFinished           = 20
)

var helloRetryRandom, _ = hex.DecodeString("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")

// read reads both directions' handshakes from what was recorded.
func (w *wire) read() (*handshake, error) {
	w.mu.Lock()
	srv := bytes.Clone(w.fromSrv.Bytes())
	cli := bytes.Clone(w.fromCli.Bytes())
	secrets := map[string][]byte{}
	for k, v := range w.secrets {
		secrets[k] = v
	}
	w.mu.Unlock()
	h := &handshake{signedBy: map[string]uint16{}}
	// The server's side first: its ServerHello gives the version and suite.
	if err := h.follow(srv, "server", secrets["SERVER_HANDSHAKE_TRAFFIC_SECRET"]); err != nil {
		return h, fmt.Errorf("the server's handshake on the wire: %w", err)
	}
	if err := h.follow(cli, "client", secrets["CLIENT_HANDSHAKE_TRAFFIC_SECRET"]); err != nil {
		return h, fmt.Errorf("the client's handshake on the wire: %w", err)
	}
	return h, nil
}

// follow reads one side's handshake messages from its bytes: in the clear
// up to the TLS 1.2 ChangeCipherSpec, or through the TLS 1.3 handshake
// epoch (opened with secret) up to Finished.
func (h *handshake) follow(stream []byte, side string, secret []byte) error {
	var (
		msgs   []byte // handshake bytes not yet parsed
		opener *opener
	)
	s := cryptobyte.String(stream)
	for !s.Empty() {
		var typ uint8
		var vers uint16
		var body cryptobyte.String
		if !s.ReadUint8(&typ) || !s.ReadUint16(&vers) || !s.ReadUint16LengthPrefixed(&body) {
			return nil // cut short: what there is has been read
		}
		content := []byte(body)
		switch {
		case typ == 20 && h.version != 0x0304: // TLS 1.2 ChangeCipherSpec: the rest is protected
			return nil
		case typ == 20:
			continue // TLS 1.3 middlebox compatibility
		case typ == 23 && h.version == 0x0304:
			if opener == nil {
				if secret == nil {
					return errors.New("no handshake traffic secret logged")
				}
				var err error
				if opener, err = newOpener(h.suite, secret); err != nil {
					return err
				}
			}
			var err error
			if content, typ, err = opener.open(typ, vers, content); err != nil {
				return err
			}
			if typ != 22 {
				continue
			}
		case typ != 22:
			continue
		}
		msgs = append(msgs, content...)
		for len(msgs) >= 4 {
			n := int(msgs[1])<<16 | int(msgs[2])<<8 | int(msgs[3])
			if len(msgs) < 4+n {
				break
			}
			mt, m := msgs[0], msgs[4:4+n]
			msgs = msgs[4+n:]
			if err := h.message(side, mt, m); err != nil {
				return err
			}
			if mt == msgFinished {
				return nil
			}
		}
	}
	return nil
}

// message reads one handshake message.
func (h *handshake) message(side string, typ uint8, m []byte) error {
	s := cryptobyte.String(m)
	switch typ {
	case msgServerHello:
		var vers, suite uint16
		var random []byte
		var session cryptobyte.String
		var comp uint8
		var exts cryptobyte.String
		if !s.ReadUint16(&vers) || !s.ReadBytes(&random, 32) || !s.ReadUint8LengthPrefixed(&session) ||
			!s.ReadUint16(&suite) || !s.ReadUint8(&comp) {
			return errors.New("malformed ServerHello")
		}
		if bytes.Equal(random, helloRetryRandom) {
			return nil
		}
		h.version, h.suite = vers, suite
		if s.ReadUint16LengthPrefixed(&exts) {
			for !exts.Empty() {
				var et uint16
				var ed cryptobyte.String
				if !exts.ReadUint16(&et) || !exts.ReadUint16LengthPrefixed(&ed) {
					return errors.New("malformed ServerHello extensions")
				}
				if et == 43 && len(ed) == 2 { // supported_versions
					h.version = binary.BigEndian.Uint16(ed)
				}
			}
		}
	case msgServerKeyExchange:
		// ECDHE: curve_type, named_curve, public key, then the signature.
		var ctype uint8
		var curve, alg uint16
		var pub cryptobyte.String
		if s.ReadUint8(&ctype) && s.ReadUint16(&curve) && s.ReadUint8LengthPrefixed(&pub) && s.ReadUint16(&alg) {
			h.signedBy[side] = alg
		}
	case msgCertificateVerify:
		var alg uint16
		if s.ReadUint16(&alg) {
			h.signedBy[side] = alg
		}
	case msgCertificateRequest:
		h.certRequestAlgs = []uint16{}
		if h.version == 0x0304 {
			var ctx, exts cryptobyte.String
			if !s.ReadUint8LengthPrefixed(&ctx) || !s.ReadUint16LengthPrefixed(&exts) {
				return errors.New("malformed CertificateRequest")
			}
			for !exts.Empty() {
				var et uint16
				var ed cryptobyte.String
				if !exts.ReadUint16(&et) || !exts.ReadUint16LengthPrefixed(&ed) {
					return errors.New("malformed CertificateRequest extensions")
				}
				var list cryptobyte.String
				if et == 13 && ed.ReadUint16LengthPrefixed(&list) { // signature_algorithms
					h.certRequestAlgs = readAlgs(list)
				}
			}
			return nil
		}
		var types, algs cryptobyte.String
		if s.ReadUint8LengthPrefixed(&types) && s.ReadUint16LengthPrefixed(&algs) {
			h.certRequestAlgs = readAlgs(algs)
		}
	}
	return nil
}

// readAlgs reads a list of signature algorithms (its length prefix read).
func readAlgs(list cryptobyte.String) []uint16 {
	var out []uint16
	for !list.Empty() {
		var a uint16
		if !list.ReadUint16(&a) {
			break
		}
		out = append(out, a)
	}
	return out
}

// opener opens the TLS 1.3 records of one handshake epoch.
type opener struct {
	aead cipher.AEAD
	iv   [12]byte
	seq  uint64
}

func newOpener(suite uint16, secret []byte) (*opener, error) {
	var h func() hash.Hash
	var keyLen int
	switch suite {
	case 0x1301:
		h, keyLen = sha256.New, 16
	case 0x1302:
		h, keyLen = sha512.New384, 32
	case 0x1303:
		h, keyLen = sha256.New, 32
	default:
		return nil, fmt.Errorf("TLS 1.3 suite %#04x", suite)
	}
	o := &opener{}
	key := tls13.ExpandLabel(h, secret, "key", nil, keyLen)
	copy(o.iv[:], tls13.ExpandLabel(h, secret, "iv", nil, 12))
	var err error
	if suite == 0x1303 {
		o.aead, err = chacha20poly1305.New(key)
	} else {
		var b cipher.Block
		if b, err = aes.NewCipher(key); err == nil {
			o.aead, err = cipher.NewGCM(b)
		}
	}
	return o, err
}

// open decrypts a record and returns its content and inner type.
func (o *opener) open(typ uint8, vers uint16, body []byte) ([]byte, uint8, error) {
	nonce := o.iv
	for i := 0; i < 8; i++ {
		nonce[4+i] ^= byte(o.seq >> (56 - 8*i))
	}
	o.seq++
	hdr := []byte{typ, byte(vers >> 8), byte(vers), byte(len(body) >> 8), byte(len(body))}
	plain, err := o.aead.Open(nil, nonce[:], body, hdr)
	if err != nil {
		return nil, 0, fmt.Errorf("record %d does not open", o.seq-1)
	}
	i := len(plain) - 1
	for i >= 0 && plain[i] == 0 {
		i--
	}
	if i < 0 {
		return nil, 0, errors.New("record of padding alone")
	}
	return plain[:i], plain[i], nil
}

// mark returns how many of the client's bytes the wire holds, to read the
// records sent after that point later (recordsSince).
func (w *wire) mark() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fromCli.Len()
}

// clientRecordsSince returns the length fields of the records the client
// sent after mark.
func (w *wire) clientRecordsSince(mark int) []int {
	w.mu.Lock()
	b := bytes.Clone(w.fromCli.Bytes()[mark:])
	w.mu.Unlock()
	var out []int
	for len(b) >= 5 {
		n := int(b[3])<<8 | int(b[4])
		out = append(out, n)
		b = b[min(len(b), 5+n):]
	}
	return out
}

// clientHelloExtensions returns the extensions of the first ClientHello
// the client sent.
func (w *wire) clientHelloExtensions() (map[uint16][]byte, error) {
	w.mu.Lock()
	stream := bytes.Clone(w.fromCli.Bytes())
	w.mu.Unlock()
	var msg []byte
	for s := cryptobyte.String(stream); !s.Empty(); {
		var typ uint8
		var vers uint16
		var body cryptobyte.String
		if !s.ReadUint8(&typ) || !s.ReadUint16(&vers) || !s.ReadUint16LengthPrefixed(&body) || typ != 22 {
			return nil, errors.New("no ClientHello on the wire")
		}
		msg = append(msg, body...)
		if len(msg) >= 4 && len(msg) >= 4+(int(msg[1])<<16|int(msg[2])<<8|int(msg[3])) {
			break
		}
	}
	s := cryptobyte.String(msg)
	var typ uint8
	var body, session, suites, comp, exts cryptobyte.String
	if !s.ReadUint8(&typ) || typ != 1 || !s.ReadUint24LengthPrefixed(&body) ||
		!body.Skip(2+32) || !body.ReadUint8LengthPrefixed(&session) || !body.ReadUint16LengthPrefixed(&suites) ||
		!body.ReadUint8LengthPrefixed(&comp) || !body.ReadUint16LengthPrefixed(&exts) {
		return nil, errors.New("malformed ClientHello on the wire")
	}
	out := map[uint16][]byte{}
	for !exts.Empty() {
		var et uint16
		var ed cryptobyte.String
		if !exts.ReadUint16(&et) || !exts.ReadUint16LengthPrefixed(&ed) {
			return nil, errors.New("malformed ClientHello extensions on the wire")
		}
		out[et] = ed
	}
	return out, nil
}
