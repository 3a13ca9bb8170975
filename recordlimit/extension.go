package recordlimit

import "fmt"

// Extension code points.
const (
	ExtMaxFragmentLength uint16 = 1  // RFC 6066, Section 4
	ExtRecordSizeLimit   uint16 = 28 // RFC 8449, Section 4
)

// MaxFragmentCode is a max_fragment_length code from RFC 6066, not a length:
// 1 to 4 stand for 512, 1024, 2048 and 4096 bytes ([MaxFragmentCode.Bytes]).
// The zero value means "not offered".
type MaxFragmentCode uint8

// The four codes RFC 6066 defines.
const (
	MFL512  MaxFragmentCode = 1
	MFL1024 MaxFragmentCode = 2
	MFL2048 MaxFragmentCode = 3
	MFL4096 MaxFragmentCode = 4
)

// MaxFragmentCodeFor returns the code for a fragment length of n bytes: 0
// for 0, and an error for anything but 512, 1024, 2048 or 4096.
func MaxFragmentCodeFor(n int) (MaxFragmentCode, error) {
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
func (m MaxFragmentCode) Valid() bool { return m >= MFL512 && m <= MFL4096 }

// Bytes returns the fragment length m stands for, in bytes, or 0 if m is not valid.
func (m MaxFragmentCode) Bytes() int {
	if !m.Valid() {
		return 0
	}
	return 256 << m
}

// String returns the length m stands for, in bytes, or the raw code if it is not valid.
func (m MaxFragmentCode) String() string {
	if !m.Valid() {
		return fmt.Sprintf("max_fragment_length(code %d)", uint8(m))
	}
	return fmt.Sprintf("%d", m.Bytes())
}

// Record size limits from RFC 8449, in bytes.
const (
	// MinRecordSizeLimit is the smallest legal record_size_limit value.
	MinRecordSizeLimit = 64
	// MaxRecordSizeLimitTLS12 is the largest value a TLS 1.2 endpoint may state.
	MaxRecordSizeLimitTLS12 = MaxPlaintext
	// MaxRecordSizeLimitTLS13 is the largest value a TLS 1.3 endpoint may state
	// (the limit counts the inner content-type byte).
	MaxRecordSizeLimitTLS13 = MaxPlaintext + 1
)
