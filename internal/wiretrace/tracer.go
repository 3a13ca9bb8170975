package wiretrace

import (
	"fmt"
	"net"
	"sync"
	"time"
)

// Limits on what a Tracer holds, per direction.
const (
	// maxRecordBody is the longest record body TLS allows (2^14 + 2048);
	// a longer one is named and skipped, not held.
	maxRecordBody = 16384 + 2048
	// maxMessage is the longest handshake message decoded; a longer one
	// is named with its length.
	maxMessage = 64 << 10
	// maxPending is how many bytes of protected records are held while
	// the keys to read them are awaited.
	maxPending = 64 << 10
)

// Direction is the way bytes cross the transport.
type Direction uint8

// The directions of a client connection.
const (
	Sent     Direction = iota // client to server
	Received                  // server to client
)

// Tracer decodes the two byte streams of one TLS client connection into
// Events. It holds at most one record and one handshake message per
// direction (both bounded), and the protected records that wait for their
// keys (bounded by maxPending). It is safe for concurrent use: a reader
// and a writer may feed it at once.
type Tracer struct {
	mu    sync.Mutex
	start time.Time
	clock func() time.Time
	emit  func(Event)
	keys  *Keys

	dirs                       [2]dirState
	version, suite             uint16 // from the ServerHello
	clientRandom, serverRandom []byte
	random                     [32]byte // clientRandom, the Keys index
	registered                 bool
	secrets                    map[string][]byte
	closed                     bool
}

// dirState is one direction's decoding state.
type dirState struct {
	name string

	// record framing
	hdr     [5]byte
	nh      int
	body    []byte
	need    int
	skip    int // bytes still to skip of a record too long to hold
	skipLen int
	skipAt  time.Duration
	lost    bool // the stream is not TLS: nothing more is decoded

	// protection
	ccs      bool // TLS 1.2: ChangeCipherSpec crossed
	finished bool // this direction's Finished crossed: application epoch
	hs, app  *opener
	seq      uint64 // records of the current key epoch so far
	blind    bool   // the keys are missing or wrong: nothing more is decrypted

	asm assembler

	pending      []pendingRecord
	pendingBytes int
}

type pendingRecord struct {
	at  time.Duration
	rec []byte // header and body
}

// assembler gathers one handshake message across records.
type assembler struct {
	hdr  [4]byte
	nh   int
	body []byte // the body so far, when it is at most maxMessage
	blen int
	got  int
}

// NewTracer returns a Tracer for one connection that starts now and calls
// emit with each Event, in order per direction. keys, when not nil,
// supplies the secrets that decrypt protected records; emit is called with
// the Tracer's lock held and must not call it.
func NewTracer(keys *Keys, emit func(Event)) *Tracer {
	return newTracer(keys, emit, time.Now)
}

func newTracer(keys *Keys, emit func(Event), clock func() time.Time) *Tracer {
	t := &Tracer{start: clock(), clock: clock, emit: emit, keys: keys, secrets: map[string][]byte{}}
	t.dirs[Sent].name, t.dirs[Received].name = "sent", "received"
	return t
}

func (t *Tracer) since() time.Duration { return t.clock().Sub(t.start) }

func (t *Tracer) send(e Event) {
	e.MS = float64(e.At.Microseconds()) / 1000
	t.emit(e)
}

// Connected reports the transport's addresses, or the dial's failure.
func (t *Tracer) Connected(local, remote net.Addr, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := Event{Kind: KindConnect, At: t.since()}
	if local != nil {
		e.Local = local.String()
	}
	if remote != nil {
		e.Remote = remote.String()
	}
	if err != nil {
		e.Err = err.Error()
	}
	t.send(e)
}

// Feed decodes b, the next bytes that crossed in direction dir.
func (t *Tracer) Feed(dir Direction, b []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || dir > Received {
		return
	}
	at := t.since()
	d := &t.dirs[dir]
	for len(b) > 0 && !d.lost {
		if d.skip > 0 {
			n := min(d.skip, len(b))
			d.skip -= n
			b = b[n:]
			if d.skip == 0 {
				t.send(Event{Kind: KindRecord, At: at, Record: &Record{Dir: d.name, Epoch: t.epochGuess(d, d.hdr[0]),
					Type: contentTypeName(d.hdr[0]), Len: d.skipLen},
					Note: fmt.Sprintf("longer than TLS allows (%d B): not decoded", maxRecordBody)})
			}
			continue
		}
		if d.nh < len(d.hdr) {
			n := copy(d.hdr[d.nh:], b)
			d.nh += n
			b = b[n:]
			if d.nh < len(d.hdr) {
				return
			}
			typ, n16 := d.hdr[0], int(d.hdr[3])<<8|int(d.hdr[4])
			if typ < typeChangeCipherSpec || typ > typeApplicationData || d.hdr[1] != 3 {
				d.lost = true
				t.send(Event{Kind: KindRecord, At: at, Record: &Record{Dir: d.name, Type: contentTypeName(typ)},
					Note: fmt.Sprintf("not a TLS record header (% x %q): nothing more is decoded in this direction", d.hdr[:], printable(d.hdr[:]))})
				return
			}
			if n16 > maxRecordBody {
				d.nh, d.skip, d.skipLen, d.skipAt = 0, n16, n16, at
				continue
			}
			d.need, d.body = n16, d.body[:0]
		}
		n := min(d.need-len(d.body), len(b))
		d.body = append(d.body, b[:n]...)
		b = b[n:]
		if len(d.body) == d.need {
			d.nh = 0
			t.record(d, at, d.hdr[:], d.body)
		}
	}
}

// record handles one whole record, or queues it while its keys are awaited.
func (t *Tracer) record(d *dirState, at time.Duration, hdr, body []byte) {
	if len(d.pending) > 0 || t.mustWait(d, hdr[0]) {
		if d.pendingBytes+len(hdr)+len(body) <= maxPending {
			rec := append(append(make([]byte, 0, len(hdr)+len(body)), hdr...), body...)
			d.pending = append(d.pending, pendingRecord{at, rec})
			d.pendingBytes += len(rec)
			return
		}
		t.flush(d, "the keys were not logged in time")
	}
	t.process(d, at, hdr, body, "")
}

// mustWait reports whether a record of type typ is protected, its keys are
// not known yet and may still come (for a suite this package decrypts).
func (t *Tracer) mustWait(d *dirState, typ uint8) bool {
	if t.keys == nil || d.blind || t.closed {
		return false
	}
	switch {
	case t.version == 0x0304 && typ == typeApplicationData:
		if _, _, ok := suite13(t.suite); !ok {
			return false
		}
		if d.finished {
			return d.app == nil
		}
		return d.hs == nil
	case t.version == 0x0303 && d.ccs && (typ == typeHandshake || typ == typeAlert):
		if _, _, _, _, ok := suite12(t.suite); !ok {
			return false
		}
		return d.app == nil
	}
	return false
}

// noKeys says why a protected record is not decrypted.
func (t *Tracer) noKeys() string {
	_, _, ok13 := suite13(t.suite)
	_, _, _, _, ok12 := suite12(t.suite)
	if t.version == 0x0304 && !ok13 || t.version == 0x0303 && !ok12 {
		return "the trace does not decrypt " + suiteName(t.suite)
	}
	return "no keys"
}

// flush processes the queued records of d without decrypting them, saying
// why, and stops decryption in d.
func (t *Tracer) flush(d *dirState, why string) {
	d.blind = true
	for _, p := range d.pending {
		t.process(d, p.at, p.rec[:5], p.rec[5:], why)
	}
	d.pending, d.pendingBytes = nil, 0
}

// drain processes the queued records of d whose keys have come.
func (t *Tracer) drain(d *dirState) {
	for len(d.pending) > 0 && !t.mustWait(d, d.pending[0].rec[0]) {
		p := d.pending[0]
		d.pending = d.pending[1:]
		d.pendingBytes -= len(p.rec)
		t.process(d, p.at, p.rec[:5], p.rec[5:], "")
	}
	if len(d.pending) == 0 {
		d.pending = nil
	}
}

// epochGuess names the epoch of a record that is not decoded.
func (t *Tracer) epochGuess(d *dirState, typ uint8) string {
	switch {
	case t.version == 0x0304 && typ == typeApplicationData:
		if d.finished {
			return "application"
		}
		return "protected"
	case t.version == 0x0303 && d.ccs:
		if d.finished {
			return "application"
		}
		return "handshake"
	}
	return "plaintext"
}

// process decodes one record and emits it. why, when not empty, is why
// the record is not decrypted.
func (t *Tracer) process(d *dirState, at time.Duration, hdr, body []byte, why string) {
	typ := hdr[0]
	r := &Record{Dir: d.name, Type: contentTypeName(typ), Len: len(body)}
	e := Event{Kind: KindRecord, At: at, Record: r}
	switch {
	case typ == typeChangeCipherSpec:
		r.Epoch = "plaintext"
		switch t.version {
		case 0x0303:
			d.ccs, d.seq = true, 0
		case 0:
			e.Note = "ChangeCipherSpec before the ServerHello"
		}
	case t.version == 0x0304 && typ == typeApplicationData:
		t.protected13(d, hdr, body, why, &e)
	case t.version == 0x0303 && d.ccs:
		t.protected12(d, hdr, body, why, &e)
	default:
		r.Epoch = "plaintext"
		t.content(d, typ, body, &e)
	}
	t.send(e)
}

// content decodes the plaintext content of a record of type typ.
func (t *Tracer) content(d *dirState, typ uint8, b []byte, e *Event) {
	r := e.Record
	switch typ {
	case typeHandshake:
		r.Messages = t.messages(d, b)
	case typeAlert:
		if a, ok := decodeAlert(b); ok {
			r.Alert = a
		} else {
			e.Note = fmt.Sprintf("an alert of %d B, not 2", len(b))
		}
	case typeApplicationData:
		r.Data = len(b)
		if r.Epoch == "plaintext" {
			e.Note = "application data before any keys"
		}
	case typeChangeCipherSpec:
		e.Note = "ChangeCipherSpec inside a protected record"
	default:
		e.Note = "unknown inner content type"
	}
}

func (t *Tracer) protected13(d *dirState, hdr, body []byte, why string, e *Event) {
	r := e.Record
	o, epoch := d.hs, "handshake"
	if d.finished {
		o, epoch = d.app, "application"
	}
	seq := d.seq
	d.seq++
	if o == nil || d.blind || why != "" {
		r.Epoch = t.epochGuess(d, hdr[0])
		e.Note = "not decrypted: " + orDefault(why, t.noKeys())
		return
	}
	r.Epoch = epoch
	content, inner, ok := o.open(seq, hdr, body)
	if !ok {
		d.blind = true
		e.Note = "does not decrypt with the logged keys: nothing more is decrypted in this direction"
		return
	}
	r.Inner, r.Plaintext = contentTypeName(inner), len(content)
	t.content(d, inner, content, e)
	for _, m := range r.Messages {
		if m.Part != "" && m.Part != "last" {
			continue
		}
		switch m.Code {
		case msgFinished:
			if !d.finished {
				d.finished, d.seq, d.asm = true, 0, assembler{}
			}
		case msgKeyUpdate:
			if d.finished && d.app != nil {
				if d.app = d.app.next(); d.app == nil {
					d.blind = true
				}
				d.seq = 0
			}
		}
	}
}

func (t *Tracer) protected12(d *dirState, hdr, body []byte, why string, e *Event) {
	r := e.Record
	typ := hdr[0]
	r.Epoch = t.epochGuess(d, typ)
	seq := d.seq
	d.seq++
	if typ == typeApplicationData {
		// Its content is the application's: only its size is told.
		if ov := overhead12(t.suite); ov > 0 && len(body) >= ov {
			r.Data = len(body) - ov
		}
		return
	}
	if d.app == nil || d.blind || why != "" {
		e.Note = "not decrypted: " + orDefault(why, t.noKeys())
		if typ == typeHandshake && !d.finished {
			e.Note += " (the first protected handshake record is the Finished)"
			d.finished = true
		}
		return
	}
	plain, _, ok := d.app.open(seq, hdr, body)
	if !ok {
		d.blind = true
		e.Note = "does not decrypt with the logged keys: nothing more is decrypted in this direction"
		return
	}
	r.Plaintext = len(plain)
	t.content(d, typ, plain, e)
	for _, m := range r.Messages {
		if m.Code == msgFinished && (m.Part == "" || m.Part == "last") {
			d.finished = true
		}
	}
}

// overhead12 is what a TLS 1.2 AEAD suite adds to each record.
func overhead12(suite uint16) int {
	_, _, _, chacha, ok := suite12(suite)
	switch {
	case !ok:
		return 0
	case chacha:
		return 16
	}
	return 8 + 16
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// messages follows the handshake messages in p, the handshake content of
// one record, and returns the ones, or the parts of them, it carries.
func (t *Tracer) messages(d *dirState, p []byte) []Message {
	var out []Message
	a := &d.asm
	for len(p) > 0 {
		before := a.nh + a.got
		if a.nh < len(a.hdr) {
			n := copy(a.hdr[a.nh:], p)
			a.nh += n
			p = p[n:]
			if a.nh < len(a.hdr) {
				out = append(out, Message{Code: a.hdr[0], Name: messageName(a.hdr[0]), Len: -1,
					Part: partName(before == 0, false), Offset: before, Here: a.nh - before})
				break
			}
			a.blen = int(a.hdr[1])<<16 | int(a.hdr[2])<<8 | int(a.hdr[3])
			a.got, a.body = 0, a.body[:0]
		}
		n := min(a.blen-a.got, len(p))
		if a.blen <= maxMessage {
			a.body = append(a.body, p[:n]...)
		}
		a.got += n
		p = p[n:]
		done := a.got == a.blen
		m := Message{Code: a.hdr[0], Name: messageName(a.hdr[0]), Len: a.blen}
		if before != 0 || !done {
			m.Part = partName(before == 0, done)
			m.Offset, m.Here = before, a.nh+a.got-before
		}
		if done {
			if a.blen <= maxMessage {
				h := decodeMessage(&m, a.body, msgContext{sent: d.name == "sent", version: t.version})
				t.learn(d, h, m.Code)
			} else {
				m.Note = fmt.Sprintf("not decoded: longer than %d B", maxMessage)
			}
			body := a.body
			*a = assembler{body: body[:0]}
		}
		out = append(out, m)
	}
	return out
}

func partName(first, last bool) string {
	switch {
	case first:
		return "first"
	case last:
		return "last"
	}
	return "middle"
}

// learn takes what a hello says about the connection.
func (t *Tracer) learn(d *dirState, h hello, code uint8) {
	switch {
	case code == msgClientHello && d.name == "sent" && len(h.random) == 32:
		t.clientRandom = h.random
		if t.keys != nil && !t.registered {
			t.registered = true
			copy(t.random[:], h.random)
			for l, s := range t.keys.watch(t.random, t) {
				t.secrets[l] = s
			}
		}
	case code == msgServerHello && d.name == "received" && !h.retry && t.version == 0:
		t.serverRandom, t.suite = h.random, h.suite
		t.version = h.version
		if t.version != 0x0303 && t.version != 0x0304 {
			t.version = 0xffff // neither: nothing is decrypted
		}
		t.derive()
	}
}

// secret takes a secret the stack logged for this connection.
func (t *Tracer) secret(label string, s []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	t.secrets[label] = s
	t.derive()
	t.drain(&t.dirs[Sent])
	t.drain(&t.dirs[Received])
}

// derive makes the openers the secrets and the hellos allow, once each.
func (t *Tracer) derive() {
	sent, recv := &t.dirs[Sent], &t.dirs[Received]
	switch t.version {
	case 0x0304:
		for _, k := range []struct {
			o     **opener
			label string
		}{
			{&sent.hs, labelClientHandshake}, {&recv.hs, labelServerHandshake},
			{&sent.app, labelClientTraffic}, {&recv.app, labelServerTraffic},
		} {
			if s, ok := t.secrets[k.label]; ok && *k.o == nil {
				*k.o = newOpener13(t.suite, s)
			}
		}
	case 0x0303:
		if m, ok := t.secrets[labelMaster]; ok && sent.app == nil && t.serverRandom != nil && t.clientRandom != nil {
			sent.app, recv.app = newOpeners12(t.suite, m, t.clientRandom, t.serverRandom)
		}
	}
}

// Close ends the trace: queued records are reported undecrypted, a record
// or message cut short is said in the close Event, and the connection's
// secrets are dropped. It is safe to call more than once.
func (t *Tracer) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	at := t.since()
	var notes []string
	for i := range t.dirs {
		d := &t.dirs[i]
		t.flush(d, "the keys were never logged")
		switch {
		case d.lost:
		case d.skip > 0:
			notes = append(notes, fmt.Sprintf("a %s %s record of %d B was cut short after %d B", d.name, contentTypeName(d.hdr[0]), d.skipLen, d.skipLen-d.skip))
		case d.nh == len(d.hdr):
			notes = append(notes, fmt.Sprintf("a %s %s record of %d B was cut short after %d B", d.name, contentTypeName(d.hdr[0]), d.need, len(d.body)))
		case d.nh > 0:
			notes = append(notes, fmt.Sprintf("a %s record header was cut short after %d B", d.name, d.nh))
		}
		if d.asm.nh > 0 {
			notes = append(notes, fmt.Sprintf("a %s %s message was cut short", d.name, messageName(d.asm.hdr[0])))
		}
		*d = dirState{name: d.name, lost: true}
	}
	t.closed = true
	if t.registered {
		t.keys.forget(t.random)
	}
	t.secrets = nil
	e := Event{Kind: KindClose, At: at}
	for i, n := range notes {
		if i > 0 {
			e.Note += "; "
		}
		e.Note += n
	}
	t.send(e)
}
