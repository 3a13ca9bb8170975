package credstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/nacl/secretbox"
)

// TestEncryptedBindsRef copies a sealed value, as an attacker with write
// access to the backend would, from where it was put to another tag and to
// another kind: Get refuses it there with a *MovedError naming where it
// was sealed for, and a header edited to claim the new place does not open.
func TestEncryptedBindsRef(t *testing.T) {
	ctx := context.Background()
	key := &[32]byte{42}
	for _, b := range []struct {
		name  string
		inner func(t *testing.T) Store
	}{
		{"memory", func(*testing.T) Store { return NewMemory() }},
		{"dir", func(t *testing.T) Store { return mustOpenDir(t, filepath.Join(t.TempDir(), "store")) }},
	} {
		t.Run(b.name, func(t *testing.T) {
			inner := b.inner(t)
			s := Encrypted(inner, key)
			from := Ref{100, CACert} // a test tag
			value := []byte("-----BEGIN CERTIFICATE----- test root")
			if err := s.Put(ctx, from, value); err != nil {
				t.Fatal(err)
			}
			box, err := inner.Get(ctx, from)
			if err != nil {
				t.Fatal(err)
			}
			for _, to := range []Ref{{1, CACert}, {100, ClientCert}, {1, PrivateKey}} {
				if err := inner.Put(ctx, to, box); err != nil {
					t.Fatal(err)
				}
				got, err := s.Get(ctx, to)
				var me *MovedError
				if !errors.Is(err, ErrMoved) || !errors.As(err, &me) || me.SealedFor != from || me.Ref != to {
					t.Errorf("Get(%v) of the value sealed for %v: %q, %v; want a MovedError", to, from, got, err)
				}
				// The header names the place; editing it breaks the tag.
				edited := bytes.Clone(box)
				copy(edited, sealHeader(to))
				inner.Put(ctx, to, edited)
				if got, err := s.Get(ctx, to); !errors.Is(err, ErrDecrypt) {
					t.Errorf("Get(%v) of the value with its header edited to match: %q, %v; want ErrDecrypt", to, got, err)
				}
			}
			if got, err := s.Get(ctx, from); err != nil || !bytes.Equal(got, value) {
				t.Errorf("Get(%v) where it was put: %q, %v", from, got, err)
			}
			if _, err := s.List(ctx); !errors.Is(err, ErrDecrypt) && !errors.Is(err, ErrMoved) {
				t.Errorf("List over moved values: %v, want an error", err)
			}
		})
	}
}

// sealLegacy seals v as Encrypted did before values were bound to Refs:
// a random nonce, then NaCl secretbox.
func sealLegacy(t *testing.T, v []byte, key *[32]byte) []byte {
	var nonce [24]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		t.Fatal(err)
	}
	return secretbox.Seal(nonce[:], v, &nonce, key)
}

// TestMigrateEncrypted fills a directory store with values in the old
// format: Encrypted refuses them with ErrLegacyFormat; MigrateEncrypted
// rewrites each once, after which they read back, are bound to their Refs
// (a moved one is refused), and a second migration rewrites nothing. A
// value under another key is reported and left, the others migrated.
func TestMigrateEncrypted(t *testing.T) {
	ctx := context.Background()
	key := &[32]byte{7}
	inner := mustOpenDir(t, filepath.Join(t.TempDir(), "store"))
	values := map[Ref][]byte{
		{1, CACert}:       []byte("root one"),
		{1, ClientCert}:   []byte("device cert"),
		{1, PrivateKey}:   []byte("device key"),
		{2, SessionState}: []byte("sessions"),
	}
	for r, v := range values {
		if err := inner.Put(ctx, r, sealLegacy(t, v, key)); err != nil {
			t.Fatal(err)
		}
	}
	s := Encrypted(inner, key)
	if _, err := s.Get(ctx, Ref{1, PrivateKey}); !errors.Is(err, ErrLegacyFormat) {
		t.Errorf("Get of an old-format value: %v, want ErrLegacyFormat", err)
	}
	foreign := Ref{3, CACert}
	inner.Put(ctx, foreign, sealLegacy(t, []byte("other key"), &[32]byte{8}))

	n, err := MigrateEncrypted(ctx, inner, key)
	if n != len(values) || !errors.Is(err, ErrDecrypt) {
		t.Fatalf("MigrateEncrypted: %d, %v; want %d and ErrDecrypt for %v", n, err, len(values), foreign)
	}
	for r, v := range values {
		if got, err := s.Get(ctx, r); err != nil || !bytes.Equal(got, v) {
			t.Errorf("after migration, Get(%v): %q, %v; want %q", r, got, err, v)
		}
	}
	inner.Delete(ctx, foreign)
	if n, err := MigrateEncrypted(ctx, inner, key); n != 0 || err != nil {
		t.Errorf("second MigrateEncrypted: %d, %v; want 0, nil", n, err)
	}
	box, _ := inner.Get(ctx, Ref{1, PrivateKey})
	inner.Put(ctx, Ref{9, PrivateKey}, box)
	if _, err := s.Get(ctx, Ref{9, PrivateKey}); !errors.Is(err, ErrMoved) {
		t.Errorf("a migrated key moved to tag 9: %v, want ErrMoved", err)
	}
	if _, err := MigrateEncrypted(ctx, inner, key); !errors.Is(err, ErrMoved) {
		t.Errorf("MigrateEncrypted over a moved value: %v, want it reported", err)
	}
}
