package recordlimit

import (
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// Extension code points.
const (
	ExtMaxFragmentLength uint16 = 1  // RFC 6066, Section 4
	ExtRecordSizeLimit   uint16 = 28 // RFC 8449, Section 4
)

// MaxFragmentLength is a max_fragment_length code from RFC 6066: 1 to 4 stand
// for 512, 1024, 2048 and 4096 bytes. The zero value means "not offered".
type MaxFragmentLength uint8

// The four codes RFC 6066 defines.
const (
	MFL512  MaxFragmentLength = 1
	MFL1024 MaxFragmentLength = 2
	MFL2048 MaxFragmentLength = 3
	MFL4096 MaxFragmentLength = 4
)

// MaxFragmentLengthFor returns the code for n bytes: 0 for 0, and an error for
// anything but 512, 1024, 2048 or 4096.
func MaxFragmentLengthFor(n int) (MaxFragmentLength, error) {
	switch n {
	case 0:
		return 0, nil
	case 512:
		return MFL512, nil
	case 1024:
		return MFL1024, nil
	case 2048:
		return MFL2048, nil
	case 4096:
		return MFL4096, nil
	}
	return 0, fmt.Errorf("recordlimit: max_fragment_length must be 512, 1024, 2048 or 4096, not %d", n)
}

// Valid reports whether m is one of the four codes of RFC 6066.
func (m MaxFragmentLength) Valid() bool { return m >= MFL512 && m <= MFL4096 }

// Bytes returns the fragment length m stands for, or 0 if m is not valid.
func (m MaxFragmentLength) Bytes() int {
	if !m.Valid() {
		return 0
	}
	return 256 << m
}

// String returns the length m stands for, or the raw code if it is not valid.
func (m MaxFragmentLength) String() string {
	if !m.Valid() {
		return fmt.Sprintf("max_fragment_length(code %d)", uint8(m))
	}
	return fmt.Sprintf("%d", m.Bytes())
}

// AppendMaxFragmentLength appends the extension body for m: one byte.
func AppendMaxFragmentLength(b []byte, m MaxFragmentLength) []byte { return append(b, byte(m)) }

// ParseMaxFragmentLength parses a max_fragment_length extension body. A body
// that is not exactly one byte is a decode_error; a code outside 1..4 is an
// illegal_parameter.
func ParseMaxFragmentLength(body []byte) (MaxFragmentLength, error) {
	var code uint8
	s := cryptobyte.String(body)
	if !s.ReadUint8(&code) || !s.Empty() {
		return 0, negErr(ExtMaxFragmentLength, AlertDecodeError, "max_fragment_length body is %d bytes, not 1", len(body))
	}
	m := MaxFragmentLength(code)
	if !m.Valid() {
		return 0, negErr(ExtMaxFragmentLength, AlertIllegalParameter, "max_fragment_length code %d is not one of 1..4", code)
	}
	return m, nil
}

// Record size limits from RFC 8449.
const (
	// MinRecordSizeLimit is the smallest legal record_size_limit value.
	MinRecordSizeLimit = 64
	// MaxRecordSizeLimitTLS12 is the largest value a TLS 1.2 endpoint may state.
	MaxRecordSizeLimitTLS12 = MaxPlaintext
	// MaxRecordSizeLimitTLS13 is the largest value a TLS 1.3 endpoint may state
	// (the limit counts the inner content-type byte).
	MaxRecordSizeLimitTLS13 = MaxPlaintext + 1
)

// AppendRecordSizeLimit appends the extension body for limit: two bytes.
func AppendRecordSizeLimit(b []byte, limit uint16) []byte {
	return append(b, byte(limit>>8), byte(limit))
}

// ParseRecordSizeLimit parses a record_size_limit extension body. A body that
// is not exactly two bytes is a decode_error; a value below 64 is an
// illegal_parameter. It does not check the protocol maximum, which depends on
// the version: see Negotiate.
func ParseRecordSizeLimit(body []byte) (int, error) {
	var v uint16
	s := cryptobyte.String(body)
	if !s.ReadUint16(&v) || !s.Empty() {
		return 0, negErr(ExtRecordSizeLimit, AlertDecodeError, "record_size_limit body is %d bytes, not 2", len(body))
	}
	if v < MinRecordSizeLimit {
		return 0, negErr(ExtRecordSizeLimit, AlertIllegalParameter, "record_size_limit %d is below %d", v, MinRecordSizeLimit)
	}
	return int(v), nil
}
