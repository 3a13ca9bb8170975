package tlsapp

import (
	"container/list"
	"crypto/rand"
	"sync"
	"time"
)

// Defaults of the session cache NewListener makes.
const (
	// DefaultServerSessions is the number of sessions it keeps.
	DefaultServerSessions = 1024
	// DefaultServerSessionBytes bounds the bytes of session state it keeps:
	// a session is a few hundred bytes, plus the client's chain with client
	// authentication.
	DefaultServerSessionBytes = 8 << 20
)

// ticketNameLen is the length of the random name a ticket carries.
const ticketNameLen = 16

// ticketMessageOverhead is the length of a crypto/tls TLS 1.3
// NewSessionTicket message less its ticket: header 4, lifetime 4, age_add 4,
// an empty nonce 1, the ticket's length 2, no extensions 2 (crypto/tls sends
// no early_data).
const ticketMessageOverhead = 4 + 4 + 4 + 1 + 2 + 2

// ticketMessageLen is the length of a TLS 1.3 NewSessionTicket message
// carrying a name.
const ticketMessageLen = ticketMessageOverhead + ticketNameLen

// serverSessionLifetime is how long a session can be resumed: crypto/tls's
// own bound (7 days), which it checks again on every resumption.
const serverSessionLifetime = 7 * 24 * time.Hour

// ServerSessionCache keeps the state of resumable TLS sessions in memory on
// the server, named by random 16-byte session tickets. Installed through
// tls.Config's WrapSession and UnwrapSession, it makes every ticket the same
// short record (a 33-byte message in TLS 1.3) whatever the session holds, so
// that tickets stay within the smallest record a client can ask for, and it
// lets the connections of a listener resume each other's sessions although
// each runs on its own copy of the tls.Config.
//
// It holds at most a given number of sessions and bytes of session state,
// dropping the least recently used first, and forgets a session after 7
// days. A ticket whose session was dropped leads to a full handshake. The
// cache is safe for concurrent use; a restart forgets every session. A
// session resumes with the identity (a client's certificates included) it
// was made with: share one cache only between listeners that accept the
// same clients. With ServerOptions.TicketKeys, it keeps only the sessions
// whose sealed ticket would not fit.
type ServerSessionCache struct {
	maxEntries, maxBytes int

	mu      sync.Mutex
	bytes   int
	lru     *list.List // of *serverSession, most recently used first
	entries map[[ticketNameLen]byte]*list.Element
	now     func() time.Time
}

type serverSession struct {
	name    [ticketNameLen]byte
	state   []byte
	created time.Time
}

// NewServerSessionCache returns a cache of at most maxEntries sessions and
// maxBytes bytes of session state (at least 1 and 1024).
func NewServerSessionCache(maxEntries, maxBytes int) *ServerSessionCache {
	return &ServerSessionCache{
		maxEntries: max(maxEntries, 1),
		maxBytes:   max(maxBytes, 1024),
		lru:        list.New(),
		entries:    map[[ticketNameLen]byte]*list.Element{},
		now:        time.Now,
	}
}

// Len returns the number of sessions kept.
func (s *ServerSessionCache) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lru.Len()
}

// put stores state under a new random name. State too large for the cache
// gets a name that resolves to nothing.
func (s *ServerSessionCache) put(state []byte) [ticketNameLen]byte {
	var name [ticketNameLen]byte
	rand.Read(name[:])
	if len(state) > s.maxBytes {
		return name
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.lru.Len() >= s.maxEntries || s.bytes+len(state) > s.maxBytes {
		s.removeLocked(s.lru.Back())
	}
	s.entries[name] = s.lru.PushFront(&serverSession{name: name, state: state, created: s.now()})
	s.bytes += len(state)
	return name
}

// get returns the state named by a ticket, if it is kept and not expired.
func (s *ServerSessionCache) get(identity []byte) ([]byte, bool) {
	if len(identity) != ticketNameLen {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[[ticketNameLen]byte(identity)]
	if !ok {
		return nil, false
	}
	ss := e.Value.(*serverSession)
	if s.now().Sub(ss.created) > serverSessionLifetime {
		s.removeLocked(e)
		return nil, false
	}
	s.lru.MoveToFront(e)
	return ss.state, true
}

func (s *ServerSessionCache) removeLocked(e *list.Element) {
	ss := s.lru.Remove(e).(*serverSession)
	delete(s.entries, ss.name)
	s.bytes -= len(ss.state)
}
