// Package tls13 holds the TLS 1.3 key-schedule function that both the
// record-limit layer and the tests' scripted server need: HKDF-Expand-Label
// (RFC 8446, Section 7.1).
package tls13

import (
	"hash"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/hkdf"
)

// ExpandLabel returns n bytes of HKDF-Expand-Label(secret, label, context).
func ExpandLabel(h func() hash.Hash, secret []byte, label string, context []byte, n int) []byte {
	var b cryptobyte.Builder
	b.AddUint16(uint16(n))
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddBytes([]byte("tls13 "))
		b.AddBytes([]byte(label))
	})
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(context) })
	out := make([]byte, n)
	// Neither can fail: the label is short and n is at most a few hash sizes.
	hkdf.Expand(h, secret, b.BytesOrPanic()).Read(out)
	return out
}
