package wiretrace

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"sync"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/tlsapp/tlsapp/internal/tls12"
	"github.com/tlsapp/tlsapp/internal/tls13"
)

// Key log labels (NSS key log format) a trace decrypts with.
const (
	labelMaster          = "CLIENT_RANDOM" // TLS 1.2 master secret
	labelClientHandshake = "CLIENT_HANDSHAKE_TRAFFIC_SECRET"
	labelServerHandshake = "SERVER_HANDSHAKE_TRAFFIC_SECRET"
	labelClientTraffic   = "CLIENT_TRAFFIC_SECRET_0"
	labelServerTraffic   = "SERVER_TRAFFIC_SECRET_0"
)

// maxConnections bounds the connections Keys holds secrets for: the
// oldest are forgotten first.
const maxConnections = 64

// Keys collects the session secrets a TLS stack logs (an io.Writer for
// tlsapp.Config.KeyLogWriter, NSS key log format) and hands each to the
// Tracer of the connection whose ClientHello random it names, so that one
// Keys serves every connection made with a Config. It keeps the secrets of
// at most 64 connections, each until its Tracer is closed.
type Keys struct {
	mu      sync.Mutex
	entries map[[32]byte]*keyEntry
	order   [][32]byte
}

type keyEntry struct {
	secrets map[string][]byte
	tracer  *Tracer
}

// NewKeys returns an empty Keys.
func NewKeys() *Keys { return &Keys{entries: map[[32]byte]*keyEntry{}} }

// Write takes one or more key log lines. Lines it does not need are
// ignored; it never fails.
func (k *Keys) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(p, []byte("\n")) {
		f := bytes.Fields(line)
		if len(f) != 3 || len(f[1]) != 64 || len(f[2]) > 2*64 {
			continue
		}
		label := string(f[0])
		switch label {
		case labelMaster, labelClientHandshake, labelServerHandshake, labelClientTraffic, labelServerTraffic:
		default:
			continue
		}
		var random [32]byte
		secret := make([]byte, len(f[2])/2)
		if _, err := hex.Decode(random[:], f[1]); err != nil {
			continue
		}
		if _, err := hex.Decode(secret, f[2]); err != nil {
			continue
		}
		k.mu.Lock()
		e := k.entry(random)
		e.secrets[label] = secret
		t := e.tracer
		k.mu.Unlock()
		if t != nil {
			t.secret(label, secret)
		}
	}
	return len(p), nil
}

// entry returns the entry for random, making it (and forgetting the oldest
// beyond maxConnections) when needed. k.mu is held.
func (k *Keys) entry(random [32]byte) *keyEntry {
	if e, ok := k.entries[random]; ok {
		return e
	}
	if len(k.order) >= maxConnections {
		delete(k.entries, k.order[0])
		k.order = k.order[1:]
	}
	e := &keyEntry{secrets: map[string][]byte{}}
	k.entries[random] = e
	k.order = append(k.order, random)
	return e
}

// watch registers t for the secrets of random and returns those already
// logged.
func (k *Keys) watch(random [32]byte, t *Tracer) map[string][]byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	e := k.entry(random)
	e.tracer = t
	out := make(map[string][]byte, len(e.secrets))
	for l, s := range e.secrets {
		out[l] = s
	}
	return out
}

// forget drops the secrets of random.
func (k *Keys) forget(random [32]byte) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.entries[random]; !ok {
		return
	}
	delete(k.entries, random)
	for i, r := range k.order {
		if r == random {
			k.order = append(k.order[:i], k.order[i+1:]...)
			break
		}
	}
}

// opener opens the records of one direction of one key epoch.
type opener struct {
	aead          cipher.AEAD
	iv            []byte // TLS 1.3 and ChaCha20: 12 bytes XORed with the sequence number; TLS 1.2 AES-GCM: the 4-byte salt
	explicitNonce bool   // TLS 1.2 AES-GCM: the record starts with an 8-byte explicit nonce
	tls13         bool
	// TLS 1.3: for KeyUpdate.
	secret []byte
	hash   func() hash.Hash
	suite  uint16
}

// suite13 returns the hash and key length of a TLS 1.3 AEAD suite.
func suite13(suite uint16) (func() hash.Hash, int, bool) {
	switch suite {
	case 0x1301:
		return sha256.New, 16, true
	case 0x1302:
		return sha512.New384, 32, true
	case 0x1303:
		return sha256.New, 32, true
	}
	return nil, 0, false
}

func newAEAD(key []byte, chacha bool) (cipher.AEAD, error) {
	if chacha {
		return chacha20poly1305.New(key)
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// newOpener13 derives the record keys of a TLS 1.3 traffic secret.
func newOpener13(suite uint16, secret []byte) *opener {
	h, keyLen, ok := suite13(suite)
	if !ok {
		return nil
	}
	aead, err := newAEAD(tls13.ExpandLabel(h, secret, "key", nil, keyLen), suite == 0x1303)
	if err != nil {
		return nil
	}
	return &opener{aead: aead, iv: tls13.ExpandLabel(h, secret, "iv", nil, 12), tls13: true, secret: secret, hash: h, suite: suite}
}

// next returns the opener of the traffic secret after a KeyUpdate
// (RFC 8446, Section 7.2).
func (o *opener) next() *opener {
	return newOpener13(o.suite, tls13.ExpandLabel(o.hash, o.secret, "traffic upd", nil, o.hash().Size()))
}

// suite12 describes a TLS 1.2 AEAD suite: its PRF hash, key and IV
// lengths, and whether it is ChaCha20-Poly1305.
func suite12(suite uint16) (h func() hash.Hash, keyLen, ivLen int, chacha, ok bool) {
	switch suite {
	case 0xc02b, 0xc02f, 0x009c, 0x009e:
		return sha256.New, 16, 4, false, true
	case 0xc02c, 0xc030, 0x009d, 0x009f:
		return sha512.New384, 32, 4, false, true
	case 0xcca8, 0xcca9, 0xccaa:
		return sha256.New, 32, 12, true, true
	}
	return nil, 0, 0, false, false
}

// newOpeners12 derives the client's and the server's record keys of a TLS
// 1.2 AEAD suite from the master secret and the hello randoms.
func newOpeners12(suite uint16, master, clientRandom, serverRandom []byte) (client, server *opener) {
	h, keyLen, ivLen, chacha, ok := suite12(suite)
	if !ok || len(master) != 48 {
		return nil, nil
	}
	k := tls12.KeyBlock(h, master, clientRandom, serverRandom, keyLen, ivLen)
	ca, err1 := newAEAD(k.ClientKey, chacha)
	sa, err2 := newAEAD(k.ServerKey, chacha)
	if err1 != nil || err2 != nil {
		return nil, nil
	}
	return &opener{aead: ca, iv: k.ClientIV, explicitNonce: !chacha}, &opener{aead: sa, iv: k.ServerIV, explicitNonce: !chacha}
}

// open decrypts the record hdr+frag, number seq of its epoch. In TLS 1.3
// it returns the content without padding and the inner content type; in
// TLS 1.2, the plaintext and the header's type.
func (o *opener) open(seq uint64, hdr, frag []byte) ([]byte, uint8, bool) {
	var seqb [8]byte
	binary.BigEndian.PutUint64(seqb[:], seq)
	if o.tls13 || !o.explicitNonce {
		nonce := make([]byte, 12)
		copy(nonce, o.iv)
		for i := range seqb {
			nonce[4+i] ^= seqb[i]
		}
		ad := hdr
		if !o.tls13 {
			if len(frag) < o.aead.Overhead() {
				return nil, 0, false
			}
			ad = aad12(seqb, hdr, len(frag)-o.aead.Overhead())
		}
		out, err := o.aead.Open(nil, nonce, frag, ad)
		if err != nil {
			return nil, 0, false
		}
		if !o.tls13 {
			return out, hdr[0], true
		}
		i := len(out) - 1
		for i >= 0 && out[i] == 0 {
			i--
		}
		if i < 0 {
			return nil, 0, false
		}
		return out[:i], out[i], true
	}
	if len(frag) < 8+o.aead.Overhead() {
		return nil, 0, false
	}
	nonce := append(append(make([]byte, 0, 12), o.iv...), frag[:8]...)
	out, err := o.aead.Open(nil, nonce, frag[8:], aad12(seqb, hdr, len(frag)-8-o.aead.Overhead()))
	if err != nil {
		return nil, 0, false
	}
	return out, hdr[0], true
}

// aad12 is a TLS 1.2 AEAD record's additional data: sequence number, type,
// version and plaintext length.
func aad12(seq [8]byte, hdr []byte, n int) []byte {
	ad := make([]byte, 0, 13)
	ad = append(ad, seq[:]...)
	ad = append(ad, hdr[0], hdr[1], hdr[2])
	return binary.BigEndian.AppendUint16(ad, uint16(n))
}
