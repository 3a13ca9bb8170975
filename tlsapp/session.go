package tlsapp

import (
	"container/list"
	"sync"

	utls "github.com/refraction-networking/utls"

	"github.com/tlsapp/tlsapp/trust"
)

// NewSessionCache returns an in-memory session cache (for
// Config.ClientSessionCache) holding up to capacity sessions, 64 when
// capacity is 0 or less; the least recently used goes first. A cache that
// outlives the process is credstore's.
func NewSessionCache(capacity int) trust.SessionCache {
	if capacity <= 0 {
		capacity = 64
	}
	return &memoryCache{capacity: capacity, order: list.New(), byKey: map[string]*list.Element{}}
}

type memoryCache struct {
	mu       sync.Mutex
	capacity int
	order    *list.List // of *memoryEntry, most recently used first
	byKey    map[string]*list.Element
}

type memoryEntry struct {
	key string
	s   trust.Session
}

func (m *memoryCache) Get(key string) (trust.Session, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.byKey[key]
	if !ok {
		return trust.Session{}, false
	}
	m.order.MoveToFront(e)
	return e.Value.(*memoryEntry).s, true
}

func (m *memoryCache) Put(key string, s trust.Session) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.byKey[key]; ok {
		if len(s.Ticket) == 0 {
			m.order.Remove(e)
			delete(m.byKey, key)
			return
		}
		e.Value.(*memoryEntry).s = s
		m.order.MoveToFront(e)
		return
	}
	if len(s.Ticket) == 0 {
		return
	}
	m.byKey[key] = m.order.PushFront(&memoryEntry{key, s})
	for m.order.Len() > m.capacity {
		last := m.order.Back()
		m.order.Remove(last)
		delete(m.byKey, last.Value.(*memoryEntry).key)
	}
}

// stackCache gives utls a trust.SessionCache: sessions cross it as the
// ticket and utls's own serialisation of the session state, so that no utls
// type reaches a cache.
type stackCache struct{ c trust.SessionCache }

// stackCacheOf returns c as utls's cache, or nil for none.
func stackCacheOf(c trust.SessionCache) utls.ClientSessionCache {
	if c == nil {
		return nil
	}
	return stackCache{c}
}

func (s stackCache) Get(key string) (*utls.ClientSessionState, bool) {
	saved, ok := s.c.Get(key)
	if !ok || len(saved.Ticket) == 0 {
		return nil, false
	}
	state, err := utls.ParseSessionState(saved.State)
	if err != nil {
		return nil, false
	}
	cs, err := utls.NewResumptionState(saved.Ticket, state)
	if err != nil {
		return nil, false
	}
	return cs, true
}

func (s stackCache) Put(key string, cs *utls.ClientSessionState) {
	if cs == nil {
		s.c.Put(key, trust.Session{}) // utls forgets a session that failed
		return
	}
	ticket, state, err := cs.ResumptionState()
	if err != nil || state == nil || len(ticket) == 0 {
		return
	}
	b, err := state.Bytes()
	if err != nil {
		return
	}
	s.c.Put(key, trust.Session{Ticket: ticket, State: b})
}
