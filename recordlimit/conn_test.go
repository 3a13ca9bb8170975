package recordlimit

import (
	"bytes"
	"errors"
	"testing"
)

// TestReadGathersRecords checks that once the negotiation is over Read
// hands over, in one call, the records that are whole in the buffer, each
// checked: the stack gets every good record in order and the error for a
// bad one on the call after the records before it, whatever its read size.
func TestReadGathersRecords(t *testing.T) {
	hello := serverHelloRecord(Extension{ExtMaxFragmentLength, []byte{1}}) // MFL 512 echoed
	stream := append([]byte(nil), hello...)
	for i := range 3 {
		stream = append(stream, AppendRecords(nil, TypeHandshake, 0x0303, bytes.Repeat([]byte{byte(i)}, 300), 512)...)
	}
	good := len(stream)
	for _, tc := range []struct {
		name  string
		tail  []byte
		want  error
		calls int // Reads to the error with a 64 KiB buffer
	}{
		{"unknown type", []byte{99, 3, 3, 0, 1, 0}, ErrBadRecord, 2},
		{"above the limit", AppendRecords(nil, TypeHandshake, 0x0303, make([]byte, 513), 513), ErrRecordOverflow, 2},
	} {
		for _, size := range []int{64 << 10, 700, 1} {
			c := NewConn(&memConn{r: bytes.NewReader(append(append([]byte(nil), stream...), tc.tail...))}, Offer{MaxFragmentLength: MFL512})
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
			if tc.want == ErrRecordOverflow {
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
	hello := serverHelloRecord(Extension{ExtMaxFragmentLength, []byte{1}})
	rec := AppendRecords(nil, TypeHandshake, 0x0303, make([]byte, 300), 512)
	stream := append(append(append([]byte(nil), hello...), rec...), rec...)
	for _, tc := range []struct {
		size, want int
	}{
		{len(hello) + len(rec), len(hello)},                         // room for a record, not for the spare
		{len(hello) + len(rec) + gatherRoom - 1, len(hello)},        // one byte short
		{len(hello) + len(rec) + gatherRoom, len(hello) + len(rec)}, // exactly enough
		{len(stream) + gatherRoom, len(stream)},
	} {
		c := NewConn(&memConn{r: bytes.NewReader(stream)}, Offer{MaxFragmentLength: MFL512})
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
	hello := serverHelloRecord(Extension{ExtMaxFragmentLength, []byte{1}})
	rec := AppendRecords(nil, TypeHandshake, 0x0303, make([]byte, 300), 512)
	stream := append(append(append([]byte(nil), hello...), rec...), rec...)
	c := NewConn(&memConn{r: bytes.NewReader(stream)}, Offer{MaxFragmentLength: MFL512})
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
