package pkcs11

import (
	"context"
	"crypto"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/ThalesGroup/crypto11"

	"github.com/tlsapp/tlsapp/credstore"
)

// ErrNotExportable is returned by Get for a private key on the token. It
// wraps errors.ErrUnsupported.
var ErrNotExportable = fmt.Errorf("credstore: pkcs11: private keys never leave the token: %w", errors.ErrUnsupported)

// errPutKey is returned by Put for a private key.
var errPutKey = fmt.Errorf("credstore: pkcs11: keys cannot be written through the store; use GenerateKey or the token's tools: %w", errors.ErrUnsupported)

// Store keeps private keys on a PKCS#11 token and every other credential in
// another credstore.Store. It implements credstore.Store and
// credstore.SignerStore, and is safe for concurrent use.
type Store struct {
	token *crypto11.Context
	rest  credstore.Store
	owned bool          // Close closes token
	mu    sync.Mutex    // makes GenerateKey's check and generation one step
	lock  chan struct{} // Lock when rest is not a credstore.Locker
}

var (
	_ credstore.Store       = (*Store)(nil)
	_ credstore.SignerStore = (*Store)(nil)
	_ credstore.Locker      = (*Store)(nil)
)

// Open loads the PKCS#11 module cfg names, logs in to its token and returns
// a Store over it that keeps other credentials in rest. Close logs out.
func Open(cfg *crypto11.Config, rest credstore.Store) (*Store, error) {
	c, err := crypto11.Configure(cfg)
	if err != nil {
		return nil, fmt.Errorf("credstore: pkcs11: opening %s: %w", cfg.Path, err)
	}
	s := New(c, rest)
	s.owned = true
	return s, nil
}

// New returns a Store over a token the caller has already opened with
// crypto11, keeping other credentials in rest. Close does not close c.
func New(c *crypto11.Context, rest credstore.Store) *Store {
	return &Store{token: c, rest: rest, lock: make(chan struct{}, 1)}
}

// Lock implements credstore.Locker: it locks rest if rest is a Locker (the
// directory store is, across processes), and else the Store within the
// process, so that credstore.Import's check of a certificate against the
// token's key and its write are one step.
func (s *Store) Lock(ctx context.Context) (func(), error) {
	if l, ok := s.rest.(credstore.Locker); ok {
		return l.Lock(ctx)
	}
	select {
	case s.lock <- struct{}{}:
		return func() { <-s.lock }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("credstore: pkcs11: waiting for the store lock: %w", ctx.Err())
	}
}

// Close closes the token if Open opened it.
func (s *Store) Close() error {
	if !s.owned {
		return nil
	}
	if err := s.token.Close(); err != nil {
		return fmt.Errorf("credstore: pkcs11: %w", err)
	}
	return nil
}

// KeyID returns the CKA_ID under which the token keeps tag's private key.
func KeyID(tag credstore.Tag) []byte { return binary.BigEndian.AppendUint32(nil, uint32(tag)) }

func done(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("credstore: %w", err)
	}
	return nil
}

// keys returns the key pairs stored for tag.
func (s *Store) keys(ctx context.Context, tag credstore.Tag) ([]crypto11.Signer, error) {
	if err := done(ctx); err != nil {
		return nil, err
	}
	// FindKeyPairs, not FindKeyPair: it tells "none" (an empty slice) from
	// a failure, where FindKeyPair's answer for "none" differs between
	// crypto11 versions (nil, nil in some; an error in others).
	found, err := s.token.FindKeyPairs(KeyID(tag), nil)
	if err != nil {
		return nil, fmt.Errorf("credstore: pkcs11: finding the key of tag %d: %w", tag, err)
	}
	var out []crypto11.Signer
	for _, k := range found {
		if k != nil {
			out = append(out, k)
		}
	}
	return out, nil
}

// Signer returns the private key of tag, which signs on the token. It
// returns an error wrapping credstore.ErrNotFound if there is none.
func (s *Store) Signer(ctx context.Context, tag credstore.Tag) (crypto.Signer, error) {
	keys, err := s.keys(ctx, tag)
	if err != nil {
		return nil, err
	}
	switch len(keys) {
	case 0:
		return nil, fmt.Errorf("%w: %v", credstore.ErrNotFound, credstore.Ref{Tag: tag, Kind: credstore.PrivateKey})
	case 1:
		return keys[0], nil
	}
	return nil, fmt.Errorf("credstore: pkcs11: %d key pairs have the ID %x of tag %d; remove all but one", len(keys), KeyID(tag), tag)
}

// GenerateKey makes a new ECDSA key pair for tag on the token and returns
// it. It fails if tag already has a key: Delete that first.
func (s *Store) GenerateKey(ctx context.Context, tag credstore.Tag, curve elliptic.Curve) (crypto.Signer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys, err := s.keys(ctx, tag)
	if err != nil {
		return nil, err
	}
	if len(keys) > 0 {
		return nil, fmt.Errorf("credstore: pkcs11: tag %d already has a key on the token", tag)
	}
	k, err := s.token.GenerateECDSAKeyPairWithLabel(KeyID(tag), []byte(fmt.Sprintf("credstore tag %d", tag)), curve)
	if err != nil {
		return nil, fmt.Errorf("credstore: pkcs11: generating a key for tag %d: %w", tag, err)
	}
	return k, nil
}

// Get returns the credential r names. For a private key it returns
// ErrNotExportable, or an error wrapping credstore.ErrNotFound if the token
// has none for the tag.
func (s *Store) Get(ctx context.Context, r credstore.Ref) ([]byte, error) {
	if r.Kind != credstore.PrivateKey {
		return s.rest.Get(ctx, r)
	}
	if _, err := s.Signer(ctx, r.Tag); err != nil {
		return nil, err
	}
	return nil, ErrNotExportable
}

// Put stores value under r. A private key cannot be put: see the package
// documentation.
func (s *Store) Put(ctx context.Context, r credstore.Ref, value []byte) error {
	if r.Kind != credstore.PrivateKey {
		return s.rest.Put(ctx, r, value)
	}
	if err := done(ctx); err != nil {
		return err
	}
	return errPutKey
}

// Delete removes the credential r names; for a private key, it destroys
// the key pair on the token.
func (s *Store) Delete(ctx context.Context, r credstore.Ref) error {
	if r.Kind != credstore.PrivateKey {
		return s.rest.Delete(ctx, r)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	keys, err := s.keys(ctx, r.Tag)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return fmt.Errorf("%w: %v", credstore.ErrNotFound, r)
	}
	for _, k := range keys {
		if err := k.Delete(); err != nil {
			return fmt.Errorf("credstore: pkcs11: deleting the key of tag %d: %w", r.Tag, err)
		}
	}
	return nil
}

// List describes the credentials of the other store and each key on the
// token whose CKA_ID is a tag, the latter by the digest and size of its
// public key.
func (s *Store) List(ctx context.Context) ([]credstore.Info, error) {
	infos, err := s.rest.List(ctx)
	if err != nil {
		return nil, err
	}
	// Keys live on the token only, whatever rest may hold.
	infos = slices.DeleteFunc(infos, func(in credstore.Info) bool { return in.Kind == credstore.PrivateKey })
	if err := done(ctx); err != nil {
		return nil, err
	}
	all, err := s.token.FindAllKeyPairs()
	if err != nil {
		return nil, fmt.Errorf("credstore: pkcs11: listing keys: %w", err)
	}
	seen := map[credstore.Tag]bool{}
	for _, k := range all {
		if k == nil {
			continue
		}
		id, err := s.token.GetAttribute(k, crypto11.CkaId)
		if err != nil {
			return nil, fmt.Errorf("credstore: pkcs11: listing keys: %w", err)
		}
		if id == nil || len(id.Value) != 4 {
			continue // not a key this store placed under a tag
		}
		tag := credstore.Tag(binary.BigEndian.Uint32(id.Value))
		if seen[tag] {
			continue
		}
		seen[tag] = true
		pub, err := x509.MarshalPKIXPublicKey(k.Public())
		if err != nil {
			return nil, fmt.Errorf("credstore: pkcs11: the key of tag %d: %w", tag, err)
		}
		infos = append(infos, credstore.InfoOf(credstore.Ref{Tag: tag, Kind: credstore.PrivateKey}, pub))
	}
	credstore.SortInfos(infos)
	return infos, nil
}
