package main

import (
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/testnet"
)

// relay is a TCP relay between a client and target that parses the TLS
// record headers the server sends and can cut connections mid-transfer.
type relay struct {
	address string

	mu            sync.Mutex
	conns         int
	largest       int   // largest server record length field
	perConn       []int // the same for each connection, in the order they came
	serverRecords int
	cutAfter      int64 // cut the first cuts connections after this many server bytes
	cuts          int
	cutDone       int
}

func startRelay(t *testing.T, target string) *relay {
	t.Helper()
	r := &relay{}
	r.address = testnet.Relay(t, target, 2*time.Minute, r.handle)
	return r
}

func (r *relay) addr() string { return r.address }

// cutConnections makes the relay close the first n connections once the
// server has sent after bytes on each.
func (r *relay) cutConnections(n int, after int64) {
	r.mu.Lock()
	r.cuts, r.cutAfter = n, after
	r.mu.Unlock()
}

func (r *relay) stats() (conns, largest, records, cut int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.conns, r.largest, r.serverRecords, r.cutDone
}

// largestPerConn returns the largest server record of each connection, in
// the order the connections came.
func (r *relay) largestPerConn() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.perConn...)
}

func (r *relay) handle(c, s net.Conn) {
	r.mu.Lock()
	idx := r.conns
	r.conns++
	r.perConn = append(r.perConn, 0)
	limit := int64(-1)
	if r.cuts > 0 {
		r.cuts--
		limit = r.cutAfter
	}
	r.mu.Unlock()
	go func() {
		io.Copy(s, c)
		s.Close()
	}()
	// Server to client, record by record.
	var sent int64
	hdr := make([]byte, 5)
	for {
		if _, err := io.ReadFull(s, hdr); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(hdr[3:]))
		body := make([]byte, n)
		if _, err := io.ReadFull(s, body); err != nil {
			return
		}
		r.mu.Lock()
		r.serverRecords++
		r.largest = max(r.largest, n)
		r.perConn[idx] = max(r.perConn[idx], n)
		r.mu.Unlock()
		if limit >= 0 && sent+int64(5+n) > limit {
			// Cut mid-record: send half of it, then drop both sides.
			c.Write(append(hdr, body[:n/2]...))
			r.mu.Lock()
			r.cutDone++
			r.mu.Unlock()
			return
		}
		if _, err := c.Write(append(hdr, body...)); err != nil {
			return
		}
		sent += int64(5 + n)
	}
}
