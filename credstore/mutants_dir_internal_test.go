package credstore

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func openDirStore(t *testing.T) *dirStore {
	t.Helper()
	return mustOpenDir(t, filepath.Join(t.TempDir(), "store")).(*dirStore)
}

// getOrAbsent returns r's value, or nil if it is not stored.
func getOrAbsent(t *testing.T, s Store, r Ref) []byte {
	t.Helper()
	b, err := s.Get(context.Background(), r)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatalf("Get(%v): %v", r, err)
	}
	return b
}

// TestPairReplaces writes a pair over a pair: the second replaces both.
func TestPairReplaces(t *testing.T) {
	ctx := context.Background()
	s := openDirStore(t)
	for _, v := range []string{"first", "second"} {
		if err := s.putPair(ctx, 1, []byte(v+" key"), []byte(v+" cert")); err != nil {
			t.Fatal(err)
		}
		if k, c := getOrAbsent(t, s, Ref{1, PrivateKey}), getOrAbsent(t, s, Ref{1, ClientCert}); string(k) != v+" key" || string(c) != v+" cert" {
			t.Errorf("after writing the %s pair: key %q, cert %q", v, k, c)
		}
	}
}

// TestPairUndo has a pair write fail at its second value (a certificate
// one byte over MaxStoredSize) after the key is written: the old values
// are put back, also when both are MaxStoredSize bytes (the largest undo
// file), and a tag that held no pair is left without a key or a folder.
func TestPairUndo(t *testing.T) {
	ctx := context.Background()
	tooBig := bytes.Repeat([]byte("c"), MaxStoredSize+1)
	for _, tt := range []struct {
		name          string
		oldKey, oldCt []byte // nil: absent
	}{
		{"no old pair", nil, nil},
		{"small old pair", []byte("old key"), []byte("old cert")},
		{"largest old pair", bytes.Repeat([]byte("k"), MaxStoredSize), bytes.Repeat([]byte("c"), MaxStoredSize)},
		{"old key only", []byte("old key"), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := openDirStore(t)
			for r, v := range map[Ref][]byte{{1, PrivateKey}: tt.oldKey, {1, ClientCert}: tt.oldCt} {
				if v != nil {
					if err := s.Put(ctx, r, v); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := s.putPair(ctx, 1, []byte("new key"), tooBig); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("pair write with a certificate over MaxStoredSize: %v, want ErrTooLarge", err)
			}
			if k := getOrAbsent(t, s, Ref{1, PrivateKey}); !bytes.Equal(k, tt.oldKey) {
				t.Errorf("key after the failed pair write: %d bytes %.10q, want %d bytes %.10q", len(k), k, len(tt.oldKey), tt.oldKey)
			}
			if c := getOrAbsent(t, s, Ref{1, ClientCert}); !bytes.Equal(c, tt.oldCt) {
				t.Errorf("cert after the failed pair write: %d bytes, want %d", len(c), len(tt.oldCt))
			}
			_, err := os.Lstat(filepath.Join(s.tagDir(1), undoName))
			if !errors.Is(err, os.ErrNotExist) {
				t.Errorf("undo file after the failed pair write: %v, want it gone", err)
			}
			if tt.oldKey == nil && tt.oldCt == nil {
				if _, err := os.Lstat(s.tagDir(1)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("tag folder after a failed first pair write: %v, want it gone", err)
				}
			}
		})
	}
}

// TestDirPutModeWhateverUmask checks that a certificate is stored
// readable by all (0644) and a key by its owner only (0600) under a umask
// that would make both 0600 or both 0666.
func TestDirPutModeWhateverUmask(t *testing.T) {
	ctx := context.Background()
	for _, mask := range []int{0o077, 0o000} {
		s := openDirStore(t)
		old := syscall.Umask(mask)
		errC := s.Put(ctx, Ref{1, CACert}, []byte("root"))
		errK := s.Put(ctx, Ref{1, PrivateKey}, []byte("key"))
		syscall.Umask(old)
		if errC != nil || errK != nil {
			t.Fatal(errC, errK)
		}
		for r, want := range map[Ref]os.FileMode{{1, CACert}: 0o644, {1, PrivateKey}: 0o600} {
			fi, err := os.Stat(s.path(r))
			if err != nil || fi.Mode().Perm() != want {
				t.Errorf("umask %03o: %v stored with mode %v (%v), want %v", mask, r, fi.Mode().Perm(), err, want)
			}
		}
	}
}

// TestDirPutOverFolder has a folder where a credential's file goes: Put
// fails (the rename over it fails) and leaves no temporary file.
func TestDirPutOverFolder(t *testing.T) {
	s := openDirStore(t)
	r := Ref{1, CACert}
	if err := os.MkdirAll(s.path(r), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(context.Background(), r, []byte("root")); err == nil {
		t.Fatal("Put over a folder succeeded")
	}
	entries, _ := os.ReadDir(s.tagDir(1))
	if len(entries) != 1 {
		t.Errorf("tag folder after the failed Put holds %d entries, want only the folder", len(entries))
	}
}

// TestOpenDirUndoOnly opens a store where a first pair write was cut short
// after its undo file was written and before its key: the tag folder holds
// only the undo file (no key, no cert before). OpenDir undoes it (the
// folder is gone) and returns a store that works.
func TestOpenDirUndoOnly(t *testing.T) {
	root := filepath.Join(t.TempDir(), "store")
	s := mustOpenDir(t, root).(*dirStore)
	dir := s.tagDir(7)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// Key and cert, each absent: kind, present 0, empty value.
	undo := []byte{byte(PrivateKey), 0, 0, 0, 0, byte(ClientCert), 0, 0, 0, 0}
	if err := os.WriteFile(filepath.Join(dir, undoName), undo, 0o600); err != nil {
		t.Fatal(err)
	}
	s2, err := OpenDir(root)
	if err != nil || s2 == nil {
		t.Fatalf("OpenDir of a store with a cut-short pair write: %v, %v", s2, err)
	}
	if err := s2.Put(context.Background(), Ref{7, CACert}, []byte("root")); err != nil {
		t.Errorf("Put after OpenDir recovered: %v", err)
	}
	s2.Delete(context.Background(), Ref{7, CACert})
	if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after OpenDir, the folder of the cut-short pair write: %v, want it gone", err)
	}
}

// TestDeleteDamagedUndo deletes a key from a tag whose undo file is
// damaged: the undo fails, and Delete reports it and keeps the key (the old
// pair may still have to be put back from that file).
func TestDeleteDamagedUndo(t *testing.T) {
	ctx := context.Background()
	s := openDirStore(t)
	if err := s.putPair(ctx, 1, []byte("key"), []byte("cert")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.tagDir(1), undoName), []byte("damaged"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, Ref{1, PrivateKey}); !errors.Is(err, ErrMalformed) {
		t.Errorf("Delete beside a damaged undo file: %v, want ErrMalformed", err)
	}
	if k := getOrAbsent(t, s, Ref{1, PrivateKey}); string(k) != "key" {
		t.Errorf("key after the refused Delete: %q", k)
	}
}

// TestPairUndoFileUnwritable has a folder where a pair write's undo file
// goes: the undo file cannot be written, so the pair write fails before it
// changes anything.
func TestPairUndoFileUnwritable(t *testing.T) {
	ctx := context.Background()
	s := openDirStore(t)
	if err := s.putPair(ctx, 1, []byte("old key"), []byte("old cert")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(s.tagDir(1), undoName), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := s.putPair(ctx, 1, []byte("new key"), []byte("new cert")); err == nil {
		t.Error("pair write without an undo file succeeded")
	}
	if k, c := getOrAbsent(t, s, Ref{1, PrivateKey}), getOrAbsent(t, s, Ref{1, ClientCert}); string(k) != "old key" || string(c) != "old cert" {
		t.Errorf("after the refused pair write: key %q, cert %q; want the old pair", k, c)
	}
}

// TestDirPutTagFolderDanglingLink replaces a tag's folder, after the store
// was opened, with a symbolic link to nothing: the folder cannot be made
// (the name is taken) and nothing can be created through the link, so Put
// retries a few times, as for a folder a Delete removed, and then fails
// instead of retrying for ever.
func TestDirPutTagFolderDanglingLink(t *testing.T) {
	s := openDirStore(t)
	if err := os.Symlink(filepath.Join(t.TempDir(), "nothing"), s.tagDir(1)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Put(context.Background(), Ref{1, CACert}, []byte("root")) }()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Put through a dangling link: %v, want an error wrapping fs.ErrNotExist", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Put through a dangling link has not returned after 10 s")
	}
}
