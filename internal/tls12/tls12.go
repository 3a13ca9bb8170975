// Package tls12 holds the TLS 1.2 key-schedule functions that both the
// wire trace's decryption and the tests' scripted server need: the PRF
// (RFC 5246, Section 5) and the AEAD key block (Section 6.3).
package tls12

import (
	"crypto/hmac"
	"hash"
)

// PRF returns n bytes of TLS 1.2's PRF(secret, label, seed): P_hash over
// HMAC with h.
func PRF(h func() hash.Hash, secret []byte, label string, seed []byte, n int) []byte {
	ls := append([]byte(label), seed...)
	out := make([]byte, 0, n+h().Size())
	a := ls
	for len(out) < n {
		m := hmac.New(h, secret)
		m.Write(a)
		a = m.Sum(nil)
		m = hmac.New(h, secret)
		m.Write(a)
		m.Write(ls)
		out = m.Sum(out)
	}
	return out[:n]
}

// Keys are the record keys of an AEAD suite: the client's and the server's
// write key and IV (the 4-byte salt of AES-GCM, the 12-byte IV of
// ChaCha20-Poly1305).
type Keys struct {
	ClientKey, ServerKey, ClientIV, ServerIV []byte
}

// KeyBlock derives the AEAD record keys from the master secret and the
// hello randoms.
func KeyBlock(h func() hash.Hash, master, clientRandom, serverRandom []byte, keyLen, ivLen int) Keys {
	seed := append(append([]byte(nil), serverRandom...), clientRandom...)
	kb := PRF(h, master, "key expansion", seed, 2*keyLen+2*ivLen)
	return Keys{
		ClientKey: kb[:keyLen],
		ServerKey: kb[keyLen : 2*keyLen],
		ClientIV:  kb[2*keyLen : 2*keyLen+ivLen],
		ServerIV:  kb[2*keyLen+ivLen:],
	}
}
