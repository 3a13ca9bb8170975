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
// (see ImportKeyPair) and removes the temporary files that writers killed
// or cut off by a power loss left (see OpenDir).
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
			if err := s.recover(); err != nil {
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

// lockTemp takes the flock of a temporary file without waiting, and
// reports whether it holds it on the file that name still names: false
// when another open file holds it (a live writer, or a cleaner about to
// remove it) or name is gone or another file since.
func lockTemp(f *os.File, name string) (bool, error) {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return sameFile(f, name)
}

// tryLock takes the store's lock if nobody holds it, without waiting,
// recovering what a crash left as Lock does. ok is false when another
// holds it: a live writer, whose own Lock recovered what it found.
func (s *dirStore) tryLock() (unlock func(), ok bool, err error) {
	p := filepath.Join(s.dir, lockFileName)
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, os.ErrNotExist) {
		// Nobody ever locked the store: make the file, as Lock does.
		f, err = os.OpenFile(p, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0o600)
	}
	if err != nil {
		return nil, false, fmt.Errorf("credstore: locking the store: %w", err)
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, false, fmt.Errorf("credstore: locking the store: %s is not a regular file", p)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("credstore: locking %s: %w", p, err)
	}
	unlock = func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}
	if err := s.recover(); err != nil {
		unlock()
		return nil, false, err
	}
	return unlock, true, nil
}

// oNoFollow makes an open fail on a symbolic link.
const oNoFollow = syscall.O_NOFOLLOW
