package wire

import (
	"errors"
	"slices"
	"testing"

	"golang.org/x/crypto/cryptobyte"

	"github.com/tlsapp/tlsapp/recordlimit"
)

// serverHello builds a ServerHello body; exts nil means no extension block.
func serverHello(version uint16, random []byte, suite uint16, exts []Extension) []byte {
	var b cryptobyte.Builder
	b.AddUint16(version)
	b.AddBytes(random)
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte{1, 2, 3}) })
	b.AddUint16(suite)
	b.AddUint8(0)
	if exts != nil {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { appendExtensions(b, exts) })
	}
	return b.BytesOrPanic()
}

func TestParseServerHello(t *testing.T) {
	random := make([]byte, 32)
	random[0] = 1
	sv13 := Extension{extSupportedVersions, []byte{3, 4}}
	rsl := Extension{recordlimit.ExtRecordSizeLimit, []byte{0x02, 0x00}}
	tests := []struct {
		name string
		body []byte
		want ServerHello
	}{
		{"TLS 1.2, no extensions", serverHello(0x0303, random, 0xc02b, nil),
			ServerHello{Version: 0x0303, Suite: 0xc02b}},
		{"TLS 1.2, empty extension block", serverHello(0x0303, random, 0xc02b, []Extension{}),
			ServerHello{Version: 0x0303, Suite: 0xc02b}},
		{"TLS 1.2, record_size_limit", serverHello(0x0303, random, 0xc02f, []Extension{rsl}),
			ServerHello{Version: 0x0303, Suite: 0xc02f, Extensions: []Extension{rsl}}},
		{"TLS 1.3", serverHello(0x0303, random, 0x1301, []Extension{sv13}),
			ServerHello{Version: 0x0304, Suite: 0x1301, Extensions: []Extension{sv13}}},
		{"TLS 1.3 after another extension", serverHello(0x0303, random, 0x1302, []Extension{rsl, sv13}),
			ServerHello{Version: 0x0304, Suite: 0x1302, Extensions: []Extension{rsl, sv13}}},
		{"HelloRetryRequest", serverHello(0x0303, helloRetryRandom[:], 0x1303, []Extension{sv13}),
			ServerHello{Version: 0x0304, Suite: 0x1303, HelloRetry: true, Extensions: []Extension{sv13}}},
	}
	for _, tt := range tests {
		got, err := ParseServerHello(tt.body)
		if err != nil || got.Version != tt.want.Version || got.Suite != tt.want.Suite || got.HelloRetry != tt.want.HelloRetry ||
			!slices.EqualFunc(got.Extensions, tt.want.Extensions, func(a, b Extension) bool { return a.Type == b.Type && string(a.Data) == string(b.Data) }) {
			t.Errorf("%s: %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
	// A random one byte off the HelloRetryRequest's is a ServerHello.
	near := append([]byte(nil), helloRetryRandom[:]...)
	near[31] ^= 1
	if sh, err := ParseServerHello(serverHello(0x0303, near, 0x1301, []Extension{sv13})); err != nil || sh.HelloRetry {
		t.Errorf("near-HRR random: %+v, %v", sh, err)
	}
}

func TestParseServerHelloMalformed(t *testing.T) {
	random := make([]byte, 32)
	good := serverHello(0x0303, random, 0x1301, []Extension{{extSupportedVersions, []byte{3, 4}}})
	tests := []struct {
		name string
		body []byte
	}{
		{"empty", nil},
		{"cut in the version", good[:1]},
		{"cut in the random", good[:2+31]},
		{"cut in the session id", good[:2+32+3]},
		{"cut in the suite", good[:2+32+4+1]},
		{"no compression", good[:2+32+4+2]},
		{"cut extension block length", good[:2+32+4+2+1+1]},
		{"cut extension block", good[:len(good)-1]},
		{"trailing byte", append(slices.Clone(good), 0)},
		{"short supported_versions", serverHello(0x0303, random, 0x1301, []Extension{{extSupportedVersions, []byte{3}}})},
		{"long supported_versions", serverHello(0x0303, random, 0x1301, []Extension{{extSupportedVersions, []byte{3, 4, 0}}})},
		{"duplicate extension", serverHello(0x0303, random, 0x1301, []Extension{{28, []byte{2, 0}}, {28, []byte{2, 0}}})},
		{"cut extension", append(good[:2+32+4+2+1], 0, 3, 0, 43, 0)},
	}
	for _, tt := range tests {
		_, err := ParseServerHello(tt.body)
		if a, ok := recordlimit.AlertOf(err); !ok || a != recordlimit.AlertDecodeError || !errors.Is(err, recordlimit.ErrNegotiation) {
			t.Errorf("%s: error %v, want a decode_error", tt.name, err)
		}
	}
}

func TestParseEncryptedExtensions(t *testing.T) {
	tests := []struct {
		name string
		body []byte
		want []uint16 // nil with ok false: an error
		ok   bool
	}{
		{"empty list", []byte{0, 0}, nil, true},
		{"one", []byte{0, 6, 0, 28, 0, 2, 0x08, 0}, []uint16{28}, true},
		{"two", []byte{0, 11, 0, 1, 0, 1, 1, 0, 28, 0, 2, 2, 0}, []uint16{1, 28}, true},
		{"nothing", nil, nil, false},
		{"cut length", []byte{0}, nil, false},
		{"list longer than the body", []byte{0, 7, 0, 28, 0, 2, 0x08, 0}, nil, false},
		{"trailing byte", []byte{0, 0, 0}, nil, false},
		{"duplicate", []byte{0, 12, 0, 28, 0, 2, 2, 0, 0, 28, 0, 2, 2, 0}, nil, false},
		{"cut extension", []byte{0, 3, 0, 28, 0}, nil, false},
	}
	for _, tt := range tests {
		exts, err := ParseEncryptedExtensions(tt.body)
		if !tt.ok {
			if a, ok := recordlimit.AlertOf(err); !ok || a != recordlimit.AlertDecodeError || !errors.Is(err, recordlimit.ErrNegotiation) {
				t.Errorf("%s: %v, %v; want a decode_error", tt.name, exts, err)
			}
			continue
		}
		var got []uint16
		for _, e := range exts {
			got = append(got, e.Type)
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
}

func TestParseExtensionsDuplicate(t *testing.T) {
	_, err := ParseExtensions(cryptobyte.String([]byte{0, 1, 0, 1, 1, 0, 1, 0, 1, 2}))
	var ne *recordlimit.NegotiationError
	if !errors.As(err, &ne) || ne.Extension != 1 || ne.Desc != recordlimit.AlertDecodeError {
		t.Errorf("duplicate: %#v", err)
	}
	_, err = ParseExtensions(cryptobyte.String([]byte{0, 1, 0}))
	if !errors.As(err, &ne) || ne.Extension != 0 || ne.Desc != recordlimit.AlertDecodeError {
		t.Errorf("malformed: %#v", err)
	}
}

func TestFindExtension(t *testing.T) {
	exts := []Extension{{1, []byte{1}}, {28, []byte{2, 0}}, {43, nil}}
	for _, tt := range []struct {
		typ  uint16
		data string
		ok   bool
	}{{1, "\x01", true}, {28, "\x02\x00", true}, {43, "", true}, {0, "", false}, {2, "", false}} {
		d, ok := FindExtension(exts, tt.typ)
		if ok != tt.ok || string(d) != tt.data {
			t.Errorf("FindExtension(%d) = %x, %v", tt.typ, d, ok)
		}
	}
}
