package recordlimit

import (
	"errors"
	"io"
	"sync"
)

// errPartialRecord is returned when the stack writes something that is not a
// sequence of whole records; the stacks this package serves never do.
var errPartialRecord = errors.New("recordlimit: write is not a sequence of whole records")

// batcher sends what a guard writes to the transport, or gathers it between
// BeginBatch and Flush so that the records of one application write reach
// the transport in one write call. Its buffer comes from a pool and goes back
// after each flush.
type batcher struct {
	w        io.Writer
	mu       sync.Mutex // held by the guard for the whole of each Write
	batching bool
	buf      *[]byte
	err      error
}

// BeginBatch makes the following writes gather in a buffer until Flush.
func (b *batcher) BeginBatch() {
	b.mu.Lock()
	b.batching = true
	b.mu.Unlock()
}

// Buffered returns the number of bytes gathered since BeginBatch.
func (b *batcher) Buffered() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf == nil {
		return 0
	}
	return len(*b.buf)
}

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
	*b.buf = buf[:0]
	writeBufPool.Put(b.buf)
	b.buf = nil
	if err != nil {
		b.err = err
	}
	return err
}

// send writes out, or adds it to the batch. b.mu must be held.
func (b *batcher) send(out []byte) error {
	if b.batching {
		if b.buf == nil {
			b.buf = writeBufPool.Get().(*[]byte)
		}
		*b.buf = append(*b.buf, out...)
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
// batch).
func (c *Conn) Write(b []byte) (int, error) {
	c.batcher.mu.Lock()
	defer c.batcher.mu.Unlock()
	if c.batcher.err != nil {
		return 0, c.batcher.err
	}
	c.mu.Lock()
	send, version := c.limits.Send, c.agr.Version
	c.mu.Unlock()
	tls13 := version >= VersionTLS13

	// Pass one: check framing and see whether anything must be rewritten.
	rewrite := false
	epochRecords := false
	cliCCS := c.cliCCSSent
	for s := b; len(s) > 0; {
		if len(s) < HeaderLen {
			return 0, errPartialRecord
		}
		h, err := ParseHeader(s)
		if err != nil || len(s) < HeaderLen+h.Len {
			return 0, errPartialRecord
		}
		switch {
		case tls13 && !c.epochDone && h.Type == TypeApplicationData:
			epochRecords = true
			if h.Len > send+1+16 {
				rewrite = true
			}
		case h.Type == TypeHandshake && !(cliCCS && !tls13):
			if h.Len > send {
				rewrite = true
			}
		case h.Type == TypeChangeCipherSpec:
			cliCCS = true
		}
		s = s[HeaderLen+h.Len:]
	}

	out := b
	if rewrite {
		var err error
		if out, err = c.refragment(b, send, tls13); err != nil {
			c.batcher.err = err
			return 0, err
		}
	}
	c.cliCCSSent = cliCCS
	if epochRecords {
		c.epochDone = true
		c.dropSecret(labelClientHandshake)
	}
	c.sent.addRecords(out)

	if err := c.batcher.send(out); err != nil {
		return 0, err
	}
	return len(b), nil
}

// refragment rewrites the records in b so that none carries more than send
// content bytes.
func (c *Conn) refragment(b []byte, send int, tls13 bool) ([]byte, error) {
	var out []byte
	var in, reseal *Epoch
	var content []byte
	cliCCS := c.cliCCSSent
	for len(b) > 0 {
		h, _ := ParseHeader(b)
		rec := b[:HeaderLen+h.Len]
		b = b[HeaderLen+h.Len:]
		switch {
		case tls13 && !c.epochDone && h.Type == TypeApplicationData:
			if in == nil {
				c.mu.Lock()
				suite := c.agr.Suite
				secret := c.clientHS
				c.mu.Unlock()
				if secret == nil {
					return nil, ErrMissingSecret
				}
				var err error
				if in, err = NewEpoch(suite, secret); err != nil {
					return nil, err
				}
				if reseal, err = NewEpoch(suite, secret); err != nil {
					return nil, err
				}
			}
			var typ ContentType
			var err error
			content, typ, err = in.Open(content[:0], rec)
			if err != nil {
				return nil, err
			}
			if typ != TypeHandshake {
				out = reseal.Seal(out, typ, content)
				continue
			}
			for m := content; len(m) > 0; {
				n := min(len(m), send)
				out = reseal.Seal(out, typ, m[:n])
				m = m[n:]
			}
		case h.Type == TypeHandshake && !(cliCCS && !tls13) && h.Len > send:
			out = AppendRecords(out, h.Type, h.Version, rec[HeaderLen:], send)
		default:
			if h.Type == TypeChangeCipherSpec {
				cliCCS = true
			}
			out = append(out, rec...)
		}
	}
	return out, nil
}
