//go:build !unix

package credstore

import "context"

// Lock locks the store within the process: this system has no flock(2).
func (s *dirStore) Lock(ctx context.Context) (func(), error) { return processLock.Lock(ctx) }
