package recordlimit

import (
	"bufio"
	"io"
	"net"
	"sync"
)

// ServerConn is the server's record layer guard. It wraps the transport
// below a TLS server stack that knows nothing of record limits (Go's
// crypto/tls) and keeps every record the server sends within the cap the
// client asked for, without answering the extensions (the stack cannot add
// them to its hello):
//   - it reads the client's max_fragment_length and record_size_limit from
//     the ClientHello, passing every byte through unchanged;
//   - it learns the version and suite from the server's own ServerHello;
//   - it splits the server's plaintext handshake records (ServerHello, and in
//     TLS 1.2 Certificate and the rest of the flight) and, in TLS 1.3,
//     re-encrypts the server's handshake flight (EncryptedExtensions,
//     Certificate, CertificateVerify, Finished) in smaller records with the
//     server handshake secret the stack logs through KeyLogWriter, up to the
//     record carrying Finished. Records after it belong to the application
//     epoch and pass unchanged.
//
// Application data is not split here: the caller must hand the stack at most
// Cap() bytes per write, with dynamic record sizing disabled.
type ServerConn struct {
	net.Conn
	maxRecord int

	mu        sync.Mutex // guards the fields below
	offer     Offer
	haveOffer bool
	version   uint16
	suite     uint16
	serverHS  []byte

	// Read side: in gathers what the socket has in reads of up to
	// serverReadBuffer bytes, so that a client's small records do not cost
	// the server a read call each; scan is the ClientHello, reassembled
	// until parsed.
	in       *bufio.Reader
	scan     []byte
	scanDone bool

	// Write side, guarded by batcher.mu.
	batcher
	sent        dirStats
	srvCCS      bool // TLS 1.2: records after the server's ChangeCipherSpec are protected
	epochIn     *Epoch
	epochOut    *Epoch
	epochDone   bool
	epochFrames handshakeBuffer
}

// serverReadBuffer is the size of a ServerConn's read buffer: a full
// record's worth of a client's small records per read call.
const serverReadBuffer = MaxCiphertextTLS12 + HeaderLen

// NewServerConn returns a guard for the server side of transport. maxRecord,
// when above zero, caps every record whatever the client asks for. The
// guard reads transport through a buffer of about 16 KiB, which it holds
// for the life of the connection.
func NewServerConn(transport net.Conn, maxRecord int) *ServerConn {
	c := &ServerConn{Conn: transport, maxRecord: maxRecord, in: bufio.NewReaderSize(transport, serverReadBuffer)}
	c.batcher.w = transport
	return c
}

// KeyLogWriter returns the writer to install as the TLS stack's key log
// writer; see Conn.KeyLogWriter.
func (c *ServerConn) KeyLogWriter(next io.Writer) io.Writer { return keyLog{sink: c, next: next} }

func (c *ServerConn) setSecret(label string, secret []byte) {
	if label != labelServerHandshake {
		return
	}
	c.mu.Lock()
	c.serverHS = secret
	c.mu.Unlock()
}

// Offer returns what the client asked for, and whether its ClientHello has
// been read.
func (c *ServerConn) Offer() (Offer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offer, c.haveOffer
}

// Cap returns the most content bytes the server puts in one record: the
// smallest of the maxRecord option, the client's max_fragment_length, and
// its record_size_limit (less the content-type byte in TLS 1.3, or while the
// version is not known yet).
func (c *ServerConn) Cap() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.capLocked()
}

func (c *ServerConn) capLocked() int {
	n := MaxPlaintext
	if c.maxRecord > 0 {
		n = min(n, c.maxRecord)
	}
	if c.offer.MaxFragmentLength.Valid() {
		n = min(n, c.offer.MaxFragmentLength.Bytes())
	}
	if l := c.offer.RecordSizeLimit; l >= MinRecordSizeLimit {
		if c.version != VersionTLS12 {
			l-- // TLS 1.3 counts the inner content-type byte
		}
		n = min(n, l)
	}
	return n
}

// Stats returns the counts of the records the server sent.
func (c *ServerConn) Stats() Stats {
	return Stats{SentRecords: c.sent.records.Load(), SentBytes: c.sent.bytes.Load(), LargestSent: int(c.sent.largest.Load())}
}

// Read passes the client's bytes through, reading its ClientHello on the way.
func (c *ServerConn) Read(p []byte) (int, error) {
	n, err := c.in.Read(p)
	if n > 0 && !c.scanDone {
		c.scanHello(p[:n])
	}
	return n, err
}

// scanHello collects the client's first handshake records until the
// ClientHello is complete. A malformed or oversized hello stops the scan:
// the stack rejects it.
func (c *ServerConn) scanHello(b []byte) {
	c.scan = append(c.scan, b...)
	var hs handshakeBuffer
	for s := c.scan; ; {
		if len(s) < HeaderLen {
			return
		}
		h, err := ParseHeader(s)
		if err != nil || h.Type != TypeHandshake {
			c.stopScan()
			return
		}
		if len(s) < HeaderLen+h.Len {
			return
		}
		hs.add(s[HeaderLen : HeaderLen+h.Len])
		s = s[HeaderLen+h.Len:]
		typ, msg, ok, err := hs.next()
		if err != nil {
			c.stopScan()
			return
		}
		if !ok {
			continue
		}
		if typ == typeClientHello {
			if ch, err := ParseClientHello(msg); err == nil {
				c.mu.Lock()
				c.offer, c.haveOffer = offerOf(ch), true
				c.mu.Unlock()
			}
		}
		c.stopScan()
		return
	}
}

func (c *ServerConn) stopScan() { c.scan, c.scanDone = nil, true }

// offerOf reads the record-size requests of a ClientHello. Invalid values
// are ignored: the cap only ever gets smaller for a valid request.
func offerOf(ch ClientHello) Offer {
	var o Offer
	if b, ok := findExtension(ch.Extensions, ExtMaxFragmentLength); ok {
		if m, err := ParseMaxFragmentLength(b); err == nil {
			o.MaxFragmentLength = m
		}
	}
	if b, ok := findExtension(ch.Extensions, ExtRecordSizeLimit); ok {
		if l, err := ParseRecordSizeLimit(b); err == nil {
			// RFC 8449 section 4 lets a peer state more than the protocol
			// allows; such a value means "no limit beyond the protocol's".
			o.RecordSizeLimit = min(l, MaxRecordSizeLimitTLS13)
		}
	}
	return o
}

// Write takes whole records from the server stack and sends them re-framed
// within Cap.
func (c *ServerConn) Write(b []byte) (int, error) {
	c.batcher.mu.Lock()
	defer c.batcher.mu.Unlock()
	if c.batcher.err != nil {
		return 0, c.batcher.err
	}
	var out []byte
	for s := b; len(s) > 0; {
		h, err := ParseHeader(s)
		if err != nil || len(s) < HeaderLen+h.Len {
			return 0, errPartialRecord
		}
		rec := s[:HeaderLen+h.Len]
		s = s[HeaderLen+h.Len:]
		if out, err = c.reframe(out, h, rec); err != nil {
			c.batcher.err = err
			return 0, err
		}
	}
	c.sent.addRecords(out)
	if err := c.batcher.send(out); err != nil {
		return 0, err
	}
	return len(b), nil
}

// reframe appends rec to out, split or re-encrypted to fit the cap.
func (c *ServerConn) reframe(out []byte, h Header, rec []byte) ([]byte, error) {
	c.mu.Lock()
	version := c.version
	c.mu.Unlock()
	switch {
	case h.Type == TypeHandshake && version == 0:
		c.readServerHello(rec[HeaderLen:])
		return AppendRecords(out, h.Type, h.Version, rec[HeaderLen:], c.Cap()), nil
	case h.Type == TypeHandshake && !(version == VersionTLS12 && c.srvCCS):
		return AppendRecords(out, h.Type, h.Version, rec[HeaderLen:], c.Cap()), nil
	case h.Type == TypeChangeCipherSpec:
		c.srvCCS = true
	case h.Type == TypeApplicationData && version >= VersionTLS13 && !c.epochDone:
		return c.reseal(out, rec)
	}
	return append(out, rec...), nil
}

// readServerHello learns the version and suite from the server's hello. A
// HelloRetryRequest leaves them unknown until the real ServerHello.
func (c *ServerConn) readServerHello(body []byte) {
	var hs handshakeBuffer
	hs.add(body)
	typ, msg, ok, _ := hs.next()
	if !ok || typ != typeServerHello {
		return
	}
	sh, err := ParseServerHello(msg)
	if err != nil || sh.HelloRetry {
		return
	}
	c.mu.Lock()
	c.version, c.suite = sh.Version, sh.Suite
	c.mu.Unlock()
}

// reseal re-encrypts one record of the server's TLS 1.3 handshake epoch in
// records within the cap; the epoch ends with the record carrying Finished.
func (c *ServerConn) reseal(out, rec []byte) ([]byte, error) {
	if c.epochIn == nil {
		c.mu.Lock()
		secret, suite := c.serverHS, c.suite
		c.mu.Unlock()
		if secret == nil {
			return nil, ErrMissingSecret
		}
		var err error
		if c.epochIn, err = NewEpoch(suite, secret); err != nil {
			return nil, err
		}
		if c.epochOut, err = NewEpoch(suite, secret); err != nil {
			return nil, err
		}
	}
	content, typ, err := c.epochIn.Open(nil, rec)
	if err != nil {
		return nil, err
	}
	n := c.Cap()
	for m := content; ; {
		k := min(len(m), n)
		out = c.epochOut.Seal(out, typ, m[:k])
		if m = m[k:]; len(m) == 0 {
			break
		}
	}
	if typ == TypeHandshake {
		c.epochFrames.add(content)
		for {
			mtyp, _, ok, err := c.epochFrames.next()
			if err != nil || !ok {
				break
			}
			if mtyp == typeFinished {
				c.endEpoch()
				break
			}
		}
	}
	return out, nil
}

func (c *ServerConn) endEpoch() {
	c.epochDone = true
	c.epochIn, c.epochOut = nil, nil
	c.epochFrames.reset()
	c.mu.Lock()
	clear(c.serverHS)
	c.serverHS = nil
	c.mu.Unlock()
}
