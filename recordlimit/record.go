package recordlimit

import "strconv"

// ContentType is a TLS record content type.
type ContentType uint8

// The record content types of TLS 1.2 and 1.3.
const (
	TypeChangeCipherSpec ContentType = 20
	TypeAlert            ContentType = 21
	TypeHandshake        ContentType = 22
	TypeApplicationData  ContentType = 23
)

// Known reports whether t is one of the four content types TLS 1.2 and 1.3 use.
func (t ContentType) Known() bool { return t >= TypeChangeCipherSpec && t <= TypeApplicationData }

// String returns the content type's name.
func (t ContentType) String() string {
	switch t {
	case TypeChangeCipherSpec:
		return "change_cipher_spec"
	case TypeAlert:
		return "alert"
	case TypeHandshake:
		return "handshake"
	case TypeApplicationData:
		return "application_data"
	}
	return "content_type(" + strconv.Itoa(int(t)) + ")"
}

// MaxPlaintext is the largest plaintext fragment, 2^14 bytes (RFC 5246,
// Section 6.2.1; RFC 8446, Section 5.1).
const MaxPlaintext = 16384

// versionTLS13 is TLS 1.3's version on the wire.
const versionTLS13 uint16 = 0x0304
