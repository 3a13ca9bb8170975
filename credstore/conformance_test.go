package credstore_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/tlsapp/tlsapp/credstore"
	"github.com/tlsapp/tlsapp/credstore/credstoretest"
)

// TestConformance runs the shared suite on every backend and on the
// encrypting decorator over each.
func TestConformance(t *testing.T) {
	key := &[32]byte{1, 2, 3}
	dir := func(t *testing.T) credstore.Store {
		s, err := credstore.OpenDir(filepath.Join(t.TempDir(), "store"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	backends := map[string]func(t *testing.T) credstore.Store{
		"memory":           func(*testing.T) credstore.Store { return credstore.NewMemory() },
		"dir":              dir,
		"encrypted-memory": func(*testing.T) credstore.Store { return credstore.Encrypted(credstore.NewMemory(), key) },
		"encrypted-dir":    func(t *testing.T) credstore.Store { return credstore.Encrypted(dir(t), key) },
	}
	for name, newStore := range backends {
		t.Run(name, func(t *testing.T) { credstoretest.Run(t, newStore) })
	}
}

// TestEncryptedAtRest checks that the backend holds no plaintext and that a
// wrong key is refused.
func TestEncryptedAtRest(t *testing.T) {
	ctx := context.Background()
	inner := credstore.NewMemory()
	s := credstore.Encrypted(inner, &[32]byte{7})
	secret := []byte("-----BEGIN PRIVATE KEY----- very secret")
	if err := s.Put(ctx, credstore.Ref{Tag: 1, Kind: credstore.PrivateKey}, secret); err != nil {
		t.Fatal(err)
	}
	raw, _ := inner.Get(ctx, credstore.Ref{Tag: 1, Kind: credstore.PrivateKey})
	if bytes.Contains(raw, []byte("secret")) {
		t.Error("plaintext at rest")
	}
	if _, err := credstore.Encrypted(inner, &[32]byte{8}).Get(ctx, credstore.Ref{Tag: 1, Kind: credstore.PrivateKey}); !errors.Is(err, credstore.ErrDecrypt) {
		t.Errorf("wrong key: %v", err)
	}
}
