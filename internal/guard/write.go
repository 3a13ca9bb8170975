package guard

import (
	"io"
	"sync"
	"sync/atomic"

	"github.com/tlsapp/tlsapp/internal/wire"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// A guard gathers the records of a write in a pooled buffer, the smallest
// that holds them: one record's worth, two (writeBufPool), or the most a
// batch holds (tlsapp flushes a batch once it has 64 KiB, so it ends below
// 64 KiB and one record). A batch that outgrows its buffer moves to the next
// size, so that it never makes the runtime grow a buffer, and a connection
// holds a buffer only while it has records in it.
var (
	oneRecordPool = sync.Pool{New: func() any { b := make([]byte, 0, wire.MaxRecord); return &b }}
	maxBatchPool  = sync.Pool{New: func() any { b := make([]byte, 0, maxBatch); return &b }}
	bufClasses    = [...]struct {
		size int
		pool *sync.Pool
	}{
		{wire.MaxRecord, &oneRecordPool},
		{2 * wire.MaxRecord, &writeBufPool},
		{maxBatch, &maxBatchPool},
	}
)

// maxBatch is the capacity of the largest pooled buffer: a batch of up to
// 64 KiB (tlsapp.batchSize) and the record that took it there.
const maxBatch = 64<<10 + wire.MaxRecord

// getBuf returns an empty buffer with room for n bytes, pooled unless n is
// above maxBatch.
func getBuf(n int) *[]byte {
	for _, c := range bufClasses {
		if n <= c.size {
			return c.pool.Get().(*[]byte)
		}
	}
	b := make([]byte, 0, n)
	return &b
}

// putBuf gives a buffer from getBuf back.
func putBuf(p *[]byte) {
	for _, c := range bufClasses {
		if cap(*p) == c.size {
			*p = (*p)[:0]
			c.pool.Put(p)
			return
		}
	}
}

// growBuf returns a buffer holding the bytes of p with room for n more: p,
// or a larger one from getBuf, in which case p goes back.
func growBuf(p *[]byte, n int) *[]byte {
	if cap(*p)-len(*p) >= n {
		return p
	}
	q := getBuf(len(*p) + n)
	*q = append(*q, *p...)
	putBuf(p)
	return q
}

// batcher sends what a guard writes to the transport, or gathers it between
// BeginBatch and Flush so that the records of one application write reach
// the transport in one write call. Its buffer comes from a pool and goes back
// after each flush.
type batcher struct {
	w        io.Writer
	mu       sync.Mutex // held by the guard for the whole of each Write
	batching bool
	size     int // about how many bytes the batch will gather
	buf      *[]byte
	buffered atomic.Int64 // len(*buf), for Buffered, called once per record, without the lock
	err      error
}

// BeginBatch makes the following writes gather in a buffer until Flush.
// size is about how many bytes of records the batch will gather, so that it
// starts in a buffer that holds them.
func (b *batcher) BeginBatch(size int) {
	b.mu.Lock()
	b.batching = true
	b.size = size
	b.mu.Unlock()
}

// Buffered returns the number of bytes gathered since BeginBatch.
func (b *batcher) Buffered() int { return int(b.buffered.Load()) }

// Flush sends what was gathered in one transport write. When end is true it
// also ends the batch.
func (b *batcher) Flush(end bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if end {
		b.batching = false
	}
	if b.buf == nil {
		return b.err
	}
	buf := *b.buf
	var err error
	if len(buf) > 0 && b.err == nil {
		_, err = b.w.Write(buf)
	}
	putBuf(b.buf)
	b.buf = nil
	b.buffered.Store(0)
	if err != nil {
		b.err = err
	}
	return err
}

// send writes out, or adds it to the batch. b.mu must be held.
func (b *batcher) send(out []byte) error {
	if b.batching {
		if b.buf == nil {
			b.buf = getBuf(max(b.size, len(out)))
		}
		b.buf = growBuf(b.buf, len(out))
		*b.buf = append(*b.buf, out...)
		b.buffered.Store(int64(len(*b.buf)))
		return nil
	}
	if _, err := b.w.Write(out); err != nil {
		b.err = err
		return err
	}
	return nil
}

// Write takes whole records from the TLS stack, re-fragments the handshake
// records that exceed the send limit, and sends them (or gathers them in a
// batch). The records of the client's TLS 1.3 handshake epoch are all read
// (and, where one must be split, re-encrypted) with sequence numbers kept
// from one Write to the next, until the one carrying the client's
// Finished: the stack may write its flight in any number of calls.
func (c *Conn) Write(b []byte) (int, error) {
	c.out.mu.Lock()
	defer c.out.mu.Unlock()
	if c.out.err != nil {
		return 0, c.out.err
	}
	c.mu.Lock()
	send, version, hrr := c.limits.Send, c.agr.Version, c.hrr
	c.mu.Unlock()
	// After a HelloRetryRequest the version is TLS 1.3 although the real
	// ServerHello has not come yet.
	tls13 := version >= wire.VersionTLS13 || hrr

	// Pass one: check framing and see whether anything must be read or
	// rewritten.
	attend := false
	cliCCS := c.out.cliCCSSent
	for s := b; len(s) > 0; {
		if len(s) < wire.HeaderLen {
			return 0, errPartialRecord
		}
		h, err := wire.ParseHeader(s)
		if err != nil || len(s) < wire.HeaderLen+h.Len {
			return 0, errPartialRecord
		}
		switch {
		case tls13 && !c.out.epochDone && h.Type == recordlimit.TypeApplicationData:
			attend = true
		case h.Type == recordlimit.TypeHandshake && !cliCCS && h.Len > send:
			attend = true
		case h.Type == recordlimit.TypeAlert:
			attend = true
		case h.Type == recordlimit.TypeChangeCipherSpec && version == wire.VersionTLS12:
			// Only TLS 1.2's ChangeCipherSpec protects what follows; TLS
			// 1.3's (middlebox compatibility) protects nothing.
			cliCCS = true
		case h.Type == recordlimit.TypeChangeCipherSpec:
			c.out.compatCCS = true
		}
		s = s[wire.HeaderLen+h.Len:]
	}

	out := b
	if attend {
		var err error
		if out, err = c.refragment(b, send, version, tls13); err != nil {
			c.out.err = err
			c.wipe()
			return 0, err
		}
	}
	c.out.cliCCSSent = cliCCS
	c.sent.addRecords(out)

	if err := c.out.send(out); err != nil {
		c.wipe()
		return 0, err
	}
	c.mu.Lock()
	stop := c.alert.ok && !c.alert.remote
	c.mu.Unlock()
	if stop {
		c.wipe() // the stack sent a fatal alert: the connection is over
	}
	return len(b), nil
}

// refragment rewrites the records in b so that none carries more than send
// content bytes, following the client's TLS 1.3 handshake epoch.
func (c *Conn) refragment(b []byte, send int, version uint16, tls13 bool) ([]byte, error) {
	var out []byte
	cliCCS := c.out.cliCCSSent
	for len(b) > 0 {
		h, err := wire.ParseHeader(b)
		if err != nil || len(b) < wire.HeaderLen+h.Len {
			panic("guard: internal error: refragment given records Write did not check")
		}
		rec := b[:wire.HeaderLen+h.Len]
		b = b[wire.HeaderLen+h.Len:]
		switch {
		case tls13 && !c.out.epochDone && h.Type == recordlimit.TypeApplicationData:
			var err error
			if out, err = c.resealClient(out, rec, send); err != nil {
				return nil, err
			}
		case h.Type == recordlimit.TypeHandshake && !cliCCS && h.Len > send:
			out = appendFragments(out, nil, h.Type, h.Version, rec[wire.HeaderLen:], send)
		default:
			if h.Type == recordlimit.TypeChangeCipherSpec && version == wire.VersionTLS12 {
				cliCCS = true
			}
			if h.Type == recordlimit.TypeAlert && !cliCCS {
				c.noteAlert(rec[wire.HeaderLen:], false)
			}
			out = append(out, rec...)
		}
	}
	return out, nil
}

// resealClient appends rec, a record of the client's TLS 1.3 handshake
// epoch, to out: as it is while the sequence numbers of what the stack wrote
// and what was sent agree and it fits, re-encrypted in pieces of at most
// send bytes otherwise. The epoch ends after the client's Finished.
func (c *Conn) resealClient(out, rec []byte, send int) ([]byte, error) {
	c.mu.Lock()
	in, sealer, secret, suite := c.cliIn, c.cliOut, c.clientHS, c.agr.Suite
	c.mu.Unlock()
	if in == nil {
		if secret == nil {
			return nil, missingSecret("the client's handshake flight")
		}
		var err error
		if in, sealer, err = newEpochPair(suite, secret); err != nil {
			return nil, internalErr(err)
		}
		c.mu.Lock()
		c.cliIn, c.cliOut = in, sealer
		c.mu.Unlock()
	}
	aligned := in.seq == sealer.seq
	content, typ, err := in.Open(nil, rec)
	if err != nil {
		return nil, err
	}
	finished := false
	switch typ {
	case recordlimit.TypeHandshake:
		err := c.out.cliFollow.feed(content, skipBodies, func(typ uint8, _, _ []byte) error {
			finished = finished || typ == typeFinished
			return nil
		})
		if err != nil {
			return nil, err
		}
	case recordlimit.TypeAlert:
		c.noteAlert(content, false)
	}
	if aligned && len(content) <= send {
		out = append(out, rec...)
		sealer.seq++
	} else {
		out = appendFragments(out, sealer, typ, 0, content, send)
	}
	if finished {
		// The records after the client's Finished belong to the
		// application epoch, which the stack numbers from zero itself.
		c.out.epochDone = true
		c.out.cliFollow.reset()
		c.mu.Lock()
		clear(c.clientHS)
		c.clientHS, c.cliIn, c.cliOut = nil, nil, nil
		c.mu.Unlock()
	}
	return out, nil
}

// BeginBatch makes the following writes gather in a buffer until Flush;
// size is about how many bytes of records the batch will gather.
func (c *Conn) BeginBatch(size int) { c.out.BeginBatch(size) }

// Buffered returns the number of bytes gathered since BeginBatch.
func (c *Conn) Buffered() int { return c.out.Buffered() }

// Flush sends what was gathered in one transport write. When end is true it
// also ends the batch.
func (c *Conn) Flush(end bool) error { return c.out.Flush(end) }
