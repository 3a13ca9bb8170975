package wire

import (
	"golang.org/x/crypto/cryptobyte"

	"github.com/tlsapp/tlsapp/internal/extlist"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// Extension is one extension from a hello or EncryptedExtensions message.
type Extension struct {
	Type uint16
	Data []byte
}

// ParseExtensions parses an extension list (without its length prefix),
// rejecting a malformed list and duplicates with decode_error, as crypto/tls
// and BoringSSL answer a duplicate in a hello or EncryptedExtensions, in time
// linear in the list. The Data of each extension aliases s.
func ParseExtensions(s cryptobyte.String) ([]Extension, error) {
	var exts []Extension
	err := extlist.Walk(s, func(typ uint16, data []byte) error {
		exts = append(exts, Extension{Type: typ, Data: data})
		return nil
	})
	if le, ok := err.(*extlist.Error); ok {
		if le.Duplicate {
			return nil, negErr(le.Type, recordlimit.AlertDecodeError, "extension %d appears twice", le.Type)
		}
		return nil, negErr(0, recordlimit.AlertDecodeError, "malformed extension list")
	}
	if err != nil {
		return nil, err
	}
	return exts, nil
}

// FindExtension returns the body of extension typ and whether it is present.
func FindExtension(exts []Extension, typ uint16) ([]byte, bool) {
	for _, e := range exts {
		if e.Type == typ {
			return e.Data, true
		}
	}
	return nil, false
}

// AppendMaxFragmentLength appends the max_fragment_length extension body for
// code m: one byte.
func AppendMaxFragmentLength(b []byte, m recordlimit.MaxFragmentCode) []byte {
	return append(b, byte(m))
}

// ParseMaxFragmentLength parses a max_fragment_length extension body into
// its RFC 6066 code. A body that is not exactly one byte is a decode_error; a
// code outside 1..4 is an illegal_parameter.
func ParseMaxFragmentLength(body []byte) (recordlimit.MaxFragmentCode, error) {
	var code uint8
	s := cryptobyte.String(body)
	if !s.ReadUint8(&code) || !s.Empty() {
		return 0, negErr(recordlimit.ExtMaxFragmentLength, recordlimit.AlertDecodeError, "max_fragment_length body is %d bytes, not 1", len(body))
	}
	m := recordlimit.MaxFragmentCode(code)
	if !m.Valid() {
		return 0, negErr(recordlimit.ExtMaxFragmentLength, recordlimit.AlertIllegalParameter, "max_fragment_length code %d is not one of 1..4", code)
	}
	return m, nil
}

// AppendRecordSizeLimit appends the record_size_limit extension body for a
// limit of limit bytes: two bytes.
func AppendRecordSizeLimit(b []byte, limit uint16) []byte {
	return append(b, byte(limit>>8), byte(limit))
}

// ParseRecordSizeLimit parses a record_size_limit extension body into the
// limit it states, in bytes. A body that is not exactly two bytes is a
// decode_error; a value below 64 is an illegal_parameter. It does not check
// the protocol maximum, which depends on the version: the Negotiate
// functions do.
func ParseRecordSizeLimit(body []byte) (int, error) {
	var v uint16
	s := cryptobyte.String(body)
	if !s.ReadUint16(&v) || !s.Empty() {
		return 0, negErr(recordlimit.ExtRecordSizeLimit, recordlimit.AlertDecodeError, "record_size_limit body is %d bytes, not 2", len(body))
	}
	if v < recordlimit.MinRecordSizeLimit {
		return 0, negErr(recordlimit.ExtRecordSizeLimit, recordlimit.AlertIllegalParameter, "record_size_limit %d is below %d", v, recordlimit.MinRecordSizeLimit)
	}
	return int(v), nil
}
