package wire

import (
	"errors"
	"testing"

	"github.com/tlsapp/tlsapp/recordlimit"
)

func TestParseHeader(t *testing.T) {
	tests := []struct {
		in   []byte
		want Header
		err  error
	}{
		{[]byte{22, 3, 1, 0, 5}, Header{recordlimit.TypeHandshake, 0x0301, 5}, nil},
		{[]byte{20, 3, 3, 0, 0}, Header{recordlimit.TypeChangeCipherSpec, 0x0303, 0}, nil},
		{[]byte{21, 3, 0, 0, 2}, Header{recordlimit.TypeAlert, 0x0300, 2}, nil},
		{[]byte{23, 3, 0xff, 0x47, 0xff}, Header{recordlimit.TypeApplicationData, 0x03ff, 18431}, nil},
		{[]byte{22, 4, 3, 0, 1}, Header{}, recordlimit.ErrBadRecord},
		{[]byte{23, 3, 3, 0xff, 0xff}, Header{}, recordlimit.ErrRecordOverflow},
		{[]byte{23, 3, 3, 0x48, 0x00}, Header{recordlimit.TypeApplicationData, 0x0303, 18432}, nil},
		{[]byte{23, 3, 3, 0x48, 0x01}, Header{}, recordlimit.ErrRecordOverflow},
		{[]byte{24, 3, 3, 0, 1}, Header{}, recordlimit.ErrBadRecord},
		{[]byte{19, 3, 3, 0, 1}, Header{}, recordlimit.ErrBadRecord},
		{[]byte{22, 2, 0, 0, 1}, Header{}, recordlimit.ErrBadRecord},
		{[]byte{0x80, 0x2c, 0x01, 0x03, 0x01}, Header{}, recordlimit.ErrBadRecord}, // SSLv2-style hello
		{[]byte{22, 3, 3, 0}, Header{}, recordlimit.ErrBadRecord},
		{nil, Header{}, recordlimit.ErrBadRecord},
	}
	for _, tt := range tests {
		h, err := ParseHeader(tt.in)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("ParseHeader(% x) error %v, want %v", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || h != tt.want {
			t.Errorf("ParseHeader(% x) = %+v, %v", tt.in, h, err)
		}
		if enc := h.Append(nil); string(enc) != string(tt.in) {
			t.Errorf("Append = % x, want % x", enc, tt.in)
		}
	}
	var he *recordlimit.RecordHeaderError
	if _, err := ParseHeader([]byte{24, 3, 3, 0, 1}); !errors.As(err, &he) || he.Alert() != recordlimit.AlertUnexpectedMessage {
		t.Errorf("unknown type: %v", err)
	}
}

// TestParseHeaderErrors checks what each error reports: the header as
// received (zero-padded when short), and for an overflow the type, length
// and the protocol maximum, not an agreed limit.
func TestParseHeaderErrors(t *testing.T) {
	tests := []struct {
		in     []byte
		header [5]byte
		reason string
		alert  recordlimit.Alert
	}{
		{[]byte{22, 3}, [5]byte{22, 3}, "short header", recordlimit.AlertDecodeError},
		{[]byte{24, 3, 3, 0, 1, 9}, [5]byte{24, 3, 3, 0, 1}, "unknown content type 24", recordlimit.AlertUnexpectedMessage},
		{[]byte{21, 2, 0, 0, 2}, [5]byte{21, 2, 0, 0, 2}, "record version is not TLS", recordlimit.AlertDecodeError},
	}
	for _, tt := range tests {
		_, err := ParseHeader(tt.in)
		var he *recordlimit.RecordHeaderError
		if !errors.As(err, &he) || he.Header != tt.header || he.Reason != tt.reason || he.Alert() != tt.alert {
			t.Errorf("ParseHeader(% x) error %#v, want header % x, %q, %v", tt.in, err, tt.header, tt.reason, tt.alert)
		}
	}
	_, err := ParseHeader([]byte{22, 3, 3, 0x48, 0x01})
	var oe *recordlimit.RecordOverflowError
	want := recordlimit.RecordOverflowError{Type: recordlimit.TypeHandshake, Len: MaxCiphertextTLS12 + 1, Limit: MaxCiphertextTLS12}
	if !errors.As(err, &oe) || *oe != want {
		t.Errorf("overflow: %#v, want %+v", err, want)
	}
}

// TestSizes pins the RFCs' numbers, which the constants spell as
// arithmetic.
func TestSizes(t *testing.T) {
	if HeaderLen != 5 || MaxCiphertextTLS12 != 1<<14+2048 || MaxCiphertextTLS13 != 1<<14+256 || MaxRecord != 5+1<<14+2048 {
		t.Errorf("sizes %d, %d, %d, %d", HeaderLen, MaxCiphertextTLS12, MaxCiphertextTLS13, MaxRecord)
	}
	if MaxCertificateMessage != 256<<10 || MaxCertificateSize != 64<<10 {
		t.Errorf("certificate bounds %d, %d", MaxCertificateMessage, MaxCertificateSize)
	}
}
