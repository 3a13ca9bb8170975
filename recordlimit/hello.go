package recordlimit

import (
	"bytes"
	"crypto/sha256"

	"golang.org/x/crypto/cryptobyte"

	"github.com/tlsapp/tlsapp/internal/extlist"
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

// walkExtensions calls fn for each extension of a list, in order, rejecting
// a malformed list and duplicates (decode_error for both, as crypto/tls and
// BoringSSL answer a duplicate in a ServerHello or EncryptedExtensions), in
// time linear in the list. fn may stop the walk with an error.
func walkExtensions(s cryptobyte.String, fn func(typ uint16, data []byte) error) error {
	err := extlist.Walk(s, fn)
	if le, ok := err.(*extlist.Error); ok {
		if le.Duplicate {
			return negErr(le.Type, AlertDecodeError, "extension %d appears twice", le.Type)
		}
		return negErr(0, AlertDecodeError, "malformed extension list")
	}
	return err
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

// Bounds on the server's TLS 1.3 handshake messages, which tlsapp's client
// enforces as it follows the server's flight: a message above its bound ends
// the handshake before the TLS stack allocates for it.
const (
	// MaxCertificateMessage bounds the length a server may declare for a
	// TLS 1.3 Certificate message, as crypto/tls does (256 KiB); above it the
	// client sends decode_error (a ProtocolError). Every other handshake
	// message of the server's flight is bounded by 64 KiB.
	MaxCertificateMessage = 256 << 10
	// MaxCertificateSize bounds the uncompressed length a server may declare
	// for a compressed Certificate (RFC 8879); above it the client sends
	// bad_certificate (a NegotiationError). An uncompressed TLS 1.3
	// Certificate may be up to MaxCertificateMessage long.
	MaxCertificateSize = 64 << 10
)
