package credstore

import (
	"context"
	"errors"
	"sync"
	"time"

	utls "github.com/refraction-networking/utls"
	"golang.org/x/crypto/cryptobyte"

	"github.com/tlsapp/tlsapp/tlsapp"
)

// maxSessions bounds the sessions kept under one tag; the oldest go first.
const maxSessions = 16

// NewSessionCache returns a session cache (tlsapp.Config.ClientSessionCache)
// that keeps resumption state in s under tag, so that a device that reboots
// resumes instead of paying for a full handshake on a metered link. Store
// errors are not fatal to a connection: a session that cannot be saved or
// loaded means a full handshake next time.
func NewSessionCache(s Store, tag Tag) tlsapp.ClientSessionCache {
	return &sessionCache{s: s, ref: Ref{tag, SessionState}}
}

type sessionCache struct {
	s   Store
	ref Ref
	mu  sync.Mutex
}

// sessionEntry is one saved session.
type sessionEntry struct {
	key    string
	saved  int64 // unix seconds, for eviction
	ticket []byte
	state  []byte
}

func (c *sessionCache) load(ctx context.Context) []sessionEntry {
	b, err := c.s.Get(ctx, c.ref)
	if err != nil {
		return nil
	}
	var out []sessionEntry
	in := cryptobyte.String(b)
	for !in.Empty() {
		var e sessionEntry
		var key, ticket, state cryptobyte.String
		var saved uint64
		if !in.ReadUint16LengthPrefixed(&key) || !in.ReadUint64(&saved) ||
			!in.ReadUint24LengthPrefixed(&ticket) || !in.ReadUint24LengthPrefixed(&state) {
			return nil // damaged: start afresh
		}
		e.key, e.saved, e.ticket, e.state = string(key), int64(saved), ticket, state
		out = append(out, e)
	}
	return out
}

func (c *sessionCache) save(ctx context.Context, entries []sessionEntry) error {
	var b cryptobyte.Builder
	for _, e := range entries {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(e.key)) })
		b.AddUint64(uint64(e.saved))
		b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(e.ticket) })
		b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(e.state) })
	}
	out, err := b.Bytes()
	if err != nil {
		return err
	}
	return c.s.Put(ctx, c.ref, out)
}

// Get returns the saved session for key.
func (c *sessionCache) Get(key string) (*utls.ClientSessionState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.load(context.Background()) {
		if e.key != key {
			continue
		}
		state, err := utls.ParseSessionState(e.state)
		if err != nil {
			return nil, false
		}
		cs, err := utls.NewResumptionState(e.ticket, state)
		if err != nil {
			return nil, false
		}
		return cs, true
	}
	return nil, false
}

// Put saves cs under key, or forgets key when cs is nil.
func (c *sessionCache) Put(key string, cs *utls.ClientSessionState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx := context.Background()
	var kept []sessionEntry
	for _, e := range c.load(ctx) {
		if e.key != key {
			kept = append(kept, e)
		}
	}
	if cs != nil {
		if e, err := entryOf(key, cs); err == nil {
			kept = append(kept, e)
		}
	}
	if len(kept) > maxSessions {
		kept = kept[len(kept)-maxSessions:] // entries are kept oldest first
	}
	c.save(ctx, kept)
}

func entryOf(key string, cs *utls.ClientSessionState) (sessionEntry, error) {
	ticket, state, err := cs.ResumptionState()
	if err != nil {
		return sessionEntry{}, err
	}
	if state == nil {
		return sessionEntry{}, errors.New("credstore: session has no state")
	}
	b, err := state.Bytes()
	if err != nil {
		return sessionEntry{}, err
	}
	return sessionEntry{key: key, saved: time.Now().Unix(), ticket: ticket, state: b}, nil
}
