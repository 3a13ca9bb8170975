package credstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// within runs f and fails the test if it takes more than 5 s: a read that
// blocks (a FIFO without a writer) must not hang the test. unblock, if not
// nil, is called after a timeout to let f return.
func within(t *testing.T, what string, unblock func(), f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		if unblock != nil {
			unblock()
		}
		t.Fatalf("%s blocked for 5 s", what)
		return nil
	}
}

// unblockFIFO opens p for writing, which lets a reader blocked in open(2)
// go on.
func unblockFIFO(p string) func() {
	return func() {
		if f, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	}
}

func mkfifo(t *testing.T, p string) {
	t.Helper()
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
}

// sparse makes a file of n bytes that takes no disk space.
func sparse(t *testing.T, p string, n int64) {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(n); err != nil {
		t.Fatal(err)
	}
}

// TestReadFileBadFiles checks ReadFile on what a user may pass for a
// certificate file: devices, a FIFO, a folder and huge files are refused
// at once with a typed error; a file of exactly MaxSize is read.
func TestReadFileBadFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "cert.pem")
	mkfifo(t, fifo)
	sparse(t, filepath.Join(dir, "huge.pem"), 16<<30)
	sparse(t, filepath.Join(dir, "over.pem"), MaxSize+1)
	sparse(t, filepath.Join(dir, "max.pem"), MaxSize)
	os.Symlink(fifo, filepath.Join(dir, "link.pem"))
	for _, tc := range []struct {
		path string
		want error // nil: read whole
	}{
		{"/dev/zero", ErrNotRegular},
		{"/dev/urandom", ErrNotRegular},
		{fifo, ErrNotRegular},
		{filepath.Join(dir, "link.pem"), ErrNotRegular},
		{dir, ErrNotRegular},
		{filepath.Join(dir, "huge.pem"), ErrTooLarge},
		{filepath.Join(dir, "over.pem"), ErrTooLarge},
		{filepath.Join(dir, "max.pem"), nil},
	} {
		var b []byte
		err := within(t, "ReadFile("+tc.path+")", unblockFIFO(fifo), func() (err error) {
			b, err = ReadFile(tc.path)
			return err
		})
		if !errors.Is(err, tc.want) || (tc.want == nil && len(b) != MaxSize) {
			t.Errorf("ReadFile(%s): %d bytes, %v; want %v", tc.path, len(b), err, tc.want)
		}
	}
	if err := Import(context.Background(), NewMemory(), 1, CACert, "big", make([]byte, MaxSize+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Import of MaxSize+1 bytes: %v, want ErrTooLarge", err)
	}
}

// TestDirBadFiles puts a FIFO, a device and a huge file where a directory
// store keeps credentials: List and Get fail at once with a typed error,
// and Put refuses a value over MaxSize.
func TestDirBadFiles(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		make func(t *testing.T, p string)
		want error
	}{
		{"fifo", mkfifo, ErrNotRegular},
		{"dev-zero", func(t *testing.T, p string) { os.Symlink("/dev/zero", p) }, ErrNotRegular},
		{"folder", func(t *testing.T, p string) { os.Mkdir(p, 0o700) }, ErrNotRegular},
		{"huge", func(t *testing.T, p string) { sparse(t, p, 8<<30) }, ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "store")
			s := mustOpenDir(t, dir)
			os.Mkdir(filepath.Join(dir, "1"), 0o700)
			p := filepath.Join(dir, "1", "cert.pem")
			tc.make(t, p)
			err := within(t, "List", unblockFIFO(p), func() error { _, err := s.List(ctx); return err })
			if !errors.Is(err, tc.want) {
				t.Errorf("List: %v, want %v", err, tc.want)
			}
			err = within(t, "Get", unblockFIFO(p), func() error { _, err := s.Get(ctx, Ref{1, ClientCert}); return err })
			if !errors.Is(err, tc.want) {
				t.Errorf("Get: %v, want %v", err, tc.want)
			}
		})
	}
	s := mustOpenDir(t, filepath.Join(t.TempDir(), "store"))
	if err := s.Put(ctx, Ref{2, CACert}, make([]byte, MaxStoredSize+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Put of MaxStoredSize+1 bytes: %v, want ErrTooLarge", err)
	}
	if err := s.Put(ctx, Ref{2, CACert}, make([]byte, MaxStoredSize)); err != nil {
		t.Errorf("Put of MaxStoredSize bytes: %v", err)
	}
}

// TestDirWritableByOthers checks that OpenDir refuses a store folder, or a
// tag folder in it, that group or others can write.
func TestDirWritableByOthers(t *testing.T) {
	for _, tc := range []struct {
		name         string
		root, tagDir os.FileMode
		refused      string // the folder refused, "" for none
	}{
		{"private", 0o700, 0o700, ""},
		{"readable by all", 0o755, 0o755, ""},
		{"store 0777", 0o777, 0o700, "store"},
		{"store 0770", 0o770, 0o700, "store"},
		{"store 0702", 0o702, 0o700, "store"},
		{"tag folder 0777", 0o700, 0o777, "store/1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			dir := filepath.Join(base, "store")
			if err := Import(context.Background(), mustOpenDir(t, dir), 1, CACert, "ca.pem", newCA(t, "Root", nil).pem); err != nil {
				t.Fatal(err)
			}
			os.Chmod(filepath.Join(dir, "1"), tc.tagDir)
			os.Chmod(dir, tc.root)
			_, err := OpenDir(dir)
			var pe *DirPermissionError
			switch {
			case tc.refused == "" && err != nil:
				t.Errorf("OpenDir: %v", err)
			case tc.refused != "" && (!errors.As(err, &pe) || pe.Path != filepath.Join(base, tc.refused)):
				t.Errorf("OpenDir: %v, want a DirPermissionError for %s", err, tc.refused)
			}
		})
	}
}
