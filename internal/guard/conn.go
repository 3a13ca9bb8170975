package guard

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/cryptobyte"

	"github.com/tlsapp/tlsapp/internal/wire"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// Stats counts the records that crossed a Conn, per direction. Byte counts
// include record headers; the largest record is its body length as the
// length field states it.
type Stats struct {
	SentRecords, ReceivedRecords int64
	SentBytes, ReceivedBytes     int64
	LargestSent, LargestReceived int
}

type dirStats struct {
	records, bytes, largest atomic.Int64
}

// addRecords counts every record in b, a sequence of whole records.
func (d *dirStats) addRecords(b []byte) {
	for len(b) >= wire.HeaderLen {
		n := int(b[3])<<8 | int(b[4])
		d.add(n)
		b = b[min(len(b), wire.HeaderLen+n):]
	}
}

func (d *dirStats) add(bodyLen int) {
	d.records.Add(1)
	d.bytes.Add(int64(wire.HeaderLen + bodyLen))
	if int64(bodyLen) > d.largest.Load() {
		d.largest.Store(int64(bodyLen)) // one writer per direction
	}
}

// readPhase says what the read side is waiting for.
type readPhase uint8

const (
	waitServerHello  readPhase = iota // plaintext handshake records up to the ServerHello
	waitEncryptedExt                  // TLS 1.3: protected records up to EncryptedExtensions
	negotiated                        // the answer is known
)

// Pools of record-sized buffers; a Conn holds one only while it has bytes in it.
var (
	readBufPool  = sync.Pool{New: func() any { b := make([]byte, wire.MaxRecord); return &b }}
	writeBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2*wire.MaxRecord); return &b }}
)

// Conn is the client's record layer guard. It wraps the transport below a TLS
// client stack (it is the net.Conn the stack reads and writes) and:
//   - follows the server's handshake message by message, across and within
//     records (keeping at most one message of up to 64 KiB, and counting
//     the bytes of a Certificate of up to [wire.MaxCertificateMessage]), and reads
//     the answer to the [recordlimit.Offer] from the ServerHello, or in TLS 1.3 from
//     EncryptedExtensions, which it decrypts with the handshake secret the
//     stack logs through KeyLogWriter, and applies [wire.NegotiateServerHello] or
//     [wire.NegotiateEncryptedExtensions]; whatever it
//     cannot follow (a record or message out of RFC 8446's order, messages
//     sharing a record across a key change, an unknown record type) ends the
//     connection with the alert the RFC prescribes, sent to the server;
//   - checks every received record's framing and, once the server agreed, its
//     length against the limit; an over-limit record is shown to the stack with
//     an impossible length, so that the stack sends record_overflow itself, and
//     Read then returns a [recordlimit.RecordOverflowError]; nothing of that record or after
//     it reaches the stack. A TLS 1.2 record that carries the ServerHello and
//     continues past it is bound by the answer in it (RFC 6066, Section 4):
//     one above it is refused with record_overflow, which the guard sends
//     itself, since the stack has not read the hello;
//   - re-fragments the handshake records the stack writes so that none
//     exceeds the send limit: plaintext records are split, TLS 1.3
//     handshake-epoch records are decrypted and re-encrypted with that epoch's
//     keys, with sequence numbers kept across writes up to the client's
//     Finished (the application epoch starts its own sequence numbers, so
//     the stack's later records are untouched);
//   - between BeginBatch and Flush, gathers the records the stack writes and
//     sends them in one transport write.
//
// Application data records are not split here: the caller must hand the stack
// at most Limits().Send bytes per write, with dynamic record sizing disabled.
type Conn struct {
	net.Conn
	offer   recordlimit.Offer
	device  DeviceLimit // set before the first Read
	sigAlgs []uint16    // the signature schemes offered; set before the first Read
	groups  []uint16    // the key exchange groups offered; set before the first Read

	mu     sync.Mutex // guards the fields below
	phase  readPhase
	ended  bool // the stack's handshake is over (EndHandshake)
	hrr    bool // the server sent a HelloRetryRequest: the version is TLS 1.3
	group  uint16
	agr    wire.Agreement
	limits wire.Limits
	// The TLS 1.3 handshake traffic secrets and the record keys derived
	// from them, kept only while needed: the server's until its Finished,
	// the client's until the client's Finished is written, neither once
	// the connection failed or closed (wiped).
	clientHS, serverHS []byte
	srvEpoch           *Epoch // the server's handshake epoch, used by Read
	cliIn, cliOut      *Epoch // the client's, as the stack wrote it and as sent; used by Write
	wiped              bool
	alert              seenAlert // the first fatal alert either side sent
	rerr               error     // the first error that ended the connection on this layer (Err)

	// Read without a lock: the record counts (one writer per direction) and
	// the algorithm of a TLS 1.3 CompressedCertificate (certcomp.go).
	sent, recv dirStats
	certAlg    atomic.Uint32

	in  readHalf  // Read's
	out writeHalf // Write's, Flush's, and the fatal alerts'
}

// readHalf is the client guard's read path: the records received, followed
// up to the server's Finished. Its mutex is held for the whole of each Read
// (see the lock order in doc.go); err, once set, is what every Read returns
// after handing over the bytes before it.
type readHalf struct {
	mu         sync.Mutex
	err        error
	rbuf       *[]byte
	rr, rw     int
	left       int    // bytes of the current record still to hand to the stack
	signal     []byte // when set, what the stack gets in place of the current record
	follow     follower
	srvCCSSeen bool // TLS 1.2: records after the server's ChangeCipherSpec are protected
	pastHello  bool // TLS 1.2: the record being inspected continues past the ServerHello
	eeSeen     bool // TLS 1.3: EncryptedExtensions has been read
	// cut is io.ErrUnexpectedEOF once the transport ended inside a record;
	// Read returns it after handing over the bytes of that record it holds.
	cut error
	// eof is set once Read has returned io.EOF to the stack; read without
	// the lock (ReturnedEOF).
	eof atomic.Bool
}

// writeHalf is the client guard's write path: the records sent, the
// client's TLS 1.3 handshake epoch re-encrypted up to its Finished, and the
// batch. Its mutex (batcher.mu) is held for the whole of each Write, Flush
// and fatal alert; its err (batcher.err), once set, ends every Write.
type writeHalf struct {
	batcher
	cliCCSSent bool // TLS 1.2: records after the client's ChangeCipherSpec are protected
	compatCCS  bool // TLS 1.3: the stack's middlebox-compatibility ChangeCipherSpec has been sent
	epochDone  bool // TLS 1.3: the client handshake epoch has been written
	cliFollow  follower
}

// DeviceLimit bounds the records a client accepts the way a device's own TLS
// stack does when it cannot hold a larger one (a cellular modem's socket
// fails with EMSGSIZE): a received record beyond it ends the connection with
// a *DeviceError, whatever was negotiated. The zero value bounds nothing.
type DeviceLimit struct {
	// Content, when above zero, is the most content bytes a record may
	// carry: a protected record's length field may exceed it by what the
	// negotiated suite's protection adds at most (recordlimit.Expansion,
	// and in TLS 1.3 the inner content-type byte); an unprotected record's
	// may not.
	Content int
	// Record, when above zero, bounds every received record's length field.
	Record int
}

// bound returns the longest length field the device takes for a record,
// protected or not, in version and suite; 0 means no bound.
func (d DeviceLimit) bound(protected bool, version, suite uint16) int {
	b := d.Record
	if d.Content > 0 {
		c := d.Content
		if protected {
			c += recordlimit.Expansion(version, suite)
			if version >= wire.VersionTLS13 {
				c++
			}
		}
		if b == 0 || c < b {
			b = c
		}
	}
	return b
}

// DeviceError reports a received record longer than the DeviceLimit allows.
// No alert is sent for it: the device's socket failed before any TLS stack
// could read the record.
type DeviceError struct {
	Type  recordlimit.ContentType // the record's type, as its header says
	Len   int                     // the record's length field
	Limit int                     // the longest the device takes for this record
}

func (e *DeviceError) Error() string {
	return fmt.Sprintf("guard: a %d-byte %v record is longer than the %d bytes the device holds", e.Len, e.Type, e.Limit)
}

// NewConn returns a Conn that guards the client side of transport for offer.
func NewConn(transport net.Conn, offer recordlimit.Offer) *Conn {
	c := &Conn{Conn: transport, offer: offer}
	c.out.w = transport
	c.limits = wire.Limits{Send: recordlimit.MaxPlaintext, Receive: wire.MaxCiphertextTLS12, ReceivePlain: recordlimit.MaxPlaintext}
	if offer.MaxFragmentLength.Valid() {
		// Before the answer the client owes the server nothing, but a server
		// that can only take small records is why the client asks: keep the
		// ClientHello within the fragment length it offers.
		c.limits.Send = offer.MaxFragmentLength.Bytes()
	}
	return c
}

// SetDeviceLimit makes the guard refuse the records d does not allow. It
// must be called before the first Read.
func (c *Conn) SetDeviceLimit(d DeviceLimit) { c.device = d }

// SetSignatureSchemes tells the guard the signature algorithms the client
// offered: a TLS 1.3 CertificateVerify signed with any other ends the
// connection with illegal_parameter (RFC 8446, Section 4.4.3), before the
// stack reads it. Nil checks nothing. It must be called before the first
// Read.
func (c *Conn) SetSignatureSchemes(offered []uint16) { c.sigAlgs = offered }

// SetGroups tells the guard the key exchange groups the client offered: a
// TLS 1.2 ServerKeyExchange on any other ends the connection with
// illegal_parameter (RFC 8422, Section 5.4), before the stack reads it.
// Nil checks nothing. It must be called before the first Read.
func (c *Conn) SetGroups(offered []uint16) { c.groups = offered }

// KeyLogWriter returns the writer to install as the TLS stack's key log
// writer. It keeps the TLS 1.3 handshake traffic secrets for this connection
// only, until the handshake no longer needs them, and passes every line on to
// next when next is not nil.
func (c *Conn) KeyLogWriter(next io.Writer) io.Writer { return keyLog{sink: c, next: next} }

func (c *Conn) secretRef(label string) *[]byte {
	switch label {
	case labelClientHandshake:
		return &c.clientHS
	case labelServerHandshake:
		return &c.serverHS
	}
	return nil
}

func (c *Conn) setSecret(label string, secret []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.secretRef(label)
	if p == nil || c.wiped {
		clear(secret)
		return
	}
	clear(*p)
	*p = secret
}

// wipe forgets both handshake secrets and the keys derived from them, for
// good: the connection failed, closed, or no longer needs them.
func (c *Conn) wipe() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.clientHS)
	clear(c.serverHS)
	c.clientHS, c.serverHS = nil, nil
	c.srvEpoch, c.cliIn, c.cliOut = nil, nil, nil
	c.wiped = true
}

// ForgetSecrets drops the TLS 1.3 handshake traffic secrets the guard holds
// and the keys derived from them, and refuses any logged later. The guard
// does so itself on every path that ends the handshake (the server's and
// the client's Finished, a fatal alert either way, a transport error,
// Close); tlsapp also calls it when the stack's handshake fails.
func (c *Conn) ForgetSecrets() { c.wipe() }

// HoldsSecrets reports whether the guard still holds a handshake traffic
// secret or a key derived from one.
func (c *Conn) HoldsSecrets() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.clientHS != nil || c.serverHS != nil || c.srvEpoch != nil || c.cliIn != nil || c.cliOut != nil
}

// Close forgets the handshake secrets and closes the transport.
func (c *Conn) Close() error {
	c.wipe()
	return c.Conn.Close()
}

// seenAlert is a fatal alert that crossed the guard.
type seenAlert struct {
	a      recordlimit.Alert
	remote bool
	ok     bool
}

// FatalAlert returns the first fatal alert that crossed the guard in
// either direction, which ended the connection: remote is true when the
// server sent it, false when the client did (the TLS stack, or the guard
// itself). ok is false when none was seen. Alerts under the application
// traffic keys are opaque to the guard and not reported.
func (c *Conn) FatalAlert() (a recordlimit.Alert, remote, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.alert.a, c.alert.remote, c.alert.ok
}

// noteAlert records the alert in body (a record's content) if it is
// fatal. The connection is over: the secrets of a server's alert go at
// once; those of the client's own go when the Write carrying it ends, since
// the stack may write more records under the same keys in that write (utls
// sends a second alert after some failures).
func (c *Conn) noteAlert(body []byte, remote bool) {
	if len(body) != 2 || body[1] == byte(recordlimit.AlertCloseNotify) {
		return
	}
	c.mu.Lock()
	fatal := body[0] == 2 || c.agr.Version >= wire.VersionTLS13 || c.hrr
	if fatal && !c.alert.ok {
		c.alert = seenAlert{a: recordlimit.Alert(body[1]), remote: remote, ok: true}
	}
	c.mu.Unlock()
	if fatal && remote {
		c.wipe()
	}
}

// Agreement returns what the server agreed to, and whether its answer has
// been read yet.
func (c *Conn) Agreement() (wire.Agreement, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.agr, c.phase == negotiated
}

// Limits returns the limits in force.
func (c *Conn) Limits() wire.Limits {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.limits
}

// Offer returns what the client offered.
func (c *Conn) Offer() recordlimit.Offer { return c.offer }

// Stats returns the record counts so far.
func (c *Conn) Stats() Stats {
	return Stats{
		SentRecords: c.sent.records.Load(), ReceivedRecords: c.recv.records.Load(),
		SentBytes: c.sent.bytes.Load(), ReceivedBytes: c.recv.bytes.Load(),
		LargestSent: int(c.sent.largest.Load()), LargestReceived: int(c.recv.largest.Load()),
	}
}

// Err returns the error that ended the connection on this layer, if any: a
// recordlimit.RecordOverflowError, RecordHeaderError or NegotiationError (an
// answer RFC 6066 or RFC 8449 forbids), the guard's own *Error, or a
// *DeviceError.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rerr
}

// fail ends the read half with err, which Err reports unless an earlier
// error did; c.in.mu must be held.
func (c *Conn) fail(err error) error {
	c.setErr(err)
	c.wipe()
	return err
}

// setErr makes err the read half's sticky error and, if none came before
// it, the one Err reports; c.in.mu must be held.
func (c *Conn) setErr(err error) {
	if c.in.err == nil {
		c.in.err = err
	}
	c.mu.Lock()
	if c.rerr == nil {
		c.rerr = err
	}
	c.mu.Unlock()
}

// EndHandshake tells the guard that the stack's handshake is over. From then
// on Read may hand over several records per call, and the record counts no
// longer need to tell the handshake's records from those after it.
func (c *Conn) EndHandshake() {
	c.mu.Lock()
	c.ended = true
	c.mu.Unlock()
	c.wipe() // nothing after the handshake needs them
}

// ReturnedEOF reports whether Read has returned io.EOF (the transport's end)
// to the stack. A stack that reports io.EOF while the guard never returned
// it read the end from a close_notify alert.
func (c *Conn) ReturnedEOF() bool { return c.in.eof.Load() }

// Read hands the stack the bytes of checked records: the current one, and,
// once the handshake is over (EndHandshake), the records after it that are
// already whole in the buffer, each checked in turn, so that a stack
// reading into a large buffer takes several small records in one call.
func (c *Conn) Read(p []byte) (n int, err error) {
	c.in.mu.Lock()
	defer c.in.mu.Unlock()
	defer func() {
		if err == io.EOF {
			c.in.eof.Store(true)
		}
	}()
	if c.in.left == 0 {
		// The stored error comes only after the whole of the last record
		// handed over, so that a stack reading a few bytes at a time still
		// sees all of an overflow signal's header.
		if err := c.in.err; err != nil {
			return 0, err
		}
		if c.in.cut != nil {
			return 0, c.in.cut
		}
	}
	if len(p) == 0 {
		return 0, nil
	}
	if c.in.left == 0 {
		if err := c.nextRecord(); err != nil {
			return 0, err
		}
	}
	n, err = c.readCurrent(p)
	for err == nil && c.in.left == 0 && c.nextBuffered(len(p)-n) {
		// An error here is stored (a bad header) and returned by the
		// next call, after what was read so far.
		if c.nextRecord() != nil {
			break
		}
		var m int
		m, err = c.readCurrent(p[n:])
		n += m
	}
	return n, err
}

// readCurrent reads into p from the record being handed over.
func (c *Conn) readCurrent(p []byte) (int, error) {
	if c.in.signal != nil {
		n := copy(p, c.in.signal)
		c.in.signal = c.in.signal[n:]
		c.in.left -= n
		if c.in.left == 0 {
			c.in.signal = nil
		}
		return n, nil
	}
	if c.in.rr == c.in.rw {
		// Nothing buffered: read what the transport has, which may reach
		// into the records after this one.
		if err := c.fill(1); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
	}
	n := copy(p[:min(len(p), c.in.left)], (*c.in.rbuf)[c.in.rr:c.in.rw])
	c.in.rr += n
	c.in.left -= n
	if c.in.left == 0 && c.in.rr == c.in.rw {
		c.releaseReadBuf()
	}
	return n, nil
}

// gatherRoom is what Read leaves free in the caller's buffer when it adds
// whole records after the current one. crypto/tls and utls read into the
// free space of a bytes.Buffer, which grows (doubling) when a read leaves
// it less than bytes.MinRead (512) bytes free: filling it to the brim would
// double the stack's input buffer for the life of the connection.
const gatherRoom = 512

// nextBuffered reports whether the next record can be checked and handed
// over without reading the transport, into room bytes of the caller's
// buffer: the handshake is over, nothing has failed, and the whole record
// is in the buffer and fits in room with gatherRoom to spare.
func (c *Conn) nextBuffered(room int) bool {
	if c.in.rbuf == nil || c.in.cut != nil || c.in.rw-c.in.rr < wire.HeaderLen {
		return false
	}
	c.mu.Lock()
	done := c.ended && c.phase == negotiated
	c.mu.Unlock()
	done = done && c.in.err == nil
	hdr := (*c.in.rbuf)[c.in.rr : c.in.rr+wire.HeaderLen]
	size := wire.HeaderLen + (int(hdr[3])<<8 | int(hdr[4]))
	return done && c.in.rw-c.in.rr >= size && size+gatherRoom <= room
}

// fill makes at least n bytes available in the read buffer.
func (c *Conn) fill(n int) error {
	if c.in.rbuf == nil {
		c.in.rbuf = readBufPool.Get().(*[]byte)
		c.in.rr, c.in.rw = 0, 0
	}
	buf := *c.in.rbuf
	if c.in.rr+n > len(buf) {
		c.in.rw = copy(buf, buf[c.in.rr:c.in.rw])
		c.in.rr = 0
	}
	for c.in.rw-c.in.rr < n {
		m, err := c.Conn.Read(buf[c.in.rw:])
		c.in.rw += m
		if c.in.rw-c.in.rr >= n {
			return nil
		}
		if err != nil {
			if err == io.EOF && c.in.rw > c.in.rr {
				err = io.ErrUnexpectedEOF
			}
			if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
				c.wipe() // the connection is over
			}
			return err
		}
	}
	return nil
}

func (c *Conn) releaseReadBuf() {
	if c.in.rbuf != nil {
		readBufPool.Put(c.in.rbuf)
		c.in.rbuf, c.in.rr, c.in.rw = nil, 0, 0
	}
}

// nextRecord reads and checks the next record header, inspecting the whole
// record when following the handshake needs it, and sets c.in.left.
func (c *Conn) nextRecord() error {
	if err := c.fill(wire.HeaderLen); err != nil {
		return c.cutShort(err)
	}
	hdr := (*c.in.rbuf)[c.in.rr : c.in.rr+wire.HeaderLen]
	h, err := wire.ParseHeader(hdr)
	if err != nil {
		var ov *recordlimit.RecordOverflowError
		if errors.As(err, &ov) {
			return c.overflow(hdr, ov)
		}
		return c.badFraming(err)
	}

	c.mu.Lock()
	phase, version, suite, limits, kind := c.phase, c.agr.Version, c.agr.Suite, c.limits, c.agr.Kind
	c.mu.Unlock()

	protected := false
	switch {
	case version >= wire.VersionTLS13:
		protected = h.Type == recordlimit.TypeApplicationData
	case phase == negotiated:
		protected = c.in.srvCCSSeen && h.Type != recordlimit.TypeChangeCipherSpec
	}
	if b := c.device.bound(protected, version, suite); b > 0 && h.Len > b {
		// The device cannot hold the record, agreed or not: it never
		// reaches a TLS stack, so no alert goes out.
		c.recv.add(h.Len)
		return c.fail(&DeviceError{Type: h.Type, Len: h.Len, Limit: b})
	}
	limit := limits.ReceivePlain
	if protected {
		limit = limits.Receive
	}
	if h.Len > limit {
		return c.overflow(hdr, &recordlimit.RecordOverflowError{Type: h.Type, Len: h.Len, Limit: limit, Agreed: kind != recordlimit.KindNone})
	}

	if c.inspects(phase, version, h.Type) {
		if err := c.fill(wire.HeaderLen + h.Len); err != nil {
			return c.cutShort(err)
		}
		rec := (*c.in.rbuf)[c.in.rr : c.in.rr+wire.HeaderLen+h.Len]
		if err := c.inspect(phase, version, h.Type, rec); err != nil {
			c.sendFatal(err)
			return c.fail(err)
		}
		if c.in.pastHello {
			// RFC 6066, Section 4: the fragment length agreed binds every
			// record after the ServerHello message, so a record that
			// continues past it, read before the agreement was known, is
			// checked against it now, before the stack gets any of it.
			// The guard sends the alert itself: the stack, which has not
			// read the ServerHello, would frame it with the version of
			// its ClientHello's record, which the server refuses.
			c.in.pastHello = false
			c.mu.Lock()
			limit, kind := c.limits.ReceivePlain, c.agr.Kind
			c.mu.Unlock()
			if h.Len > limit {
				err := &recordlimit.RecordOverflowError{Type: h.Type, Len: h.Len, Limit: limit, Agreed: kind != recordlimit.KindNone}
				c.sendFatal(err)
				return c.fail(err)
			}
		}
	}
	if h.Type == recordlimit.TypeChangeCipherSpec && version == wire.VersionTLS12 && phase == negotiated {
		c.in.srvCCSSeen = true
	}
	c.recv.add(h.Len)
	c.in.left = wire.HeaderLen + h.Len
	return nil
}

// inspects reports whether a record of type typ must be read whole before
// the stack gets it: every record until the server's handshake flight has
// been followed to its end, and the plaintext records of TLS 1.2.
func (c *Conn) inspects(phase readPhase, version uint16, typ recordlimit.ContentType) bool {
	switch phase {
	case waitServerHello, waitEncryptedExt:
		return true
	}
	return version == wire.VersionTLS12 && !c.in.srvCCSSeen && (typ == recordlimit.TypeHandshake || typ == recordlimit.TypeAlert)
}

// inspect follows the server's handshake through rec, a whole record. An
// error is fatal: a record the guard cannot follow, a message out of place,
// an answer the RFCs forbid.
func (c *Conn) inspect(phase readPhase, version uint16, typ recordlimit.ContentType, rec []byte) error {
	body := rec[wire.HeaderLen:]
	switch phase {
	case waitServerHello:
		switch typ {
		case recordlimit.TypeHandshake:
			return c.in.follow.feed(body, c.msgStart, c.msgDone)
		case recordlimit.TypeAlert:
			c.noteAlert(body, true)
			return nil
		case recordlimit.TypeChangeCipherSpec:
			c.mu.Lock()
			hrr := c.hrr
			c.mu.Unlock()
			if hrr && c.in.follow.idle() {
				return nil // TLS 1.3 middlebox compatibility
			}
			return unexpected("change_cipher_spec before the ServerHello")
		}
		return unexpected("%v record before the ServerHello", typ)
	case waitEncryptedExt:
		switch typ {
		case recordlimit.TypeApplicationData:
			return c.inspectEncrypted(rec)
		case recordlimit.TypeChangeCipherSpec, recordlimit.TypeAlert:
			return nil // the stack judges them
		}
		// With the handshake keys in force every record but a
		// ChangeCipherSpec is deprotected, and one in the clear fails
		// (RFC 8446, Section 5.2): the stack's answer, bad_record_mac.
		return protocolErr(recordlimit.AlertBadRecordMAC, "%v record in the clear after the TLS 1.3 ServerHello", typ)
	}
	// TLS 1.2 before the server's ChangeCipherSpec.
	if typ == recordlimit.TypeAlert {
		c.noteAlert(body, true)
		return nil
	}
	return c.in.follow.feed(body, c.msgStart, c.msgDone)
}

// badFraming ends the connection on a record header that is not TLS,
// making sure the server receives the alert it maps to: the guard sends it
// itself while it can (in the clear before the ServerHello, under the client
// handshake keys during the server's TLS 1.3 flight); after that only the
// stack holds the keys, so the stack is handed, in place of the record, one
// that makes it send that alert. (In TLS 1.2 after the server's
// ChangeCipherSpec no such record exists: the stack fails to decrypt it and
// sends bad_record_mac.)
func (c *Conn) badFraming(err error) error {
	c.mu.Lock()
	phase, version := c.phase, c.agr.Version
	c.mu.Unlock()
	if phase != negotiated {
		c.sendFatal(err)
		return c.fail(err)
	}
	a, _ := recordlimit.AlertOf(err)
	sig := signalDecodeError[:]
	switch {
	case a != recordlimit.AlertUnexpectedMessage:
	case version == wire.VersionTLS12 && !c.in.srvCCSSeen:
		sig = signalUnexpected12[:]
	default:
		sig = signalUnexpected13[:]
	}
	seen := a
	if version == wire.VersionTLS12 && c.in.srvCCSSeen {
		seen = recordlimit.AlertBadRecordMAC
	}
	c.setErr(err)
	c.mu.Lock()
	if !c.alert.ok {
		c.alert = seenAlert{a: seen, ok: true}
	}
	c.mu.Unlock()
	c.in.signal, c.in.left = sig, len(sig)
	return nil
}

// The records the stack is handed so that it sends an alert itself: a
// ChangeCipherSpec after the TLS 1.3 handshake (or outside its place in TLS
// 1.2) is unexpected_message, one with a body other than 1 is decode_error,
// and application data before the server's TLS 1.2 ChangeCipherSpec is
// unexpected_message.
var (
	signalUnexpected13 = [...]byte{byte(recordlimit.TypeChangeCipherSpec), 3, 3, 0, 1, 1}
	signalDecodeError  = [...]byte{byte(recordlimit.TypeChangeCipherSpec), 3, 3, 0, 1, 2}
	signalUnexpected12 = [...]byte{byte(recordlimit.TypeApplicationData), 3, 3, 0, 0}
)

// cutShort handles a transport error met while filling the buffer. When the
// transport ended inside a record, the bytes of it already read are handed to
// the stack before the error, as the transport itself would have: a stack that
// holds part of a record reports the cut as io.ErrUnexpectedEOF, whereas one
// that holds nothing takes it for a close at a record boundary.
func (c *Conn) cutShort(err error) error {
	switch {
	case err == io.ErrUnexpectedEOF && c.in.rw > c.in.rr:
		c.in.cut, c.in.left = err, c.in.rw-c.in.rr
		return nil
	case err == io.EOF && c.in.rw == c.in.rr:
		c.releaseReadBuf()
	}
	return err
}

// overflow records err and rewrites the header in the buffer to carry an
// impossible length, so that the stack, reading it, sends record_overflow and
// fails. Only the header is handed over.
func (c *Conn) overflow(hdr []byte, err *recordlimit.RecordOverflowError) error {
	hdr[3], hdr[4] = 0xff, 0xff
	c.in.left = wire.HeaderLen
	c.setErr(err)
	c.mu.Lock()
	if !c.alert.ok {
		c.alert = seenAlert{a: recordlimit.AlertRecordOverflow, ok: true} // the stack sends it
	}
	c.mu.Unlock()
	// The secrets go once the stack has written its alert (Write), which
	// may need the client's handshake keys.
	// The stack must see the header to send its alert: Read returns the
	// error only on the call after.
	return nil
}

// inspectEncrypted decrypts a record of the server's TLS 1.3 handshake
// epoch, up to its Finished, and follows its messages.
func (c *Conn) inspectEncrypted(rec []byte) error {
	c.mu.Lock()
	suite, e, secret := c.agr.Suite, c.srvEpoch, c.serverHS
	c.mu.Unlock()
	if e == nil {
		if secret == nil {
			return missingSecret("the server's handshake flight")
		}
		var err error
		if e, err = NewEpoch(suite, secret); err != nil {
			return internalErr(err)
		}
		c.mu.Lock()
		c.srvEpoch = e
		c.mu.Unlock()
	}
	content, typ, err := e.Open(c.in.follow.scratch[:0], rec)
	if err != nil {
		return protocolErr(recordlimit.AlertBadRecordMAC, "a record of the server's handshake flight does not decrypt")
	}
	c.in.follow.scratch = content[:0]
	switch typ {
	case recordlimit.TypeHandshake:
		return c.in.follow.feed(content, c.msgStart, c.msgDone)
	case recordlimit.TypeAlert:
		if !c.in.follow.idle() {
			return unexpected("an alert inside a handshake message")
		}
		c.noteAlert(content, true)
		return nil
	}
	return unexpected("protected %v record in the server's handshake flight", typ)
}

// endServerEpoch stops reading the server's handshake epoch and forgets its
// keys: the answer, if any, is final.
func (c *Conn) endServerEpoch() {
	c.in.follow.reset()
	c.mu.Lock()
	clear(c.serverHS)
	c.serverHS, c.srvEpoch = nil, nil
	a := c.agr
	c.mu.Unlock()
	c.setAgreement(a, negotiated)
}

// checkCompressedCertificate bounds the uncompressed length of an RFC 8879
// CompressedCertificate message.
func checkCompressedCertificate(msg []byte) error {
	s := cryptobyte.String(msg)
	var alg uint16
	var n uint32
	if !s.ReadUint16(&alg) || !s.ReadUint24(&n) {
		return protocolErr(recordlimit.AlertBadCertificate, "malformed compressed certificate")
	}
	if n > wire.MaxCertificateSize {
		return protocolErr(recordlimit.AlertBadCertificate,
			"compressed certificate declares %d bytes uncompressed, above the %d-byte bound", n, wire.MaxCertificateSize)
	}
	return nil
}

func (c *Conn) setAgreement(a wire.Agreement, phase readPhase) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.agr, c.phase = a, phase
	if a.Version == 0 {
		return
	}
	c.limits = a.Limits(c.offer)
	if phase != negotiated {
		// TLS 1.3 before EncryptedExtensions: keep the protocol bounds, and
		// the ClientHello's own send limit, until the answer arrives.
		c.limits.Send = min(c.limits.Send, c.initialSend())
	}
}

func (c *Conn) initialSend() int {
	if c.offer.MaxFragmentLength.Valid() {
		return c.offer.MaxFragmentLength.Bytes()
	}
	return recordlimit.MaxPlaintext
}

// sendFatal sends the alert that err maps to, in whatever protection the
// client's side of the handshake is in, makes err the write half's sticky
// error (no record of the stack's goes after the alert) and forgets the
// secrets. It is the one place where the read half writes: called with
// c.in.mu held, it takes c.out.mu (the lock order in doc.go), and waits for
// a Write in progress to end, so that the alert never lands inside a batch.
// The stack's own alerts go through Write.
func (c *Conn) sendFatal(err error) {
	a, ok := recordlimit.AlertOf(err)
	if !ok {
		a = recordlimit.AlertInternalError
	}
	c.out.mu.Lock()
	defer c.out.mu.Unlock()
	defer c.wipe()
	if c.out.err != nil {
		return
	}
	c.mu.Lock()
	phase, suite, secret, e := c.phase, c.agr.Suite, c.clientHS, c.cliOut
	if !c.alert.ok {
		c.alert = seenAlert{a: a, ok: true}
	}
	c.mu.Unlock()

	var rec []byte
	if phase == waitEncryptedExt && !c.out.epochDone {
		// The client's records are protected from the ServerHello on: seal
		// the alert with the next sequence number of its handshake epoch.
		if e == nil && secret != nil {
			var err error
			if e, err = NewEpoch(suite, secret); err != nil {
				e = nil // a suite without keys here: the alert goes in the clear
			}
		}
		if e != nil {
			if !c.out.compatCCS {
				// The stack's ChangeCipherSpec, which comes before its first
				// protected record (RFC 8446, Appendix D.4), is still in
				// its buffer: a peer in compatibility mode wants it first.
				rec = append(rec, changeCipherSpecRecord[:]...)
			}
			rec = e.Seal(rec, recordlimit.TypeAlert, []byte{2, byte(a)})
		}
	}
	if rec == nil {
		rec = appendAlertRecord(nil, a)
	}
	c.Conn.Write(rec) // best effort: the connection is over either way
	c.sent.addRecords(rec)
	c.out.err = err
}
