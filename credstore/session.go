package credstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	utls "github.com/refraction-networking/utls"
	"golang.org/x/crypto/cryptobyte"
)

// DefaultMaxSessions is how many sessions a SessionCache keeps when its Max
// is zero.
const DefaultMaxSessions = 16

// SessionCache is a utls.ClientSessionCache that keeps resumption state in a
// Store, as the SessionState credential of one tag, so that a device can
// resume its TLS sessions after a restart.
//
// All sessions live in that one credential; each Put rewrites it (the
// store makes that atomic). Within a process the cache is safe for
// concurrent use; when several processes share a store, the last writer
// wins and a session another process just stored may be lost, which costs
// a full handshake and nothing else. The credential holds resumption
// secrets: the directory store keeps it readable by its owner only, and
// NewEncrypted encrypts it.
type SessionCache struct {
	store Store
	tag   Tag

	// Max is the most sessions kept; the oldest are dropped first. Zero
	// means DefaultMaxSessions.
	Max int
	// OnError, if not nil, is called with the errors Get and Put cannot
	// return: failures to read, parse or write the store.
	OnError func(error)

	mu sync.Mutex
}

// NewSessionCache returns a SessionCache keeping sessions in s under tag.
func NewSessionCache(s Store, tag Tag) *SessionCache {
	return &SessionCache{store: s, tag: tag}
}

var _ utls.ClientSessionCache = (*SessionCache)(nil)

// sessionEntry is one cached session, as stored.
type sessionEntry struct {
	key    string
	ticket []byte
	state  []byte // utls.SessionState.Bytes
	added  int64  // Unix seconds when it was put
}

const sessionFormat = 1

// Get returns the session stored for sessionKey, if any.
func (c *SessionCache) Get(sessionKey string) (*utls.ClientSessionState, bool) {
	c.mu.Lock()
	entries, err := c.load()
	c.mu.Unlock()
	if err != nil {
		c.fail(err)
		return nil, false
	}
	i := slices.IndexFunc(entries, func(e sessionEntry) bool { return e.key == sessionKey })
	if i < 0 {
		return nil, false
	}
	state, err := utls.ParseSessionState(entries[i].state)
	if err != nil {
		c.fail(fmt.Errorf("credstore: session for %q under tag %d: %w", sessionKey, c.tag, err))
		return nil, false
	}
	cs, err := utls.NewResumptionState(entries[i].ticket, state)
	if err != nil {
		c.fail(fmt.Errorf("credstore: session for %q under tag %d: %w", sessionKey, c.tag, err))
		return nil, false
	}
	return cs, true
}

// Put stores cs for sessionKey, replacing any session stored for it, or
// removes the session stored for it if cs is nil.
func (c *SessionCache) Put(sessionKey string, cs *utls.ClientSessionState) {
	var add *sessionEntry
	if cs != nil {
		ticket, state, err := cs.ResumptionState()
		if err != nil || state == nil {
			c.fail(fmt.Errorf("credstore: session for %q has no resumption state: %v", sessionKey, err))
			return
		}
		b, err := state.Bytes()
		if err != nil {
			c.fail(fmt.Errorf("credstore: serialising the session for %q: %w", sessionKey, err))
			return
		}
		add = &sessionEntry{key: sessionKey, ticket: ticket, state: b, added: time.Now().Unix()}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	entries, err := c.load()
	if err != nil {
		c.fail(err)
		entries = nil // start afresh rather than keep a store that cannot be read
	}
	entries = slices.DeleteFunc(entries, func(e sessionEntry) bool { return e.key == sessionKey })
	if add != nil {
		entries = append(entries, *add)
	}
	max := c.Max
	if max <= 0 {
		max = DefaultMaxSessions
	}
	if len(entries) > max {
		slices.SortStableFunc(entries, func(a, b sessionEntry) int { return cmp.Compare(a.added, b.added) })
		entries = entries[len(entries)-max:]
	}
	ctx := context.Background()
	ref := Ref{c.tag, SessionState}
	if len(entries) == 0 {
		if err := c.store.Delete(ctx, ref); err != nil && !errors.Is(err, ErrNotFound) {
			c.fail(err)
		}
		return
	}
	b, err := marshalSessions(entries)
	if err != nil {
		c.fail(err)
		return
	}
	if err := c.store.Put(ctx, ref, b); err != nil {
		c.fail(err)
	}
}

func (c *SessionCache) fail(err error) {
	if c.OnError != nil {
		c.OnError(err)
	}
}

// load reads the stored sessions; none stored is not an error.
func (c *SessionCache) load() ([]sessionEntry, error) {
	b, err := c.store.Get(context.Background(), Ref{c.tag, SessionState})
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	entries, err := unmarshalSessions(b)
	if err != nil {
		return nil, fmt.Errorf("credstore: %v: %w", Ref{c.tag, SessionState}, err)
	}
	return entries, nil
}

// marshalSessions encodes entries as
//
//	uint8 format (1)
//	entries<0..2^24-1>, each:
//	    opaque key<0..2^16-1>
//	    opaque ticket<0..2^24-1>
//	    opaque state<0..2^24-1>
//	    uint64 added
func marshalSessions(entries []sessionEntry) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddUint8(sessionFormat)
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, e := range entries {
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(e.key)) })
			b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(e.ticket) })
			b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(e.state) })
			b.AddUint64(uint64(e.added))
		}
	})
	out, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("credstore: encoding sessions: %w", err)
	}
	return out, nil
}

var errBadSessions = errors.New("malformed session state")

func unmarshalSessions(data []byte) ([]sessionEntry, error) {
	s := cryptobyte.String(data)
	var format uint8
	var list cryptobyte.String
	if !s.ReadUint8(&format) || format != sessionFormat || !s.ReadUint24LengthPrefixed(&list) || !s.Empty() {
		return nil, errBadSessions
	}
	var out []sessionEntry
	for !list.Empty() {
		var e sessionEntry
		var key, ticket, state cryptobyte.String
		var added uint64
		if !list.ReadUint16LengthPrefixed(&key) || !list.ReadUint24LengthPrefixed(&ticket) ||
			!list.ReadUint24LengthPrefixed(&state) || !list.ReadUint64(&added) {
			return nil, errBadSessions
		}
		e.key, e.ticket, e.state, e.added = string(key), ticket, state, int64(added)
		out = append(out, e)
	}
	return out, nil
}
