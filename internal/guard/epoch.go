package guard

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"hash"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/tlsapp/tlsapp/internal/tls13"
	"github.com/tlsapp/tlsapp/internal/wire"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// Epoch protects or unprotects the records of one direction of one TLS 1.3
// key epoch (RFC 8446, Section 5.2), counting sequence numbers from zero. The
// TLS stack keeps its own copy of these keys; an Epoch lets this package read
// or rewrite records of the handshake epoch without touching the stack.
type Epoch struct {
	aead cipher.AEAD
	iv   [12]byte
	seq  uint64
}

// NewEpoch derives the record keys of a TLS 1.3 traffic secret for suite.
func NewEpoch(suite uint16, secret []byte) (*Epoch, error) {
	var h func() hash.Hash
	var keyLen int
	switch suite {
	case 0x1301:
		h, keyLen = sha256.New, 16
	case 0x1302:
		h, keyLen = sha512.New384, 32
	case 0x1303:
		h, keyLen = sha256.New, 32
	default:
		return nil, fmt.Errorf("guard: TLS 1.3 cipher suite %#04x is not supported", suite)
	}
	key := tls13.ExpandLabel(h, secret, "key", nil, keyLen)
	e := &Epoch{}
	copy(e.iv[:], tls13.ExpandLabel(h, secret, "iv", nil, 12))
	var err error
	if suite == 0x1303 {
		e.aead, err = chacha20poly1305.New(key)
	} else {
		var b cipher.Block
		if b, err = aes.NewCipher(key); err == nil {
			e.aead, err = cipher.NewGCM(b)
		}
	}
	if err != nil {
		return nil, err
	}
	return e, nil
}

// nonce returns the nonce of the record with the next sequence number
// (RFC 8446, Section 5.3), which the caller advances once the record is
// sealed or has opened.
func (e *Epoch) nonce() []byte {
	var n [12]byte
	copy(n[:], e.iv[:])
	var seq [8]byte
	binary.BigEndian.PutUint64(seq[:], e.seq)
	for i := range seq {
		n[4+i] ^= seq[i]
	}
	return n[:]
}

// Open decrypts the protected record rec (header included) and appends its
// content to dst. It returns the extended dst and the inner content type.
// Padding is removed.
func (e *Epoch) Open(dst, rec []byte) ([]byte, recordlimit.ContentType, error) {
	if len(rec) < wire.HeaderLen+e.aead.Overhead()+1 {
		return dst, 0, errOpen
	}
	start := len(dst)
	out, err := e.aead.Open(dst, e.nonce(), rec[wire.HeaderLen:], rec[:wire.HeaderLen])
	if err != nil {
		return dst, 0, errOpen
	}
	e.seq++
	inner := out[start:]
	i := len(inner) - 1
	for i >= 0 && inner[i] == 0 {
		i--
	}
	if i < 0 {
		return dst, 0, errOpen
	}
	return out[:start+i], recordlimit.ContentType(inner[i]), nil
}

// Seal appends a protected record carrying content of type typ to dst.
func (e *Epoch) Seal(dst []byte, typ recordlimit.ContentType, content []byte) []byte {
	n := len(content) + 1 + e.aead.Overhead()
	start := len(dst)
	dst = wire.Header{Type: recordlimit.TypeApplicationData, Version: wire.VersionTLS12, Len: n}.Append(dst)
	hdr := dst[start:]
	plain := make([]byte, 0, len(content)+1)
	plain = append(append(plain, content...), byte(typ))
	dst = e.aead.Seal(dst, e.nonce(), plain, hdr[:wire.HeaderLen])
	e.seq++
	return dst
}
