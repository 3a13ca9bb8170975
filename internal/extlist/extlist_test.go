package extlist

import (
	"errors"
	"testing"

	"golang.org/x/crypto/cryptobyte"
)

func TestWalk(t *testing.T) {
	stop := errors.New("stop")
	tests := []struct {
		name string
		list []byte
		stop uint16 // fn stops at this type, when not 0
		want []uint16
		err  error
	}{
		{"empty", nil, 0, nil, nil},
		{"two", []byte{0, 1, 0, 1, 2, 0, 28, 0, 2, 8, 0}, 0, []uint16{1, 28}, nil},
		{"empty body", []byte{0, 21, 0, 0}, 0, []uint16{21}, nil},
		{"cut type", []byte{0}, 0, nil, &Error{}},
		{"cut body", []byte{0, 1, 0, 2, 1}, 0, nil, &Error{}},
		{"duplicate", []byte{0, 28, 0, 0, 0, 1, 0, 0, 0, 28, 0, 0}, 0, []uint16{28, 1}, &Error{Type: 28, Duplicate: true}},
		{"stopped", []byte{0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0}, 2, []uint16{1, 2}, stop},
	}
	for _, tc := range tests {
		var got []uint16
		err := Walk(cryptobyte.String(tc.list), func(typ uint16, _ []byte) error {
			got = append(got, typ)
			if typ == tc.stop {
				return stop
			}
			return nil
		})
		if len(got) != len(tc.want) {
			t.Errorf("%s: walked %v, want %v", tc.name, got, tc.want)
		}
		for i := range min(len(got), len(tc.want)) {
			if got[i] != tc.want[i] {
				t.Errorf("%s: walked %v, want %v", tc.name, got, tc.want)
				break
			}
		}
		var want, gotE *Error
		switch {
		case errors.As(tc.err, &want):
			if !errors.As(err, &gotE) || *gotE != *want {
				t.Errorf("%s: error %v, want %+v", tc.name, err, want)
			}
		case err != tc.err:
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.err)
		}
	}
}

// TestWalkAllocations checks that walking a list of 16,000 distinct empty
// extensions allocates nothing: the server guard runs it on a client's
// ClientHello of up to 64 KiB.
func TestWalkAllocations(t *testing.T) {
	var list []byte
	for typ := range 16000 {
		list = append(list, byte(typ>>8), byte(typ), 0, 0)
	}
	n := 0
	allocs := testing.AllocsPerRun(10, func() {
		n = 0
		if err := Walk(cryptobyte.String(list), func(uint16, []byte) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
	})
	if n != 16000 || allocs != 0 {
		t.Errorf("walked %d extensions with %v allocations, want 16000 with 0", n, allocs)
	}
}
