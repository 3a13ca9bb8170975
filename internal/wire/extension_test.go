package wire

import (
	"errors"
	"testing"

	"github.com/tlsapp/tlsapp/recordlimit"
)

func TestMaxFragmentLengthCodec(t *testing.T) {
	tests := []struct {
		body  []byte
		want  recordlimit.MaxFragmentCode
		alert recordlimit.Alert // 0: no error
	}{
		{[]byte{1}, recordlimit.MFL512, 0},
		{[]byte{2}, recordlimit.MFL1024, 0},
		{[]byte{3}, recordlimit.MFL2048, 0},
		{[]byte{4}, recordlimit.MFL4096, 0},
		{[]byte{0}, 0, recordlimit.AlertIllegalParameter},
		{[]byte{5}, 0, recordlimit.AlertIllegalParameter}, // wolfSSL-only code, not RFC 6066
		{[]byte{6}, 0, recordlimit.AlertIllegalParameter},
		{nil, 0, recordlimit.AlertDecodeError},
		{[]byte{1, 1}, 0, recordlimit.AlertDecodeError},
	}
	for _, tt := range tests {
		got, err := ParseMaxFragmentLength(tt.body)
		if tt.alert != 0 {
			if a, ok := recordlimit.AlertOf(err); !ok || a != tt.alert || !errors.Is(err, recordlimit.ErrNegotiation) {
				t.Errorf("ParseMaxFragmentLength(%x) error %v, want alert %v", tt.body, err, tt.alert)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseMaxFragmentLength(%x) = %v, %v; want %v", tt.body, got, err, tt.want)
		}
		if enc := AppendMaxFragmentLength(nil, got); string(enc) != string(tt.body) {
			t.Errorf("AppendMaxFragmentLength(%v) = %x, want %x", got, enc, tt.body)
		}
	}
}

func TestRecordSizeLimitCodec(t *testing.T) {
	tests := []struct {
		body  []byte
		want  int
		alert recordlimit.Alert
	}{
		{[]byte{0, 64}, 64, 0},
		{[]byte{0x08, 0x00}, 2048, 0},
		{[]byte{0x40, 0x01}, 16385, 0},
		{[]byte{0xff, 0xff}, 65535, 0}, // the version maximum is Negotiate's business
		{[]byte{0, 63}, 0, recordlimit.AlertIllegalParameter},
		{[]byte{0, 0}, 0, recordlimit.AlertIllegalParameter},
		{nil, 0, recordlimit.AlertDecodeError},
		{[]byte{2}, 0, recordlimit.AlertDecodeError},
		{[]byte{0, 64, 0}, 0, recordlimit.AlertDecodeError},
	}
	for _, tt := range tests {
		got, err := ParseRecordSizeLimit(tt.body)
		if tt.alert != 0 {
			if a, ok := recordlimit.AlertOf(err); !ok || a != tt.alert {
				t.Errorf("ParseRecordSizeLimit(%x) error %v, want alert %v", tt.body, err, tt.alert)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseRecordSizeLimit(%x) = %d, %v; want %d", tt.body, got, err, tt.want)
		}
		if enc := AppendRecordSizeLimit(nil, uint16(got)); string(enc) != string(tt.body) {
			t.Errorf("AppendRecordSizeLimit(%d) = %x", got, enc)
		}
	}
}
