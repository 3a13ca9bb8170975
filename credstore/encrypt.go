package credstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"

	"golang.org/x/crypto/nacl/secretbox"
)

// ErrDecrypt is returned when a stored value does not open with the key.
var ErrDecrypt = errors.New("credstore: stored value does not decrypt with this key")

// Encrypted returns a Store that seals every value with key (NaCl
// secretbox: XSalsa20-Poly1305, a fresh random nonce per Put) before handing
// it to s, so that encryption at rest is one decorator rather than a feature
// of each backend. List reports the size and SHA-256 of the plaintext, so
// digests stay comparable across backends.
func Encrypted(s Store, key *[32]byte) Store { return &encrypted{s: s, key: *key} }

type encrypted struct {
	s   Store
	key [32]byte
}

const nonceLen = 24

func (e *encrypted) Get(ctx context.Context, r Ref) ([]byte, error) {
	box, err := e.s.Get(ctx, r)
	if err != nil {
		return nil, err
	}
	return e.open(box, r)
}

func (e *encrypted) open(box []byte, r Ref) ([]byte, error) {
	if len(box) < nonceLen+secretbox.Overhead {
		return nil, fmt.Errorf("%w: %v", ErrDecrypt, r)
	}
	var nonce [nonceLen]byte
	copy(nonce[:], box)
	plain, ok := secretbox.Open(nil, box[nonceLen:], &nonce, &e.key)
	if !ok {
		return nil, fmt.Errorf("%w: %v", ErrDecrypt, r)
	}
	return plain, nil
}

func (e *encrypted) Put(ctx context.Context, r Ref, value []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var nonce [nonceLen]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return err
	}
	return e.s.Put(ctx, r, secretbox.Seal(nonce[:], value, &nonce, &e.key))
}

// Lock locks the underlying store.
func (e *encrypted) Lock(ctx context.Context) (func(), error) { return lockStore(ctx, e.s) }

func (e *encrypted) Delete(ctx context.Context, r Ref) error { return e.s.Delete(ctx, r) }

func (e *encrypted) List(ctx context.Context) ([]Info, error) {
	infos, err := e.s.List(ctx)
	if err != nil {
		return nil, err
	}
	out := infos[:0]
	for _, in := range infos {
		box, err := e.s.Get(ctx, in.Ref)
		if errors.Is(err, ErrNotFound) {
			continue // deleted since the listing: not there any more
		}
		if err != nil {
			return nil, err
		}
		plain, err := e.open(box, in.Ref)
		if err != nil {
			return nil, err
		}
		in.SHA256, in.Size = sha256.Sum256(plain), len(plain)
		out = append(out, in)
	}
	return out, nil
}
