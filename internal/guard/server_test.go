package guard

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"testing"

	"golang.org/x/crypto/cryptobyte"

	"github.com/tlsapp/tlsapp/internal/wire"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// bigClientHello returns a ClientHello message (header included) of about
// size bytes with the given extensions and, when pad, a padding extension
// (21) that fills the rest; without pad the rest is filled with empty
// extensions of distinct private-use types, the worst case for a duplicate
// check.
func bigClientHello(size int, pad bool, exts ...wire.Extension) []byte {
	var b cryptobyte.Builder
	b.AddUint8(typeClientHello)
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint16(0x0303)
		b.AddBytes(make([]byte, 32))
		b.AddUint8(0)
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint16(0xc02f); b.AddUint16(0x1301) })
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint8(0) })
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			n := 0
			for _, e := range exts {
				b.AddUint16(e.Type)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(e.Data) })
				n += 4 + len(e.Data)
			}
			rest := size - 4 - 2 - 32 - 1 - 6 - 2 - 2 - n
			if pad {
				b.AddUint16(21)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(make([]byte, rest-4)) })
				return
			}
			for t := 0; rest >= 4; t, rest = t+1, rest-4 {
				b.AddUint16(uint16(0x1000 + t)) // unassigned code points, all distinct
				b.AddUint16(0)
			}
		})
	})
	return b.BytesOrPanic()
}

// chunkConn hands out its stream n bytes per Read, like a socket fed by a
// slow client.
type chunkConn struct {
	net.Conn
	stream []byte
	n      int
	out    bytes.Buffer
}

func (c *chunkConn) Read(p []byte) (int, error) {
	if len(c.stream) == 0 {
		return 0, io.EOF
	}
	k := copy(p, c.stream[:min(c.n, len(c.stream))])
	c.stream = c.stream[k:]
	return k, nil
}

func (c *chunkConn) Write(p []byte) (int, error) { return c.out.Write(p) }

// readHello reads stream through a server guard the way crypto/tls does
// (into a buffer of 1 KiB), with the transport handing over one record per
// read, and returns the guard and the error that ended the reads.
func readHello(stream []byte, recordSize int) (*ServerConn, *chunkConn, error) {
	cc := &chunkConn{stream: stream, n: wire.HeaderLen + recordSize}
	g := NewServerConn(cc, 0)
	p := make([]byte, 1024)
	for {
		if _, err := g.Read(p); err != nil {
			return g, cc, err
		}
	}
}

// The 64 KiB ClientHello of issue 12, in records of one byte each.
func oneByteRecordHello(pad bool) (msg, stream []byte) {
	msg = bigClientHello(64<<10, pad, wire.Extension{Type: recordlimit.ExtRecordSizeLimit, Data: []byte{0x01, 0x00}})
	return msg, AppendRecords(nil, recordlimit.TypeHandshake, 0x0301, msg, 1)
}

// BenchmarkServerHelloScan measures the server guard reading a 64 KiB
// ClientHello sent in 1-byte records, one record per transport read (the
// hostile client of issue 12). The scan must cost time and memory linear in
// the hello.
func BenchmarkServerHelloScan(b *testing.B) {
	for _, tc := range []struct {
		name string
		pad  bool
	}{{"padding", true}, {"16k-extensions", false}} {
		b.Run(tc.name, func(b *testing.B) {
			_, stream := oneByteRecordHello(tc.pad)
			b.SetBytes(int64(len(stream)))
			b.ReportAllocs()
			for b.Loop() {
				g, _, err := readHello(stream, 1)
				if !errors.Is(err, io.EOF) {
					b.Fatal(err)
				}
				if o, ok := g.Offer(); !ok || o.RecordSizeLimit != 256 {
					b.Fatalf("offer %+v, %v", o, ok)
				}
			}
		})
	}
}

// TestServerHelloScanAllocations bounds the memory the server guard
// allocates to read the 64 KiB ClientHello in 1-byte records: a small
// multiple of the hello itself (a read-ahead buffer is 18 KiB, the reassembled
// message 64 KiB), whether it carries one large extension or 16,000 empty
// ones. The quadratic scan allocated 9 GiB here.
func TestServerHelloScanAllocations(t *testing.T) {
	for _, pad := range []bool{true, false} {
		msg, stream := oneByteRecordHello(pad)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		g, _, err := readHello(stream, 1)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		if o, ok := g.Offer(); !ok || o.RecordSizeLimit != 256 {
			t.Fatalf("offer %+v, %v", o, ok)
		}
		alloc := after.TotalAlloc - before.TotalAlloc
		limit := uint64(2*len(msg) + 2*wire.MaxRecord + 16<<10)
		t.Logf("padding %v: %d-byte hello in %d records (%d bytes on the wire): %d bytes allocated (bound %d)",
			pad, len(msg), len(stream)/(wire.HeaderLen+1), len(stream), alloc, limit)
		if alloc > limit {
			t.Errorf("padding %v: reading a %d-byte hello allocated %d bytes, more than %d", pad, len(msg), alloc, limit)
		}
	}
}

// TestServerHelloScanCuts reads ClientHellos through the server guard cut
// into records of every size from 1 byte, read in chunks of several sizes
// (one byte per read included), with a second message after the hello in
// the same record: the offer read, or the refusal, is the same however the
// hello is cut, the stack gets every byte unchanged, and a refused hello
// makes the guard send exactly one fatal alert.
func TestServerHelloScanCuts(t *testing.T) {
	tests := []struct {
		name   string
		exts   []wire.Extension
		want   recordlimit.Offer
		refuse recordlimit.Alert
	}{
		{"rsl 2048", []wire.Extension{{Type: recordlimit.ExtRecordSizeLimit, Data: []byte{8, 0}}}, recordlimit.Offer{RecordSizeLimit: 2048}, 0},
		{"mfl 1024", []wire.Extension{{Type: recordlimit.ExtMaxFragmentLength, Data: []byte{2}}}, recordlimit.Offer{MaxFragmentLength: recordlimit.MFL1024}, 0},
		{"both", []wire.Extension{{Type: recordlimit.ExtMaxFragmentLength, Data: []byte{1}}, {Type: recordlimit.ExtRecordSizeLimit, Data: []byte{1, 0}}}, recordlimit.Offer{MaxFragmentLength: recordlimit.MFL512, RecordSizeLimit: 256}, 0},
		{"rsl 63", []wire.Extension{{Type: recordlimit.ExtRecordSizeLimit, Data: []byte{0, 63}}}, recordlimit.Offer{}, recordlimit.AlertIllegalParameter},
		{"rsl 3 bytes", []wire.Extension{{Type: recordlimit.ExtRecordSizeLimit, Data: []byte{0, 64, 0}}}, recordlimit.Offer{}, recordlimit.AlertDecodeError},
		{"mfl 5", []wire.Extension{{Type: recordlimit.ExtMaxFragmentLength, Data: []byte{5}}}, recordlimit.Offer{}, recordlimit.AlertIllegalParameter},
	}
	for _, tt := range tests {
		msg := bigClientHello(600, true, tt.exts...)
		body := append(append([]byte(nil), msg...), 16, 0, 0, 1, 0) // a next message, as in a coalesced flight
		for recSize := 1; recSize <= len(body); recSize += max(1, recSize/3) {
			stream := AppendRecords(nil, recordlimit.TypeHandshake, 0x0301, body, recSize)
			for _, chunk := range []int{1, 5, 6, 64, len(stream)} {
				cc := &chunkConn{stream: stream, n: chunk}
				g := NewServerConn(cc, 0)
				var got []byte
				p := make([]byte, 700)
				var err error
				for err == nil {
					var n int
					n, err = g.Read(p)
					got = append(got, p[:n]...)
				}
				where := fmt.Sprintf("%s, records of %d, reads of %d", tt.name, recSize, chunk)
				if tt.refuse != 0 {
					if a, ok := recordlimit.AlertOf(err); !ok || a != tt.refuse || !errors.Is(err, recordlimit.ErrNegotiation) {
						t.Fatalf("%s: error %v, want a refusal with %v", where, err, tt.refuse)
					}
					if want := appendAlertRecord(nil, tt.refuse); !bytes.Equal(cc.out.Bytes(), want) {
						t.Fatalf("%s: the guard sent % x, want the alert % x", where, cc.out.Bytes(), want)
					}
					if _, err2 := g.Read(p); !errors.Is(err2, recordlimit.ErrNegotiation) {
						t.Fatalf("%s: a Read after the refusal returned %v", where, err2)
					}
					continue
				}
				if !errors.Is(err, io.EOF) || !bytes.Equal(got, stream) || cc.out.Len() != 0 {
					t.Fatalf("%s: %v, the stack got %d of %d bytes, the guard sent %d", where, err, len(got), len(stream), cc.out.Len())
				}
				if o, ok := g.Offer(); !ok || o != tt.want {
					t.Fatalf("%s: offer %+v (%v), want %+v", where, o, ok, tt.want)
				}
			}
		}
	}
}

// FuzzServerHelloScan drives the server guard's ClientHello scan with
// arbitrary client bytes read in arbitrary chunks. The stack must get every
// byte unchanged until a refusal; a refusal carries its alert, is sent as
// exactly one alert record and happens only for an offer the RFCs forbid;
// the outcome does not depend on the read size; and the guard keeps no more
// than one hello.
func FuzzServerHelloScan(f *testing.F) {
	for _, exts := range [][]wire.Extension{
		{{Type: recordlimit.ExtRecordSizeLimit, Data: []byte{1, 0}}},
		{{Type: recordlimit.ExtRecordSizeLimit, Data: []byte{0, 10}}},
		{{Type: recordlimit.ExtMaxFragmentLength, Data: []byte{7}}},
		{{Type: recordlimit.ExtMaxFragmentLength, Data: []byte{1}}, {Type: recordlimit.ExtRecordSizeLimit, Data: []byte{0, 64, 0}}},
	} {
		msg := bigClientHello(300, true, exts...)
		f.Add(AppendRecords(nil, recordlimit.TypeHandshake, 0x0301, msg, 100), uint8(7))
		f.Add(AppendRecords(nil, recordlimit.TypeHandshake, 0x0301, msg, 1), uint8(1))
	}
	f.Fuzz(func(t *testing.T, stream []byte, chunk uint8) {
		type outcome struct {
			got     []byte
			offer   recordlimit.Offer
			have    bool
			alert   recordlimit.Alert
			refused bool
			sent    []byte
		}
		run := func(n int) outcome {
			cc := &chunkConn{stream: stream, n: n}
			g := NewServerConn(cc, 0)
			var o outcome
			p := make([]byte, 512)
			for {
				k, err := g.Read(p)
				o.got = append(o.got, p[:k]...)
				if len(g.in.hello.body) > maxHandshakeMessage {
					t.Fatalf("the guard holds %d bytes of hello", len(g.in.hello.body))
				}
				if err != nil {
					if !errors.Is(err, io.EOF) {
						if !errors.Is(err, recordlimit.ErrNegotiation) {
							t.Fatalf("Read failed with %v", err)
						}
						o.refused = true
						o.alert, _ = recordlimit.AlertOf(err)
					}
					break
				}
			}
			o.offer, o.have = g.Offer()
			o.sent = cc.out.Bytes()
			return o
		}
		a, b := run(int(chunk)%64+1), run(len(stream)+1)
		if a.refused != b.refused || a.alert != b.alert || a.offer != b.offer || a.have != b.have {
			t.Fatalf("reads of %d: %+v; one read: %+v", int(chunk)%64+1, a, b)
		}
		for _, o := range []outcome{a, b} {
			if o.refused {
				if o.alert != recordlimit.AlertIllegalParameter && o.alert != recordlimit.AlertDecodeError {
					t.Fatalf("refused with %v", o.alert)
				}
				if !bytes.Equal(o.sent, appendAlertRecord(nil, o.alert)) {
					t.Fatalf("the guard sent % x for a refusal with %v", o.sent, o.alert)
				}
				continue
			}
			if !bytes.Equal(o.got, stream) || len(o.sent) != 0 {
				t.Fatalf("the stack got %d of %d bytes, the guard sent %d", len(o.got), len(stream), len(o.sent))
			}
			if o.have {
				if err := o.offer.Validate(); err != nil {
					t.Fatalf("offer %+v: %v", o.offer, err)
				}
			}
		}
	})
}

// helloRetryRecord returns a TLS 1.3 HelloRetryRequest as a record: its
// random is SHA-256("HelloRetryRequest") (RFC 8446, Section 4.1.3).
func helloRetryRecord() []byte {
	helloRetryRandom := sha256.Sum256([]byte("HelloRetryRequest"))
	var b cryptobyte.Builder
	b.AddUint8(typeServerHello)
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint16(0x0303)
		b.AddBytes(helloRetryRandom[:])
		b.AddUint8(0)
		b.AddUint16(0x1301)
		b.AddUint8(0)
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			appendExtensions(b, []wire.Extension{{Type: extSupportedVersions, Data: []byte{3, 4}}, {Type: 51, Data: []byte{0, 29}}})
		})
	})
	return AppendRecords(nil, recordlimit.TypeHandshake, 0x0303, b.BytesOrPanic(), 0)
}

// TestServerRetryHelloRefusal checks both moments at which the guard
// refuses a second ClientHello that changes record_size_limit: when it
// arrives after the HelloRetryRequest (Read fails, the alert goes out before
// the stack sees the hello), and when it arrived with the first hello (the
// guard sends the alert in place of the stack's ServerHello); an unchanged
// second hello lets the ServerHello through.
func TestServerRetryHelloRefusal(t *testing.T) {
	rsl := func(v byte) wire.Extension {
		return wire.Extension{Type: recordlimit.ExtRecordSizeLimit, Data: []byte{v, 0}}
	}
	first := AppendRecords(nil, recordlimit.TypeHandshake, 0x0301, bigClientHello(300, true, rsl(2)), 0)
	ccs := []byte{20, 3, 3, 0, 1, 1}
	hrr := helloRetryRecord()
	sh := serverHelloRecord(wire.Extension{Type: extSupportedVersions, Data: []byte{3, 4}})
	alert := appendAlertRecord(nil, recordlimit.AlertIllegalParameter)
	for _, tc := range []struct {
		name    string
		second  wire.Extension
		early   bool
		readErr bool // the refusal comes from Read, else from the ServerHello's Write
		refused bool
	}{
		{"changed, after the HRR", rsl(4), false, true, true},
		{"changed, sent early", rsl(4), true, false, true},
		{"unchanged, after the HRR", rsl(2), false, false, false},
		{"unchanged, sent early", rsl(2), true, false, false},
	} {
		second := append(append([]byte(nil), ccs...), AppendRecords(nil, recordlimit.TypeHandshake, 0x0303, bigClientHello(300, true, tc.second), 0)...)
		stream := first
		if tc.early {
			stream = append(append([]byte(nil), first...), second...)
		}
		cc := &chunkConn{stream: stream, n: len(stream)}
		g := NewServerConn(cc, 0)
		p := make([]byte, 4096)
		if _, err := g.Read(p); err != nil {
			t.Fatalf("%s: reading the first hello: %v", tc.name, err)
		}
		if _, err := g.Write(hrr); err != nil {
			t.Fatalf("%s: writing the HRR: %v", tc.name, err)
		}
		if !tc.early {
			cc.stream = second
			cc.n = len(second)
		}
		_, rerr := g.Read(p)
		if tc.readErr {
			if a, ok := recordlimit.AlertOf(rerr); !ok || a != recordlimit.AlertIllegalParameter {
				t.Fatalf("%s: Read of the second hello: %v, want a refusal", tc.name, rerr)
			}
			if want := append(append([]byte(nil), hrr...), alert...); !bytes.Equal(cc.out.Bytes(), want) {
				t.Fatalf("%s: the client got % x, want the HRR and the alert", tc.name, cc.out.Bytes())
			}
			continue
		}
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			t.Fatalf("%s: Read of the second hello: %v", tc.name, rerr)
		}
		_, werr := g.Write(sh)
		want := append(append([]byte(nil), hrr...), sh...)
		if tc.refused {
			if a, ok := recordlimit.AlertOf(werr); !ok || a != recordlimit.AlertIllegalParameter {
				t.Fatalf("%s: Write of the ServerHello: %v, want a refusal", tc.name, werr)
			}
			want = append(append([]byte(nil), hrr...), alert...)
		} else if werr != nil {
			t.Fatalf("%s: Write of the ServerHello: %v", tc.name, werr)
		}
		if !bytes.Equal(cc.out.Bytes(), want) {
			t.Fatalf("%s: the client got % x, want % x", tc.name, cc.out.Bytes(), want)
		}
	}
}

// quietConn hands over stream in reads as large as the caller asks for,
// counting them, then blocks, as a client gone quiet, until Close.
type quietConn struct {
	net.Conn
	stream []byte
	reads  int
	closed chan struct{}
}

func (c *quietConn) Read(p []byte) (int, error) {
	if len(c.stream) == 0 {
		<-c.closed
		return 0, io.EOF
	}
	c.reads++
	k := copy(p, c.stream)
	c.stream = c.stream[k:]
	return k, nil
}

func (c *quietConn) Close() error { close(c.closed); return nil }

// TestServerReadAheadAndIdle checks both sides of the server guard's read
// buffer: while a client streams, the stack reading into a small buffer (600
// bytes, as crypto/tls's grows to) costs one transport read per full record's
// worth (18,437 bytes), not one per 600 bytes; once the client is quiet, a
// Read waiting for it holds no buffer, so that 100 idle connections hold
// less than 4 KiB of heap each (a guard that kept its 18 KiB read buffer
// held more than 18 KiB each). The bytes pass unchanged.
func TestServerReadAheadAndIdle(t *testing.T) {
	stream := make([]byte, 100_000) // not a multiple of the buffer: the last read is short
	for i := range stream {
		stream[i] = byte(i*7 + i>>8)
	}
	stream[0], stream[1], stream[2] = byte(recordlimit.TypeApplicationData), 3, 3 // no hello to scan
	const conns = 100
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	qcs := make([]*quietConn, conns)
	blocked := make(chan struct{}, conns)
	for i := range qcs {
		qc := &quietConn{stream: stream, closed: make(chan struct{})}
		qcs[i] = qc
		g := NewServerConn(qc, 2048)
		var got []byte
		if i == 0 {
			got = make([]byte, 0, len(stream))
		}
		p := make([]byte, 600)
		for n := 0; n < len(stream); {
			k, err := g.Read(p)
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				got = append(got, p[:k]...)
			}
			n += k
		}
		if i == 0 {
			if !bytes.Equal(got, stream) {
				t.Fatal("the stack got other bytes than the client sent")
			}
			if want := 1 + (len(stream)-len(p)+wire.MaxRecord-1)/wire.MaxRecord; qc.reads != want {
				t.Errorf("%d bytes read in %d transport reads, want %d", len(stream), qc.reads, want)
			}
		}
		go func() {
			blocked <- struct{}{}
			g.Read(p) // waits for the quiet client
		}()
	}
	for range conns {
		<-blocked
	}
	runtime.GC()
	runtime.GC() // the second empties the buffer pools
	runtime.ReadMemStats(&after)
	perConn := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / conns
	t.Logf("%d idle connections: %d bytes of heap each", conns, perConn)
	if perConn > 4<<10 {
		t.Errorf("an idle connection holds %d bytes of heap, want at most 4 KiB", perConn)
	}
	for _, qc := range qcs {
		qc.Close()
	}
}
