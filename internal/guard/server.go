package guard

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"

	"github.com/tlsapp/tlsapp/internal/extlist"
	"github.com/tlsapp/tlsapp/internal/wire"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// ServerConn is the server's record layer guard. It wraps the transport
// below a TLS server stack that knows nothing of record limits (Go's
// crypto/tls) and keeps every record the server sends within the cap the
// client asked for, without answering the extensions (the stack cannot add
// them to its hello):
//   - it reads the client's max_fragment_length and record_size_limit from
//     the ClientHello, passing every byte through unchanged, in time linear
//     in the hello; an offer the RFCs forbid is refused with their alert
//     before the stack answers (see Read);
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
	offer     recordlimit.Offer
	haveOffer bool
	version   uint16
	suite     uint16
	serverHS  []byte

	// Read side. While a client streams (a transport read filled the
	// buffer it was given: ahead), the guard reads ahead into rbuf, a
	// pooled buffer of a full record's size, so that a client's small
	// records do not cost the server a read call each; rbuf goes back to
	// the pool once the stack has taken what it holds (rr to rw), and a
	// read that finds the client quiet waits in the stack's own buffer, so
	// that an idle connection holds no buffer here. rerr is a transport
	// error that came with read-ahead bytes, for after them.
	//
	// The ClientHello is reassembled in hello as its records pass, each
	// byte looked at once: hdr holds a record header being read (hdrN bytes
	// of it), remain the bytes left of the current record's body. refused
	// is set when the hello's record-size requests break the RFCs: every
	// Read returns it.
	//
	// After the first ClientHello the scan goes on over ChangeCipherSpec
	// records for one more handshake message: a second ClientHello, sent
	// after a HelloRetryRequest, must keep the record-size extensions of the
	// first byte for byte (RFC 8446, Section 4.1.2), or is refused with
	// illegal_parameter: in Read if the HelloRetryRequest has been sent
	// (retried), else when the stack sends its ServerHello (pending).
	rbuf     *[]byte
	rr, rw   int
	rerr     error
	ahead    bool
	hdr      [wire.HeaderLen]byte
	hdrN     int
	remain   int
	skip     bool // the current record is a ChangeCipherSpec, passed over
	hello    []byte
	first    *recordExtensions // the first hello's, once read
	scanDone bool
	refused  error
	pending  error // a second hello's refusal, for when the stack answers it (guarded by mu)
	retried  bool  // the stack sent a HelloRetryRequest (guarded by mu)

	// Write side, guarded by batcher.mu. Once steady (TLS 1.2: after the
	// server's ChangeCipherSpec; TLS 1.3: after the record carrying its
	// Finished) every record the stack writes passes unchanged.
	batcher
	sent        dirStats
	steady      bool
	srvCCS      bool // TLS 1.2: records after the server's ChangeCipherSpec are protected
	epochIn     *Epoch
	epochOut    *Epoch
	epochDone   bool
	epochFrames handshakeBuffer
}

// NewServerConn returns a guard for the server side of transport. maxRecord,
// when above zero, caps every record whatever the client asks for. The
// guard holds a buffer only while it has bytes in it: read ahead from a
// client that streams, or records being gathered into one transport write.
func NewServerConn(transport net.Conn, maxRecord int) *ServerConn {
	c := &ServerConn{Conn: transport, maxRecord: maxRecord}
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
func (c *ServerConn) Offer() (recordlimit.Offer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offer, c.haveOffer
}

// Cap returns the most content bytes the server puts in one record: the
// smallest of the maxRecord option, the client's max_fragment_length, and
// its record_size_limit (less the content-type byte in TLS 1.3, or while the
// version is not known yet). When the client offers both extensions,
// record_size_limit governs (RFC 8449, Section 5).
func (c *ServerConn) Cap() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.capLocked()
}

func (c *ServerConn) capLocked() int {
	n := recordlimit.MaxPlaintext
	if c.maxRecord > 0 {
		n = min(n, c.maxRecord)
	}
	switch l := c.offer.RecordSizeLimit; {
	case l >= recordlimit.MinRecordSizeLimit:
		// RFC 8449 section 5: with both extensions offered,
		// record_size_limit governs and max_fragment_length is ignored.
		if c.version != wire.VersionTLS12 {
			l-- // TLS 1.3 counts the inner content-type byte
		}
		n = min(n, l)
	case c.offer.MaxFragmentLength.Valid():
		n = min(n, c.offer.MaxFragmentLength.Bytes())
	}
	return n
}

// Stats returns the counts of the records the server sent.
func (c *ServerConn) Stats() Stats {
	return Stats{SentRecords: c.sent.records.Load(), SentBytes: c.sent.bytes.Load(), LargestSent: int(c.sent.largest.Load())}
}

// Read passes the client's bytes through, reading its ClientHello on the
// way. A ClientHello whose max_fragment_length or record_size_limit breaks
// RFC 6066 or RFC 8449 is refused before the stack sees it: the guard sends
// the fatal alert (illegal_parameter or decode_error) and Read returns the
// *recordlimit.NegotiationError, wrapped, from then on.
func (c *ServerConn) Read(p []byte) (int, error) {
	if c.refused != nil {
		return 0, c.refused
	}
	n, err := c.read(p)
	if n > 0 && !c.scanDone {
		if rerr := c.scanHello(p[:n]); rerr != nil {
			c.refuse(rerr)
			return 0, c.refused
		}
	}
	return n, err
}

// read fills p from the bytes read ahead or from the transport; see the
// read side of ServerConn.
func (c *ServerConn) read(p []byte) (int, error) {
	if c.rbuf == nil {
		if err := c.rerr; err != nil {
			c.rerr = nil
			return 0, err
		}
		if !c.ahead || len(p) >= wire.MaxRecord {
			n, err := c.Conn.Read(p)
			c.ahead = err == nil && n == len(p)
			return n, err
		}
		c.rbuf = readBufPool.Get().(*[]byte)
		n, err := c.Conn.Read(*c.rbuf)
		c.ahead = err == nil && n == len(*c.rbuf)
		if n == 0 {
			c.releaseReadBuf()
			return 0, err
		}
		c.rr, c.rw, c.rerr = 0, n, err
	}
	n := copy(p, (*c.rbuf)[c.rr:c.rw])
	c.rr += n
	if c.rr == c.rw {
		c.releaseReadBuf()
	}
	return n, nil
}

func (c *ServerConn) releaseReadBuf() {
	readBufPool.Put(c.rbuf)
	c.rbuf, c.rr, c.rw = nil, 0, 0
}

// refuse sends the alert err carries and makes the connection fail with it.
func (c *ServerConn) refuse(err error) {
	c.refused = fmt.Errorf("recordlimit: ClientHello refused: %w", err)
	a, _ := recordlimit.AlertOf(err)
	c.batcher.mu.Lock()
	defer c.batcher.mu.Unlock()
	if c.batcher.err == nil {
		c.Conn.Write(appendAlertRecord(nil, a))
		c.batcher.err = c.refused
	}
}

// scanHello follows the client's records in b until its ClientHello is
// complete, then reads the offer from it. Each byte is looked at once and
// only the hello's own bytes are kept (at most 4 + maxHandshakeMessage), so
// the cost is linear in the hello however it is cut into records and reads.
// Anything that is not a well-formed ClientHello in handshake records stops
// the scan: the stack rejects it. It returns the error of an offer the
// server must refuse.
func (c *ServerConn) scanHello(b []byte) error {
	for len(b) > 0 && !c.scanDone {
		if c.remain == 0 {
			k := copy(c.hdr[c.hdrN:], b)
			c.hdrN += k
			b = b[k:]
			if c.hdrN < wire.HeaderLen {
				return nil
			}
			c.hdrN = 0
			h, err := wire.ParseHeader(c.hdr[:])
			switch {
			case err == nil && h.Type == recordlimit.TypeHandshake:
				c.skip = false
			case err == nil && h.Type == recordlimit.TypeChangeCipherSpec && c.first != nil && len(c.hello) == 0:
				c.skip = true
			default:
				c.stopScan()
				return nil
			}
			c.remain = h.Len
			continue
		}
		k := min(c.remain, len(b))
		c.remain -= k
		if !c.skip {
			if err := c.addHello(b[:k]); err != nil {
				return err
			}
		}
		b = b[k:]
	}
	return nil
}

// addHello appends a fragment of the ClientHello being reassembled (the
// first, or the one after a HelloRetryRequest) and, once it is whole, reads
// the client's offer from it.
func (c *ServerConn) addHello(frag []byte) error {
	for !c.scanDone {
		want := 4
		if len(c.hello) >= 4 {
			if c.hello[0] != typeClientHello {
				c.stopScan()
				return nil
			}
			n := int(c.hello[1])<<16 | int(c.hello[2])<<8 | int(c.hello[3])
			if n > maxHandshakeMessage {
				c.stopScan()
				return nil
			}
			want = 4 + n
			if len(c.hello) == want {
				return c.endScan()
			}
			c.hello = slices.Grow(c.hello, want-len(c.hello))
		}
		if len(frag) == 0 {
			return nil
		}
		k := min(want-len(c.hello), len(frag))
		c.hello = append(c.hello, frag[:k]...)
		frag = frag[k:]
	}
	return nil
}

// endScan reads the offer from a complete ClientHello: the first one sets
// the offer; a second one must repeat the first's record-size extensions.
func (c *ServerConn) endScan() error {
	exts, ok := clientExtensions(c.hello[4:])
	if !ok {
		c.stopScan()
		return nil
	}
	if c.first != nil {
		c.stopScan()
		if exts.equal(*c.first) {
			return nil
		}
		err := negErr(0, recordlimit.AlertIllegalParameter, "the ClientHello after HelloRetryRequest changes max_fragment_length or record_size_limit")
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.retried {
			return err
		}
		c.pending = err // sent before the HelloRetryRequest: refused when the stack answers
		return nil
	}
	o, err := exts.offer()
	if err != nil {
		c.stopScan()
		return err
	}
	c.mu.Lock()
	c.offer, c.haveOffer = o, true
	c.mu.Unlock()
	c.first = &exts
	c.hello = c.hello[:0] // on to a second hello, if the server asks for one
	return nil
}

func (c *ServerConn) stopScan() { c.hello, c.scanDone = nil, true }

// recordExtensions are the record-size extensions of a ClientHello, as sent.
type recordExtensions struct {
	mfl, rsl         []byte
	haveMFL, haveRSL bool
}

func (e recordExtensions) equal(o recordExtensions) bool {
	return e.haveMFL == o.haveMFL && e.haveRSL == o.haveRSL && string(e.mfl) == string(o.mfl) && string(e.rsl) == string(o.rsl)
}

// clientExtensions finds the record-size extensions of a ClientHello body,
// copied, without copying the rest, in time linear in its size. ok is false
// for a malformed hello (duplicate extensions included), left to the stack.
func clientExtensions(body []byte) (e recordExtensions, ok bool) {
	f, err := splitClientHello(body)
	if err != nil {
		return e, false
	}
	err = extlist.Walk(f.extensions, func(typ uint16, data []byte) error {
		switch typ {
		case recordlimit.ExtMaxFragmentLength:
			e.mfl, e.haveMFL = slices.Clone(data), true
		case recordlimit.ExtRecordSizeLimit:
			e.rsl, e.haveRSL = slices.Clone(data), true
		}
		return nil
	})
	return e, err == nil
}

// offer reads the client's requests. The error is a *NegotiationError when
// a request breaks the RFCs and the server must answer with its alert:
//   - record_size_limit: a body that is not 2 bytes is a decode_error, a
//     value below 64 an illegal_parameter (RFC 8449, Section 4); a value
//     above the protocol maximum means the maximum;
//   - max_fragment_length, when record_size_limit is absent: a body that is
//     not 1 byte is a decode_error, a code outside 1..4 an
//     illegal_parameter (RFC 6066, Section 4). Alongside record_size_limit
//     it is ignored (RFC 8449, Section 5), and recorded only if valid.
func (e recordExtensions) offer() (recordlimit.Offer, error) {
	var o recordlimit.Offer
	if e.haveRSL {
		l, err := wire.ParseRecordSizeLimit(e.rsl)
		if err != nil {
			return o, err
		}
		o.RecordSizeLimit = min(l, recordlimit.MaxRecordSizeLimitTLS13)
		if m, err := wire.ParseMaxFragmentLength(e.mfl); e.haveMFL && err == nil {
			o.MaxFragmentLength = m
		}
		return o, nil
	}
	if e.haveMFL {
		m, err := wire.ParseMaxFragmentLength(e.mfl)
		if err != nil {
			return o, err
		}
		o.MaxFragmentLength = m
	}
	return o, nil
}

// clientOffer reads the record-size requests of a ClientHello body: the
// offer, the refusal the server must send (see recordExtensions.offer), and
// whether the hello could be read at all.
func clientOffer(body []byte) (o recordlimit.Offer, refuse error, ok bool) {
	e, ok := clientExtensions(body)
	if !ok {
		return o, nil, false
	}
	o, refuse = e.offer()
	return o, refuse, true
}

// Write takes whole records from the server stack and sends them re-framed
// within Cap. Once steady, the records pass unchanged: Write checks their
// framing and hands b on, copying it only into a batch.
func (c *ServerConn) Write(b []byte) (int, error) {
	c.batcher.mu.Lock()
	defer c.batcher.mu.Unlock()
	if c.batcher.err != nil {
		return 0, c.batcher.err
	}
	if c.steady {
		var sum recordSum
		if !sum.scan(b) {
			return 0, errPartialRecord
		}
		c.sent.addSum(sum)
		if err := c.batcher.send(b); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	out := getBuf(len(b))
	defer func() { putBuf(out) }()
	for s := b; len(s) > 0; {
		h, err := wire.ParseHeader(s)
		if err != nil || len(s) < wire.HeaderLen+h.Len {
			return 0, errPartialRecord
		}
		rec := s[:wire.HeaderLen+h.Len]
		s = s[wire.HeaderLen+h.Len:]
		// Room for rec cut into records of at least 63 bytes (the smallest
		// cap), each with a header, an AEAD tag and a content type, and for
		// an alert after it.
		out = growBuf(out, len(rec)+(h.Len/63+1)*(wire.HeaderLen+17)+7)
		if *out, err = c.reframe(*out, h, rec); err != nil {
			var r refusal
			if errors.As(err, &r) {
				// Instead of the stack's answer: what came before it, and the alert.
				c.batcher.send(appendAlertRecord(*out, r.alert))
				err = r.err
			}
			c.batcher.err = err
			return 0, err
		}
	}
	c.sent.addRecords(*out)
	if err := c.batcher.send(*out); err != nil {
		return 0, err
	}
	return len(b), nil
}

// recordSum sums a sequence of whole records.
type recordSum struct {
	records, bytes int64
	largest        int
}

// scan adds the records of b, and reports whether b is a sequence of whole
// records with valid headers.
func (r *recordSum) scan(b []byte) bool {
	for len(b) > 0 {
		h, err := wire.ParseHeader(b)
		if err != nil || len(b) < wire.HeaderLen+h.Len {
			return false
		}
		r.records++
		r.bytes += int64(wire.HeaderLen + h.Len)
		r.largest = max(r.largest, h.Len)
		b = b[wire.HeaderLen+h.Len:]
	}
	return true
}

// addSum counts the records r sums up.
func (d *dirStats) addSum(r recordSum) {
	if r.records == 0 {
		return
	}
	d.records.Add(r.records)
	d.bytes.Add(r.bytes)
	if int64(r.largest) > d.largest.Load() {
		d.largest.Store(int64(r.largest)) // one writer per direction
	}
}

// reframe appends rec to out, split or re-encrypted to fit the cap.
func (c *ServerConn) reframe(out []byte, h wire.Header, rec []byte) ([]byte, error) {
	c.mu.Lock()
	version := c.version
	c.mu.Unlock()
	switch {
	case h.Type == recordlimit.TypeHandshake && version == 0:
		if err := c.readServerHello(rec[wire.HeaderLen:]); err != nil {
			return out, err
		}
		return AppendRecords(out, h.Type, h.Version, rec[wire.HeaderLen:], c.Cap()), nil
	case h.Type == recordlimit.TypeHandshake && !(version == wire.VersionTLS12 && c.srvCCS):
		return AppendRecords(out, h.Type, h.Version, rec[wire.HeaderLen:], c.Cap()), nil
	case h.Type == recordlimit.TypeChangeCipherSpec:
		c.srvCCS = true
		// In TLS 1.2 what follows is protected and passes unchanged (the
		// stack's Finished, then application data); TLS 1.3's
		// ChangeCipherSpec (middlebox compatibility) protects nothing.
		c.steady = version == wire.VersionTLS12
	case h.Type == recordlimit.TypeApplicationData && version >= wire.VersionTLS13 && !c.epochDone:
		return c.reseal(out, rec)
	}
	return append(out, rec...), nil
}

// refusal is the error of a ServerHello the guard replaces with an alert.
type refusal struct {
	alert recordlimit.Alert
	err   error
}

func (r refusal) Error() string { return r.err.Error() }

// readServerHello learns the version and suite from the server's hello. A
// HelloRetryRequest leaves them unknown until the real ServerHello. The
// ServerHello that answers a second ClientHello the guard refuses is a
// refusal.
func (c *ServerConn) readServerHello(body []byte) error {
	var hs handshakeBuffer
	hs.add(body)
	typ, msg, ok, _ := hs.next()
	if !ok || typ != typeServerHello {
		return nil
	}
	sh, err := wire.ParseServerHello(msg)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if sh.HelloRetry {
		c.retried = true
		return nil
	}
	if c.retried && c.pending != nil {
		return refusal{alert: recordlimit.AlertIllegalParameter, err: fmt.Errorf("recordlimit: ClientHello refused: %w", c.pending)}
	}
	c.version, c.suite = sh.Version, sh.Suite
	return nil
}

// reseal re-encrypts one record of the server's TLS 1.3 handshake epoch in
// records within the cap; the epoch ends with the record carrying Finished.
func (c *ServerConn) reseal(out, rec []byte) ([]byte, error) {
	if c.epochIn == nil {
		c.mu.Lock()
		secret, suite := c.serverHS, c.suite
		c.mu.Unlock()
		if secret == nil {
			return nil, recordlimit.ErrMissingSecret
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
	if typ == recordlimit.TypeHandshake {
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
	c.steady = true
	c.epochIn, c.epochOut = nil, nil
	c.epochFrames.reset()
	c.mu.Lock()
	clear(c.serverHS)
	c.serverHS = nil
	c.mu.Unlock()
}
