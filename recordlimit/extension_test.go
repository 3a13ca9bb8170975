package recordlimit

import "testing"

// TestMaxFragmentCode checks each code against RFC 6066, Section 4: 1 to 4
// stand for 2^9 to 2^12 bytes, and nothing else is a code, on both sides of
// each end of the range.
func TestMaxFragmentCode(t *testing.T) {
	tests := []struct {
		code  MaxFragmentCode
		valid bool
		bytes int
		str   string
	}{
		{0, false, 0, "max_fragment_length(code 0)"},
		{MFL512, true, 512, "512"},
		{MFL1024, true, 1024, "1024"},
		{MFL2048, true, 2048, "2048"},
		{MFL4096, true, 4096, "4096"},
		{5, false, 0, "max_fragment_length(code 5)"}, // wolfSSL's 8192, not RFC 6066
		{255, false, 0, "max_fragment_length(code 255)"},
	}
	for _, tt := range tests {
		if got := tt.code.Valid(); got != tt.valid {
			t.Errorf("MaxFragmentCode(%d).Valid() = %v, want %v", uint8(tt.code), got, tt.valid)
		}
		if got := tt.code.Bytes(); got != tt.bytes {
			t.Errorf("MaxFragmentCode(%d).Bytes() = %d, want %d", uint8(tt.code), got, tt.bytes)
		}
		if got := tt.code.String(); got != tt.str {
			t.Errorf("MaxFragmentCode(%d).String() = %q, want %q", uint8(tt.code), got, tt.str)
		}
	}
}

func TestMaxFragmentCodeFor(t *testing.T) {
	tests := []struct {
		n    int
		want MaxFragmentCode
		ok   bool
	}{
		{0, 0, true},
		{512, MFL512, true},
		{1024, MFL1024, true},
		{2048, MFL2048, true},
		{4096, MFL4096, true},
		{-1, 0, false},
		{1, 0, false},
		{511, 0, false},
		{513, 0, false},
		{2303, 0, false},
		{4097, 0, false},
		{8192, 0, false},
		{16384, 0, false},
	}
	for _, tt := range tests {
		got, err := MaxFragmentCodeFor(tt.n)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("MaxFragmentCodeFor(%d) = %v, %v; want %v, ok %v", tt.n, got, err, tt.want, tt.ok)
		}
		if tt.ok && tt.n != 0 && got.Bytes() != tt.n {
			t.Errorf("MaxFragmentCodeFor(%d).Bytes() = %d", tt.n, got.Bytes())
		}
	}
}
