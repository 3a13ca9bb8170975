package credstore

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"

	"github.com/tlsapp/tlsapp/internal/scripted"
	"github.com/tlsapp/tlsapp/internal/testpki"
	"github.com/tlsapp/tlsapp/recordlimit"
	"github.com/tlsapp/tlsapp/tlsapp"
	"github.com/tlsapp/tlsapp/trust"
)

// countingStore counts the writes that reach the store under it.
type countingStore struct {
	Store
	mu           sync.Mutex
	puts, putLen int
}

func (c *countingStore) Put(ctx context.Context, r Ref, v []byte) error {
	c.mu.Lock()
	c.puts++
	c.putLen += len(v)
	c.mu.Unlock()
	return c.Store.Put(ctx, r, v)
}

func (c *countingStore) counts() (int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.puts, c.putLen
}

// newSessionTicket returns a TLS 1.3 NewSessionTicket message (RFC 8446
// s4.6.1) carrying ticket.
func newSessionTicket(ticket []byte) []byte {
	var b cryptobyte.Builder
	b.AddUint8(4) // new_session_ticket
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint32(3600)       // ticket_lifetime
		b.AddUint32(0x01020304) // ticket_age_add
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(ticket[:4]) })
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(ticket) })
		b.AddUint16(0) // no extensions
	})
	return b.BytesOrPanic()
}

// ticketServer starts a scripted TLS 1.3 server that, after the handshake,
// sends tickets(i) for i = 0..n-1 as NewSessionTicket messages, one per
// record, gap apart, then "x", and returns its address and the CA pool.
func ticketServer(t *testing.T, n int, gap time.Duration, tickets func(i int) []byte) (string, *x509.CertPool) {
	t.Helper()
	root := testpki.Issue(t, "Ticket Root", true, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), nil)
	leaf := testpki.Issue(t, "localhost", false, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), root, "localhost")
	pool := x509.NewCertPool()
	pool.AddCert(root.Cert)
	addr := scripted.Serve(t, scripted.CertServer([][]byte{leaf.Cert.Raw, root.Cert.Raw}, leaf.Key, scripted.Zstd,
		func(s *scripted.Session) error {
			for i := range n {
				if err := s.SendEncrypted(recordlimit.TypeHandshake, newSessionTicket(tickets(i)), 0); err != nil {
					return err
				}
				time.Sleep(gap)
			}
			if err := s.SendApp([]byte("x")); err != nil {
				return err
			}
			io.Copy(io.Discard, s.Conn)
			return nil
		}))
	return addr, pool
}

// dialTickets connects through cache and reads the server's "x", by which
// time every ticket has reached the cache.
func dialTickets(t *testing.T, addr string, pool *x509.CertPool, cache trust.SessionCache) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := tlsapp.Dial(ctx, "tcp", addr, &tlsapp.Config{ServerName: "localhost", RootCAs: pool,
		MinVersion: 0x0304, ClientSessionCache: cache})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
}

// storedTickets returns the tickets a session file holds.
func storedTickets(t *testing.T, s Store, tag Tag) [][]byte {
	t.Helper()
	c := &SessionCache{s: s, ref: Ref{tag, SessionState}}
	var out [][]byte
	for _, e := range c.load(context.Background()) {
		out = append(out, e.ticket)
	}
	return out
}

func ticketN(i int) []byte {
	return []byte(fmt.Sprintf("ticket-%04d-%s", i, bytes.Repeat([]byte{'t'}, 200)))
}

// TestSessionWritesPerConnection has a server send 300 tickets in one
// connection and counts the writes that reach the directory store under the
// session cache: the first ticket is written at once, the rest is one more
// write, of the last ticket, at the end of the write interval (here forced
// by Flush), instead of a write per ticket.
func TestSessionWritesPerConnection(t *testing.T) {
	addr, pool := ticketServer(t, 300, 0, ticketN)
	dir := &countingStore{Store: mustOpenDir(t, filepath.Join(t.TempDir(), "store"))}
	cache := NewSessionCache(dir, 1)
	cache.interval = time.Hour // the deferred write waits for Flush
	dialTickets(t, addr, pool, cache)
	puts, n := dir.counts()
	t.Logf("300 tickets: %d writes, %d bytes before Flush", puts, n)
	if puts != 1 {
		t.Errorf("300 tickets in one connection: %d writes to the store, want 1 (the first ticket)", puts)
	}
	if err := cache.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	puts, n = dir.counts()
	t.Logf("300 tickets: %d writes, %d bytes after Flush", puts, n)
	if puts != 2 {
		t.Errorf("after Flush: %d writes, want 2", puts)
	}
	if got := storedTickets(t, dir, 1); len(got) != 1 || !bytes.Equal(got[0], ticketN(299)) {
		t.Errorf("stored tickets %q, want the last one sent", got)
	}
	if err := cache.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if puts, _ := dir.counts(); puts != 2 {
		t.Errorf("a Flush with nothing new wrote: %d writes", puts)
	}
}

// TestSessionWritesUnchanged has a server send the same ticket 50 times:
// one write, and none for the repeats.
func TestSessionWritesUnchanged(t *testing.T) {
	addr, pool := ticketServer(t, 50, 0, func(int) []byte { return ticketN(7) })
	dir := &countingStore{Store: NewMemory()}
	cache := NewSessionCache(dir, 1)
	cache.interval = time.Hour
	dialTickets(t, addr, pool, cache)
	cache.Flush(context.Background())
	if puts, _ := dir.counts(); puts != 1 {
		t.Errorf("one ticket sent 50 times: %d writes, want 1", puts)
	}
}

// TestSessionWritesInterval has a server trickle 20 tickets 50 ms apart
// with a write interval of 300 ms: the writes are bounded by the duration
// over the interval, and the last ticket is stored when the interval ends,
// without Flush.
func TestSessionWritesInterval(t *testing.T) {
	addr, pool := ticketServer(t, 20, 50*time.Millisecond, ticketN)
	dir := &countingStore{Store: NewMemory()}
	cache := NewSessionCache(dir, 1)
	cache.interval = 300 * time.Millisecond
	start := time.Now()
	dialTickets(t, addr, pool, cache)
	limit := 2 + int(time.Since(start)/cache.interval)
	time.Sleep(2 * cache.interval)
	puts, _ := dir.counts()
	t.Logf("20 tickets over %v: %d writes", time.Since(start).Round(time.Millisecond), puts)
	if puts > limit {
		t.Errorf("%d writes, want at most %d", puts, limit)
	}
	if got := storedTickets(t, dir, 1); len(got) != 1 || !bytes.Equal(got[0], ticketN(19)) {
		t.Errorf("stored tickets %q, want the last one sent", got)
	}
}
