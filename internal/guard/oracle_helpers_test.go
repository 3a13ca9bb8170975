package guard_test

// Helpers for the boundary tests of this package's external test files
// (bound_*_test.go). They build the peer's records by hand, byte by byte,
// and read back what the guard handed the stack and what it put on the wire,
// so that the tests state their expectations in the RFCs' arithmetic and
// depend only on the guards' exported surface (NewConn, NewServerConn,
// Read, Write, KeyLogWriter, NewEpoch) and recordlimit's sentinels.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"golang.org/x/crypto/cryptobyte"

	"github.com/tlsapp/tlsapp/internal/guard"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// Record content types and handshake message types, as on the wire.
const (
	ctCCS       = 20
	ctAlert     = 21
	ctHandshake = 22
	ctAppData   = 23

	hsClientHello = 1
	hsServerHello = 2
	hsEE          = 8
	hsCertificate = 11
	hsFinished    = 20
	hsCompCert    = 25
)

// Alert descriptions, as on the wire.
const (
	alUnexpectedMessage    = 10
	alRecordOverflow       = 22
	alBadCertificate       = 42
	alIllegalParameter     = 47
	alDecodeError          = 50
	alUnsupportedExtension = 110
)

const suite13 = 0x1301 // TLS_AES_128_GCM_SHA256: 16-byte tag

// rec returns one record of type typ carrying body, version TLS 1.2.
func rec(typ byte, body []byte) []byte {
	return append([]byte{typ, 3, 3, byte(len(body) >> 8), byte(len(body))}, body...)
}

// recs returns body as records of type typ of at most n bytes each.
func recs(typ byte, body []byte, n int) []byte {
	var out []byte
	for len(body) > 0 {
		k := min(n, len(body))
		out = append(out, rec(typ, body[:k])...)
		body = body[k:]
	}
	return out
}

// msg returns a handshake message of type typ with body.
func msg(typ byte, body []byte) []byte {
	n := len(body)
	return append([]byte{typ, byte(n >> 16), byte(n >> 8), byte(n)}, body...)
}

// sized returns a handshake message of type typ whose body is n bytes.
func sized(typ byte, n int) []byte { return msg(typ, make([]byte, n)) }

type ext struct {
	typ  uint16
	data []byte
}

func mflExt(code byte) ext  { return ext{1, []byte{code}} }
func rslExt(limit int) ext  { return ext{28, []byte{byte(limit >> 8), byte(limit)}} }
func padExt(n int) ext      { return ext{0xfe00, make([]byte, n)} }
func versions13() ext       { return ext{43, []byte{3, 4}} }
func keyShareX25519() ext   { return ext{51, []byte{0, 0x1d, 0, 1, 9}} }
func exts13(e ...ext) []ext { return append([]ext{versions13(), keyShareX25519()}, e...) }

func addExts(b *cryptobyte.Builder, exts []ext) {
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, e := range exts {
			b.AddUint16(e.typ)
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(e.data) })
		}
	})
}

// serverHello returns a ServerHello message choosing suite with exts; a
// TLS 1.3 one carries versions13 and a key share among them.
func serverHello(suite uint16, exts []ext) []byte {
	var b cryptobyte.Builder
	b.AddUint8(hsServerHello)
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint16(0x0303)
		b.AddBytes(bytes.Repeat([]byte{7}, 32))
		b.AddUint8(0)
		b.AddUint16(suite)
		b.AddUint8(0)
		addExts(b, exts)
	})
	return b.BytesOrPanic()
}

// helloRetryRequest returns a TLS 1.3 HelloRetryRequest message with
// extra extensions.
func helloRetryRequest(extra ...ext) []byte {
	random := sha256.Sum256([]byte("HelloRetryRequest"))
	var b cryptobyte.Builder
	b.AddUint8(hsServerHello)
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint16(0x0303)
		b.AddBytes(random[:])
		b.AddUint8(0)
		b.AddUint16(suite13)
		b.AddUint8(0)
		addExts(b, append([]ext{versions13(), {51, []byte{0, 0x17}}}, extra...))
	})
	return b.BytesOrPanic()
}

// clientHello returns a ClientHello message carrying exts, padded with an
// extension to a body of exactly size bytes when size > 0.
func clientHello(size int, exts ...ext) []byte {
	body := func(exts []ext) []byte {
		var b cryptobyte.Builder
		b.AddUint16(0x0303)
		b.AddBytes(make([]byte, 32))
		b.AddUint8(0)
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint16(0x1301); b.AddUint16(0xc02b) })
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint8(0) })
		addExts(&b, exts)
		return b.BytesOrPanic()
	}
	b := body(exts)
	if size > 0 {
		b = body(append(exts, padExt(size-len(b)-4)))
		if len(b) != size {
			panic(fmt.Sprintf("ClientHello body of %d bytes, want %d", len(b), size))
		}
	}
	return msg(hsClientHello, b)
}

// encryptedExtensions returns an EncryptedExtensions message with exts.
func encryptedExtensions(exts ...ext) []byte {
	var b cryptobyte.Builder
	addExts(&b, exts)
	return msg(hsEE, b.BytesOrPanic())
}

func finishedMsg() []byte { return sized(hsFinished, 32) }

// keyLogLine is an NSS key log line for label and secret.
func keyLogLine(label string, secret []byte) []byte {
	return fmt.Appendf(nil, "%s %s %s\n", label, hex.EncodeToString(make([]byte, 32)), hex.EncodeToString(secret))
}

// secrets13 are the two handshake traffic secrets of a scripted TLS 1.3
// handshake.
var (
	serverHS = bytes.Repeat([]byte{0x51}, 32)
	clientHS = bytes.Repeat([]byte{0xc1}, 32)
)

func epoch(t testing.TB, secret []byte) *guard.Epoch {
	t.Helper()
	e, err := guard.NewEpoch(suite13, secret)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// logSecrets gives the guard's key log writer both handshake secrets, as
// the stack does once it has read the ServerHello.
func logSecrets(t testing.TB, w io.Writer) {
	t.Helper()
	for _, l := range [][]byte{keyLogLine("SERVER_HANDSHAKE_TRAFFIC_SECRET", serverHS), keyLogLine("CLIENT_HANDSHAKE_TRAFFIC_SECRET", clientHS)} {
		if _, err := w.Write(l); err != nil {
			t.Fatal(err)
		}
	}
}

// sealPadded seals content of type typ with pad zero bytes of padding
// after the content type (RFC 8446, Section 5.4).
func sealPadded(e *guard.Epoch, typ byte, content []byte, pad int) []byte {
	if pad == 0 {
		return e.Seal(nil, recordlimit.ContentType(typ), content)
	}
	inner := append(append(append([]byte(nil), content...), typ), make([]byte, pad-1)...)
	return e.Seal(nil, 0, inner)
}

// pipe is the transport under a guard in these tests: Read hands out the
// peer's bytes (in reads of at most chunk bytes when chunk > 0; with the
// last of them io.EOF when eofWithData), Write keeps what the guard sends.
// A read into an empty buffer is an error: a guard that makes one would
// spin on a real socket.
type pipe struct {
	net.Conn    // nil: only Read, Write and Close are called
	in          []byte
	chunk       int
	eofWithData bool
	out         []byte
	reads       int
	closed      bool
}

var errEmptyRead = errors.New("pipe: Read into an empty buffer")

func (p *pipe) Read(b []byte) (int, error) {
	p.reads++
	if len(b) == 0 {
		return 0, errEmptyRead
	}
	if len(p.in) == 0 {
		return 0, io.EOF
	}
	n := len(b)
	if p.chunk > 0 {
		n = min(n, p.chunk)
	}
	k := copy(b[:n], p.in)
	p.in = p.in[k:]
	if p.eofWithData && len(p.in) == 0 {
		return k, io.EOF
	}
	return k, nil
}

func (p *pipe) Write(b []byte) (int, error) { p.out = append(p.out, b...); return len(b), nil }
func (p *pipe) Close() error                { p.closed = true; return nil }

// drain reads r to its first error in reads of size bytes, as the stack
// would, and returns what it got. A Read that returns neither bytes nor an
// error fails the test (io.Reader discourages it; a stack may spin on it).
func drain(t testing.TB, r io.Reader, size int) ([]byte, error) {
	t.Helper()
	p := make([]byte, size)
	var got []byte
	for i := 0; ; i++ {
		if i > 1<<20 {
			t.Fatal("no end to the reads")
		}
		n, err := r.Read(p)
		got = append(got, p[:n]...)
		if err != nil {
			return got, err
		}
		if n == 0 {
			t.Fatalf("Read into %d bytes returned 0 bytes and no error", size)
		}
	}
}

// record is one record as seen on the wire.
type record struct {
	typ  byte
	body []byte
}

// split parses b into whole records; it fails the test on anything else.
func split(t testing.TB, b []byte) []record {
	t.Helper()
	var out []record
	for len(b) > 0 {
		if len(b) < 5 {
			t.Fatalf("%d bytes on the wire after %d records: not a record", len(b), len(out))
		}
		n := int(b[3])<<8 | int(b[4])
		if len(b) < 5+n {
			t.Fatalf("record %d: %d-byte body cut at %d", len(out), n, len(b)-5)
		}
		out = append(out, record{b[0], b[5 : 5+n]})
		b = b[5+n:]
	}
	return out
}

func (r record) wire() []byte { return rec(r.typ, r.body) }

// open decrypts the protected record r with e, failing the test if it does
// not decrypt.
func open(t testing.TB, e *guard.Epoch, r record) (content []byte, typ byte) {
	t.Helper()
	if r.typ != ctAppData {
		t.Fatalf("a %d record in the clear where a protected one belongs", r.typ)
	}
	c, ty, err := e.Open(nil, r.wire())
	if err != nil {
		t.Fatalf("protected record of %d bytes: %v", len(r.body), err)
	}
	return c, byte(ty)
}

// alertOf checks that err matches sentinel and carries alert a.
func alertOf(t testing.TB, err, sentinel error, a byte) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("error %v, want one matching %v", err, sentinel)
	}
	if got, ok := recordlimit.AlertOf(err); !ok || byte(got) != a {
		t.Fatalf("error %v carries alert %v (%v), want %d", err, got, ok, a)
	}
}

// readHello reads the n bytes of a client's first flight through a server
// guard without reaching the pipe's end: an end of the transport during
// the handshake ends the connection and wipes the guard's secrets, after
// which no secret is taken.
func readHello(t testing.TB, g io.Reader, n int) {
	t.Helper()
	if _, err := io.ReadFull(g, make([]byte, n)); err != nil {
		t.Fatal(err)
	}
}
