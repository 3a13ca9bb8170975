//go:build unix

package credstore

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestSyncDirGone checks that syncing a folder removed since reports
// fs.ErrNotExist, which Put, Delete and removeStale rely on to tell a
// concurrent Delete from a failed sync.
func TestSyncDirGone(t *testing.T) {
	dir := t.TempDir()
	if err := syncDir(dir); err != nil {
		t.Fatalf("syncDir of a folder: %v", err)
	}
	if err := syncDir(filepath.Join(dir, "gone")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("syncDir of a missing folder: %v, want fs.ErrNotExist", err)
	}
}

// TestLockWaitDoesNotSpin holds a store's lock through another open file
// (as another process would) and has Lock wait for it until its context
// ends: the wait polls with a backoff, so the process uses far less CPU
// time than the wait lasts (a spinning wait uses about all of it).
func TestLockWaitDoesNotSpin(t *testing.T) {
	s := openDirStore(t)
	f, err := os.OpenFile(filepath.Join(s.dir, lockFileName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	const wait = 500 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	before := cpuTime(t)
	if unlock, err := s.Lock(ctx); !errors.Is(err, context.DeadlineExceeded) {
		if err == nil {
			unlock()
		}
		t.Fatalf("Lock of a held store: %v, want context.DeadlineExceeded", err)
	}
	if used := cpuTime(t) - before; used > wait/5 {
		t.Errorf("waiting %v for the lock used %v of CPU time, want under %v", wait, used, wait/5)
	}
}

func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
