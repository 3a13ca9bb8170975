package credstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// backends returns a fresh store of each kind.
func backends(t *testing.T) map[string]Store {
	dir, err := OpenDir(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]Store{"memory": NewMemory(), "dir": dir}
}

// TestStoreContract is the behaviour every backend must show.
func TestStoreContract(t *testing.T) {
	ctx := context.Background()
	for name, s := range backends(t) {
		t.Run(name, func(t *testing.T) {
			r := Ref{7, CACert}
			if _, err := s.Get(ctx, r); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get of nothing: %v", err)
			}
			if err := s.Delete(ctx, r); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Delete of nothing: %v", err)
			}
			for _, v := range [][]byte{[]byte("first"), []byte("second, longer")} {
				if err := s.Put(ctx, r, v); err != nil {
					t.Fatal(err)
				}
				got, err := s.Get(ctx, r)
				if err != nil || !bytes.Equal(got, v) {
					t.Fatalf("Get = %q, %v; want %q", got, err, v)
				}
			}
			if err := s.Put(ctx, Ref{3, PrivateKey}, []byte("secret key bytes")); err != nil {
				t.Fatal(err)
			}
			infos, err := s.List(ctx)
			if err != nil || len(infos) != 2 || infos[0].Tag != 3 || infos[1].Tag != 7 || infos[1].Size != len("second, longer") {
				t.Fatalf("List = %+v, %v", infos, err)
			}
			if fmt.Sprintf("%+v", infos) != "" && bytes.Contains([]byte(fmt.Sprintf("%+v", infos)), []byte("secret")) {
				t.Error("List revealed contents")
			}
			if err := s.Delete(ctx, r); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Get(ctx, r); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get after Delete: %v", err)
			}
			cancelled, cancel := context.WithCancel(ctx)
			cancel()
			if _, err := s.Get(cancelled, Ref{3, PrivateKey}); !errors.Is(err, context.Canceled) {
				t.Errorf("Get with a cancelled context: %v", err)
			}
			if err := s.Put(cancelled, r, nil); !errors.Is(err, context.Canceled) {
				t.Errorf("Put with a cancelled context: %v", err)
			}
			// Concurrent writers and readers: every read sees a whole value.
			var wg sync.WaitGroup
			vals := [][]byte{bytes.Repeat([]byte("a"), 5000), bytes.Repeat([]byte("b"), 7000)}
			for i := 0; i < 8; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for j := 0; j < 20; j++ {
						s.Put(ctx, Ref{9, ClientCert}, vals[(i+j)%2])
						if got, err := s.Get(ctx, Ref{9, ClientCert}); err == nil && !bytes.Equal(got, vals[0]) && !bytes.Equal(got, vals[1]) {
							t.Errorf("torn read of %d bytes", len(got))
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}

// TestDirKeyPermissions checks that keys are written 0600 and that a key
// file others can read is refused with its name.
func TestDirKeyPermissions(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Put(ctx, Ref{1, PrivateKey}, []byte("k")); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "1", "key.pem")
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v", fi.Mode().Perm(), err)
	}
	os.Chmod(p, 0o644)
	if _, err := s.Get(ctx, Ref{1, PrivateKey}); err == nil || !bytes.Contains([]byte(err.Error()), []byte(p)) {
		t.Errorf("a world-readable key was accepted or the error does not name it: %v", err)
	}
}

// TestDirUnwritable checks the error for a store whose folder cannot be
// written, and that the old value survives.
func TestDirUnwritable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root can write anywhere; permissions cannot be tested")
	}
	dir := t.TempDir()
	s, _ := OpenDir(dir)
	ctx := context.Background()
	s.Put(ctx, Ref{1, CACert}, []byte("old"))
	os.Chmod(filepath.Join(dir, "1"), 0o500)
	defer os.Chmod(filepath.Join(dir, "1"), 0o700)
	if err := s.Put(ctx, Ref{1, CACert}, []byte("new")); err == nil {
		t.Fatal("write into a read-only folder succeeded")
	}
	if got, _ := s.Get(ctx, Ref{1, CACert}); string(got) != "old" {
		t.Errorf("old value lost: %q", got)
	}
}

func TestOpenDirOnAFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o600)
	if _, err := OpenDir(f); err == nil {
		t.Error("OpenDir on a file succeeded")
	}
}

func TestParseKind(t *testing.T) {
	for _, k := range []Kind{CACert, ClientCert, PrivateKey, SessionState} {
		if got, err := ParseKind(k.String()); err != nil || got != k {
			t.Errorf("ParseKind(%q) = %v, %v", k, got, err)
		}
	}
	if _, err := ParseKind("psk"); err == nil {
		t.Error("ParseKind(psk) succeeded")
	}
}
