//go:build unix

package credstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// lockFileName is the file in a directory store that Lock flocks.
const lockFileName = ".lock"

// Lock takes an exclusive flock(2) on the store's .lock file, made on first
// use, so that it excludes other processes as well as other goroutines (each
// Lock opens the file anew, and flock locks belong to the open file). The
// lock goes with the process, so a writer killed while it holds it leaves
// no stale lock behind. In a store whose directory cannot be written and
// has no .lock file, there are no writers to keep away, and Lock returns at
// once.
//
// Holding the lock, Lock first undoes any pair write that a crash cut short
// (see ImportKeyPair).
func (s *dirStore) Lock(ctx context.Context) (func(), error) {
	p := filepath.Join(s.dir, lockFileName)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0o600)
	if errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EROFS) {
		if f, err = os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0); errors.Is(err, os.ErrNotExist) {
			return func() {}, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("credstore: locking the store: %w", err)
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("credstore: locking the store: %s is not a regular file", p)
	}
	fd := int(f.Fd())
	for wait := time.Millisecond; ; wait = min(2*wait, 20*time.Millisecond) {
		err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			unlock := func() {
				syscall.Flock(fd, syscall.LOCK_UN)
				f.Close()
			}
			if err := s.recoverPairs(); err != nil {
				unlock()
				return nil, err
			}
			return unlock, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("credstore: locking %s: %w", p, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("credstore: waiting for the lock on %s: %w", p, ctx.Err())
		case <-time.After(wait):
		}
	}
}
