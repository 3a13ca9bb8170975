package guard_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/tlsapp/tlsapp/internal/guard"
)

// TestEpochBounds checks TLS 1.3 record protection at its edges (RFC 8446,
// Section 5.2): a record's length is its content, the content type and the
// 16-byte tag; the smallest record (the type alone) opens to empty content;
// padding zeros after the type are removed and a record of nothing but
// zeros does not open; a record too short to hold a tag and a type does not
// open and leaves the sequence number as it was; records open only in
// order, and each suite's keys are its own.
func TestEpochBounds(t *testing.T) {
	for _, suite := range []uint16{0x1301, 0x1302, 0x1303} {
		t.Run(fmt.Sprintf("%#04x", suite), func(t *testing.T) {
			sealer, err := guard.NewEpoch(suite, serverHS)
			if err != nil {
				t.Fatal(err)
			}
			opener, _ := guard.NewEpoch(suite, serverHS)
			for i, n := range []int{0, 1, 63, 16384} {
				content := bytes.Repeat([]byte{byte(n | 1)}, n)
				r := sealer.Seal(nil, ctHandshake, content)
				if len(r) != 5+n+1+16 || r[0] != ctAppData || r[1] != 3 || r[2] != 3 || int(r[3])<<8|int(r[4]) != n+17 {
					t.Fatalf("record %d: % x… of %d bytes for %d content bytes", i, r[:5], len(r), n)
				}
				got, typ, err := opener.Open([]byte("prefix"), r)
				if err != nil || byte(typ) != ctHandshake || !bytes.Equal(got, append([]byte("prefix"), content...)) {
					t.Fatalf("record %d (%d bytes): type %d, %d bytes, %v", i, n, typ, len(got), err)
				}
			}

			// Padding, and a record of padding alone.
			for _, pad := range []int{1, 100} {
				r := sealPadded(sealer, ctAlert, []byte{2, 40}, pad)
				if got, typ, err := opener.Open(nil, r); err != nil || typ != ctAlert || !bytes.Equal(got, []byte{2, 40}) {
					t.Fatalf("padding %d: type %d, % x, %v", pad, typ, got, err)
				}
			}
			zeros := sealer.Seal(nil, 0, make([]byte, 10)) // inner: 11 zero bytes
			if _, _, err := opener.Open(nil, zeros); err == nil {
				t.Fatal("a record of zeros alone opened")
			}

			// Too short: a tag and no type. The next record still opens.
			short := append([]byte{ctAppData, 3, 3, 0, 16}, make([]byte, 16)...)
			if _, _, err := opener.Open(nil, short); err == nil {
				t.Fatal("a record without room for a content type opened")
			}
			ok := sealer.Seal(nil, ctHandshake, []byte("after"))
			if got, _, err := opener.Open(nil, ok); err != nil || string(got) != "after" {
				t.Fatalf("the record after a short one: %q, %v", got, err)
			}

			// Out of order.
			sealer.Seal(nil, ctHandshake, []byte("first")) // which the opener skips
			second := sealer.Seal(nil, ctHandshake, []byte("second"))
			if _, _, err := opener.Open(nil, second); err == nil {
				t.Fatal("a record opened with the sequence number of the one before it")
			}

			// Another suite's keys from the same secret.
			other := uint16(0x1301)
			if suite == 0x1301 {
				other = 0x1303
			}
			e, _ := guard.NewEpoch(other, serverHS)
			if _, _, err := e.Open(nil, sealer.Seal(nil, ctHandshake, []byte("x"))); err == nil {
				t.Fatalf("a %#04x record opened with %#04x keys", suite, other)
			}
		})
	}
	if _, err := guard.NewEpoch(0x1304, serverHS); err == nil {
		t.Error("an epoch for TLS_AES_128_CCM_SHA256, which the guard does not do")
	}
}
