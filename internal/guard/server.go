package guard

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"

	"golang.org/x/crypto/cryptobyte"

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
//     epoch and pass unchanged;
//   - once its ServerHello is out, it follows the client's flight record by
//     record (in TLS 1.3 decrypting a copy with the client handshake secret)
//     up to the client's ChangeCipherSpec or Finished, and refuses a message
//     above its bound (a Certificate above 256 KiB) with decode_error, which
//     it makes the stack send (see Err);
//   - it holds the handshake secrets only while a flight needs them, and
//     wipes them on every error, on Close and when told (ForgetSecrets).
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
	// The TLS 1.3 handshake traffic secrets and the keys derived from them,
	// kept only while the guard needs them: the server's (srvIn, as the
	// stack sealed its records, srvOut, as sent) to re-encrypt its flight,
	// up to its Finished; the client's (cliEpoch) to follow the client's,
	// up to the client's Finished; neither once the connection failed or
	// closed (wiped).
	serverHS, clientHS []byte
	srvIn, srvOut      *Epoch
	cliEpoch           *Epoch
	wiped              bool
	gerr               error // the guard's own error that ended the connection

	pending error // a second hello's refusal, for when the stack answers it
	retried bool  // the stack sent a HelloRetryRequest

	sent dirStats // read without a lock (one writer)

	in  serverReadHalf  // Read's
	out serverWriteHalf // Write's and Flush's
}

// serverReadHalf is the server guard's read path. Its mutex is held for the
// whole of each Read (see the lock order in doc.go).
//
// While a client streams (a transport read filled the buffer it was given:
// ahead), the guard reads ahead into rbuf, a pooled buffer of a full
// record's size, so that a client's small records do not cost the server a
// read call each; rbuf goes back to the pool once the stack has taken what
// it holds (rr to rw), and a read that finds the client quiet waits in the
// stack's own buffer, so that an idle connection holds no buffer here. rerr
// is a transport error that came with read-ahead bytes, for after them.
//
// The ClientHello is reassembled by hello as its records pass, each byte
// looked at once: hdr holds a record header being read (hdrN bytes of it),
// remain the bytes left of the current record's body. refused is set when
// the hello's record-size requests break the RFCs: every Read returns it.
//
// After the first ClientHello the scan goes on over ChangeCipherSpec
// records for one more handshake message: a second ClientHello, sent after
// a HelloRetryRequest, must keep the record-size extensions of the first
// byte for byte (RFC 8446, Section 4.1.2), or is refused with
// illegal_parameter: in Read if the HelloRetryRequest has been sent
// (ServerConn.retried), else when the stack sends its ServerHello
// (ServerConn.pending).
//
// Once the server has sent its ServerHello, the client's flight is read
// record by record (flight): each record is whole in rbuf before the stack
// gets its first byte, and its handshake messages are followed (in TLS 1.3
// decrypted with the client's handshake secret) up to the client's
// ChangeCipherSpec (TLS 1.2) or Finished (TLS 1.3), so that a message above
// its bound is refused before the stack reads its header. left is what the
// stack has still to get of the current record, or of signal, the record
// it gets in its place; ferr, the half's sticky error, ends every Read
// after it.
type serverReadHalf struct {
	mu       sync.Mutex
	rbuf     *[]byte
	rr, rw   int
	rerr     error
	ahead    bool
	hdr      [wire.HeaderLen]byte
	hdrN     int
	remain   int
	skip     bool // the current record is a ChangeCipherSpec, passed over
	hello    follower
	first    *recordExtensions // the first hello's, once read
	scanDone bool
	refused  error

	flight, flightEnd, flightDone bool
	left                          int
	signal                        []byte
	ferr                          error
	cliFollow                     follower
}

// serverWriteHalf is the server guard's write path. Its mutex (batcher.mu)
// is held for the whole of each Write and Flush, and by a refusal of the
// read half (the lock order in doc.go); its err (batcher.err), once set,
// ends every Write. Once steady (TLS 1.2: after the server's
// ChangeCipherSpec; TLS 1.3: after the record carrying its Finished) every
// record the stack writes passes unchanged.
type serverWriteHalf struct {
	batcher
	steady      bool
	srvCCS      bool // TLS 1.2: records after the server's ChangeCipherSpec are protected
	epochDone   bool
	epochFollow follower
}

// NewServerConn returns a guard for the server side of transport. maxRecord,
// when above zero, caps every record whatever the client asks for. The
// guard holds a buffer only while it has bytes in it: read ahead from a
// client that streams, or records being gathered into one transport write.
func NewServerConn(transport net.Conn, maxRecord int) *ServerConn {
	c := &ServerConn{Conn: transport, maxRecord: maxRecord}
	c.out.w = transport
	return c
}

// KeyLogWriter returns the writer to install as the TLS stack's key log
// writer; see Conn.KeyLogWriter.
func (c *ServerConn) KeyLogWriter(next io.Writer) io.Writer { return keyLog{sink: c, next: next} }

func (c *ServerConn) setSecret(label string, secret []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var p *[]byte
	switch label {
	case labelServerHandshake:
		p = &c.serverHS
	case labelClientHandshake:
		p = &c.clientHS
	default:
		clear(secret)
		return
	}
	clear(*p)
	*p = secret
	if c.wiped {
		clear(secret)
		*p = nil
	}
}

// wipe forgets both handshake secrets and the keys derived from them, for
// good: the connection failed or closed.
func (c *ServerConn) wipe() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.clientHS)
	clear(c.serverHS)
	c.clientHS, c.serverHS = nil, nil
	c.srvIn, c.srvOut, c.cliEpoch = nil, nil, nil
	c.wiped = true
}

// ForgetSecrets drops the TLS 1.3 handshake traffic secrets the guard
// holds and the keys derived from them, and refuses any logged later. The
// guard does so itself once each flight is over, on its own errors, on a
// transport error and on Close; tlsapp also calls it when the stack's
// handshake fails.
func (c *ServerConn) ForgetSecrets() { c.wipe() }

// HoldsSecrets reports whether the guard still holds a handshake traffic
// secret or a key derived from one.
func (c *ServerConn) HoldsSecrets() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.clientHS != nil || c.serverHS != nil || c.srvIn != nil || c.srvOut != nil || c.cliEpoch != nil
}

// Close forgets the handshake secrets and closes the transport.
func (c *ServerConn) Close() error {
	c.wipe()
	return c.Conn.Close()
}

// Err returns the guard's own error that ended the connection, if any: a
// refused ClientHello, a client message above its bound, a record of the
// server's the guard could not re-frame.
func (c *ServerConn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gerr
}

func (c *ServerConn) setErr(err error) {
	c.mu.Lock()
	if c.gerr == nil {
		c.gerr = err
	}
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
func (c *ServerConn) Read(p []byte) (n int, err error) {
	c.in.mu.Lock()
	defer c.in.mu.Unlock()
	defer func() {
		if err != nil && !isTimeout(err) {
			c.wipe() // the connection is over
		}
	}()
	if c.in.refused != nil {
		return 0, c.in.refused
	}
	if !c.in.flight && !c.in.flightDone && c.in.first != nil && c.in.hdrN == 0 && c.in.remain == 0 && c.in.hello.idle() {
		c.mu.Lock()
		answered := c.version != 0
		c.mu.Unlock()
		if answered {
			// The server has sent its ServerHello: what comes now is the
			// client's flight.
			c.stopScan()
			c.in.flight = true
		}
	}
	if c.in.flight {
		return c.readFlight(p)
	}
	n, err = c.read(p)
	if n > 0 && !c.in.scanDone {
		if rerr := c.scanHello(p[:n]); rerr != nil {
			c.refuse(rerr)
			return 0, c.in.refused
		}
	}
	return n, err
}

// read fills p from the bytes read ahead or from the transport; see the
// read side of ServerConn.
func (c *ServerConn) read(p []byte) (int, error) {
	if c.in.rbuf == nil {
		if err := c.in.rerr; err != nil {
			c.in.rerr = nil
			return 0, err
		}
		if !c.in.ahead || len(p) >= wire.MaxRecord {
			n, err := c.Conn.Read(p)
			c.in.ahead = err == nil && n == len(p)
			return n, err
		}
		c.in.rbuf = readBufPool.Get().(*[]byte)
		n, err := c.Conn.Read(*c.in.rbuf)
		c.in.ahead = err == nil && n == len(*c.in.rbuf)
		if n == 0 {
			c.releaseReadBuf()
			return 0, err
		}
		c.in.rr, c.in.rw, c.in.rerr = 0, n, err
	}
	n := copy(p, (*c.in.rbuf)[c.in.rr:c.in.rw])
	c.in.rr += n
	if c.in.rr == c.in.rw {
		c.releaseReadBuf()
	}
	return n, nil
}

func (c *ServerConn) releaseReadBuf() {
	readBufPool.Put(c.in.rbuf)
	c.in.rbuf, c.in.rr, c.in.rw = nil, 0, 0
}

// refuse sends the alert err carries and makes the connection fail with it.
func (c *ServerConn) refuse(err error) {
	c.in.refused = fmt.Errorf("guard: ClientHello refused: %w", err)
	c.setErr(c.in.refused)
	a, _ := recordlimit.AlertOf(err)
	c.out.mu.Lock()
	defer c.out.mu.Unlock()
	if c.out.err == nil {
		c.Conn.Write(appendAlertRecord(nil, a))
		c.out.err = c.in.refused
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
	for len(b) > 0 && !c.in.scanDone {
		if c.in.remain == 0 {
			k := copy(c.in.hdr[c.in.hdrN:], b)
			c.in.hdrN += k
			b = b[k:]
			if c.in.hdrN < wire.HeaderLen {
				return nil
			}
			c.in.hdrN = 0
			h, err := wire.ParseHeader(c.in.hdr[:])
			switch {
			case err == nil && h.Type == recordlimit.TypeHandshake:
				c.in.skip = false
			case err == nil && h.Type == recordlimit.TypeChangeCipherSpec && c.in.first != nil && c.in.hello.idle():
				c.in.skip = true
			default:
				c.stopScan()
				return nil
			}
			c.in.remain = h.Len
			continue
		}
		k := min(c.in.remain, len(b))
		c.in.remain -= k
		if !c.in.skip {
			if err := c.in.hello.feed(b[:k], c.helloStart, c.helloDone); err != nil {
				if r, ok := err.(scanRefusal); ok {
					c.stopScan()
					return r.err
				}
				// Not a ClientHello, one above its bound, or the end of
				// the scan: the stack judges the rest.
				c.stopScan()
				return nil
			}
		}
		b = b[k:]
	}
	return nil
}

// scanRefusal carries the error of a ClientHello the server must refuse
// out of the hello follower.
type scanRefusal struct{ err error }

func (r scanRefusal) Error() string { return r.err.Error() }

// errEndScan ends the hello scan without a refusal.
var errEndScan = errors.New("guard: end of the ClientHello scan")

// helloStart admits a ClientHello (the first, or the one after a
// HelloRetryRequest), kept whole.
func (c *ServerConn) helloStart(typ uint8, n int) (int, error) {
	if typ != typeClientHello {
		return 0, errEndScan
	}
	return n, nil
}

// helloDone reads the offer from a complete ClientHello: the first one sets
// the offer; a second one must repeat the first's record-size extensions.
func (c *ServerConn) helloDone(_ uint8, body, _ []byte) error {
	exts, ok := clientExtensions(body)
	if !ok {
		return errEndScan
	}
	if c.in.first != nil {
		if exts.equal(*c.in.first) {
			return errEndScan
		}
		err := negErr(0, recordlimit.AlertIllegalParameter, "the ClientHello after HelloRetryRequest changes max_fragment_length or record_size_limit")
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.retried {
			return scanRefusal{err}
		}
		c.pending = err // sent before the HelloRetryRequest: refused when the stack answers
		return errEndScan
	}
	o, err := exts.offer()
	if err != nil {
		return scanRefusal{err}
	}
	c.mu.Lock()
	c.offer, c.haveOffer = o, true
	c.mu.Unlock()
	c.in.first = &exts
	return nil // on to a second hello, if the server asks for one
}

func (c *ServerConn) stopScan() {
	c.in.hello.reset()
	c.in.scanDone = true
}

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
func (c *ServerConn) Write(b []byte) (n int, err error) {
	defer func() {
		if err != nil && !isTimeout(err) {
			c.wipe() // the connection is over
		}
	}()
	c.out.mu.Lock()
	defer c.out.mu.Unlock()
	if c.out.err != nil {
		return 0, c.out.err
	}
	if c.out.steady {
		var sum recordSum
		if !sum.scan(b) {
			return 0, errPartialRecord
		}
		c.sent.addSum(sum)
		if err := c.out.send(b); err != nil {
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
				c.out.send(appendAlertRecord(*out, r.alert))
				err = r.err
			}
			c.setErr(err)
			c.out.err = err
			return 0, err
		}
	}
	c.sent.addRecords(*out)
	if err := c.out.send(*out); err != nil {
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
		return appendFragments(out, nil, h.Type, h.Version, rec[wire.HeaderLen:], c.Cap()), nil
	case h.Type == recordlimit.TypeHandshake && !(version == wire.VersionTLS12 && c.out.srvCCS):
		return appendFragments(out, nil, h.Type, h.Version, rec[wire.HeaderLen:], c.Cap()), nil
	case h.Type == recordlimit.TypeChangeCipherSpec:
		c.out.srvCCS = true
		// In TLS 1.2 what follows is protected and passes unchanged (the
		// stack's Finished, then application data); TLS 1.3's
		// ChangeCipherSpec (middlebox compatibility) protects nothing.
		c.out.steady = version == wire.VersionTLS12
	case h.Type == recordlimit.TypeApplicationData && version >= wire.VersionTLS13 && !c.out.epochDone:
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
	// crypto/tls writes its hello whole, first in its record.
	s := cryptobyte.String(body)
	var typ uint8
	var msg cryptobyte.String
	if !s.ReadUint8(&typ) || typ != typeServerHello || !s.ReadUint24LengthPrefixed(&msg) {
		return &Error{Desc: recordlimit.AlertInternalError, Reason: "internal error: the TLS stack's first handshake record does not start with a whole ServerHello"}
	}
	sh, err := wire.ParseServerHello(msg)
	if err != nil {
		return &Error{Desc: recordlimit.AlertInternalError, Reason: "internal error: the TLS stack's ServerHello does not parse", Err: err}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if sh.HelloRetry {
		c.retried = true
		return nil
	}
	if c.retried && c.pending != nil {
		return refusal{alert: recordlimit.AlertIllegalParameter, err: fmt.Errorf("guard: ClientHello refused: %w", c.pending)}
	}
	c.version, c.suite = sh.Version, sh.Suite
	return nil
}

// reseal re-encrypts one record of the server's TLS 1.3 handshake epoch in
// records within the cap; the epoch ends with the record carrying Finished.
func (c *ServerConn) reseal(out, rec []byte) ([]byte, error) {
	c.mu.Lock()
	in, sealer, secret, suite := c.srvIn, c.srvOut, c.serverHS, c.suite
	c.mu.Unlock()
	if in == nil {
		if secret == nil {
			return nil, missingSecret("the server's handshake flight")
		}
		var err error
		if in, sealer, err = newEpochPair(suite, secret); err != nil {
			return nil, internalErr(err)
		}
		c.mu.Lock()
		c.srvIn, c.srvOut = in, sealer
		c.mu.Unlock()
	}
	f := &c.out.epochFollow
	content, typ, err := in.Open(f.scratch[:0], rec)
	if err != nil {
		return nil, err
	}
	f.scratch = content[:0]
	out = appendFragments(out, sealer, typ, 0, content, c.Cap())
	if typ == recordlimit.TypeHandshake {
		finished := false
		err := f.feed(content, skipBodies, func(typ uint8, _, _ []byte) error {
			finished = finished || typ == typeFinished
			return nil
		})
		if err != nil {
			return nil, err
		}
		if finished {
			c.endEpoch()
		}
	}
	return out, nil
}

func (c *ServerConn) endEpoch() {
	c.out.epochDone = true
	c.out.steady = true
	c.out.epochFollow.reset()
	c.mu.Lock()
	clear(c.serverHS)
	c.serverHS, c.srvIn, c.srvOut = nil, nil, nil
	c.mu.Unlock()
}

// readFlight hands the stack the client's flight record by record; see the
// read side of ServerConn.
func (c *ServerConn) readFlight(p []byte) (int, error) {
	if c.in.left == 0 {
		if c.in.ferr != nil {
			return 0, c.in.ferr
		}
		if len(p) == 0 {
			return 0, nil
		}
		follow, err := c.nextClientRecord()
		if err != nil {
			return 0, err
		}
		if !follow {
			// A record the guard does not read: the stack judges it and
			// what comes after.
			c.endClientFlight()
			return c.read(p)
		}
	}
	var n int
	if c.in.signal != nil {
		n = copy(p, c.in.signal)
		c.in.signal = c.in.signal[n:]
	} else {
		n = copy(p[:min(len(p), c.in.left)], (*c.in.rbuf)[c.in.rr:c.in.rw])
		c.in.rr += n
	}
	c.in.left -= n
	if c.in.left == 0 {
		c.in.signal = nil
		if c.in.rbuf != nil && c.in.rr == c.in.rw {
			c.releaseReadBuf()
		}
		if c.in.flightEnd && c.in.ferr == nil {
			c.endClientFlight()
		}
	}
	return n, nil
}

// nextClientRecord reads the next record of the client's flight whole and
// follows it, setting c.in.left. follow is false for a record the guard leaves
// to the stack unread (bad framing), which ends the following.
func (c *ServerConn) nextClientRecord() (follow bool, err error) {
	if err := c.fill(wire.HeaderLen); err != nil {
		return false, err
	}
	h, err := wire.ParseHeader((*c.in.rbuf)[c.in.rr:c.in.rw])
	if err != nil {
		return false, nil
	}
	if err := c.fill(wire.HeaderLen + h.Len); err != nil {
		return false, err
	}
	rec := (*c.in.rbuf)[c.in.rr : c.in.rr+wire.HeaderLen+h.Len]
	last, err := c.followClient(h, rec)
	if a, _ := recordlimit.AlertOf(err); err != nil && a != recordlimit.AlertDecodeError {
		// A secret or key the guard lacks: no record makes the stack
		// send internal_error, and the guard has not the keys to.
		c.in.ferr = err
		c.setErr(err)
		c.wipe()
		return false, err
	}
	if err != nil {
		// A message above its bound. The stack holds the keys its alert
		// needs (in TLS 1.3 the server's application keys by now), so in
		// place of the record it gets one that makes it send decode_error
		// itself: a ChangeCipherSpec whose body is not 1.
		c.in.rr += len(rec)
		c.in.signal, c.in.left = signalDecodeError[:], len(signalDecodeError)
		c.in.ferr = err
		c.setErr(err)
		c.wipe()
		return true, nil
	}
	c.in.left, c.in.flightEnd = len(rec), last
	return true, nil
}

// fill makes at least n bytes available in the read buffer (n at most a
// record's maximum). A transport error with bytes of an unfinished record
// in the buffer is io.ErrUnexpectedEOF for io.EOF.
func (c *ServerConn) fill(n int) error {
	if c.in.rbuf == nil {
		c.in.rbuf = readBufPool.Get().(*[]byte)
		c.in.rr, c.in.rw = 0, 0
	}
	buf := *c.in.rbuf
	if n > len(buf) {
		panic("guard: internal error: fill beyond the read buffer")
	}
	if c.in.rr+n > len(buf) {
		c.in.rw = copy(buf, buf[c.in.rr:c.in.rw])
		c.in.rr = 0
	}
	for c.in.rw-c.in.rr < n {
		err := c.in.rerr
		c.in.rerr = nil
		if err == nil {
			var m int
			m, err = c.Conn.Read(buf[c.in.rw:])
			c.in.rw += m
			if c.in.rw-c.in.rr >= n {
				c.in.rerr = err
				return nil
			}
		}
		if err != nil {
			if c.in.rw == c.in.rr {
				c.releaseReadBuf()
			} else if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// followClient follows rec, a whole record of the client's flight. last is
// true when the record ends what the guard follows: the client's
// ChangeCipherSpec in TLS 1.2, its Finished in TLS 1.3, or a record the
// stack judges on its own (which it opens with the same keys the guard
// would: a record that does not decrypt is its bad_record_mac).
func (c *ServerConn) followClient(h wire.Header, rec []byte) (last bool, err error) {
	c.mu.Lock()
	version, suite := c.version, c.suite
	c.mu.Unlock()
	f := &c.in.cliFollow
	if version < wire.VersionTLS13 {
		switch h.Type {
		case recordlimit.TypeHandshake:
			return false, f.feed(rec[wire.HeaderLen:], skipBodies, func(uint8, []byte, []byte) error { return nil })
		case recordlimit.TypeAlert:
			return false, nil
		}
		return true, nil
	}
	switch h.Type {
	case recordlimit.TypeChangeCipherSpec:
		return false, nil // middlebox compatibility
	case recordlimit.TypeApplicationData:
	default:
		return true, nil
	}
	c.mu.Lock()
	e, secret := c.cliEpoch, c.clientHS
	c.mu.Unlock()
	if e == nil {
		if secret == nil {
			return true, missingSecret("the client's handshake flight")
		}
		if e, err = NewEpoch(suite, secret); err != nil {
			return true, internalErr(err)
		}
		c.mu.Lock()
		c.cliEpoch = e
		c.mu.Unlock()
	}
	content, typ, err := e.Open(f.scratch[:0], rec)
	if err != nil {
		return true, nil
	}
	f.scratch = content[:0]
	if typ != recordlimit.TypeHandshake {
		return true, nil
	}
	finished := false
	err = f.feed(content, skipBodies, func(typ uint8, _, _ []byte) error {
		finished = finished || typ == typeFinished
		return nil
	})
	return finished, err
}

// endClientFlight stops following the client's flight and forgets the
// client's handshake secret and keys.
func (c *ServerConn) endClientFlight() {
	c.in.flight, c.in.flightEnd, c.in.flightDone = false, false, true
	c.in.cliFollow.reset()
	c.mu.Lock()
	clear(c.clientHS)
	c.clientHS, c.cliEpoch = nil, nil
	c.mu.Unlock()
}

// isTimeout reports whether err is a transport's timeout, after which the
// connection may go on.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// BeginBatch makes the following writes gather in a buffer until Flush;
// size is about how many bytes of records the batch will gather.
func (c *ServerConn) BeginBatch(size int) { c.out.BeginBatch(size) }

// Buffered returns the number of bytes gathered since BeginBatch.
func (c *ServerConn) Buffered() int { return c.out.Buffered() }

// Flush sends what was gathered in one transport write. When end is true it
// also ends the batch.
func (c *ServerConn) Flush(end bool) error { return c.out.Flush(end) }
