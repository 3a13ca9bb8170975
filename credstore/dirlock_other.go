//go:build !unix

package credstore

import "context"

// Lock locks the store within the process: this system has no flock(2).
// Holding it, Lock undoes any pair write that a crash cut short.
func (s *dirStore) Lock(ctx context.Context) (func(), error) {
	unlock, err := processLock.Lock(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.recoverPairs(); err != nil {
		unlock()
		return nil, err
	}
	return unlock, nil
}
