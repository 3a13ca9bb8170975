// Package credstoretest is the conformance suite every credstore.Store
// backend runs, like testing/fstest for file systems.
package credstoretest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/tlsapp/tlsapp/credstore"
)

// Run checks the behaviour every Store must show: ErrNotFound for what is
// not stored, Put replacing a value, List ordered and without contents,
// Delete, cancelled contexts refused, and concurrent readers seeing whole
// values only. newStore must return an empty store.
func Run(t *testing.T, newStore func(t *testing.T) credstore.Store) {
	ctx := context.Background()
	t.Run("NotFound", func(t *testing.T) {
		s := newStore(t)
		r := credstore.Ref{Tag: 7, Kind: credstore.CACert}
		if _, err := s.Get(ctx, r); !errors.Is(err, credstore.ErrNotFound) {
			t.Errorf("Get of nothing: %v", err)
		}
		if err := s.Delete(ctx, r); !errors.Is(err, credstore.ErrNotFound) {
			t.Errorf("Delete of nothing: %v", err)
		}
		if infos, err := s.List(ctx); err != nil || len(infos) != 0 {
			t.Errorf("List of an empty store: %v, %v", infos, err)
		}
	})
	t.Run("PutGetDelete", func(t *testing.T) {
		s := newStore(t)
		r := credstore.Ref{Tag: 7, Kind: credstore.CACert}
		for _, v := range [][]byte{[]byte("first"), []byte("second, longer")} {
			if err := s.Put(ctx, r, v); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Get(ctx, r); err != nil || !bytes.Equal(got, v) {
				t.Fatalf("Get = %q, %v; want %q", got, err, v)
			}
		}
		if err := s.Delete(ctx, r); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, r); !errors.Is(err, credstore.ErrNotFound) {
			t.Errorf("Get after Delete: %v", err)
		}
	})
	t.Run("List", func(t *testing.T) {
		s := newStore(t)
		secret := []byte("private key material 0123456789")
		puts := []credstore.Ref{{Tag: 9, Kind: credstore.CACert}, {Tag: 3, Kind: credstore.PrivateKey}, {Tag: 3, Kind: credstore.ClientCert}}
		for _, r := range puts {
			if err := s.Put(ctx, r, secret); err != nil {
				t.Fatal(err)
			}
		}
		infos, err := s.List(ctx)
		if err != nil || len(infos) != 3 {
			t.Fatalf("List = %+v, %v", infos, err)
		}
		want := []credstore.Ref{{Tag: 3, Kind: credstore.ClientCert}, {Tag: 3, Kind: credstore.PrivateKey}, {Tag: 9, Kind: credstore.CACert}}
		for i, in := range infos {
			if in.Ref != want[i] || in.Size != len(secret) {
				t.Errorf("List[%d] = %+v, want %v of %d bytes", i, in, want[i], len(secret))
			}
		}
		if bytes.Contains([]byte(fmt.Sprintf("%+v", infos)), secret) {
			t.Error("List revealed contents")
		}
	})
	t.Run("Cancelled", func(t *testing.T) {
		s := newStore(t)
		c, cancel := context.WithCancel(ctx)
		cancel()
		r := credstore.Ref{Tag: 1, Kind: credstore.CACert}
		if err := s.Put(c, r, []byte("x")); !errors.Is(err, context.Canceled) {
			t.Errorf("Put: %v", err)
		}
		if _, err := s.Get(c, r); !errors.Is(err, context.Canceled) {
			t.Errorf("Get: %v", err)
		}
		if _, err := s.List(c); !errors.Is(err, context.Canceled) {
			t.Errorf("List: %v", err)
		}
		if err := s.Delete(c, r); !errors.Is(err, context.Canceled) {
			t.Errorf("Delete: %v", err)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		s := newStore(t)
		r := credstore.Ref{Tag: 2, Kind: credstore.ClientCert}
		vals := [][]byte{bytes.Repeat([]byte("a"), 5000), bytes.Repeat([]byte("b"), 7000)}
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := 0; j < 20; j++ {
					if err := s.Put(ctx, r, vals[(i+j)%2]); err != nil {
						t.Error(err)
						return
					}
					got, err := s.Get(ctx, r)
					if err != nil || (!bytes.Equal(got, vals[0]) && !bytes.Equal(got, vals[1])) {
						t.Errorf("torn or failed read: %d bytes, %v", len(got), err)
						return
					}
				}
			}()
		}
		wg.Wait()
	})
}
