package credstore

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
)

// TestLeftoversRemoved plants what killed writers leave in a tag's folder
// (temporary files of a key, a certificate and an undo file, as this
// package names them) beside a temporary file a live writer holds, a file
// of another name, a FIFO and a symbolic link named like temporary files.
// OpenDir removes the dead writers' files and nothing else; Delete removes
// the live writer's once it is gone, and then the folder.
func TestLeftoversRemoved(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "store")
	s, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, Ref{3, PrivateKey}, []byte("key")); err != nil {
		t.Fatal(err)
	}
	tag := filepath.Join(dir, "3")
	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte("victim"), 0o600)
	secret := []byte("-----BEGIN PRIVATE KEY-----\n")
	for _, name := range []string{".key.pem8401", "..pair-undo17", ".cert.pem0", ".session.bin5", ".ca.pem12"} {
		if err := os.WriteFile(filepath.Join(tag, name), secret, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	kept := []string{"key.pem", "notes.txt", ".key.pem", ".key.pemx1", "key.pem123", ".cert.pem99"}
	for _, name := range kept[1:5] {
		os.WriteFile(filepath.Join(tag, name), secret, 0o600)
	}
	if err := syscall.Mkfifo(filepath.Join(tag, ".key.pem55"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(tag, ".key.pem66")); err != nil {
		t.Fatal(err)
	}
	kept = append(kept, ".key.pem55", ".key.pem66")
	// A live writer: it holds the lock on its temporary file.
	live, err := newPendingFile(filepath.Join(tag, "cert.pem"), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	os.Rename(live.tmp, filepath.Join(tag, ".cert.pem99"))
	live.tmp = filepath.Join(tag, ".cert.pem99")

	if _, err := OpenDir(dir); err != nil {
		t.Fatal(err)
	}
	if got := names(t, tag); !slices.Equal(got, sorted(kept)) {
		t.Fatalf("after OpenDir the tag's folder holds %v, want %v", got, sorted(kept))
	}
	if b, _ := os.ReadFile(victim); string(b) != "victim" {
		t.Fatal("the link's target changed")
	}
	// The live writer finishes.
	live.Write([]byte("cert"))
	if err := live.Commit(); err != nil {
		t.Fatalf("the live writer's commit: %v", err)
	}

	// A writer that dies after it made its temporary file; then Delete.
	dead, err := newPendingFile(filepath.Join(tag, "key.pem"), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	dead.Write(secret)
	dead.f.Close() // the process's end releases its lock
	for _, name := range []string{"notes.txt", ".key.pem", ".key.pemx1", "key.pem123", ".key.pem55", ".key.pem66"} {
		os.Remove(filepath.Join(tag, name))
	}
	for _, r := range []Ref{{3, PrivateKey}, {3, ClientCert}} {
		if err := s.Delete(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(tag); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("after Delete of both credentials the tag's folder holds %v", names(t, tag))
	}
}

// TestDeleteUndoesCrashedPair: a pair write that a crash cut short while
// the store was open leaves its undo file, which holds the old key; Delete
// undoes it before it deletes, so that no copy of the key is left (and a
// later recovery does not bring it back), unless a live writer holds the
// store's lock, when the undo file is that writer's own and Delete does not
// wait for the lock.
func TestDeleteUndoesCrashedPair(t *testing.T) {
	ctx := context.Background()
	for _, locked := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "store")
		s, err := OpenDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		s.Put(ctx, Ref{4, PrivateKey}, []byte("old key"))
		s.Put(ctx, Ref{4, ClientCert}, []byte("old cert"))
		// The crashed pair write had put the new key.
		var undo cryptobyte.Builder
		for _, kv := range []struct {
			k Kind
			v string
		}{{PrivateKey, "old key"}, {ClientCert, "old cert"}} {
			undo.AddUint8(uint8(kv.k))
			undo.AddUint8(1)
			undo.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(kv.v)) })
		}
		tag := filepath.Join(dir, "4")
		os.WriteFile(filepath.Join(tag, undoName), undo.BytesOrPanic(), 0o600)
		s.Put(ctx, Ref{4, PrivateKey}, []byte("new key"))
		var unlock func()
		if locked {
			if unlock, err = s.(Locker).Lock(ctx); err != nil {
				t.Fatal(err)
			}
			// The live writer's undo file, written after its Lock.
			os.WriteFile(filepath.Join(tag, undoName), undo.BytesOrPanic(), 0o600)
		}
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = s.Delete(dctx, Ref{4, PrivateKey})
		cancel()
		if err != nil {
			t.Fatalf("locked %v: %v", locked, err)
		}
		_, uerr := os.Stat(filepath.Join(tag, undoName))
		if locked {
			if uerr != nil {
				t.Errorf("Delete undid a live writer's pair write")
			}
			unlock()
			continue
		}
		if !errors.Is(uerr, fs.ErrNotExist) {
			t.Errorf("the undo file is left after Delete")
		}
		if _, err := s.Get(ctx, Ref{4, PrivateKey}); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get of the deleted key: %v", err)
		}
		if got, _ := s.Get(ctx, Ref{4, ClientCert}); !bytes.Equal(got, []byte("old cert")) {
			t.Errorf("certificate %q after the undo, want the old one", got)
		}
	}
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
