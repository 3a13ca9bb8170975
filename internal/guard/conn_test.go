package guard

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/tlsapp/tlsapp/internal/wire"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// TestReadGathersRecords checks that once the negotiation is over Read
// hands over, in one call, the records that are whole in the buffer, each
// checked: the stack gets every good record in order and the error for a
// bad one on the call after the records before it, whatever its read size.
func TestReadGathersRecords(t *testing.T) {
	hello := serverHelloRecord(wire.Extension{Type: recordlimit.ExtMaxFragmentLength, Data: []byte{1}}) // MFL 512 echoed
	stream := append([]byte(nil), hello...)
	// Empty handshake messages: the guard bounds TLS 1.2 messages too.
	for i := range 3 {
		stream = append(stream, AppendRecords(nil, recordlimit.TypeHandshake, 0x0303, bytes.Repeat([]byte{byte(i), 0, 0, 0}, 75), 512)...)
	}
	good := len(stream)
	for _, tc := range []struct {
		name  string
		tail  []byte
		want  error
		calls int // Reads to the error with a 64 KiB buffer
	}{
		{"unknown type", []byte{99, 3, 3, 0, 1, 0}, recordlimit.ErrBadRecord, 2},
		{"above the limit", AppendRecords(nil, recordlimit.TypeHandshake, 0x0303, make([]byte, 513), 513), recordlimit.ErrRecordOverflow, 2},
	} {
		for _, size := range []int{64 << 10, 700, 1} {
			c := NewConn(&memConn{r: bytes.NewReader(append(append([]byte(nil), stream...), tc.tail...))}, recordlimit.Offer{MaxFragmentLength: recordlimit.MFL512})
			c.EndHandshake() // as soon as the ServerHello is read: the stack's part is not scripted here
			p := make([]byte, size)
			var got []byte
			var err error
			calls := 0
			for err == nil && calls < 10000 {
				var n int
				n, err = c.Read(p)
				got = append(got, p[:n]...)
				calls++
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("%s, reads of %d: error %v, want %v", tc.name, size, err, tc.want)
			}
			var wantGot []byte
			if tc.want == recordlimit.ErrRecordOverflow {
				// The overflow signal: the header with an impossible length.
				wantGot = append(append([]byte(nil), stream[:good]...), tc.tail[:3]...)
				wantGot = append(wantGot, 0xff, 0xff)
			} else {
				// In place of the unknown record, the one that makes a
				// TLS 1.2 stack send unexpected_message itself.
				wantGot = append(append([]byte(nil), stream[:good]...), signalUnexpected12[:]...)
			}
			if !bytes.Equal(got, wantGot) {
				t.Errorf("%s, reads of %d: the stack got %d bytes, want %d", tc.name, size, len(got), len(wantGot))
			}
			if size == 64<<10 && calls != tc.calls {
				t.Errorf("%s: %d Reads with a 64 KiB buffer, want %d (all good records in one)", tc.name, calls, tc.calls)
			}
		}
	}
}

// TestReadLeavesRoom checks that records added after the current one leave
// gatherRoom bytes of the caller's buffer free, so that a stack reading
// into a bytes.Buffer does not grow it.
func TestReadLeavesRoom(t *testing.T) {
	hello := serverHelloRecord(wire.Extension{Type: recordlimit.ExtMaxFragmentLength, Data: []byte{1}})
	rec := AppendRecords(nil, recordlimit.TypeHandshake, 0x0303, make([]byte, 300), 512)
	stream := append(append(append([]byte(nil), hello...), rec...), rec...)
	for _, tc := range []struct {
		size, want int
	}{
		{len(hello) + len(rec), len(hello)},                         // room for a record, not for the spare
		{len(hello) + len(rec) + gatherRoom - 1, len(hello)},        // one byte short
		{len(hello) + len(rec) + gatherRoom, len(hello) + len(rec)}, // exactly enough
		{len(stream) + gatherRoom, len(stream)},
	} {
		c := NewConn(&memConn{r: bytes.NewReader(stream)}, recordlimit.Offer{MaxFragmentLength: recordlimit.MFL512})
		c.EndHandshake()
		p := make([]byte, tc.size)
		n, err := c.Read(p)
		if err != nil || n != tc.want || !bytes.Equal(p[:n], stream[:n]) {
			t.Errorf("Read into %d bytes: %d, %v; want %d", tc.size, n, err, tc.want)
		}
	}
}

// TestReadOneRecordDuringHandshake checks that until EndHandshake Read
// hands over one record per call, so that the records counted when the
// handshake ends are the handshake's own.
func TestReadOneRecordDuringHandshake(t *testing.T) {
	hello := serverHelloRecord(wire.Extension{Type: recordlimit.ExtMaxFragmentLength, Data: []byte{1}})
	rec := AppendRecords(nil, recordlimit.TypeHandshake, 0x0303, make([]byte, 300), 512)
	stream := append(append(append([]byte(nil), hello...), rec...), rec...)
	c := NewConn(&memConn{r: bytes.NewReader(stream)}, recordlimit.Offer{MaxFragmentLength: recordlimit.MFL512})
	p := make([]byte, 64<<10)
	for i, want := range []int{len(hello), len(rec)} {
		if n, err := c.Read(p); n != want || err != nil {
			t.Fatalf("Read %d: %d, %v; want %d", i, n, err, want)
		}
	}
	if st := c.Stats(); st.ReceivedBytes != int64(len(hello)+len(rec)) {
		t.Errorf("%d bytes counted after two records of %d", st.ReceivedBytes, len(hello)+len(rec))
	}
	c.EndHandshake()
	if n, err := c.Read(p); n != len(rec) || err != nil {
		t.Fatalf("last Read: %d, %v", n, err)
	}
}

// TestHelloAndFlightInOneRecord checks that a TLS 1.2 ServerHello sharing
// its record with the rest of the server's flight, as OpenSSL sends it, is
// followed past the hello: the stack gets every byte and the answer is
// read; the same in TLS 1.3, where the keys change after the ServerHello,
// is refused with unexpected_message, sent in the clear.
func TestHelloAndFlightInOneRecord(t *testing.T) {
	tls12 := serverHelloRecord(wire.Extension{Type: recordlimit.ExtMaxFragmentLength, Data: []byte{1}})
	cert := []byte{11, 0, 0, 3, 1, 2, 3}
	skeDone := []byte{12, 0, 0, 4, 3, 0, 0x1d, 0, 14, 0, 0, 0}
	body := append(append(append([]byte(nil), tls12[wire.HeaderLen:]...), cert...), skeDone...)
	stream := AppendRecords(nil, recordlimit.TypeHandshake, 0x0303, body, 0)
	mc := &memConn{r: bytes.NewReader(stream)}
	c := NewConn(mc, recordlimit.Offer{MaxFragmentLength: recordlimit.MFL512})
	got, err := io.ReadAll(c)
	if !errors.Is(err, io.ErrUnexpectedEOF) && err != nil || c.Err() != nil || !bytes.Equal(got, stream) {
		t.Fatalf("TLS 1.2: handed over %d of %d bytes, error %v, guard %v", len(got), len(stream), err, c.Err())
	}
	if a, ok := c.Agreement(); !ok || a.Kind != recordlimit.KindMFL || c.KeyExchangeGroup() != 0x1d {
		t.Fatalf("TLS 1.2: agreement %+v (%v), group %#x", a, ok, c.KeyExchangeGroup())
	}

	sh13 := serverHelloRecord(wire.Extension{Type: extSupportedVersions, Data: []byte{3, 4}}, wire.Extension{Type: extKeyShare, Data: []byte{0, 0x1d, 0, 1, 9}})
	body = append(append([]byte(nil), sh13[wire.HeaderLen:]...), 8, 0, 0, 2, 0, 0)
	tc := &tapConn{memConn: &memConn{r: bytes.NewReader(AppendRecords(nil, recordlimit.TypeHandshake, 0x0303, body, 0))}}
	c = NewConn(tc, recordlimit.Offer{MaxFragmentLength: recordlimit.MFL512})
	if _, err := io.ReadAll(c); !errors.Is(err, recordlimit.ErrProtocol) {
		t.Fatalf("TLS 1.3: error %v, want ErrProtocol", err)
	}
	if want := appendAlertRecord(nil, recordlimit.AlertUnexpectedMessage); !bytes.Equal(tc.out, want) {
		t.Fatalf("TLS 1.3: the server got % x, want % x", tc.out, want)
	}
}

// tapConn is a memConn that keeps what is written to it.
type tapConn struct {
	*memConn
	out []byte
}

func (c *tapConn) Write(p []byte) (int, error) { c.out = append(c.out, p...); return len(p), nil }

// TestHelloRecordBoundByAgreement: RFC 6066 §4 binds every record after the
// ServerHello message, so a TLS 1.2 record that carries the ServerHello and
// continues past it is checked against the max_fragment_length the hello
// agreed, with its bytes after the hello counted (issue 17, item 7: a 3053-
// and a 571-byte record were handed over with 512 agreed); the guard sends
// record_overflow itself, in a TLS 1.2 record. A record that
// ends with the hello precedes the agreement, and an answer that agrees to
// nothing, or to record_size_limit (which does not bind records in the
// clear), leaves the protocol maximum.
func TestHelloRecordBoundByAgreement(t *testing.T) {
	mfl512 := wire.Extension{Type: recordlimit.ExtMaxFragmentLength, Data: []byte{1}}
	rsl := wire.Extension{Type: recordlimit.ExtRecordSizeLimit, Data: []byte{2, 0}}
	helloMsg := func(exts ...wire.Extension) []byte {
		return serverHelloRecord(exts...)[wire.HeaderLen:]
	}
	// certificate returns a Certificate message that makes a record of
	// total bytes after the first n.
	certificate := func(n, total int) []byte {
		body := total - n - 4
		return append([]byte{typeCertificate, 0, byte(body >> 8), byte(body)}, make([]byte, body)...)
	}
	type stream struct {
		b       []byte
		overLen int // the length of the record refused; 0: none
		limit   int
		agreed  bool
	}
	oneRecord := func(total int, exts ...wire.Extension) []byte {
		h := helloMsg(exts...)
		body := append(append([]byte(nil), h...), certificate(len(h), total)...)
		return AppendRecords(nil, recordlimit.TypeHandshake, 0x0303, body, 0)
	}
	// The hello split across two records, the second carrying its last 10
	// bytes and a Certificate: the second record is past the hello.
	split := func(total int) []byte {
		h := helloMsg(mfl512)
		first := AppendRecords(nil, recordlimit.TypeHandshake, 0x0303, h[:len(h)-10], 0)
		second := append(append([]byte(nil), h[len(h)-10:]...), certificate(10, total)...)
		return AppendRecords(first, recordlimit.TypeHandshake, 0x0303, second, 0)
	}
	alone := func(extra int, exts ...wire.Extension) []byte {
		// The hello alone in its record, padded with an extension that
		// the hello's parser skips, then a record of 512.
		h := helloMsg(append(exts, wire.Extension{Type: 0xfe00, Data: make([]byte, extra)})...)
		b := AppendRecords(nil, recordlimit.TypeHandshake, 0x0303, h, 0)
		return AppendRecords(b, recordlimit.TypeHandshake, 0x0303, certificate(0, 512), 0)
	}
	for _, tc := range []struct {
		name string
		s    stream
	}{
		{"MFL 512, one record of 512", stream{b: oneRecord(512, mfl512)}},
		{"MFL 512, one record of 513", stream{b: oneRecord(513, mfl512), overLen: 513, limit: 512, agreed: true}},
		{"MFL 512, one record of 3053", stream{b: oneRecord(3053, mfl512), overLen: 3053, limit: 512, agreed: true}},
		{"MFL 512, hello split, second record of 512", stream{b: split(512)}},
		{"MFL 512, hello split, second record of 513", stream{b: split(513), overLen: 513, limit: 512, agreed: true}},
		{"MFL 512, hello alone in a record of 600", stream{b: alone(600-len(helloMsg(mfl512))-4, mfl512)}},
		{"MFL not answered, one record of 3053", stream{b: oneRecord(3053)}},
		{"record_size_limit, one record of 3053", stream{b: oneRecord(3053, rsl)}},
	} {
		for _, size := range []int{1, 5, 64 << 10} {
			offer := recordlimit.Offer{MaxFragmentLength: recordlimit.MFL512, RecordSizeLimit: 512}
			tap := &tapConn{memConn: &memConn{r: bytes.NewReader(tc.s.b)}}
			c := NewConn(tap, offer)
			p := make([]byte, size)
			var got []byte
			var err error
			for calls := 0; err == nil && calls < 100000; calls++ {
				var n int
				n, err = c.Read(p)
				got = append(got, p[:n]...)
			}
			if tc.s.overLen == 0 {
				if err != io.EOF || c.Err() != nil || !bytes.Equal(got, tc.s.b) || len(tap.out) != 0 {
					t.Errorf("%s, reads of %d: %d of %d bytes handed over, %v (guard %v), % x sent", tc.name, size, len(got), len(tc.s.b), err, c.Err(), tap.out)
				}
				continue
			}
			var ov *recordlimit.RecordOverflowError
			if !errors.As(err, &ov) || ov.Len != tc.s.overLen || ov.Limit != tc.s.limit || ov.Agreed != tc.s.agreed {
				t.Errorf("%s, reads of %d: error %v, want a RecordOverflowError for %d bytes above %d", tc.name, size, err, tc.s.overLen, tc.s.limit)
				continue
			}
			// The stack gets the records before the refused one and then
			// the error; the guard sends the server record_overflow itself,
			// in a TLS 1.2 record (the stack, which has not read the
			// ServerHello, would have framed it as TLS 1.0).
			at := len(tc.s.b) - wire.HeaderLen - tc.s.overLen
			if !bytes.Equal(got, tc.s.b[:at]) {
				t.Errorf("%s, reads of %d: the stack got %d bytes, want the %d before the refused record", tc.name, size, len(got), at)
			}
			if want := appendAlertRecord(nil, recordlimit.AlertRecordOverflow); !bytes.Equal(tap.out, want) {
				t.Errorf("%s, reads of %d: the server got % x, want % x", tc.name, size, tap.out, want)
			}
			if a, remote, ok := c.FatalAlert(); !ok || remote || a != recordlimit.AlertRecordOverflow {
				t.Errorf("%s: FatalAlert %v %v %v, want record_overflow sent", tc.name, a, remote, ok)
			}
		}
	}
}
