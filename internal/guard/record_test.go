package guard

import (
	"testing"

	"github.com/tlsapp/tlsapp/internal/wire"
	"github.com/tlsapp/tlsapp/recordlimit"
)

func TestAppendRecords(t *testing.T) {
	body := make([]byte, 1300)
	for i := range body {
		body[i] = byte(i)
	}
	out := AppendRecords(nil, recordlimit.TypeHandshake, wire.VersionTLS12, body, 512)
	var got []byte
	var sizes []int
	for s := out; len(s) > 0; {
		h, err := wire.ParseHeader(s)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, h.Len)
		got = append(got, s[wire.HeaderLen:wire.HeaderLen+h.Len]...)
		s = s[wire.HeaderLen+h.Len:]
	}
	if string(got) != string(body) || len(sizes) != 3 || sizes[0] != 512 || sizes[2] != 276 {
		t.Errorf("split into %v", sizes)
	}
	if out := AppendRecords(nil, recordlimit.TypeAlert, wire.VersionTLS12, nil, 512); len(out) != wire.HeaderLen {
		t.Errorf("empty body gave %d bytes", len(out))
	}
}
