package wire

import (
	"strconv"

	"golang.org/x/crypto/cryptobyte"

	"github.com/tlsapp/tlsapp/recordlimit"
)

// Record sizes from RFC 5246 and RFC 8446, in bytes.
const (
	// HeaderLen is the length of a record header.
	HeaderLen = 5
	// MaxCiphertextTLS12 is the largest TLS 1.2 record body, 2^14 + 2048.
	MaxCiphertextTLS12 = recordlimit.MaxPlaintext + 2048
	// MaxCiphertextTLS13 is the largest TLS 1.3 record body, 2^14 + 256.
	MaxCiphertextTLS13 = recordlimit.MaxPlaintext + 256
	// MaxRecord is the largest record, header included, either version allows.
	MaxRecord = HeaderLen + MaxCiphertextTLS12
)

// TLS versions as they appear on the wire.
const (
	VersionTLS12 uint16 = 0x0303
	VersionTLS13 uint16 = 0x0304
)

// Header is a TLS record header.
type Header struct {
	Type    recordlimit.ContentType
	Version uint16 // legacy_record_version
	Len     int    // length in bytes of the record body that follows
}

// ParseHeader parses the first HeaderLen bytes of b. It rejects unknown
// content types, versions whose major number is not 3 (a
// *recordlimit.RecordHeaderError), and lengths above MaxCiphertextTLS12, the
// largest any version allows (a *recordlimit.RecordOverflowError). b must
// hold at least HeaderLen bytes.
func ParseHeader(b []byte) (Header, error) {
	var h Header
	var typ uint8
	var n uint16
	s := cryptobyte.String(b)
	if !s.ReadUint8(&typ) || !s.ReadUint16(&h.Version) || !s.ReadUint16(&n) {
		var raw [HeaderLen]byte
		copy(raw[:], b)
		return h, &recordlimit.RecordHeaderError{Header: raw, Reason: "short header"}
	}
	h.Type, h.Len = recordlimit.ContentType(typ), int(n)
	if !h.Type.Known() {
		return h, &recordlimit.RecordHeaderError{Header: h.raw(), Reason: "unknown content type " + strconv.Itoa(int(typ))}
	}
	if h.Version>>8 != 3 {
		return h, &recordlimit.RecordHeaderError{Header: h.raw(), Reason: "record version is not TLS"}
	}
	if h.Len > MaxCiphertextTLS12 {
		return h, &recordlimit.RecordOverflowError{Type: h.Type, Len: h.Len, Limit: MaxCiphertextTLS12}
	}
	return h, nil
}

func (h Header) raw() [HeaderLen]byte {
	return [HeaderLen]byte{byte(h.Type), byte(h.Version >> 8), byte(h.Version), byte(h.Len >> 8), byte(h.Len)}
}

// Append appends the encoded header to b.
func (h Header) Append(b []byte) []byte {
	r := h.raw()
	return append(b, r[:]...)
}
