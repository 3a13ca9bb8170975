package guard

import (
	"fmt"

	"golang.org/x/crypto/cryptobyte"

	"github.com/tlsapp/tlsapp/internal/wire"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// Handshake message types the guards read.
const (
	typeClientHello         uint8 = 1
	typeServerHello         uint8 = 2
	typeEncryptedExtensions uint8 = 8
	typeCertificate         uint8 = 11
	typeServerKeyExchange   uint8 = 12
	typeCertificateVerify   uint8 = 15
	typeFinished            uint8 = 20
	// typeCompressedCertificate is RFC 8879's compressed_certificate.
	typeCompressedCertificate uint8 = 25
)

// Extensions the guards read besides the record-size ones.
const (
	extSupportedVersions uint16 = 43 // RFC 8446
	extKeyShare          uint16 = 51 // RFC 8446
)

// negErr returns a NegotiationError about extension ext (0 if about none or
// both) carrying alert a: only for a refusal of the record-size extensions
// (RFC 6066, RFC 8449).
func negErr(ext uint16, a recordlimit.Alert, format string, args ...any) *recordlimit.NegotiationError {
	return &recordlimit.NegotiationError{Extension: ext, Desc: a, Reason: fmt.Sprintf(format, args...)}
}

// ClientHello holds the fields of a ClientHello a server needs to honour the
// client's record-size requests.
type ClientHello struct {
	Random     []byte
	Versions   []uint16 // supported_versions, or the legacy version alone
	Suites     []uint16
	Extensions []wire.Extension
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
		return f, protocolErr(recordlimit.AlertDecodeError, "malformed ClientHello")
	}
	if !s.Empty() {
		if !s.ReadUint16LengthPrefixed(&f.extensions) || !s.Empty() {
			return f, protocolErr(recordlimit.AlertDecodeError, "malformed ClientHello extensions")
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
		return ch, protocolErr(recordlimit.AlertDecodeError, "malformed ClientHello cipher suites")
	}
	ch.Suites = make([]uint16, 0, len(f.suites)/2)
	for suites := f.suites; !suites.Empty(); {
		var id uint16
		suites.ReadUint16(&id)
		ch.Suites = append(ch.Suites, id)
	}
	if ch.Extensions, err = wire.ParseExtensions(f.extensions); err != nil {
		// A ClientHello answers nothing: whatever its list lacks is
		// decode_error, matching ErrProtocol.
		return ch, protocolErr(recordlimit.AlertDecodeError, "ClientHello: %s", reasonOf(err))
	}
	for _, e := range ch.Extensions {
		if e.Type != extSupportedVersions {
			continue
		}
		d := cryptobyte.String(e.Data)
		var list cryptobyte.String
		if !d.ReadUint8LengthPrefixed(&list) || !d.Empty() {
			return ch, protocolErr(recordlimit.AlertDecodeError, "malformed supported_versions in ClientHello")
		}
		for !list.Empty() {
			var v uint16
			if !list.ReadUint16(&v) {
				return ch, protocolErr(recordlimit.AlertDecodeError, "malformed supported_versions in ClientHello")
			}
			ch.Versions = append(ch.Versions, v)
		}
	}
	if ch.Versions == nil {
		ch.Versions = []uint16{f.legacy}
	}
	return ch, nil
}
