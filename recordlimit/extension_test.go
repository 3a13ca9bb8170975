package recordlimit

import (
	"errors"
	"testing"
)

func TestMaxFragmentLengthCodec(t *testing.T) {
	tests := []struct {
		body  []byte
		want  MaxFragmentLength
		alert Alert // 0: no error
	}{
		{[]byte{1}, MFL512, 0},
		{[]byte{2}, MFL1024, 0},
		{[]byte{3}, MFL2048, 0},
		{[]byte{4}, MFL4096, 0},
		{[]byte{0}, 0, AlertIllegalParameter},
		{[]byte{5}, 0, AlertIllegalParameter}, // wolfSSL-only code, not RFC 6066
		{[]byte{6}, 0, AlertIllegalParameter},
		{nil, 0, AlertDecodeError},
		{[]byte{1, 1}, 0, AlertDecodeError},
	}
	for _, tt := range tests {
		got, err := ParseMaxFragmentLength(tt.body)
		if tt.alert != 0 {
			if a, ok := AlertOf(err); !ok || a != tt.alert || !errors.Is(err, ErrNegotiation) {
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
	for n, want := range map[int]MaxFragmentLength{0: 0, 512: MFL512, 1024: MFL1024, 2048: MFL2048, 4096: MFL4096} {
		if got, err := MaxFragmentLengthFor(n); err != nil || got != want || (want != 0 && got.Bytes() != n) {
			t.Errorf("MaxFragmentLengthFor(%d) = %v, %v", n, got, err)
		}
	}
	for _, n := range []int{1, 511, 513, 8192, 16384, -1} {
		if _, err := MaxFragmentLengthFor(n); err == nil {
			t.Errorf("MaxFragmentLengthFor(%d) accepted", n)
		}
	}
}

func TestRecordSizeLimitCodec(t *testing.T) {
	tests := []struct {
		body  []byte
		want  int
		alert Alert
	}{
		{[]byte{0, 64}, 64, 0},
		{[]byte{0x08, 0x00}, 2048, 0},
		{[]byte{0x40, 0x01}, 16385, 0},
		{[]byte{0xff, 0xff}, 65535, 0}, // the version maximum is Negotiate's business
		{[]byte{0, 63}, 0, AlertIllegalParameter},
		{[]byte{0, 0}, 0, AlertIllegalParameter},
		{nil, 0, AlertDecodeError},
		{[]byte{2}, 0, AlertDecodeError},
		{[]byte{0, 64, 0}, 0, AlertDecodeError},
	}
	for _, tt := range tests {
		got, err := ParseRecordSizeLimit(tt.body)
		if tt.alert != 0 {
			if a, ok := AlertOf(err); !ok || a != tt.alert {
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
