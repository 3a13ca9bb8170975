package credstore

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestPairConcurrentImports runs two ImportKeyPair calls with different
// pairs at once, 200 times, on every backend: afterwards the tag holds one
// pair whole (LoadKeyPair finds the key of the certificate), never the key
// of one import beside the certificate of the other.
func TestPairConcurrentImports(t *testing.T) {
	ctx := context.Background()
	ca := newCA(t, "Pair CA", nil)
	type pair struct{ cert, key []byte }
	var pairs [2]pair
	for i, cn := range []string{"device-a", "device-b"} {
		pairs[i].cert, pairs[i].key = clientPEM(t, ca, cn)
	}
	key := &[32]byte{9}
	for _, b := range []struct {
		name string
		open func(t *testing.T) Store
	}{
		{"memory", func(*testing.T) Store { return NewMemory() }},
		{"dir", func(t *testing.T) Store { return mustOpenDir(t, filepath.Join(t.TempDir(), "store")) }},
		{"two-dir-handles", nil}, // each import through its own OpenDir, as two processes would
		{"encrypted-dir", func(t *testing.T) Store {
			return Encrypted(mustOpenDir(t, filepath.Join(t.TempDir(), "store")), key)
		}},
	} {
		t.Run(b.name, func(t *testing.T) {
			var stores [2]Store
			if b.open == nil {
				dir := filepath.Join(t.TempDir(), "store")
				stores = [2]Store{mustOpenDir(t, dir), mustOpenDir(t, dir)}
			} else {
				s := b.open(t)
				stores = [2]Store{s, s}
			}
			bad := 0
			for round := 0; round < 200; round++ {
				var wg sync.WaitGroup
				for i := range 2 {
					wg.Go(func() {
						if err := ImportKeyPair(ctx, stores[i], 5, "c.pem", pairs[i].cert, "k.pem", pairs[i].key); err != nil {
							t.Errorf("round %d import %d: %v", round, i, err)
						}
					})
				}
				wg.Wait()
				if _, err := LoadKeyPair(ctx, stores[0], 5); err != nil {
					if !errors.Is(err, ErrKeyMismatch) {
						t.Fatalf("round %d: %v", round, err)
					}
					bad++
				}
			}
			if bad > 0 {
				t.Errorf("%d of 200 rounds left a certificate beside the key of the other import", bad)
			}
		})
	}
}

// TestPairAcrossProcesses starts two processes that import different pairs
// into one directory store at the same moment, 40 times: the tag always
// holds a matching pair afterwards.
func TestPairAcrossProcesses(t *testing.T) {
	if os.Getenv("CREDSTORE_PAIR_CHILD") != "" {
		t.Skip("run by the parent only")
	}
	ctx := context.Background()
	ca := newCA(t, "Pair CA", nil)
	files := t.TempDir()
	for _, cn := range []string{"a", "b"} {
		c, k := clientPEM(t, ca, cn)
		os.WriteFile(filepath.Join(files, cn+".pem"), c, 0o644)
		os.WriteFile(filepath.Join(files, cn+".key"), k, 0o600)
	}
	dir := filepath.Join(t.TempDir(), "store")
	s := mustOpenDir(t, dir)
	bad := 0
	for round := 0; round < 40; round++ {
		var cmds []*exec.Cmd
		start := time.Now().Add(150 * time.Millisecond) // both start writing then
		for _, cn := range []string{"a", "b"} {
			cmd := exec.Command(os.Args[0], "-test.run=^TestPairChild$")
			cmd.Env = append(os.Environ(), "CREDSTORE_PAIR_CHILD=1", "CHILD_STORE="+dir,
				"CHILD_CERT="+filepath.Join(files, cn+".pem"), "CHILD_KEY="+filepath.Join(files, cn+".key"),
				"CHILD_START="+start.Format(time.RFC3339Nano))
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			cmds = append(cmds, cmd)
		}
		for _, cmd := range cmds {
			if err := cmd.Wait(); err != nil {
				t.Fatalf("round %d: child: %v", round, err)
			}
		}
		if _, err := LoadKeyPair(ctx, s, 5); err != nil {
			if !errors.Is(err, ErrKeyMismatch) {
				t.Fatalf("round %d: %v", round, err)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d of 40 rounds left a mismatched pair", bad)
	}
}

// TestPairChild is a child of TestPairAcrossProcesses: it waits for the
// agreed moment and imports its pair 8 times.
func TestPairChild(t *testing.T) {
	if os.Getenv("CREDSTORE_PAIR_CHILD") == "" {
		t.Skip("run as a child process only")
	}
	s := mustOpenDir(t, os.Getenv("CHILD_STORE"))
	cert, _ := os.ReadFile(os.Getenv("CHILD_CERT"))
	key, _ := os.ReadFile(os.Getenv("CHILD_KEY"))
	start, err := time.Parse(time.RFC3339Nano, os.Getenv("CHILD_START"))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(start))
	for range 8 {
		if err := ImportKeyPair(context.Background(), s, 5, "c.pem", cert, "k.pem", key); err != nil {
			t.Fatal(err)
		}
	}
}

func mustOpenDir(t *testing.T, dir string) Store {
	t.Helper()
	s, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestPairCrash kills a process that imports two pairs in turn into a
// directory store, at random moments, 30 times: a store opened afterwards
// holds one pair whole, never the new key beside the old certificate.
func TestPairCrash(t *testing.T) {
	if os.Getenv("CREDSTORE_PAIR_CHILD") != "" {
		t.Skip("run by the parent only")
	}
	ctx := context.Background()
	ca := newCA(t, "Pair CA", nil)
	files := t.TempDir()
	for _, cn := range []string{"a", "b"} {
		c, k := clientPEM(t, ca, cn)
		os.WriteFile(filepath.Join(files, cn+".pem"), c, 0o644)
		os.WriteFile(filepath.Join(files, cn+".key"), k, 0o600)
	}
	dir := filepath.Join(t.TempDir(), "store")
	mustOpenDir(t, dir)
	bad, undone := 0, 0
	for round := 0; round < 30; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPairCrashWriter$")
		cmd.Env = append(os.Environ(), "CREDSTORE_PAIR_CHILD=1", "CHILD_STORE="+dir, "CHILD_FILES="+files)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(30+round*4) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
		if m, _ := filepath.Glob(filepath.Join(dir, "*", undoName)); len(m) > 0 {
			undone++ // killed inside a pair write: OpenDir undoes it
		}
		s := mustOpenDir(t, dir)
		if _, err := LoadKeyPair(ctx, s, 5); errors.Is(err, ErrKeyMismatch) {
			bad++
		} else if err != nil && !errors.Is(err, ErrNotFound) {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	t.Logf("%d of 30 kills came inside a pair write", undone)
	if bad > 0 {
		t.Errorf("%d of 30 kills left a mismatched pair", bad)
	}
}

// TestPairCrashWriter is the child of TestPairCrash: it imports pair a and
// pair b in turn until it is killed.
func TestPairCrashWriter(t *testing.T) {
	if os.Getenv("CREDSTORE_PAIR_CHILD") == "" {
		t.Skip("run as a child process only")
	}
	s := mustOpenDir(t, os.Getenv("CHILD_STORE"))
	var certs, keys [2][]byte
	for i, cn := range []string{"a", "b"} {
		certs[i], _ = os.ReadFile(filepath.Join(os.Getenv("CHILD_FILES"), cn+".pem"))
		keys[i], _ = os.ReadFile(filepath.Join(os.Getenv("CHILD_FILES"), cn+".key"))
	}
	for i := 0; ; i++ {
		ImportKeyPair(context.Background(), s, 5, "c.pem", certs[i%2], "k.pem", keys[i%2])
	}
}
