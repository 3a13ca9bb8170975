package wire

import (
	"bytes"
	"crypto/sha256"

	"golang.org/x/crypto/cryptobyte"

	"github.com/tlsapp/tlsapp/recordlimit"
)

// extSupportedVersions is the supported_versions extension (RFC 8446).
const extSupportedVersions uint16 = 43

// helloRetryRandom is the ServerHello.random of a HelloRetryRequest:
// SHA-256("HelloRetryRequest").
var helloRetryRandom = sha256.Sum256([]byte("HelloRetryRequest"))

// ServerHello holds the fields of a ServerHello that decide record sizes.
type ServerHello struct {
	Version    uint16 // negotiated: supported_versions if present, else legacy_version
	Suite      uint16
	HelloRetry bool // a TLS 1.3 HelloRetryRequest
	Extensions []Extension
}

// ParseServerHello parses a ServerHello message body (the bytes after the
// 4-byte handshake header). A malformed message is a decode_error.
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
		return sh, negErr(0, recordlimit.AlertDecodeError, "malformed ServerHello")
	}
	sh.HelloRetry = bytes.Equal(random, helloRetryRandom[:])
	if !s.Empty() {
		var exts cryptobyte.String
		if !s.ReadUint16LengthPrefixed(&exts) || !s.Empty() {
			return sh, negErr(0, recordlimit.AlertDecodeError, "malformed ServerHello extensions")
		}
		var err error
		if sh.Extensions, err = ParseExtensions(exts); err != nil {
			return sh, err
		}
	}
	if d, ok := FindExtension(sh.Extensions, extSupportedVersions); ok {
		s := cryptobyte.String(d)
		if !s.ReadUint16(&sh.Version) || !s.Empty() {
			return sh, negErr(0, recordlimit.AlertDecodeError, "malformed supported_versions in ServerHello")
		}
	}
	return sh, nil
}

// ParseEncryptedExtensions parses a TLS 1.3 EncryptedExtensions message body.
// A malformed message is a decode_error.
func ParseEncryptedExtensions(body []byte) ([]Extension, error) {
	s := cryptobyte.String(body)
	var exts cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&exts) || !s.Empty() {
		return nil, negErr(0, recordlimit.AlertDecodeError, "malformed EncryptedExtensions")
	}
	return ParseExtensions(exts)
}

// Bounds on the server's TLS 1.3 handshake messages, in bytes, which
// tlsapp's client enforces as it follows the server's flight: a message above
// its bound ends the handshake before the TLS stack allocates for it.
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
