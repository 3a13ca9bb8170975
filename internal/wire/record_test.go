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
		{[]byte{23, 3, 3, 0x48, 0x00}, Header{recordlimit.TypeApplicationData, 0x0303, 18432}, nil},
		{[]byte{23, 3, 3, 0x48, 0x01}, Header{}, recordlimit.ErrRecordOverflow},
		{[]byte{24, 3, 3, 0, 1}, Header{}, recordlimit.ErrBadRecord},
		{[]byte{19, 3, 3, 0, 1}, Header{}, recordlimit.ErrBadRecord},
		{[]byte{22, 2, 0, 0, 1}, Header{}, recordlimit.ErrBadRecord},
		{[]byte{0x80, 0x2c, 0x01, 0x03, 0x01}, Header{}, recordlimit.ErrBadRecord}, // SSLv2-style hello
		{[]byte{22, 3, 3, 0}, Header{}, recordlimit.ErrBadRecord},
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
