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
func guardFor(mfl byte, rsl uint16, secret []byte, chunk int, stream []byte) (*guard.Conn, *memConn) {
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
	return c, mc
}

// received is what a TLS stack reading a guard got.
type received struct {
	data     []byte // every byte handed over
	records  int    // whole records handed over
	err      error  // the error that ended reading
	overflow bool   // the last thing handed over was the overflow signal
	last     int    // where the last whole record handed over starts
}

// drain reads c as a TLS stack would, readSize bytes at a time, until an
// error, checking every record handed over against the limit in force when
// its header was read.
func drain(t *testing.T, c *guard.Conn, streamLen, readSize int) received {
	t.Helper()
	var r received
	p := make([]byte, readSize)
	next, bound := 0, 0
	for iter := 0; ; iter++ {
		if iter > 2*streamLen+10 {
			t.Fatalf("no end after %d reads of a %d-byte stream", iter, streamLen)
		}
		if len(r.data) == next {
			l := c.Limits()
			bound = max(l.Receive, l.ReceivePlain)
		}
		n, err := c.Read(p)
		if n < 0 || n > len(p) {
			t.Fatalf("Read returned %d", n)
		}
		r.data = append(r.data, p[:n]...)
		for len(r.data)-next >= wire.HeaderLen {
			ln := int(r.data[next+3])<<8 | int(r.data[next+4])
			if ln > bound {
				if ln != 0xffff || len(r.data) != next+wire.HeaderLen {
					t.Fatalf("record of %d bytes handed over under a limit of %d", ln, bound)
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
		c, mc := guardFor(mfl, rsl, secret, int(chunk), stream)
		r := drain(t, c, len(stream), 17000)
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
		ref, _ := guardFor(mfl, rsl, secret, 0, stream)
		want := drain(t, ref, len(stream), 20000)
		c, _ := guardFor(mfl, rsl, secret, int(chunk), stream)
		// Reads as short as one byte: the overflow signal must survive
		// them (guard.TestOverflowSignalShortReads).
		got := drain(t, c, len(stream), int(readSize%4096)+minRead)
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
			c, _ := guardFor(s.mfl, s.rsl, s.secret, 0, s.stream)
			r := drain(t, c, len(s.stream), 1<<15)
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
