package fuzz

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tlsapp/tlsapp/internal/guard"
	"github.com/tlsapp/tlsapp/internal/wire"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// memConn is a transport whose Read serves a fixed stream (the server's
// bytes) and whose Write swallows what the client sends (its alerts).
type memConn struct {
	net.Conn // nil: only Read, Write and Close are used
	r        *bytes.Reader
	written  []byte
}

func (m *memConn) Read(p []byte) (int, error) { return m.r.Read(p) }
func (m *memConn) Write(p []byte) (int, error) {
	m.written = append(m.written, p...)
	return len(p), nil
}
func (m *memConn) Close() error { return nil }

// guardFor returns a client guard reading stream for the given offer, with
// the captured server handshake secret installed as the TLS stack would log
// it, over a transport that returns at most chunk bytes per read (0: no
// limit).
func guardFor(mfl byte, rsl uint16, secret []byte, chunk int, stream []byte) (*guard.Conn, *memConn, recordlimit.Offer) {
	o := recordlimit.Offer{MaxFragmentLength: recordlimit.MaxFragmentCode(mfl % 5), RecordSizeLimit: int(rsl)}
	if o.Validate() != nil {
		o.RecordSizeLimit = 0
	}
	mc := &memConn{r: bytes.NewReader(stream)}
	var transport net.Conn = mc
	if chunk > 0 {
		transport = recordlimit.Chunked(mc, chunk)
	}
	c := guard.NewConn(transport, o)
	if len(secret) > 0 {
		line := "SERVER_HANDSHAKE_TRAFFIC_SECRET " + strings.Repeat("00", 32) + " " + hex.EncodeToString(secret) + "\n"
		c.KeyLogWriter(nil).Write([]byte(line))
	}
	return c, mc, o
}

// received is what a TLS stack reading a guard got.
type received struct {
	data     []byte // every byte handed over
	records  int    // whole records handed over
	err      error  // the error that ended reading
	overflow bool   // the last thing handed over was the overflow signal
	last     int    // where the last whole record handed over starts
}

// drain reads c, which reads stream for offer o, as a TLS stack would,
// readSize bytes at a time, until an error, checking every record handed
// over against the limit that the RFCs set for it, which expectedBound
// computes from the offer and the answer the guard read, not from the
// guard's own limits; and every record the guard refuses with the overflow
// signal against the same bound, from below.
func drain(t *testing.T, c *guard.Conn, o recordlimit.Offer, stream []byte, readSize int) received {
	t.Helper()
	streamLen := len(stream)
	var r received
	p := make([]byte, readSize)
	next := 0
	var agr wire.Agreement
	ccs := false // a ChangeCipherSpec from a TLS 1.2 server has passed
	for iter := 0; ; iter++ {
		if iter > 2*streamLen+10 {
			t.Fatalf("no end after %d reads of a %d-byte stream", iter, streamLen)
		}
		if len(r.data) == next {
			agr, _ = c.Agreement()
		}
		n, err := c.Read(p)
		if n < 0 || n > len(p) {
			t.Fatalf("Read returned %d", n)
		}
		r.data = append(r.data, p[:n]...)
		for len(r.data)-next >= wire.HeaderLen {
			typ := recordlimit.ContentType(r.data[next])
			ln := int(r.data[next+3])<<8 | int(r.data[next+4])
			bound := expectedBound(o, agr, protectedRecord(agr, ccs, typ))
			if ln > bound {
				if ln != 0xffff || len(r.data) != next+wire.HeaderLen {
					t.Fatalf("%v record of %d bytes handed over under a limit of %d (%+v)", typ, ln, bound, agr)
				}
				// The refused record must be above the bound: a guard
				// whose limit is too tight refuses what the RFCs allow.
				if next+wire.HeaderLen <= streamLen {
					real := int(stream[next+3])<<8 | int(stream[next+4])
					if real <= bound && stream[next] == byte(typ) {
						t.Fatalf("%v record of %d bytes refused under a limit of %d (%+v)", typ, real, bound, agr)
					}
				}
				// The overflow signal: the header alone, with an
				// impossible length, then the typed error.
				_, err := c.Read(p)
				if !errors.Is(err, recordlimit.ErrRecordOverflow) {
					t.Fatalf("after the overflow header: %v", err)
				}
				r.err, r.overflow = err, true
				return r
			}
			if len(r.data) < next+wire.HeaderLen+ln {
				break
			}
			r.last = next
			next += wire.HeaderLen + ln
			r.records++
			if typ == recordlimit.TypeChangeCipherSpec && agr.Version == wire.VersionTLS12 {
				ccs = true
			}
		}
		if err != nil {
			if gerr := c.Err(); gerr != nil {
				if _, ok := recordlimit.AlertOf(gerr); !ok {
					t.Fatalf("guard error %v carries no alert", gerr)
				}
				if !errors.Is(err, gerr) && err != gerr {
					t.Fatalf("Read returned %v, guard recorded %v", err, gerr)
				}
			}
			if n2, err2 := c.Read(p); n2 != 0 || err2 == nil {
				t.Fatalf("Read after %v gave %d, %v", err, n2, err2)
			}
			r.err = err
			return r
		}
	}
}

// protectedRecord reports whether a record of type typ from the server is
// protected, as the record layer sees it: in TLS 1.3 every
// application_data record once the ServerHello is known (RFC 8446, Section
// 5), in TLS 1.2 every record after the server's ChangeCipherSpec (RFC 5246,
// Section 7.1).
func protectedRecord(agr wire.Agreement, ccsSeen bool, typ recordlimit.ContentType) bool {
	switch {
	case agr.Version >= 0x0304:
		return typ == recordlimit.TypeApplicationData
	case agr.Version != 0:
		return ccsSeen && typ != recordlimit.TypeChangeCipherSpec
	}
	return false
}

// expectedBound is the longest record body a client that offered o may
// accept from a server whose answer was agr (the zero Agreement before the
// ServerHello), written out from the RFCs rather than taken from the guard:
//   - unprotected: 2^14 (RFC 5246, Section 6.2.1; RFC 8446, Section 5.1),
//     or the agreed max_fragment_length, which binds them too (RFC 6066,
//     Section 4); record_size_limit does not (RFC 8449, Section 4);
//   - protected: 2^14 + 2048 in TLS 1.2 and 2^14 + 256 in TLS 1.3; with
//     max_fragment_length the fragment plus the suite's expansion (plus the
//     inner content-type byte in TLS 1.3); with record_size_limit the
//     client's own limit (at most 2^14 in TLS 1.2, 2^14 + 1 in TLS 1.3,
//     where it counts the content-type byte) plus the expansion.
func expectedBound(o recordlimit.Offer, agr wire.Agreement, protected bool) int {
	tls13 := agr.Version >= 0x0304
	if !protected {
		if agr.Kind == recordlimit.KindMFL {
			return 256 << agr.MaxFragmentLength // codes 1..4: 2^9..2^12
		}
		return 1 << 14
	}
	exp := expansion(agr.Version, agr.Suite)
	switch agr.Kind {
	case recordlimit.KindMFL:
		n := 256 << agr.MaxFragmentLength
		if tls13 {
			return n + 1 + exp
		}
		return n + exp
	case recordlimit.KindRSL:
		if tls13 {
			return min(o.RecordSizeLimit, 1<<14+1) + exp
		}
		return min(o.RecordSizeLimit, 1<<14) + exp
	}
	if tls13 {
		return 1<<14 + 256
	}
	return 1<<14 + 2048
}

// expansion is what record protection adds with suite: RFC 8446, Section
// 5.2 (the 16-byte tag of the TLS 1.3 AEADs, up to 256 for others), RFC 5288
// (TLS 1.2 AES-GCM: 8-byte explicit nonce and tag), RFC 7905 (ChaCha20-
// Poly1305: the tag), RFC 5246, Section 6.2.3.2 (AES-CBC: IV, MAC, up to 256
// bytes of padding), and RFC 5246's 2048 for any other.
func expansion(version, suite uint16) int {
	if version >= 0x0304 {
		switch suite {
		case 0x1301, 0x1302, 0x1303:
			return 16
		}
		return 256
	}
	switch suite {
	case 0xc02b, 0xc02c, 0xc02f, 0xc030, 0x009c, 0x009d:
		return 8 + 16
	case 0xcca8, 0xcca9:
		return 16
	case 0xc009, 0xc00a, 0xc013, 0xc014, 0x002f, 0x0035:
		return 16 + 20 + 256
	case 0xc023, 0xc027, 0x003c, 0x003d:
		return 16 + 32 + 256
	case 0xc024, 0xc028:
		return 16 + 48 + 256
	}
	return 2048
}

// FuzzReceivePath feeds the client guard a real captured server handshake
// (the seeds), mutated or cut and followed by arbitrary bytes. It asserts
// that the guard never panics or spins, hands the stack exactly the bytes
// the server sent, record by record, never a record above the limit in force
// (an over-limit record shows up only as the overflow signal followed by a
// RecordOverflowError), ends every failure with an error that carries an
// alert, and allocates memory bounded by the record limits rather than by
// anything the server declares.
func FuzzReceivePath(f *testing.F) {
	f.Fuzz(func(t *testing.T, mfl byte, rsl uint16, secret []byte, chunk byte, stream []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		c, mc, o := guardFor(mfl, rsl, secret, int(chunk), stream)
		r := drain(t, c, o, stream, 17000)
		runtime.ReadMemStats(&after)

		// Byte-identical pass-through, up to the overflow header.
		want := stream[:len(r.data)]
		if r.overflow {
			k := len(r.data) - wire.HeaderLen
			if !bytes.Equal(r.data[:k+3], want[:k+3]) {
				t.Fatal("bytes changed before the overflow signal")
			}
		} else if errors.Is(c.Err(), recordlimit.ErrBadRecord) && len(r.data)-r.last <= 6 {
			// A bad header after the handshake: in its place the stack got
			// the record that makes it send the alert itself.
			if !bytes.Equal(r.data[:r.last], want[:r.last]) {
				t.Fatal("bytes changed before the bad header's signal")
			}
		} else if !bytes.Equal(r.data, want) {
			t.Fatal("bytes changed on the way through")
		}
		if r.err == nil {
			t.Fatal("reading ended without an error")
		}
		// Stopping short without a guard error is right only when the
		// transport ran dry inside a record: a cut, not a protocol fault.
		if !r.overflow && c.Err() == nil && len(r.data) < len(stream) &&
			(mc.r.Len() != 0 || !errors.Is(r.err, io.ErrUnexpectedEOF)) {
			t.Fatalf("stopped after %d of %d bytes without a guard error (%v)", len(r.data), len(stream), r.err)
		}
		// The client's alert, if any, is one small record.
		if len(mc.written) > 64 {
			t.Fatalf("guard wrote %d bytes", len(mc.written))
		}
		// Memory: one pooled record buffer, one handshake message under
		// the 64 KiB bound, some key schedule. A server declaring
		// megabytes must not make the guard allocate them.
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20+4*uint64(len(stream)) {
			t.Fatalf("allocated %d bytes for a %d-byte stream", grew, len(stream))
		}
	})
}

// FuzzChunkedReceive checks that the transport's chunking changes nothing:
// the guard over recordlimit.Chunked with any chunk size and any read size
// hands the stack the same bytes and ends with the same kind of error as
// with whole reads.
func FuzzChunkedReceive(f *testing.F) {
	f.Fuzz(func(t *testing.T, mfl byte, rsl uint16, secret []byte, chunk byte, readSize uint16, stream []byte) {
		ref, _, o := guardFor(mfl, rsl, secret, 0, stream)
		want := drain(t, ref, o, stream, 20000)
		c, _, _ := guardFor(mfl, rsl, secret, int(chunk), stream)
		// Reads as short as one byte: the overflow signal must survive
		// them (guard.TestOverflowSignalShortReads).
		got := drain(t, c, o, stream, int(readSize%4096)+minRead)
		if !bytes.Equal(got.data, want.data) {
			t.Fatalf("chunk %d, read %d: %d bytes handed over, %d with whole reads", chunk, int(readSize%4096)+minRead, len(got.data), len(want.data))
		}
		if got.overflow != want.overflow || (c.Err() == nil) != (ref.Err() == nil) {
			t.Fatalf("chunk %d: ended with %v (guard %v), whole reads with %v (guard %v)", chunk, got.err, c.Err(), want.err, ref.Err())
		}
		if a, _ := recordlimit.AlertOf(c.Err()); c.Err() != nil {
			if b, _ := recordlimit.AlertOf(ref.Err()); a != b {
				t.Fatalf("chunk %d: alert %v, whole reads %v", chunk, a, b)
			}
		}
	})
}

// minRead is the smallest read FuzzChunkedReceive makes.
const minRead = 1

// seed is one decoded seed file of FuzzReceivePath.
type seed struct {
	name   string
	mfl    byte
	rsl    uint16
	secret []byte
	chunk  byte
	stream []byte
}

// loadSeeds decodes the FuzzReceivePath corpus (the format go test writes).
func loadSeeds(t *testing.T) []seed {
	files, err := filepath.Glob("testdata/fuzz/FuzzReceivePath/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no seeds: %v", err)
	}
	var seeds []seed
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != 6 || lines[0] != "go test fuzz v1" {
			t.Fatalf("%s: not a FuzzReceivePath seed", f)
		}
		arg := func(i int, prefix string) string {
			s := strings.TrimSuffix(strings.TrimPrefix(lines[i], prefix+"("), ")")
			if len(s) == len(lines[i]) {
				t.Fatalf("%s line %d: %q", f, i, lines[i])
			}
			return s
		}
		unq := func(i int) []byte {
			s, err := strconv.Unquote(arg(i, "[]byte"))
			if err != nil {
				t.Fatalf("%s line %d: %v", f, i, err)
			}
			return []byte(s)
		}
		char := func(i int) byte {
			s, _, _, err := strconv.UnquoteChar(strings.Trim(arg(i, "byte"), "'"), '\'')
			if err != nil {
				t.Fatalf("%s line %d: %v", f, i, err)
			}
			return byte(s)
		}
		rsl, err := strconv.Atoi(arg(2, "uint16"))
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, seed{name: filepath.Base(f), mfl: char(1), rsl: uint16(rsl),
			secret: unq(3), chunk: char(4), stream: unq(5)})
	}
	return seeds
}

// TestCapturedHandshakes replays every captured handshake through the guard
// whole: the captures are real, so each passes unchanged, and the guard
// reads the same answer the server gave (no answer from Go's server,
// max_fragment_length from OpenSSL, record_size_limit from the scripted
// server, which then sends one record too many).
func TestCapturedHandshakes(t *testing.T) {
	for _, s := range loadSeeds(t) {
		if !strings.HasPrefix(s.name, "scripted") && !strings.HasPrefix(s.name, "openssl") && !strings.HasPrefix(s.name, "go") {
			continue // a fuzzer's regression input, not a capture
		}
		t.Run(s.name, func(t *testing.T) {
			c, _, o := guardFor(s.mfl, s.rsl, s.secret, 0, s.stream)
			r := drain(t, c, o, s.stream, 1<<15)
			agr, done := c.Agreement()
			switch {
			case strings.HasPrefix(s.name, "scripted"):
				if !r.overflow || agr.Kind != recordlimit.KindRSL {
					t.Fatalf("overflow %v, agreement %+v (%v)", r.overflow, agr, r.err)
				}
				return
			case strings.HasPrefix(s.name, "openssl"):
				if agr.Kind != recordlimit.KindMFL || agr.MaxFragmentLength.Bytes() != 512 {
					t.Errorf("agreement %+v", agr)
				}
			case strings.HasPrefix(s.name, "go"):
				if agr.Kind != recordlimit.KindNone {
					t.Errorf("agreement %+v", agr)
				}
			}
			if !done || c.Err() != nil || !errors.Is(r.err, io.EOF) || !bytes.Equal(r.data, s.stream) {
				t.Fatalf("negotiated %v, guard error %v, end %v, %d of %d bytes", done, c.Err(), r.err, len(r.data), len(s.stream))
			}
		})
	}
}

// TestCapturedBoundaries appends to every completed captured handshake an
// application_data record of exactly the bound the RFCs give for its
// answer (expectedBound), then one of the bound + 1: the first must reach
// the stack unchanged, the second must be refused with the overflow signal
// and a RecordOverflowError naming that bound.
func TestCapturedBoundaries(t *testing.T) {
	for _, s := range loadSeeds(t) {
		if !strings.HasPrefix(s.name, "openssl") && !strings.HasPrefix(s.name, "go") {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			c, _, o := guardFor(s.mfl, s.rsl, s.secret, 0, s.stream)
			drain(t, c, o, s.stream, 1<<15)
			agr, done := c.Agreement()
			if !done {
				t.Fatalf("the capture does not complete: %+v", agr)
			}
			bound := expectedBound(o, agr, true)
			record := func(n int) []byte {
				r := append([]byte{23, 3, 3, byte(n >> 8), byte(n)}, make([]byte, n)...)
				for i := wire.HeaderLen; i < len(r); i++ {
					r[i] = byte(i)
				}
				return r
			}
			at := append(append(slices.Clone(s.stream), record(bound)...), record(bound+1)...)
			c, _, o = guardFor(s.mfl, s.rsl, s.secret, 0, at)
			r := drain(t, c, o, at, 1<<15)
			k := len(s.stream) + wire.HeaderLen + bound
			if !r.overflow || len(r.data) != k+wire.HeaderLen || !bytes.Equal(r.data[:k], at[:k]) {
				t.Fatalf("bound %d (%+v): overflow %v, %d bytes handed over, want the record at the bound whole (%d bytes) and the signal; %v",
					bound, agr, r.overflow, len(r.data), k, r.err)
			}
			var oe *recordlimit.RecordOverflowError
			if !errors.As(r.err, &oe) || oe.Len != bound+1 || oe.Limit != bound {
				t.Fatalf("error %v, want an overflow of %d above %d", r.err, bound+1, bound)
			}
		})
	}
}
