package guard

import (
	"testing"

	"github.com/tlsapp/tlsapp/recordlimit"
)

func TestAppendRecords(t *testing.T) {
	body := make([]byte, 1300)
	for i := range body {
		body[i] = byte(i)
	}
	out := AppendRecords(nil, recordlimit.TypeHandshake, recordlimit.VersionTLS12, body, 512)
	var got []byte
	var sizes []int
	for s := out; len(s) > 0; {
		h, err := recordlimit.ParseHeader(s)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, h.Len)
		got = append(got, s[recordlimit.HeaderLen:recordlimit.HeaderLen+h.Len]...)
		s = s[recordlimit.HeaderLen+h.Len:]
	}
	if string(got) != string(body) || len(sizes) != 3 || sizes[0] != 512 || sizes[2] != 276 {
		t.Errorf("split into %v", sizes)
	}
	if out := AppendRecords(nil, recordlimit.TypeAlert, recordlimit.VersionTLS12, nil, 512); len(out) != recordlimit.HeaderLen {
		t.Errorf("empty body gave %d bytes", len(out))
	}
}
