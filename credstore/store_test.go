package credstore

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

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
