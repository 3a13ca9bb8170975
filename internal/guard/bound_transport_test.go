package guard_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"testing"

	"github.com/tlsapp/tlsapp/internal/guard"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// stream12 is a TLS 1.2 server's stream: a ServerHello answering MFL 4096
// (when mfl), a Certificate of certLen bytes in records of 1000 bytes, the
// ChangeCipherSpec and n application records of 1000 bytes, each filled
// with its own byte so that a misplaced one shows.
func stream12(mfl bool, certLen, n int) []byte {
	var exts []ext
	if mfl {
		exts = []ext{mflExt(4)}
	}
	cert := sized(hsCertificate, certLen-4)
	for i := range cert[4:] {
		cert[4+i] = byte(i / 7)
	}
	b := rec(ctHandshake, serverHello(gcm12, exts))
	b = append(b, recs(ctHandshake, cert, 1000)...)
	b = append(b, rec(ctCCS, []byte{1})...)
	for i := range n {
		b = append(b, rec(ctAppData, bytes.Repeat([]byte{byte(i)}, 1000))...)
	}
	return b
}

// TestClientReadCuts: a stream that ends at a record boundary ends in
// io.EOF; one cut inside a record, header or body, ends in
// io.ErrUnexpectedEOF after every byte that came, so that the stack cannot
// take a truncation for a close; however the transport hands the bytes over.
func TestClientReadCuts(t *testing.T) {
	full := stream12(true, 3000, 3)
	sh := len(rec(ctHandshake, serverHello(gcm12, []ext{mflExt(4)})))
	for _, cut := range []int{len(full), len(full) - 1, len(full) - 1000, len(full) - 1003, len(full) - 1005, sh, sh + 3, sh + 5, 3} {
		for _, chunk := range []int{0, 1, 5, 1000} {
			t.Run(fmt.Sprintf("%d of %d, reads of %d", cut, len(full), chunk), func(t *testing.T) {
				stream := full[:cut]
				p := &pipe{in: stream, chunk: chunk, eofWithData: chunk == 0}
				g := guard.NewConn(p, recordlimit.Offer{MaxFragmentLength: recordlimit.MFL4096})
				got, err := drain(t, g, 64<<10)
				if !bytes.Equal(got, stream) {
					t.Fatalf("the stack got %d of the %d bytes (%v)", len(got), len(stream), err)
				}
				boundary := isWhole(stream)
				if boundary && err != io.EOF || !boundary && err != io.ErrUnexpectedEOF {
					t.Fatalf("error %v at the end of %d bytes (a record boundary: %v)", err, len(stream), boundary)
				}
				if _, err2 := g.Read(make([]byte, 10)); err2 != err {
					t.Fatalf("the Read after: %v, want %v again", err2, err)
				}
				if g.ReturnedEOF() != boundary {
					t.Fatalf("ReturnedEOF %v after %v", g.ReturnedEOF(), err)
				}
			})
		}
	}
}

// isWhole reports whether b is a sequence of whole records.
func isWhole(b []byte) bool {
	for len(b) > 0 {
		if len(b) < 5 || len(b) < 5+(int(b[3])<<8|int(b[4])) {
			return false
		}
		b = b[5+(int(b[3])<<8|int(b[4])):]
	}
	return true
}

// TestClientReadBufferEdges reads streams larger than the guard's read
// buffer handed over at once or in large pieces, so that records straddle
// its end and must be moved to its start, whole records and those the guard
// inspects (the TLS 1.2 plaintext flight) alike: the stack gets every byte
// in order, one record per Read during the handshake.
func TestClientReadBufferEdges(t *testing.T) {
	stream := stream12(true, 30000, 60)
	for _, chunk := range []int{0, 16384, 18437, 18438, 4099} {
		for _, ended := range []bool{false, true} {
			t.Run(fmt.Sprintf("reads of %d, handshake ended %v", chunk, ended), func(t *testing.T) {
				p := &pipe{in: stream, chunk: chunk}
				g := guard.NewConn(p, recordlimit.Offer{MaxFragmentLength: recordlimit.MFL4096})
				if ended {
					g.EndHandshake()
				}
				got, err := drain(t, g, 3000)
				if err != io.EOF || !bytes.Equal(got, stream) {
					t.Fatalf("%v after %d of %d bytes; want every byte and io.EOF", err, len(got), len(stream))
				}
			})
		}
	}
}

// TestClientReadsTransportOnlyWhenNeeded: records that are whole in what
// the transport handed over are handed to the stack without another
// transport read, which on a socket would wait for bytes the server may
// never send; and the transport's io.EOF, even when it comes with the last
// bytes, follows them.
func TestClientReadsTransportOnlyWhenNeeded(t *testing.T) {
	for _, withData := range []bool{false, true} {
		stream := stream12(true, 3000, 3)
		records := len(split(t, stream))
		p := &pipe{in: stream, eofWithData: withData}
		g := guard.NewConn(p, recordlimit.Offer{MaxFragmentLength: recordlimit.MFL4096})
		buf := make([]byte, 64<<10)
		var got []byte
		for i := range records {
			n, err := g.Read(buf)
			if err != nil {
				t.Fatalf("EOF with data %v: Read %d: %v", withData, i, err)
			}
			got = append(got, buf[:n]...)
		}
		if p.reads != 1 || !bytes.Equal(got, stream) {
			t.Fatalf("EOF with data %v: %d records in %d transport reads, %d of %d bytes; want one read", withData, records, p.reads, len(got), len(stream))
		}
		if n, err := g.Read(buf); n != 0 || err != io.EOF {
			t.Fatalf("EOF with data %v: after the last record: %d, %v", withData, n, err)
		}
	}
}

// TestClientReadsExactlyWhatRecordsNeed: records the guard inspects whole
// (the TLS 1.2 plaintext flight), each ending where a transport read ends,
// the last read bringing io.EOF with its bytes: each record is handed over
// whole and the stream ends in io.EOF, not in a cut; and when all came in
// one read, the transport is not read again until the stack asks past the
// last record.
func TestClientReadsExactlyWhatRecordsNeed(t *testing.T) {
	cert := sized(hsCertificate, 2996)
	stream := append(serverHelloOf(gcm12, []ext{mflExt(2)}, 1000), recs(ctHandshake, cert, 1000)...)
	for _, chunk := range []int{201, 1005, 0} {
		p := &pipe{in: stream, chunk: chunk, eofWithData: true}
		g := guard.NewConn(p, recordlimit.Offer{MaxFragmentLength: recordlimit.MFL1024})
		buf := make([]byte, 64<<10)
		var got []byte
		for i := range 4 {
			n, err := g.Read(buf)
			if err != nil || n != 1005 {
				t.Fatalf("reads of %d: record %d: %d bytes, %v", chunk, i, n, err)
			}
			got = append(got, buf[:n]...)
		}
		if chunk == 0 && p.reads != 1 {
			t.Fatalf("four records that came in one read took %d transport reads", p.reads)
		}
		if n, err := g.Read(buf); n != 0 || err != io.EOF || !bytes.Equal(got, stream) {
			t.Fatalf("reads of %d: after the records: %d, %v", chunk, n, err)
		}
	}
}

// TestClientHeaderCutAtBufferEnd: after the handshake, a record header cut
// by the end of the guard's read buffer (18437 bytes, filled by one
// transport read) is completed by the next read, whatever the cut.
func TestClientHeaderCutAtBufferEnd(t *testing.T) {
	head := append(rec(ctHandshake, serverHello(gcm12, nil)), rec(ctCCS, []byte{1})...)
	for k := 1; k <= 5; k++ {
		// Records ending k bytes before the buffer's end, then one whose
		// header the end cuts.
		first := 10000
		second := 18437 - k - len(head) - 5 - first - 5
		stream := append(append(append([]byte(nil), head...), rec(ctAppData, make([]byte, first))...), rec(ctAppData, make([]byte, second))...)
		stream = append(stream, rec(ctAppData, bytes.Repeat([]byte{7}, 3000))...)
		p := &pipe{in: stream, chunk: 18437}
		g := guard.NewConn(p, recordlimit.Offer{})
		buf := make([]byte, 64<<10)
		for range 2 {
			if _, err := g.Read(buf); err != nil {
				t.Fatal(err)
			}
		}
		g.EndHandshake()
		got, err := drain(t, g, 64<<10)
		if err != io.EOF || !bytes.Equal(got, stream[len(head):]) {
			t.Fatalf("cut %d: %v after %d of %d bytes", k, err, len(got), len(stream)-len(head))
		}
	}
}

// stallConn hands over its bytes, then fails every read with a timeout, as
// a socket with a read deadline whose server went quiet.
type stallConn struct {
	pipe
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func (c *stallConn) Read(b []byte) (int, error) {
	if len(c.in) == 0 {
		c.reads++
		return 0, timeoutError{}
	}
	return c.pipe.Read(b)
}

// TestClientGathersWholeRecords: once the handshake is over a Read hands
// over every record that is whole in the buffer, an empty one included,
// but not a record of which only a part has come, and then returns without
// waiting for the transport; the part follows once the rest comes. A
// transport timeout ends nothing: the next Read goes on.
func TestClientGathersWholeRecords(t *testing.T) {
	hello := rec(ctHandshake, serverHello(gcm12, []ext{mflExt(1)}))
	// After the handshake (the client's TLS 1.2 guard follows the
	// server's plaintext handshake messages up to its ChangeCipherSpec,
	// so these are application data records).
	a := rec(ctAppData, bytes.Repeat([]byte{1}, 300))
	empty := rec(ctAppData, nil)
	b := rec(ctAppData, bytes.Repeat([]byte{2}, 400))
	for _, part := range []int{0, 3, 5, 6, len(b) - 1} {
		t.Run(fmt.Sprintf("%d bytes of the last record", part), func(t *testing.T) {
			whole := append(append(append([]byte(nil), hello...), a...), empty...)
			c := &stallConn{pipe{in: append(append([]byte(nil), whole...), b[:part]...)}}
			g := guard.NewConn(c, recordlimit.Offer{MaxFragmentLength: recordlimit.MFL512})
			buf := make([]byte, 64<<10)
			n, err := g.Read(buf)
			if err != nil || n != len(hello) {
				t.Fatalf("first Read: %d, %v; want the ServerHello", n, err)
			}
			g.EndHandshake()
			reads := c.reads
			n, err = g.Read(buf)
			if err != nil || !bytes.Equal(buf[:n], whole[len(hello):]) {
				t.Fatalf("second Read: %d bytes, %v; want the %d of the two whole records", n, err, len(whole)-len(hello))
			}
			if c.reads != reads {
				t.Fatalf("the second Read read the transport (%d times), with two whole records to hand over", c.reads-reads)
			}
			// Of a record only a part of which has come, at most that part
			// is handed over (application data streams once its header
			// is checked), and the Read then returns the transport's
			// timeout.
			first, err := drain(t, g, 64<<10)
			if !errors.Is(err, timeoutError{}) || len(first) > part {
				t.Fatalf("third Read: %d bytes, %v; want at most the %d that came, then the transport's timeout", len(first), err, part)
			}
			c.in = b[part:]
			got, err := drain(t, g, 64<<10)
			got = append(first, got...)
			if !bytes.Equal(got, b) || !errors.Is(err, timeoutError{}) {
				t.Fatalf("after the rest came: %d bytes, %v; want the %d-byte record", len(got), err, len(b))
			}
		})
	}
}

// TestClientHoldsNoBufferBetweenRecords: a client guard holds a read
// buffer only while it has bytes in it, so that 100 connections that have
// handed the stack every record that came hold less than 4 KiB of heap
// each (a guard that kept its 18 KiB buffer held more than 18 KiB each).
// (While a Read waits on the transport the guard does hold one: see the
// notes of issue 20.)
func TestClientHoldsNoBufferBetweenRecords(t *testing.T) {
	stream := stream12(true, 3000, 3)
	const conns = 100
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	gs := make([]*guard.Conn, conns)
	for i := range gs {
		g := guard.NewConn(&pipe{in: stream}, recordlimit.Offer{MaxFragmentLength: recordlimit.MFL4096})
		gs[i] = g
		p := make([]byte, 4096)
		for n := 0; n < len(stream); {
			k, err := g.Read(p)
			if err != nil {
				t.Fatal(err)
			}
			n += k
		}
		g.EndHandshake()
	}
	runtime.GC()
	runtime.GC() // the second empties the buffer pools
	runtime.ReadMemStats(&after)
	perConn := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / conns
	t.Logf("%d client guards between records: %d bytes of heap each", conns, perConn)
	if perConn > 4<<10 {
		t.Errorf("a client guard between records holds %d bytes of heap, want at most 4 KiB", perConn)
	}
	runtime.KeepAlive(gs)
}

// TestClientStats: the counts of records that crossed the guard are those
// on the wire, each direction apart, an empty record included.
func TestClientStats(t *testing.T) {
	stream := stream12(true, 3000, 2)
	stream = append(stream, rec(ctAppData, nil)...)
	p := &pipe{in: stream}
	g := guard.NewConn(p, recordlimit.Offer{MaxFragmentLength: recordlimit.MFL4096})
	if _, err := drain(t, g, 64<<10); err != io.EOF {
		t.Fatal(err)
	}
	w := append(append(rec(ctHandshake, make([]byte, 100)), rec(ctHandshake, make([]byte, 4096))...), rec(ctCCS, []byte{1})...)
	w = append(w, rec(ctHandshake, nil)...)
	if _, err := g.Write(w); err != nil {
		t.Fatal(err)
	}
	count := func(b []byte) (records, bytes int64, largest int) {
		for _, r := range split(t, b) {
			records++
			bytes += int64(5 + len(r.body))
			largest = max(largest, len(r.body))
		}
		return
	}
	st := g.Stats()
	rr, rb, rl := count(stream)
	sr, sb, sl := count(p.out)
	if st.ReceivedRecords != rr || st.ReceivedBytes != rb || st.LargestReceived != rl {
		t.Errorf("received: %d records, %d bytes, largest %d; the wire: %d, %d, %d", st.ReceivedRecords, st.ReceivedBytes, st.LargestReceived, rr, rb, rl)
	}
	if st.SentRecords != sr || st.SentBytes != sb || st.LargestSent != sl {
		t.Errorf("sent: %d records, %d bytes, largest %d; the wire: %d, %d, %d", st.SentRecords, st.SentBytes, st.LargestSent, sr, sb, sl)
	}
}
