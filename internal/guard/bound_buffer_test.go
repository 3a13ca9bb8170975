package guard_test

// Boundary tests of the guards' read buffers: a record that does not fit in
// the room past the buffer's read offset, one of the largest size a header
// can carry, exactly a record's bytes and then a transport that has nothing
// more (yet), and the end of the server's following of the client's flight.
// They hold the guards to the stream the peer sent, byte for byte, and to
// reading the transport only when they need bytes they do not have.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/tlsapp/tlsapp/internal/guard"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// The size of a record buffer: a header and the largest body a TLS 1.2
// header may announce (RFC 5246, Section 6.2.3: 2^14 + 2048).
const (
	maxBody   = 1<<14 + 2048
	maxRecord = 5 + maxBody
)

// feed is a transport that hands out the peer's bytes as the peer sent
// them: one Read never reaches past the end of one of the chunks in in
// (it may take less of it). With nothing left it returns io.EOF if ended,
// else errStalled: the peer has sent all it will send before it hears from
// the other side, where a real socket would block. With eofWithLast, the
// Read that takes the last byte of the last chunk returns io.EOF with it.
type feed struct {
	net.Conn    // nil: only Read, Write and Close are called
	in          [][]byte
	ended       bool
	eofWithLast bool
	out         []byte
}

var errStalled = errors.New("feed: Read with nothing sent: the peer waits for an answer")

func (f *feed) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, errEmptyRead
	}
	for len(f.in) > 0 && len(f.in[0]) == 0 {
		f.in = f.in[1:]
	}
	if len(f.in) == 0 {
		if f.ended {
			return 0, io.EOF
		}
		return 0, errStalled
	}
	k := copy(b, f.in[0])
	f.in[0] = f.in[0][k:]
	if len(f.in[0]) == 0 {
		f.in = f.in[1:]
	}
	if f.eofWithLast && f.ended && len(f.in) == 0 {
		return k, io.EOF
	}
	return k, nil
}

func (f *feed) Write(b []byte) (int, error) { f.out = append(f.out, b...); return len(b), nil }
func (f *feed) Close() error                { return nil }

// send queues chunks as the peer's next bytes.
func (f *feed) send(chunks ...[]byte) {
	for _, c := range chunks {
		f.in = append(f.in, bytes.Clone(c))
	}
}

// cat returns the concatenation of bs.
func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

// certRecords returns a Certificate message of a+b bytes carried by two
// handshake records with bodies of a and b bytes.
func certRecords(a, b int) (first, second []byte) {
	m := sized(hsCertificate, a+b-4)
	return rec(ctHandshake, m[:a]), rec(ctHandshake, m[a:])
}

// TestClientRecordPastBufferEnd: during the TLS 1.2 handshake the client
// guard reads each record whole. When the transport's first read brings
// the ServerHello, a Certificate record and the header of the next one,
// that record ends at the read buffer's last byte, or one byte past it,
// where the guard must move what it holds to the buffer's start to make
// room; after the server's ChangeCipherSpec, a large protected record can
// leave the next header less than its 5 bytes of room. Either way the
// stack gets the server's bytes unchanged, and the guard never asks the
// transport for bytes into no room (a Read into an empty slice, which
// returns nothing on a socket and would spin).
func TestClientRecordPastBufferEnd(t *testing.T) {
	hello := rec(ctHandshake, serverHello(gcm12, nil))
	const a = 3000
	for _, past := range []int{-1, 0, 1, 2} {
		t.Run(fmt.Sprintf("%+d", past), func(t *testing.T) {
			// The second record starts at rr = len(hello)+5+a and ends at
			// rr+5+b = maxRecord+past.
			b := maxRecord + past - (len(hello) + 5 + a) - 5
			first, second := certRecords(a, b)
			stream := cat(hello, first, second)
			if len(stream) != maxRecord+past {
				t.Fatalf("stream of %d bytes", len(stream))
			}
			f := &feed{ended: true}
			f.send(cat(hello, first, second[:5]), second[5:])
			g := guard.NewConn(f, recordlimit.Offer{})
			got, err := drain(t, g, 64<<10)
			if err != io.EOF || !bytes.Equal(got, stream) {
				t.Fatalf("%v after %d of %d bytes; want the whole stream, then io.EOF", err, len(got), len(stream))
			}
			if len(f.out) != 0 {
				t.Fatalf("the guard sent % x", f.out)
			}
		})
	}

	// After the server's ChangeCipherSpec the guard streams records. A
	// protected record of size (header included) up to the buffer's
	// length comes in one read with the first bytes of the next, which
	// fill the buffer: when fewer than a header's 5 bytes of the next
	// record fit, its header starts within 5 bytes of the buffer's end
	// and the guard must make room for the rest of it.
	for _, size := range []int{maxRecord - 6, maxRecord - 5, maxRecord - 4, maxRecord - 1, maxRecord} {
		t.Run(fmt.Sprintf("protected record of %d bytes", size), func(t *testing.T) {
			head := flight12(gcm12, true)
			big := rec(ctAppData, bytes.Repeat([]byte{0xbb}, size-5))
			next := rec(ctAppData, bytes.Repeat([]byte{0xcc}, 60))
			stream := cat(head, big, next)
			f := &feed{ended: true}
			f.send(head, cat(big, next))
			g := guard.NewConn(f, recordlimit.Offer{})
			got, err := drain(t, g, 64<<10)
			if err != io.EOF || !bytes.Equal(got, stream) {
				t.Fatalf("%v after %d of %d bytes; want the whole stream, then io.EOF", err, len(got), len(stream))
			}
		})
	}
}

// server12 reads a TLS 1.2 ClientHello through a new server guard over f
// and writes the stack's ServerHello: what the client sends next is its
// flight, which the guard follows up to its ChangeCipherSpec.
func server12(t *testing.T, f *feed) *guard.ServerConn {
	t.Helper()
	hello := rec(ctHandshake, clientHello(0))
	f.send(hello)
	g := guard.NewServerConn(f, 0)
	readHello(t, g, len(hello))
	if _, err := g.Write(rec(ctHandshake, serverHello(gcm12, nil))); err != nil {
		t.Fatal(err)
	}
	f.out = nil
	return g
}

// readWhole reads one record after another from g into a buffer of size
// bytes, expecting each of want in turn, whole; a Read that returns neither
// bytes nor an error fails the test.
func readWhole(t *testing.T, g io.Reader, size int, want ...[]byte) {
	t.Helper()
	p := make([]byte, size)
	for i, w := range want {
		var got []byte
		for len(got) < len(w) {
			n, err := g.Read(p[:min(size, len(w)-len(got))])
			got = append(got, p[:n]...)
			if err != nil {
				t.Fatalf("record %d: %v after %d of its %d bytes", i, err, len(got), len(w))
			}
			if n == 0 {
				t.Fatalf("record %d: Read returned 0 bytes and no error", i)
			}
		}
		if !bytes.Equal(got, w) {
			t.Fatalf("record %d: the stack got % x, want % x", i, got, w)
		}
	}
}

// The records of a TLS 1.2 client's flight: ClientKeyExchange,
// ChangeCipherSpec, then, protected, its Finished (here with a body whose
// first bytes, read as a plaintext handshake header, announce a message of
// 16 MiB, above every bound: a guard that followed the flight past its
// ChangeCipherSpec would refuse it) and application data.
var (
	cke12      = rec(ctHandshake, sized(16, 70))
	ccs        = rec(ctCCS, []byte{1})
	finished12 = rec(ctHandshake, append([]byte{0, 0xff, 0xff, 0xff}, make([]byte, 36)...))
	appData12  = rec(ctAppData, bytes.Repeat([]byte{0xaa}, 60))
)

// TestServerRecordPastBufferEnd: the client's flight brings, in one
// transport read, a record and the header of the next, which ends at the
// server guard's read buffer's last byte, one byte past it or more; a
// record that leaves less than a header's room at the buffer's end, with
// the first bytes of the next; and a record of the largest size a header
// may announce, which fills the buffer whole. Each reaches the stack
// unchanged, then the rest of the stream.
func TestServerRecordPastBufferEnd(t *testing.T) {
	const a = 3000
	for _, past := range []int{-1, 0, 1, 2, 100} {
		t.Run(fmt.Sprintf("%+d", past), func(t *testing.T) {
			f := &feed{ended: true}
			g := server12(t, f)
			// The second record starts at 5+a and ends at maxRecord+past.
			first, second := certRecords(a, maxRecord+past-(5+a)-5)
			f.send(cat(first, second[:5]), second[5:], cat(cke12, ccs), finished12)
			stream := cat(first, second, cke12, ccs, finished12)
			got, err := drain(t, g, 64<<10)
			if err != io.EOF || !bytes.Equal(got, stream) {
				t.Fatalf("%v after %d of %d bytes; want the whole stream, then io.EOF", err, len(got), len(stream))
			}
		})
	}
	// A record of the flight of up to the buffer's length comes in one
	// read with the first bytes of the next, which fill the buffer: when
	// fewer than 5 of them fit, the next header starts within 5 bytes of
	// the buffer's end and the guard must make room for the rest of it.
	for _, size := range []int{maxRecord - 6, maxRecord - 5, maxRecord - 4, maxRecord - 1} {
		t.Run(fmt.Sprintf("a record of %d bytes, then the next", size), func(t *testing.T) {
			f := &feed{ended: true}
			g := server12(t, f)
			big, rest := certRecords(size-5, 100)
			stream := cat(big, rest, cke12, ccs)
			f.send(stream)
			got, err := drain(t, g, 64<<10)
			if err != io.EOF || !bytes.Equal(got, stream) {
				t.Fatalf("%v after %d of %d bytes; want the whole stream, then io.EOF", err, len(got), len(stream))
			}
		})
	}
	for _, body := range []int{maxBody - 1, maxBody} {
		t.Run(fmt.Sprintf("a record of %d bytes", body), func(t *testing.T) {
			f := &feed{ended: true}
			g := server12(t, f)
			big, rest := certRecords(body, 100)
			f.send(big, rest, cat(cke12, ccs))
			stream := cat(big, rest, cke12, ccs)
			got, err := drain(t, g, 64<<10)
			if err != io.EOF || !bytes.Equal(got, stream) {
				t.Fatalf("%v after %d of %d bytes; want the whole stream, then io.EOF", err, len(got), len(stream))
			}
		})
	}
}

// TestServerFlightNoReadAhead: a client sends a record of its flight, or
// the last bytes of one, and waits for the server; the server guard hands
// the stack that record without reading the transport again (a guard that
// asked for one byte more would wait for bytes the client never sends). The
// record comes whole in one read, or as its header and then its body, or
// as a first byte and then the rest; the last, the ChangeCipherSpec, ends
// the flight.
func TestServerFlightNoReadAhead(t *testing.T) {
	for _, cut := range []int{0, 1, 5} {
		t.Run(fmt.Sprintf("cut at %d", cut), func(t *testing.T) {
			f := &feed{}
			g := server12(t, f)
			for _, r := range [][]byte{cke12, ccs, finished12, appData12} {
				if cut > 0 {
					f.send(r[:cut])
				}
				f.send(r[cut:])
				readWhole(t, g, 4096, r)
			}
		})
	}
}

// TestServerFlightEOFWithLastBytes: the transport returns the last bytes of
// the client's record together with io.EOF, the record ending exactly at
// the last byte read (a cut header, and a cut body) or one byte before it
// (the stream then ends inside the next record). The stack gets the whole
// record, and then io.EOF, or io.ErrUnexpectedEOF for a stream that ends
// inside a record; never the bytes of a record that did not come whole.
func TestServerFlightEOFWithLastBytes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		chunks [][]byte
		want   []byte
		err    error
	}{
		{"CCS body with EOF", [][]byte{cke12, ccs[:5], ccs[5:]}, cat(cke12, ccs), io.EOF},
		{"CKE body with EOF", [][]byte{cke12[:5], cke12[5:]}, cke12, io.EOF},
		{"CKE header with EOF", [][]byte{cke12[:3], cke12[3:]}, cke12, io.EOF},
		{"CKE body and a byte more with EOF", [][]byte{cke12[:5], cat(cke12[5:], ccs[:1])}, cke12, io.ErrUnexpectedEOF},
		{"CKE body short of a byte with EOF", [][]byte{cke12[:5], cke12[5 : len(cke12)-1]}, nil, io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &feed{}
			g := server12(t, f)
			f.send(tc.chunks...)
			f.ended, f.eofWithLast = true, true
			got, err := drain(t, g, 4096)
			if err != tc.err || !bytes.Equal(got, tc.want) {
				t.Fatalf("%d bytes, then %v; want %d bytes, then %v", len(got), err, len(tc.want), tc.err)
			}
		})
	}
}

// TestServerFlightEnd: the server guard follows the client's TLS 1.2
// flight up to its ChangeCipherSpec, and no further: the protected
// Finished after it, whose first bytes read in the clear announce a
// message above every bound, reaches the stack unchanged, as does what
// follows, however the records come and whatever the stack reads them
// into; and a stream that ends inside a record of the flight is
// io.ErrUnexpectedEOF after the whole records, without the bytes of the
// cut one. No Read returns nothing without an error.
func TestServerFlightEnd(t *testing.T) {
	stream := cat(cke12, ccs, finished12, appData12)
	for _, tc := range []struct {
		name   string
		chunks [][]byte
	}{
		{"one read", [][]byte{stream}},
		{"flight, then the rest", [][]byte{cat(cke12, ccs), cat(finished12, appData12)}},
		{"record by record", [][]byte{cke12, ccs, finished12, appData12}},
		{"CCS with the Finished", [][]byte{cke12, cat(ccs, finished12), appData12}},
	} {
		for _, size := range []int{1, 3, 6, 4096} {
			t.Run(fmt.Sprintf("%s, reads of %d", tc.name, size), func(t *testing.T) {
				f := &feed{ended: true}
				g := server12(t, f)
				f.send(tc.chunks...)
				got, err := drain(t, g, size)
				if err != io.EOF || !bytes.Equal(got, stream) {
					t.Fatalf("%v after %d of %d bytes; want the whole stream, then io.EOF", err, len(got), len(stream))
				}
				if err := g.Err(); err != nil {
					t.Fatalf("Err: %v", err)
				}
				if len(f.out) != 0 {
					t.Fatalf("the guard sent % x", f.out)
				}
			})
		}
	}

	for _, part := range []int{1, 4, len(ccs) - 1} {
		t.Run(fmt.Sprintf("cut after %d bytes of the CCS", part), func(t *testing.T) {
			f := &feed{ended: true}
			g := server12(t, f)
			f.send(cke12, ccs[:part])
			got, err := drain(t, g, 4096)
			if err != io.ErrUnexpectedEOF || !bytes.Equal(got, cke12) {
				t.Fatalf("%d bytes, then %v; want the %d of the ClientKeyExchange record, then io.ErrUnexpectedEOF", len(got), err, len(cke12))
			}
		})
	}
}
