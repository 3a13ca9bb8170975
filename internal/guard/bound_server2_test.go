package guard_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/tlsapp/tlsapp/internal/guard"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// TestServerOfferRead: what the server guard reads from a ClientHello it
// does not refuse, as Offer reports it: a valid max_fragment_length is
// kept alongside record_size_limit (which governs the cap) and an invalid
// one dropped; a malformed hello (a duplicated extension) is left to the
// stack, unread and unrefused, whatever it asks for.
func TestServerOfferRead(t *testing.T) {
	for _, tc := range []struct {
		name string
		exts []ext
		want recordlimit.Offer
		have bool
	}{
		{"RSL 100 and MFL 2", []ext{mflExt(2), rslExt(100)}, recordlimit.Offer{MaxFragmentLength: recordlimit.MFL1024, RecordSizeLimit: 100}, true},
		{"RSL 100 and MFL 5", []ext{mflExt(5), rslExt(100)}, recordlimit.Offer{RecordSizeLimit: 100}, true},
		{"MFL 3", []ext{mflExt(3)}, recordlimit.Offer{MaxFragmentLength: recordlimit.MFL2048}, true},
		{"nothing", nil, recordlimit.Offer{}, true},
		{"RSL 63 twice", []ext{rslExt(63), rslExt(63)}, recordlimit.Offer{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := rec(ctHandshake, clientHello(0, tc.exts...))
			p := &pipe{in: in}
			g := guard.NewServerConn(p, 0)
			if o, ok := g.Offer(); ok || o != (recordlimit.Offer{}) {
				t.Fatalf("an offer before the hello: %+v", o)
			}
			got, err := drain(t, g, 4096)
			if err != io.EOF || !bytes.Equal(got, in) || len(p.out) != 0 {
				t.Fatalf("%v, % x sent", err, p.out)
			}
			if o, ok := g.Offer(); ok != tc.have || o != tc.want {
				t.Fatalf("offer %+v (%v), want %+v (%v)", o, ok, tc.want, tc.have)
			}
		})
	}
}

// TestServerReadAheadStream: however the client's bytes come (a large
// stream in reads of every size, a transport error or io.EOF with the last
// bytes), the stack gets every byte in order and then the transport's
// error, with no empty read in between.
func TestServerReadAheadStream(t *testing.T) {
	stream := rec(ctHandshake, clientHello(0, rslExt(1000)))
	for i := range 30 {
		stream = append(stream, rec(ctAppData, bytes.Repeat([]byte{byte(i)}, 4000))...)
	}
	for _, chunk := range []int{0, 1000, 18437, 18438, 40000} {
		for _, size := range []int{600, 18436, 18437, 20000} {
			for _, withData := range []bool{false, true} {
				p := &pipe{in: stream, chunk: chunk, eofWithData: withData}
				g := guard.NewServerConn(p, 0)
				got, err := drain(t, g, size)
				if err != io.EOF || !bytes.Equal(got, stream) {
					t.Fatalf("reads of %d from chunks of %d (EOF with data %v): %v after %d of %d bytes", size, chunk, withData, err, len(got), len(stream))
				}
				if o, _ := g.Offer(); o.RecordSizeLimit != 1000 {
					t.Fatalf("offer %+v", o)
				}
			}
		}
	}
}

// failingPipe fails its writes after the first n.
type failingPipe struct {
	pipe
	n int
}

var errWrite = errors.New("write failed")

func (p *failingPipe) Write(b []byte) (int, error) {
	if p.n == 0 {
		return 0, errWrite
	}
	p.n--
	return p.pipe.Write(b)
}

// TestServerSteady: after a TLS 1.2 server's ChangeCipherSpec and after the
// record carrying a TLS 1.3 server's Finished, records pass as the stack
// wrote them, an empty one included; a write that is not whole records is
// refused with nothing sent; the counts are those on the wire; a failed
// transport write is the Write's error, and the next Write's.
func TestServerSteady(t *testing.T) {
	for _, tls13 := range []bool{false, true} {
		t.Run(fmt.Sprintf("TLS 1.3 %v", tls13), func(t *testing.T) {
			p := &failingPipe{pipe: pipe{in: rec(ctHandshake, clientHello(0, rslExt(100)))}, n: 100}
			g := guard.NewServerConn(p, 0)
			readHello(t, g, len(p.in))
			g.KeyLogWriter(nil).Write(keyLogLine("SERVER_HANDSHAKE_TRAFFIC_SECRET", serverHS))
			var head []byte
			if tls13 {
				head = append(rec(ctHandshake, serverHello(suite13, exts13())), rec(ctCCS, []byte{1})...)
				head = append(head, epoch(t, serverHS).Seal(nil, ctHandshake, append(encryptedExtensions(), finishedMsg()...))...)
			} else {
				head = append(append(rec(ctHandshake, serverHello(gcm12, nil)), rec(ctHandshake, sized(hsCertificate, 50))...), rec(ctCCS, []byte{1})...)
			}
			for _, r := range split(t, head) {
				if _, err := g.Write(r.wire()); err != nil {
					t.Fatal(err)
				}
			}
			p.out = nil
			w := append(append(rec(ctAppData, make([]byte, 300)), rec(ctAppData, nil)...), rec(ctHandshake, make([]byte, 200))...)
			before := g.Stats()
			if k, err := g.Write(w); err != nil || k != len(w) || !bytes.Equal(p.out, w) {
				t.Fatalf("steady: %d, %v; %d bytes sent of %d", k, err, len(p.out), len(w))
			}
			st := g.Stats()
			if st.SentRecords-before.SentRecords != 3 || st.SentBytes-before.SentBytes != int64(len(w)) || st.LargestSent != max(before.LargestSent, 300) {
				t.Fatalf("stats %+v after %+v, for 3 records of %d bytes, the largest 300", st, before, len(w))
			}
			for _, cut := range []int{len(w) - 1, 3, 305 + 2} {
				p.out = nil
				if k, err := g.Write(w[:cut]); err == nil || k != 0 || len(p.out) != 0 {
					t.Fatalf("%d of %d bytes: %d, %v, %d sent", cut, len(w), k, err, len(p.out))
				}
			}
			p.n = 0
			if _, err := g.Write(w); !errors.Is(err, errWrite) {
				t.Fatalf("a failed transport write: %v", err)
			}
		})
	}

	// Before steady: the counts are those of the records sent, split.
	p := &pipe{in: rec(ctHandshake, clientHello(0, rslExt(100)))}
	g := guard.NewServerConn(p, 0)
	drain(t, g, 4096)
	g.Write(rec(ctHandshake, serverHello(gcm12, nil)))
	g.Write(rec(ctHandshake, sized(hsCertificate, 250)))
	var records, bytes_ int64
	largest := 0
	for _, r := range split(t, p.out) {
		records++
		bytes_ += int64(5 + len(r.body))
		largest = max(largest, len(r.body))
	}
	if st := g.Stats(); st.SentRecords != records || st.SentBytes != bytes_ || st.LargestSent != largest || largest != 100 {
		t.Fatalf("stats %+v, the wire: %d records, %d bytes, largest %d", st, records, bytes_, largest)
	}
	if _, err := g.Write(rec(ctHandshake, make([]byte, 10))[:8]); err == nil {
		t.Fatal("a partial record was taken")
	}
}

// TestServerFlight13Shapes: the server guard re-seals the TLS 1.3 flight
// however the stack cuts it into records (all in one, or across records of
// 7 bytes, Finished spanning two), with an alert among them passing as
// an alert, and stops at the record that ends Finished: the next record
// passes as written. A record that does not open is an error, nothing sent.
func TestServerFlight13Shapes(t *testing.T) {
	flight := append(append(append(encryptedExtensions(), sized(hsCertificate, 200)...), sized(15, 40)...), finishedMsg()...)
	for _, size := range []int{len(flight), 7, len(flight) - 5} {
		t.Run(fmt.Sprintf("records of %d", size), func(t *testing.T) {
			g, p, stack := server13(t, 0, rslExt(64))
			client := epoch(t, serverHS)
			var got []byte
			for m := flight; len(m) > 0; {
				k := min(size, len(m))
				p.out = nil
				if _, err := g.Write(stack.Seal(nil, ctHandshake, m[:k])); err != nil {
					t.Fatal(err)
				}
				for _, r := range split(t, p.out) {
					c, typ := open(t, client, r)
					if typ != ctHandshake || len(c) > 63 {
						t.Fatalf("type %d, %d bytes", typ, len(c))
					}
					got = append(got, c...)
				}
				m = m[k:]
			}
			if !bytes.Equal(got, flight) {
				t.Fatalf("the client got %d bytes of the %d-byte flight", len(got), len(flight))
			}
			p.out = nil
			app := rec(ctAppData, make([]byte, 200)) // under the application keys, which the guard has not
			if _, err := g.Write(app); err != nil || !bytes.Equal(p.out, app) {
				t.Fatalf("the record after Finished was rewritten (%v)", err)
			}
		})
	}

	// A Certificate of 2^16 bytes, the most the guard follows in a
	// message here (a larger chain is issue 20's first item), spanning
	// records: the flight still ends at Finished.
	t.Run("a 65536-byte Certificate", func(t *testing.T) {
		g, p, stack := server13(t, 0, rslExt(16385))
		flight := append(append(encryptedExtensions(), sized(hsCertificate, 1<<16)...), finishedMsg()...)
		for m := flight; len(m) > 0; {
			k := min(16384, len(m))
			if _, err := g.Write(stack.Seal(nil, ctHandshake, m[:k])); err != nil {
				t.Fatal(err)
			}
			m = m[k:]
		}
		p.out = nil
		app := rec(ctAppData, make([]byte, 200)) // under the application keys
		if _, err := g.Write(app); err != nil || !bytes.Equal(p.out, app) {
			t.Fatalf("the record after Finished was rewritten (%v)", err)
		}
	})

	t.Run("an alert in the flight", func(t *testing.T) {
		g, p, stack := server13(t, 0, rslExt(64))
		client := epoch(t, serverHS)
		// An alert whose bytes, if taken for handshake content, would
		// make with the next record's an empty Finished, then the flight.
		for _, r := range [][]byte{stack.Seal(nil, ctAlert, []byte{hsFinished, 0}), stack.Seal(nil, ctHandshake, append(msg(0, nil), encryptedExtensions()...))} {
			p.out = nil
			if _, err := g.Write(r); err != nil {
				t.Fatal(err)
			}
			open(t, client, split(t, p.out)[0])
		}
		p.out = nil
		if _, err := g.Write(stack.Seal(nil, ctHandshake, sized(hsCertificate, 100))); err != nil {
			t.Fatal(err)
		}
		if rs := split(t, p.out); len(rs) != 2 {
			t.Fatalf("a 104-byte Certificate after the alert went out in %d records; the epoch ended early", len(rs))
		}
	})

	t.Run("a record that does not open", func(t *testing.T) {
		g, p, _ := server13(t, 0, rslExt(64))
		bad := epoch(t, clientHS).Seal(nil, ctHandshake, encryptedExtensions())
		if _, err := g.Write(bad); err == nil || len(p.out) != 0 {
			t.Fatalf("%v, % x sent", err, p.out)
		}
	})
}
