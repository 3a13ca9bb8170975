package credstore

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"time"

	"golang.org/x/crypto/cryptobyte"

	"github.com/tlsapp/tlsapp/trust"
)

// maxSessions bounds the sessions kept under one tag; the oldest go first.
const maxSessions = 16

// SessionWriteInterval is the least time between two writes of a
// SessionCache to its store.
const SessionWriteInterval = 30 * time.Second

// SessionCache is a session cache (tlsapp.Config.ClientSessionCache) that
// keeps resumption state in a Store under a tag, so that a device that
// reboots resumes instead of paying for a full handshake on a metered link.
// Store errors are not fatal to a connection: a session that cannot be
// saved or loaded means a full handshake next time.
//
// A server chooses how many tickets it sends, and every ticket would be a
// write to flash: SessionCache writes at most once per
// SessionWriteInterval. The first ticket after a quiet interval is written
// at once, so that a program that connects and exits has it stored; later
// ones are kept in memory (Get returns them) and the latest is written when
// the interval ends. A ticket that is already stored is not written again.
// A connection therefore causes at most two writes plus one per interval it
// lasts, whatever the server sends (300 tickets: 2 writes instead of 300).
// A process that exits within an interval of a write loses the tickets since
// (the stored one still resumes) unless it calls Flush first.
type SessionCache struct {
	s        Store
	ref      Ref
	interval time.Duration

	mu        sync.Mutex
	pending   []pendingSession // not yet written, in order of arrival
	lastWrite time.Time
	timer     *time.Timer // runs flush at the end of the interval
}

// pendingSession is a change to the stored sessions: an entry for key, or
// (entry nil) forgetting it.
type pendingSession struct {
	key   string
	entry *sessionEntry
}

// NewSessionCache returns a SessionCache keeping resumption state in s
// under tag.
func NewSessionCache(s Store, tag Tag) *SessionCache {
	return &SessionCache{s: s, ref: Ref{tag, SessionState}, interval: SessionWriteInterval}
}

// sessionEntry is one saved session.
type sessionEntry struct {
	key    string
	saved  int64 // unix seconds, for eviction
	ticket []byte
	state  []byte
}

func (c *SessionCache) load(ctx context.Context) []sessionEntry {
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

func (c *SessionCache) save(ctx context.Context, entries []sessionEntry) error {
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

// Get returns the session for key: the latest received, written or not.
func (c *SessionCache) Get(key string) (trust.Session, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var found *sessionEntry
	if i := slices.IndexFunc(c.pending, func(p pendingSession) bool { return p.key == key }); i >= 0 {
		found = c.pending[i].entry
	} else {
		for _, e := range c.load(context.Background()) {
			if e.key == key {
				found = &e
				break
			}
		}
	}
	if found == nil || len(found.ticket) == 0 {
		return trust.Session{}, false
	}
	return trust.Session{Ticket: found.ticket, State: found.state}, true
}

// Put saves s under key, or forgets key when s has no Ticket. It writes to
// the store at once only if the cache has not written for an interval; see
// SessionCache.
func (c *SessionCache) Put(key string, s trust.Session) {
	p := pendingSession{key: key}
	if len(s.Ticket) > 0 {
		p.entry = &sessionEntry{key: key, saved: time.Now().Unix(), ticket: bytes.Clone(s.Ticket), state: bytes.Clone(s.State)}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending = append(slices.DeleteFunc(c.pending, func(q pendingSession) bool { return q.key == key }), p)
	if c.timer != nil {
		return // the end of the interval writes it
	}
	if wait := c.interval - time.Since(c.lastWrite); wait > 0 {
		c.timer = time.AfterFunc(wait, func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.timer = nil
			c.flush(context.Background())
		})
		return
	}
	c.flush(context.Background())
}

// Flush writes the sessions received since the last write, if any changed
// what is stored. A program that is about to exit calls it to keep the
// latest tickets.
func (c *SessionCache) Flush(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	return c.flush(ctx)
}

// flush applies the pending changes to the stored sessions and writes them
// if that changes anything. c.mu is held.
func (c *SessionCache) flush(ctx context.Context) error {
	if len(c.pending) == 0 {
		return nil
	}
	entries := c.load(ctx)
	changed := false
	for _, p := range c.pending {
		i := slices.IndexFunc(entries, func(e sessionEntry) bool { return e.key == p.key })
		if i >= 0 && p.entry != nil && bytes.Equal(entries[i].ticket, p.entry.ticket) {
			continue // already stored
		}
		if i >= 0 {
			entries = slices.Delete(entries, i, i+1)
			changed = true
		}
		if p.entry != nil {
			entries = append(entries, *p.entry)
			changed = true
		}
	}
	c.pending = nil
	if !changed {
		return nil
	}
	if len(entries) > maxSessions {
		entries = entries[len(entries)-maxSessions:] // entries are kept oldest first
	}
	c.lastWrite = time.Now()
	return c.save(ctx, entries)
}
