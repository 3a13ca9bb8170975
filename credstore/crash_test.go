package credstore

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestCrashSafety kills a writer process while it replaces a credential in a
// loop: every read afterwards finds one of the two values whole, never a
// torn file.
func TestCrashSafety(t *testing.T) {
	if os.Getenv("CREDSTORE_CRASH_CHILD") != "" {
		t.Skip("run by the parent only")
	}
	dir := filepath.Join(t.TempDir(), "store")
	a, b := bytes.Repeat([]byte("A"), 256<<10), bytes.Repeat([]byte("B"), 384<<10)
	ctx := context.Background()
	s, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, Ref{1, ClientCert}, a); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 5; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashWriter$")
		cmd.Env = append(os.Environ(), "CREDSTORE_CRASH_CHILD=1", "CHILD_STORE="+dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(50+rand.IntN(150)) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
		got, err := s.Get(ctx, Ref{1, ClientCert})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if !bytes.Equal(got, a) && !bytes.Equal(got, b) {
			t.Fatalf("round %d: torn credential of %d bytes", round, len(got))
		}
	}
}

// TestCrashWriter is the child of TestCrashSafety: it alternates two values
// until it is killed.
func TestCrashWriter(t *testing.T) {
	if os.Getenv("CREDSTORE_CRASH_CHILD") == "" {
		t.Skip("run as a child process only")
	}
	s, err := OpenDir(os.Getenv("CHILD_STORE"))
	if err != nil {
		t.Fatal(err)
	}
	vals := [][]byte{bytes.Repeat([]byte("A"), 256<<10), bytes.Repeat([]byte("B"), 384<<10)}
	for i := 0; ; i++ {
		s.Put(context.Background(), Ref{1, ClientCert}, vals[i%2])
	}
}
