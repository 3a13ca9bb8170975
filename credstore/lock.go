package credstore

import (
	"context"
	"fmt"
)

// Locker is implemented by stores that can keep other writers away while a
// caller reads and replaces several credentials as one step. Import and
// ImportKeyPair hold the lock while they check a certificate against its
// key and write, so that two imports into one tag cannot interleave and
// leave the certificate of one beside the key of the other.
//
// The memory store locks within the process; the directory store also
// against other processes (an flock(2) on the file .lock in the store's
// directory), so that two "tlsapp cred import" runs are serialised too. A
// store that is not a Locker is locked within the process only.
type Locker interface {
	// Lock waits until the caller holds the lock, or ctx is done; unlock
	// releases it.
	Lock(ctx context.Context) (unlock func(), err error)
}

// chanLock is a mutex whose Lock gives up when a context is done.
type chanLock chan struct{}

func newChanLock() chanLock { return make(chanLock, 1) }

func (l chanLock) Lock(ctx context.Context) (func(), error) {
	select {
	case l <- struct{}{}:
		return func() { <-l }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("credstore: waiting for the store lock: %w", ctx.Err())
	}
}

// processLock locks stores that are not Lockers.
var processLock = newChanLock()

// lockStore locks s: through its Lock method if it is a Locker, or else
// within the process.
func lockStore(ctx context.Context, s Store) (func(), error) {
	if l, ok := s.(Locker); ok {
		return l.Lock(ctx)
	}
	return processLock.Lock(ctx)
}
