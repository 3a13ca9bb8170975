package httprange

import "testing"

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Range
		ok   bool
	}{
		{"bytes 0-4095/262144", Range{0, 4095, 262144}, true},
		{"bytes */100", Range{-1, -1, 100}, true},
		{"bytes 99-99/100", Range{99, 99, 100}, true},
		{"bytes 4096-8191/*", Range{}, false}, // the size must be known
		{"bytes 10-5/100", Range{}, false},
		{"bytes 0-100/100", Range{}, false}, // last beyond the size
		{"bytes +1-5/100", Range{}, false},
		{"bytes 1-5/ 100", Range{}, false},
		{"bytes -1-5/100", Range{}, false},
		{"bytes 0-1/9999999999999999999", Range{}, false},
		{"items 0-1/2", Range{}, false},
		{"bytes 0-1", Range{}, false},
		{"bytes 01/2", Range{}, false},
		{"", Range{}, false},
	} {
		got, ok := Parse(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
