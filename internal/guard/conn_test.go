package guard

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/tlsapp/tlsapp/recordlimit"
)

// TestReadGathersRecords checks that once the negotiation is over Read
// hands over, in one call, the records that are whole in the buffer, each
// checked: the stack gets every good record in order and the error for a
// bad one on the call after the records before it, whatever its read size.
func TestReadGathersRecords(t *testing.T) {
	hello := serverHelloRecord(recordlimit.Extension{Type: recordlimit.ExtMaxFragmentLength, Data: []byte{1}}) // MFL 512 echoed
	stream := append([]byte(nil), hello...)
	for i := range 3 {
		stream = append(stream, AppendRecords(nil, recordlimit.TypeHandshake, 0x0303, bytes.Repeat([]byte{byte(i)}, 300), 512)...)
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
	hello := serverHelloRecord(recordlimit.Extension{Type: recordlimit.ExtMaxFragmentLength, Data: []byte{1}})
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
	hello := serverHelloRecord(recordlimit.Extension{Type: recordlimit.ExtMaxFragmentLength, Data: []byte{1}})
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
	tls12 := serverHelloRecord(recordlimit.Extension{Type: recordlimit.ExtMaxFragmentLength, Data: []byte{1}})
	cert := []byte{11, 0, 0, 3, 1, 2, 3}
	skeDone := []byte{12, 0, 0, 4, 3, 0, 0x1d, 0, 14, 0, 0, 0}
	body := append(append(append([]byte(nil), tls12[recordlimit.HeaderLen:]...), cert...), skeDone...)
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

	sh13 := serverHelloRecord(recordlimit.Extension{Type: extSupportedVersions, Data: []byte{3, 4}}, recordlimit.Extension{Type: extKeyShare, Data: []byte{0, 0x1d, 0, 1, 9}})
	body = append(append([]byte(nil), sh13[recordlimit.HeaderLen:]...), 8, 0, 0, 2, 0, 0)
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
