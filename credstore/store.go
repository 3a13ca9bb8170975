package credstore

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Tag is a security tag: the number a set of credentials is stored under.
type Tag uint32

// Kind is the kind of a credential.
type Kind uint8

// The kinds of credential a tag can hold, one of each.
const (
	CACert       Kind = iota + 1 // one or more CA certificates, PEM
	ClientCert                   // the client certificate chain, PEM, leaf first
	PrivateKey                   // the client's private key, PKCS#8 PEM
	SessionState                 // the library's resumption state
)

var kindNames = []string{CACert: "ca", ClientCert: "cert", PrivateKey: "key", SessionState: "session"}

// String returns the kind's short name: ca, cert, key or session.
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ParseKind parses a kind's short name.
func ParseKind(s string) (Kind, error) {
	for k, name := range kindNames {
		if name != "" && name == strings.ToLower(s) {
			return Kind(k), nil
		}
	}
	return 0, fmt.Errorf("credstore: unknown kind %q (want ca, cert, key or session)", s)
}

// Ref names one credential.
type Ref struct {
	Tag  Tag
	Kind Kind
}

func (r Ref) String() string { return fmt.Sprintf("tag %d %v", r.Tag, r.Kind) }

// Info describes a stored credential without revealing it.
type Info struct {
	Ref
	SHA256 [32]byte // digest of the stored bytes
	Size   int
}

// ErrNotFound is returned for a credential that is not stored.
var ErrNotFound = errors.New("credstore: not found")

// Store keeps credentials. Implementations are safe for concurrent use,
// return ctx's error once ctx is done, and replace a credential atomically:
// a reader sees the old value or the new one, never a mix.
type Store interface {
	Get(ctx context.Context, r Ref) ([]byte, error)
	Put(ctx context.Context, r Ref, value []byte) error
	Delete(ctx context.Context, r Ref) error
	// List describes every stored credential, ordered by tag and kind. It
	// never returns contents.
	List(ctx context.Context) ([]Info, error)
}

// NewMemory returns an empty in-memory Store.
func NewMemory() Store { return &memory{m: map[Ref][]byte{}} }

type memory struct {
	mu sync.RWMutex
	m  map[Ref][]byte
}

func (s *memory) Get(ctx context.Context, r Ref) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.m[r]
	if !ok {
		return nil, fmt.Errorf("%w: %v", ErrNotFound, r)
	}
	return append([]byte(nil), v...), nil
}

func (s *memory) Put(ctx context.Context, r Ref, value []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[r] = append([]byte(nil), value...)
	return nil
}

func (s *memory) Delete(ctx context.Context, r Ref) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[r]; !ok {
		return fmt.Errorf("%w: %v", ErrNotFound, r)
	}
	delete(s.m, r)
	return nil
}

func (s *memory) List(ctx context.Context) ([]Info, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []Info
	for r, v := range s.m {
		out = append(out, Info{Ref: r, SHA256: sha256.Sum256(v), Size: len(v)})
	}
	sortInfos(out)
	return out, nil
}

func sortInfos(in []Info) {
	sort.Slice(in, func(i, j int) bool {
		if in[i].Tag != in[j].Tag {
			return in[i].Tag < in[j].Tag
		}
		return in[i].Kind < in[j].Kind
	})
}
