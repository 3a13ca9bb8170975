package credstore

import (
	"cmp"
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/tlsapp/tlsapp/trust"
)

// Tag is a security tag: the number a set of credentials is stored under,
// like a cellular modem's sec_tag. It is trust.Tag, so that the anchors a
// connection reports carry the store's tags. Tag 0 (trust.NoTag) names an
// anchor that came from a certificate pool, not from a store: Import and
// ImportKeyPair refuse it with ErrReservedTag.
type Tag = trust.Tag

// Kind is the kind of a credential. A tag holds at most one of each kind.
type Kind uint8

// The kinds of credential a tag can hold, one of each.
const (
	CACert       Kind = iota + 1 // one or more CA certificates, PEM
	ClientCert                   // the client certificate chain, PEM, leaf first
	PrivateKey                   // the client's private key, PKCS#8 PEM
	SessionState                 // resumption state, see SessionCache
)

var kindNames = []string{CACert: "ca", ClientCert: "cert", PrivateKey: "key", SessionState: "session"}

// Kinds lists every kind a Store holds, in order.
func Kinds() []Kind { return []Kind{CACert, ClientCert, PrivateKey, SessionState} }

// String returns the kind's short name: ca, cert, key or session.
func (k Kind) String() string {
	if k.Valid() {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Valid reports whether k is one of the kinds a Store holds.
func (k Kind) Valid() bool { return int(k) < len(kindNames) && kindNames[k] != "" }

// Secret reports whether credentials of kind k must be kept from other
// users: private keys and session state (which holds resumption secrets).
func (k Kind) Secret() bool { return k == PrivateKey || k == SessionState }

// ParseKind parses a kind's short name.
func ParseKind(s string) (Kind, error) {
	for k, name := range kindNames {
		if name != "" && name == strings.ToLower(s) {
			return Kind(k), nil
		}
	}
	return 0, fmt.Errorf("credstore: unknown kind %q (want ca, cert, key or session)", s)
}

// Ref names one credential: a kind under a tag.
type Ref struct {
	Tag  Tag
	Kind Kind
}

// String describes r as "tag N kind".
func (r Ref) String() string { return fmt.Sprintf("tag %d %v", r.Tag, r.Kind) }

// Info describes a stored credential without revealing it.
type Info struct {
	Ref
	SHA256 [32]byte // digest of the stored value
	Size   int      // length of the stored value in bytes
}

// InfoOf returns the Info a Store lists for value stored under r.
func InfoOf(r Ref, value []byte) Info {
	return Info{Ref: r, SHA256: sha256.Sum256(value), Size: len(value)}
}

var (
	// ErrNotFound is returned for a credential that is not stored.
	ErrNotFound = errors.New("credstore: not found")
	// ErrUnknownKind is returned for a Ref whose Kind is not one of Kinds.
	ErrUnknownKind = errors.New("credstore: unknown kind")
)

// Store keeps credentials.
//
// Implementations are safe for concurrent use, return an error wrapping
// ctx's error once ctx is done (without changing anything), and replace a
// credential atomically: a reader sees the old value or the new one, never
// a mix. Get of a missing credential and Delete of one return an error
// wrapping ErrNotFound. Values are copied: callers may modify what they pass
// to Put or get from Get.
//
// A backend that cannot hold some kind (a hardware token keeps private keys
// and never hands them out) returns an error wrapping errors.ErrUnsupported
// from Put and Get for it.
type Store interface {
	Get(ctx context.Context, r Ref) ([]byte, error)
	Put(ctx context.Context, r Ref, value []byte) error
	Delete(ctx context.Context, r Ref) error
	// List describes every stored credential, ordered by tag and kind. It
	// never returns contents.
	List(ctx context.Context) ([]Info, error)
}

// SignerStore is implemented by stores whose private keys can sign but
// never leave the store, such as a PKCS#11 token.
type SignerStore interface {
	// Signer returns the private key stored under tag. It returns an error
	// wrapping ErrNotFound if there is none.
	Signer(ctx context.Context, tag Tag) (crypto.Signer, error)
}

// Signer returns the private key stored under tag: from s's Signer method
// if s is a SignerStore, or else parsed from the PrivateKey credential.
func Signer(ctx context.Context, s Store, tag Tag) (crypto.Signer, error) {
	if ss, ok := s.(SignerStore); ok {
		return ss.Signer(ctx, tag)
	}
	b, err := s.Get(ctx, Ref{tag, PrivateKey})
	if err != nil {
		return nil, err
	}
	key, err := parseKey(b)
	if err != nil {
		return nil, fmt.Errorf("credstore: %v: %w", Ref{tag, PrivateKey}, err)
	}
	return key, nil
}

// check returns the error a Store gives before touching r under ctx.
func check(ctx context.Context, r Ref) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("credstore: %w", err)
	}
	if !r.Kind.Valid() {
		return fmt.Errorf("%w %d (tag %d)", ErrUnknownKind, uint8(r.Kind), r.Tag)
	}
	return nil
}

func notFound(r Ref) error { return fmt.Errorf("%w: %v", ErrNotFound, r) }

// NewMemory returns an empty in-memory Store.
// It is a Locker within the process.
func NewMemory() Store { return &memory{m: map[Ref][]byte{}, lock: newChanLock()} }

type memory struct {
	mu   sync.RWMutex
	m    map[Ref][]byte
	lock chanLock
}

func (s *memory) Lock(ctx context.Context) (func(), error) { return s.lock.Lock(ctx) }

func (s *memory) putPair(ctx context.Context, tag Tag, key, cert []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("credstore: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[Ref{tag, PrivateKey}] = append([]byte{}, key...)
	s.m[Ref{tag, ClientCert}] = append([]byte{}, cert...)
	return nil
}

func (s *memory) Get(ctx context.Context, r Ref) ([]byte, error) {
	if err := check(ctx, r); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.m[r]
	if !ok {
		return nil, notFound(r)
	}
	return slices.Clone(v), nil
}

func (s *memory) Put(ctx context.Context, r Ref, value []byte) error {
	if err := check(ctx, r); err != nil {
		return err
	}
	v := append([]byte{}, value...) // never nil, so a stored empty value is distinct from none
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[r] = v
	return nil
}

func (s *memory) Delete(ctx context.Context, r Ref) error {
	if err := check(ctx, r); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[r]; !ok {
		return notFound(r)
	}
	delete(s.m, r)
	return nil
}

func (s *memory) List(ctx context.Context) ([]Info, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("credstore: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Info, 0, len(s.m))
	for r, v := range s.m {
		out = append(out, InfoOf(r, v))
	}
	SortInfos(out)
	return out, nil
}

// SortInfos sorts infos by tag, then kind: the order List returns.
func SortInfos(infos []Info) {
	slices.SortFunc(infos, func(a, b Info) int {
		return cmp.Or(cmp.Compare(a.Tag, b.Tag), cmp.Compare(a.Kind, b.Kind))
	})
}
