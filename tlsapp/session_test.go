package tlsapp

import (
	"fmt"
	"testing"

	"github.com/tlsapp/tlsapp/trust"
)

// TestSessionCacheLRU: the in-memory cache keeps capacity sessions, drops
// the least recently used, and forgets a key given a Session without a
// ticket.
func TestSessionCacheLRU(t *testing.T) {
	c := NewSessionCache(2)
	s := func(i int) trust.Session {
		return trust.Session{Ticket: []byte(fmt.Sprint("ticket", i)), State: []byte(fmt.Sprint("state", i))}
	}
	c.Put("a", s(1))
	c.Put("b", s(2))
	if _, ok := c.Get("a"); !ok { // a is now the most recently used
		t.Fatal("a missing")
	}
	c.Put("c", s(3)) // drops b
	if _, ok := c.Get("b"); ok {
		t.Error("b kept beyond the capacity")
	}
	if got, ok := c.Get("a"); !ok || string(got.Ticket) != "ticket1" {
		t.Errorf("a: %q %v", got.Ticket, ok)
	}
	c.Put("a", trust.Session{})
	if _, ok := c.Get("a"); ok {
		t.Error("a not forgotten")
	}
	if got, ok := c.Get("c"); !ok || string(got.State) != "state3" {
		t.Errorf("c: %q %v", got.State, ok)
	}
}
