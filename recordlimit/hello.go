package recordlimit

import (
	"bytes"
	"crypto/sha256"

	"golang.org/x/crypto/cryptobyte"
)

// Handshake message types this package reads.
const (
	typeClientHello         uint8 = 1
	typeServerHello         uint8 = 2
	typeEncryptedExtensions uint8 = 8
	typeFinished            uint8 = 20
	// typeCompressedCertificate is RFC 8879's compressed_certificate.
	typeCompressedCertificate uint8 = 25
)

// extSupportedVersions is the supported_versions extension (RFC 8446).
const extSupportedVersions uint16 = 43

// helloRetryRandom is the ServerHello.random of a HelloRetryRequest:
// SHA-256("HelloRetryRequest").
var helloRetryRandom = sha256.Sum256([]byte("HelloRetryRequest"))

// Extension is one extension from a hello or EncryptedExtensions message.
type Extension struct {
	Type uint16
	Data []byte
}

// ServerHello holds the fields of a ServerHello that decide record sizes.
type ServerHello struct {
	Version    uint16 // negotiated: supported_versions if present, else legacy_version
	Suite      uint16
	HelloRetry bool // a TLS 1.3 HelloRetryRequest
	Extensions []Extension
}

// ParseServerHello parses a ServerHello message body (the bytes after the
// 4-byte handshake header).
func ParseServerHello(body []byte) (ServerHello, error) {
	var sh ServerHello
	var random, sessionID []byte
	var compression uint8
	s := cryptobyte.String(body)
	if !s.ReadUint16(&sh.Version) ||
		!s.ReadBytes(&random, 32) ||
		!s.ReadUint8LengthPrefixed((*cryptobyte.String)(&sessionID)) ||
		!s.ReadUint16(&sh.Suite) ||
		!s.ReadUint8(&compression) {
		return sh, negErr(0, AlertDecodeError, "malformed ServerHello")
	}
	sh.HelloRetry = bytes.Equal(random, helloRetryRandom[:])
	if !s.Empty() {
		var exts cryptobyte.String
		if !s.ReadUint16LengthPrefixed(&exts) || !s.Empty() {
			return sh, negErr(0, AlertDecodeError, "malformed ServerHello extensions")
		}
		var err error
		if sh.Extensions, err = parseExtensions(exts); err != nil {
			return sh, err
		}
	}
	for _, e := range sh.Extensions {
		if e.Type != extSupportedVersions {
			continue
		}
		d := cryptobyte.String(e.Data)
		if !d.ReadUint16(&sh.Version) || !d.Empty() {
			return sh, negErr(0, AlertDecodeError, "malformed supported_versions in ServerHello")
		}
	}
	return sh, nil
}

// ParseEncryptedExtensions parses a TLS 1.3 EncryptedExtensions message body.
func ParseEncryptedExtensions(body []byte) ([]Extension, error) {
	s := cryptobyte.String(body)
	var exts cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&exts) || !s.Empty() {
		return nil, negErr(0, AlertDecodeError, "malformed EncryptedExtensions")
	}
	return parseExtensions(exts)
}

// ClientHello holds the fields of a ClientHello a server needs to honour the
// client's record-size requests.
type ClientHello struct {
	Random     []byte
	Versions   []uint16 // supported_versions, or the legacy version alone
	Suites     []uint16
	Extensions []Extension
}

// clientHelloFields is a ClientHello split into its parts, unparsed.
type clientHelloFields struct {
	legacy     uint16
	random     []byte
	suites     cryptobyte.String
	extensions cryptobyte.String // the extension list, without its length
}

// splitClientHello splits a ClientHello message body into its fields.
func splitClientHello(body []byte) (clientHelloFields, error) {
	var f clientHelloFields
	var sessionID, compression cryptobyte.String
	s := cryptobyte.String(body)
	if !s.ReadUint16(&f.legacy) ||
		!s.ReadBytes(&f.random, 32) ||
		!s.ReadUint8LengthPrefixed(&sessionID) ||
		!s.ReadUint16LengthPrefixed(&f.suites) ||
		!s.ReadUint8LengthPrefixed(&compression) {
		return f, negErr(0, AlertDecodeError, "malformed ClientHello")
	}
	if !s.Empty() {
		if !s.ReadUint16LengthPrefixed(&f.extensions) || !s.Empty() {
			return f, negErr(0, AlertDecodeError, "malformed ClientHello extensions")
		}
	}
	return f, nil
}

// ParseClientHello parses a ClientHello message body.
func ParseClientHello(body []byte) (ClientHello, error) {
	var ch ClientHello
	f, err := splitClientHello(body)
	if err != nil {
		return ch, err
	}
	ch.Random = f.random
	if len(f.suites)%2 != 0 {
		return ch, negErr(0, AlertDecodeError, "malformed ClientHello cipher suites")
	}
	ch.Suites = make([]uint16, 0, len(f.suites)/2)
	for suites := f.suites; !suites.Empty(); {
		var id uint16
		suites.ReadUint16(&id)
		ch.Suites = append(ch.Suites, id)
	}
	if ch.Extensions, err = parseExtensions(f.extensions); err != nil {
		return ch, err
	}
	for _, e := range ch.Extensions {
		if e.Type != extSupportedVersions {
			continue
		}
		d := cryptobyte.String(e.Data)
		var list cryptobyte.String
		if !d.ReadUint8LengthPrefixed(&list) || !d.Empty() {
			return ch, negErr(0, AlertDecodeError, "malformed supported_versions in ClientHello")
		}
		for !list.Empty() {
			var v uint16
			if !list.ReadUint16(&v) {
				return ch, negErr(0, AlertDecodeError, "malformed supported_versions in ClientHello")
			}
			ch.Versions = append(ch.Versions, v)
		}
	}
	if ch.Versions == nil {
		ch.Versions = []uint16{f.legacy}
	}
	return ch, nil
}

// extensionSet is a set of extension types: one bit per code point, so that
// checking a list for duplicates costs one step per extension.
type extensionSet [1 << 16 / 64]uint64

// add adds typ and reports whether it was not in the set yet.
func (s *extensionSet) add(typ uint16) bool {
	w, bit := typ/64, uint64(1)<<(typ%64)
	if s[w]&bit != 0 {
		return false
	}
	s[w] |= bit
	return true
}

// walkExtensions calls fn for each extension of a list, in order, rejecting
// a malformed list and duplicates, in time linear in the list. fn may stop
// the walk with an error.
func walkExtensions(s cryptobyte.String, fn func(typ uint16, data []byte) error) error {
	var seen extensionSet
	for !s.Empty() {
		var typ uint16
		var data cryptobyte.String
		if !s.ReadUint16(&typ) || !s.ReadUint16LengthPrefixed(&data) {
			return negErr(0, AlertDecodeError, "malformed extension list")
		}
		if !seen.add(typ) {
			return negErr(typ, AlertIllegalParameter, "extension %d appears twice", typ)
		}
		if err := fn(typ, data); err != nil {
			return err
		}
	}
	return nil
}

// parseExtensions parses an extension list, rejecting duplicates.
func parseExtensions(s cryptobyte.String) ([]Extension, error) {
	var exts []Extension
	err := walkExtensions(s, func(typ uint16, data []byte) error {
		exts = append(exts, Extension{Type: typ, Data: data})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return exts, nil
}

// findExtension returns the body of extension typ and whether it is present.
func findExtension(exts []Extension, typ uint16) ([]byte, bool) {
	for _, e := range exts {
		if e.Type == typ {
			return e.Data, true
		}
	}
	return nil, false
}

// maxHandshakeMessage bounds the hello and EncryptedExtensions messages this
// package reassembles.
const maxHandshakeMessage = 1 << 16

// handshakeBuffer reassembles handshake messages from record fragments.
type handshakeBuffer struct {
	buf []byte
}

// add appends a fragment.
func (h *handshakeBuffer) add(b []byte) { h.buf = append(h.buf, b...) }

// next returns the next complete message (type and body), or ok false if more
// bytes are needed. A message above maxHandshakeMessage is an error.
func (h *handshakeBuffer) next() (typ uint8, body []byte, ok bool, err error) {
	s := cryptobyte.String(h.buf)
	var n uint32
	if !s.ReadUint8(&typ) || !s.ReadUint24(&n) {
		return 0, nil, false, nil
	}
	if n > maxHandshakeMessage {
		return 0, nil, false, negErr(0, AlertDecodeError, "handshake message of %d bytes is too large", n)
	}
	if !s.ReadBytes(&body, int(n)) {
		return 0, nil, false, nil
	}
	h.buf = h.buf[4+int(n):]
	return typ, body, true, nil
}

func (h *handshakeBuffer) reset() { h.buf = nil }
