package recordlimit

import "fmt"

// Offer is what a client asks for in its ClientHello.
type Offer struct {
	// MaxFragmentLength is the max_fragment_length code offered (a code,
	// not bytes: MFL512 asks for 512-byte fragments), or 0.
	MaxFragmentLength MaxFragmentCode
	// RecordSizeLimit is the record_size_limit value offered, in bytes
	// (64..16385), or 0. It is the largest record the client is willing to
	// receive.
	RecordSizeLimit int
}

// Validate reports whether o can be sent: a valid MFL code and an RSL between
// 64 and 16385.
func (o Offer) Validate() error {
	if o.MaxFragmentLength != 0 && !o.MaxFragmentLength.Valid() {
		return fmt.Errorf("recordlimit: max_fragment_length code %d is not one of 1..4", o.MaxFragmentLength)
	}
	if o.RecordSizeLimit != 0 && (o.RecordSizeLimit < MinRecordSizeLimit || o.RecordSizeLimit > MaxRecordSizeLimitTLS13) {
		return fmt.Errorf("recordlimit: record_size_limit must be between %d and %d, not %d",
			MinRecordSizeLimit, MaxRecordSizeLimitTLS13, o.RecordSizeLimit)
	}
	return nil
}

// Kind says which extension, if any, the server agreed to.
type Kind uint8

// The possible outcomes of a negotiation.
const (
	KindNone Kind = iota // the server answered neither extension
	KindMFL              // the server echoed max_fragment_length
	KindRSL              // the server answered record_size_limit
)

// String returns the name of the extension agreed to, or "none".
func (k Kind) String() string {
	switch k {
	case KindMFL:
		return "max_fragment_length"
	case KindRSL:
		return "record_size_limit"
	}
	return "none"
}

// Expansion returns the most bytes record protection may add to a plaintext
// fragment with the given cipher suite: the AEAD tag and, in TLS 1.2 AES-GCM,
// the explicit nonce; for TLS 1.2 AES-CBC the explicit IV (16), the MAC (20,
// 32 or 48) and the padding, which a sender may make up to 256 bytes long
// (crypto/tls and most stacks send at most one block, 16). For TLS 1.3 the
// inner content-type byte is not included. version is the protocol version
// as on the wire (crypto/tls.VersionTLS12 or VersionTLS13), suite the cipher
// suite's code point. For a suite it does not know it returns the protocol's
// allowance (256 for TLS 1.3, 2048 for TLS 1.2).
func Expansion(version, suite uint16) int {
	if version >= versionTLS13 {
		switch suite {
		case 0x1301, 0x1302, 0x1303: // AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305
			return 16
		}
		return 256 // RFC 8446, Section 5.2
	}
	switch suite {
	case 0xc02b, 0xc02c, 0xc02f, 0xc030, 0x009c, 0x009d: // AES-GCM: 8-byte explicit nonce + tag
		return 8 + 16
	case 0xcca8, 0xcca9: // ChaCha20-Poly1305
		return 16
	case 0xc009, 0xc00a, 0xc013, 0xc014, 0x002f, 0x0035: // AES-CBC, HMAC-SHA1
		return cbcIV + 20 + cbcMaxPadding
	case 0xc023, 0xc027, 0x003c, 0x003d: // AES-CBC, HMAC-SHA256
		return cbcIV + 32 + cbcMaxPadding
	case 0xc024, 0xc028: // AES-CBC, HMAC-SHA384
		return cbcIV + 48 + cbcMaxPadding
	}
	return 2048 // RFC 5246, Section 6.2.3
}

// The TLS 1.2 block cipher record (RFC 5246, Section 6.2.3.2): an explicit
// IV of one AES block, and padding of up to 255 bytes plus its length byte.
const (
	cbcIV         = 16
	cbcMaxPadding = 256
)
