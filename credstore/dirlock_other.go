//go:build !unix

package credstore

import (
	"context"
	"os"
)

// Lock locks the store within the process: this system has no flock(2).
// Holding it, Lock undoes any pair write that a crash cut short and removes
// the temporary files writers left.
func (s *dirStore) Lock(ctx context.Context) (func(), error) {
	unlock, err := processLock.Lock(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.recover(); err != nil {
		unlock()
		return nil, err
	}
	return unlock, nil
}

// tryLock takes the store's lock if nobody in the process holds it.
func (s *dirStore) tryLock() (func(), bool, error) {
	select {
	case processLock <- struct{}{}:
	default:
		return nil, false, nil
	}
	unlock := func() { <-processLock }
	if err := s.recover(); err != nil {
		unlock()
		return nil, false, err
	}
	return unlock, true, nil
}

// lockTemp cannot tell a live writer's temporary file from a dead one's
// without flock(2); where files that are open cannot be removed, the
// removal fails for a live one.
func lockTemp(f *os.File, name string) (bool, error) { return sameFile(f, name) }

// oNoFollow is not known here.
const oNoFollow = 0
