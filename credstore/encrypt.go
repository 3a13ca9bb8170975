package credstore

import (
	"context"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/nacl/secretbox"
)

var (
	// ErrDecrypt is returned when a stored value does not open with the key.
	ErrDecrypt = errors.New("credstore: stored value does not decrypt with this key")
	// ErrMoved is wrapped by a *MovedError: a value sealed for one Ref
	// found under another.
	ErrMoved = errors.New("credstore: stored value was sealed for another credential")
	// ErrLegacyFormat is returned for a value sealed by an earlier version
	// of Encrypted, which did not bind a value to its Ref. Such values are
	// not used; MigrateEncrypted rewrites them.
	ErrLegacyFormat = errors.New("credstore: stored value is in the old encrypted format, not bound to its tag and kind; run MigrateEncrypted")
)

// MovedError reports a value that opens with the key but was sealed for
// another credential: copied from a test tag to a production tag, or from
// kind ca to cert. It wraps ErrMoved.
type MovedError struct {
	Ref       Ref // where the value was found
	SealedFor Ref // where it was sealed to be
}

func (e *MovedError) Error() string {
	return fmt.Sprintf("credstore: the value stored as %v was sealed for %v: moved or copied, refused", e.Ref, e.SealedFor)
}

// Unwrap returns ErrMoved.
func (e *MovedError) Unwrap() error { return ErrMoved }

// Encrypted returns a Store that seals every value with key before handing
// it to s, so that encryption at rest is one decorator rather than a feature
// of each backend. List reports the size and SHA-256 of the plaintext, so
// digests stay comparable across backends.
//
// A value is sealed with XChaCha20-Poly1305 (a fresh random 24-byte nonce
// per Put) under a key derived from key with HKDF-SHA256, and bound to its
// Ref: the tag and kind are a header authenticated as associated data. A
// value copied or moved to another tag or kind does not open there: Get
// returns a *MovedError (errors.Is ErrMoved) naming where it was sealed for,
// and a value whose header was edited to match gives ErrDecrypt.
//
// Values sealed by earlier versions (NaCl secretbox, not bound to a Ref)
// are refused with ErrLegacyFormat: call MigrateEncrypted once to rewrite
// them.
func Encrypted(s Store, key *[32]byte) Store {
	return &encrypted{s: s, legacyKey: *key, aead: boundAEAD(key)}
}

type encrypted struct {
	s         Store
	legacyKey [32]byte    // the secretbox key of the old format
	aead      cipher.AEAD // XChaCha20-Poly1305 under the derived key
}

// The sealed format: magic, tag (4 bytes, big endian) and kind (1 byte),
// which are the associated data; then the nonce and the ciphertext.
const (
	sealMagic   = "tcs\x02"
	sealHdrLen  = len(sealMagic) + 4 + 1
	sealNonce   = chacha20poly1305.NonceSizeX
	legacyNonce = 24
)

// boundInfo is the HKDF info of the key that binds values to their Refs,
// so that it differs from the secretbox key of the old format.
const boundInfo = "tlsapp credstore: XChaCha20-Poly1305 bound to tag and kind, v2"

func boundAEAD(key *[32]byte) cipher.AEAD {
	k, err := hkdf.Key(sha256.New, key[:], nil, boundInfo, chacha20poly1305.KeySize)
	if err != nil {
		panic("credstore: HKDF of 32 bytes failed: " + err.Error()) // cannot happen for this length
	}
	aead, err := chacha20poly1305.NewX(k)
	if err != nil {
		panic("credstore: XChaCha20-Poly1305 refused a 32-byte key: " + err.Error()) // cannot happen
	}
	return aead
}

func sealHeader(r Ref) []byte {
	h := make([]byte, 0, sealHdrLen)
	h = append(h, sealMagic...)
	h = binary.BigEndian.AppendUint32(h, uint32(r.Tag))
	return append(h, byte(r.Kind))
}

func (e *encrypted) seal(r Ref, value []byte) ([]byte, error) {
	out := make([]byte, sealHdrLen+sealNonce, sealHdrLen+sealNonce+len(value)+e.aead.Overhead())
	copy(out, sealHeader(r))
	nonce := out[sealHdrLen:]
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return e.aead.Seal(out, nonce, value, out[:sealHdrLen]), nil
}

// openBound opens a value in the bound format and returns the Ref it was
// sealed for; ok is false if box is not such a value under this key.
func (e *encrypted) openBound(box []byte) (plain []byte, sealedFor Ref, ok bool) {
	if len(box) < sealHdrLen+sealNonce+e.aead.Overhead() || string(box[:len(sealMagic)]) != sealMagic {
		return nil, Ref{}, false
	}
	hdr := box[:sealHdrLen]
	sealedFor = Ref{Tag(binary.BigEndian.Uint32(hdr[len(sealMagic):])), Kind(hdr[sealHdrLen-1])}
	plain, err := e.aead.Open(nil, box[sealHdrLen:sealHdrLen+sealNonce], box[sealHdrLen+sealNonce:], hdr)
	if err != nil {
		return nil, Ref{}, false
	}
	return plain, sealedFor, true
}

// openLegacy opens a value of the old format (secretbox, no Ref).
func (e *encrypted) openLegacy(box []byte) ([]byte, bool) {
	if len(box) < legacyNonce+secretbox.Overhead {
		return nil, false
	}
	var nonce [legacyNonce]byte
	copy(nonce[:], box)
	return secretbox.Open(nil, box[legacyNonce:], &nonce, &e.legacyKey)
}

func (e *encrypted) open(box []byte, r Ref) ([]byte, error) {
	if plain, sealedFor, ok := e.openBound(box); ok {
		if sealedFor != r {
			return nil, &MovedError{Ref: r, SealedFor: sealedFor}
		}
		return plain, nil
	}
	// Tried second: an old value whose random nonce happens to start with
	// the magic is still recognised.
	if _, ok := e.openLegacy(box); ok {
		return nil, fmt.Errorf("%w: %v", ErrLegacyFormat, r)
	}
	return nil, fmt.Errorf("%w: %v", ErrDecrypt, r)
}

func (e *encrypted) Get(ctx context.Context, r Ref) ([]byte, error) {
	box, err := e.s.Get(ctx, r)
	if err != nil {
		return nil, err
	}
	return e.open(box, r)
}

func (e *encrypted) Put(ctx context.Context, r Ref, value []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	box, err := e.seal(r, value)
	if err != nil {
		return err
	}
	return e.s.Put(ctx, r, box)
}

func (e *encrypted) putPair(ctx context.Context, tag Tag, key, cert []byte) error {
	sealedKey, err := e.seal(Ref{tag, PrivateKey}, key)
	if err != nil {
		return err
	}
	sealedCert, err := e.seal(Ref{tag, ClientCert}, cert)
	if err != nil {
		return err
	}
	return putPair(ctx, e.s, tag, sealedKey, sealedCert)
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

// MigrateEncrypted rewrites every value of s (the store under an Encrypted
// one, not the Encrypted store itself) that earlier versions of Encrypted
// sealed with key, in the format that binds each value to its Ref, and
// returns how many it rewrote. Values already in the new format are left
// as they are, so it can be called at every start; each rewrite is one
// atomic Put, so a migration cut short is finished by the next call. It
// holds s's lock (see Locker) while it runs.
//
// An old value is bound to the Ref it is found under: migrate a store whose
// files you trust to be where they were put. A value that does not open with
// key, or that was sealed for another Ref, is left alone and reported in the
// error (joined, one per value) while the others are migrated.
func MigrateEncrypted(ctx context.Context, s Store, key *[32]byte) (int, error) {
	e := Encrypted(s, key).(*encrypted)
	unlock, err := lockStore(ctx, s)
	if err != nil {
		return 0, err
	}
	defer unlock()
	infos, err := s.List(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, in := range infos {
		box, err := s.Get(ctx, in.Ref)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return n, err
		}
		if _, sealedFor, ok := e.openBound(box); ok {
			if sealedFor != in.Ref {
				errs = append(errs, &MovedError{Ref: in.Ref, SealedFor: sealedFor})
			}
			continue
		}
		plain, ok := e.openLegacy(box)
		if !ok {
			errs = append(errs, fmt.Errorf("%w: %v", ErrDecrypt, in.Ref))
			continue
		}
		if err := e.Put(ctx, in.Ref, plain); err != nil {
			return n, fmt.Errorf("credstore: migrating %v: %w", in.Ref, err)
		}
		n++
	}
	return n, errors.Join(errs...)
}
