package guard_test

import (
	"slices"
	"testing"

	"golang.org/x/crypto/cryptobyte"

	"github.com/tlsapp/tlsapp/internal/guard"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// helloBody returns a ClientHello body with the given suites field (raw,
// so that it may be malformed), and exts unless noExts.
func helloBody(suites []byte, noExts bool, exts ...ext) []byte {
	var b cryptobyte.Builder
	b.AddUint16(0x0302)
	b.AddBytes(make([]byte, 32))
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(make([]byte, 5)) })
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(suites) })
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint8(0) })
	if !noExts {
		addExts(&b, exts)
	}
	return b.BytesOrPanic()
}

// TestParseClientHello checks ParseClientHello field by field, and its
// refusals, each a decode_error: an odd cipher suite list, a malformed or
// duplicated extension, a malformed supported_versions, bytes after the
// extensions.
func TestParseClientHello(t *testing.T) {
	suites := []byte{0x13, 0x01, 0xc0, 0x2b, 0x00, 0x9c}
	ch, err := guard.ParseClientHello(helloBody(suites, false, ext{43, []byte{4, 3, 4, 3, 3}}, mflExt(2), ext{0xabcd, nil}))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ch.Suites, []uint16{0x1301, 0xc02b, 0x009c}) || !slices.Equal(ch.Versions, []uint16{0x0304, 0x0303}) || len(ch.Random) != 32 {
		t.Fatalf("suites %x, versions %x, random %d bytes", ch.Suites, ch.Versions, len(ch.Random))
	}
	if len(ch.Extensions) != 3 || ch.Extensions[1].Type != 1 || string(ch.Extensions[1].Data) != "\x02" || ch.Extensions[2].Type != 0xabcd || len(ch.Extensions[2].Data) != 0 {
		t.Fatalf("extensions %+v", ch.Extensions)
	}
	// Without supported_versions, or without extensions at all: the
	// legacy version.
	for _, body := range [][]byte{helloBody(suites[:2], false, mflExt(1)), helloBody(suites[:2], true)} {
		ch, err := guard.ParseClientHello(body)
		if err != nil || !slices.Equal(ch.Versions, []uint16{0x0302}) || !slices.Equal(ch.Suites, []uint16{0x1301}) {
			t.Fatalf("versions %x, suites %x, %v", ch.Versions, ch.Suites, err)
		}
	}
	// An empty supported_versions list: no version but the legacy one.
	if ch, err := guard.ParseClientHello(helloBody(suites, false, ext{43, []byte{0}})); err != nil || !slices.Equal(ch.Versions, []uint16{0x0302}) {
		t.Fatalf("empty supported_versions: %x, %v", ch.Versions, err)
	}

	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"odd cipher suites", helloBody(suites[:3], false)},
		{"one byte of cipher suites", helloBody(suites[:1], false)},
		{"duplicate extension", helloBody(suites, false, mflExt(1), mflExt(1))},
		{"supported_versions with an odd list", helloBody(suites, false, ext{43, []byte{3, 3, 4, 3}})},
		{"supported_versions with bytes after the list", helloBody(suites, false, ext{43, []byte{2, 3, 4, 0}})},
		{"supported_versions empty", helloBody(suites, false, ext{43, nil})},
		{"bytes after the extensions", append(helloBody(suites, false, mflExt(1)), 0)},
		{"extension list cut", helloBody(suites, false, mflExt(1))[:len(helloBody(suites, false, mflExt(1)))-1]},
		{"cut in the random", helloBody(suites, true)[:20]},
		{"empty", nil},
	} {
		if _, err := guard.ParseClientHello(tc.body); err == nil {
			t.Errorf("%s: parsed", tc.name)
		} else {
			alertOf(t, err, recordlimit.ErrProtocol, alDecodeError)
		}
	}
}
