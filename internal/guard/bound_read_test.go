package guard_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/tlsapp/tlsapp/internal/guard"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// Suites of the TLS 1.2 ServerHellos: AES-GCM adds an 8-byte explicit nonce
// and a 16-byte tag, ChaCha20-Poly1305 only the tag.
const (
	gcm12    = 0xc02b
	chacha12 = 0xcca8
)

// flight12 is a TLS 1.2 server's stream up to the record under test: the
// ServerHello with exts, and, when protected, a Certificate record and the
// ChangeCipherSpec, after which records are protected.
func flight12(suite uint16, protected bool, exts ...ext) []byte {
	b := rec(ctHandshake, serverHello(suite, exts))
	if protected {
		b = append(b, rec(ctHandshake, sized(hsCertificate, 100))...)
		b = append(b, rec(ctCCS, []byte{1})...)
	}
	return b
}

// flight13 is a TLS 1.3 server's stream up to the record under test: the
// ServerHello, the ChangeCipherSpec and, under the server's handshake keys,
// EncryptedExtensions carrying exts in a record of its own, then Finished
// (unless open), after which records belong to the application epoch.
func flight13(t testing.TB, open bool, exts ...ext) ([]byte, *guard.Epoch) {
	e := epoch(t, serverHS)
	b := rec(ctHandshake, serverHello(suite13, exts13()))
	b = append(b, rec(ctCCS, []byte{1})...)
	b = append(b, e.Seal(nil, ctHandshake, encryptedExtensions(exts...))...)
	if !open {
		b = append(b, e.Seal(nil, ctHandshake, finishedMsg())...)
	}
	return b, e
}

// readCase is a stream whose last record is the one under test.
type readCase struct {
	name   string
	offer  recordlimit.Offer
	head   []byte // what comes before the record under test
	last   []byte // the record under test
	pass   bool   // the guard hands it over whole
	tls13  bool   // log the handshake secrets first
	agreed bool   // the bound is one the server agreed to
}

// runRead reads the case's stream through a client guard in reads of the
// given size, and checks that the record under test reaches the stack whole
// (and the stream ends in io.EOF), or that the stack gets everything before
// it, none of its body, and an error matching ErrRecordOverflow.
func runRead(t *testing.T, tc readCase, size, chunk int) {
	t.Helper()
	stream := append(append([]byte(nil), tc.head...), tc.last...)
	p := &pipe{in: stream, chunk: chunk, eofWithData: chunk == 0}
	g := guard.NewConn(p, tc.offer)
	if tc.tls13 {
		logSecrets(t, g.KeyLogWriter(nil))
	}
	got, err := drain(t, g, size)
	if tc.pass {
		if err != io.EOF || !bytes.Equal(got, stream) {
			t.Fatalf("%s (reads of %d): %v after %d of %d bytes; want the whole stream and io.EOF", tc.name, size, err, len(got), len(stream))
		}
		if len(p.out) != 0 {
			t.Fatalf("%s: the guard sent % x to the server", tc.name, p.out)
		}
		return
	}
	if !errors.Is(err, recordlimit.ErrRecordOverflow) {
		t.Fatalf("%s (reads of %d): error %v, want record overflow", tc.name, size, err)
	}
	if a, ok := recordlimit.AlertOf(err); !ok || a != alRecordOverflow {
		t.Fatalf("%s: error %v carries alert %v", tc.name, err, a)
	}
	var ov *recordlimit.RecordOverflowError
	if errors.As(err, &ov) && (ov.Len != len(tc.last)-5 || ov.Limit != len(tc.last)-6 || ov.Agreed != tc.agreed) {
		t.Fatalf("%s: %+v, want the %d-byte record above %d, agreed %v", tc.name, ov, len(tc.last)-5, len(tc.last)-6, tc.agreed)
	}
	if !bytes.HasPrefix(got, tc.head) || len(got) > len(tc.head)+5 {
		t.Fatalf("%s (reads of %d): the stack got %d bytes; want the %d before the refused record and at most its header",
			tc.name, size, len(got), len(tc.head))
	}
}

// TestClientReceiveBounds checks every receive bound of the client guard at
// the limit and one byte past it, with figures worked out from the RFCs,
// not from the guard: plaintext records are bound by the fragment length
// (RFC 6066) or 2^14, protected ones by the limit plus what the suite's
// protection adds (RFC 8449: in TLS 1.3 the limit counts the content type,
// and max_fragment_length does not), and record_size_limit binds only
// protected records (RFC 8449, Section 4).
func TestClientReceiveBounds(t *testing.T) {
	mfl512 := recordlimit.Offer{MaxFragmentLength: recordlimit.MFL512}
	mfl4096 := recordlimit.Offer{MaxFragmentLength: recordlimit.MFL4096}
	rsl512 := recordlimit.Offer{RecordSizeLimit: 512}
	both := recordlimit.Offer{MaxFragmentLength: recordlimit.MFL512, RecordSizeLimit: 1024}
	rslMax := recordlimit.Offer{RecordSizeLimit: 16385}
	rsl64 := recordlimit.Offer{RecordSizeLimit: 64}

	hs := func(n int) []byte { return rec(ctHandshake, sized(hsCertificate, n-4)) }
	app := func(n int) []byte { return rec(ctAppData, make([]byte, n)) }
	prot12 := func(n int) []byte { return rec(ctHandshake, make([]byte, n)) } // the encrypted Finished

	var cases []readCase
	// add registers the record at bound (passes) and at bound+1 (refused).
	add := func(name string, o recordlimit.Offer, head []byte, last func(int) []byte, bound int, tls13 bool) {
		agreed := !strings.Contains(name, "nothing agreed") && !strings.Contains(name, "not answered")
		cases = append(cases,
			readCase{fmt.Sprintf("%s: %d", name, bound), o, head, last(bound), true, tls13, agreed},
			readCase{fmt.Sprintf("%s: %d", name, bound+1), o, head, last(bound + 1), false, tls13, agreed})
	}
	// TLS 1.2.
	add("1.2, nothing agreed, plaintext", recordlimit.Offer{}, flight12(gcm12, false), hs, 16384, false)
	add("1.2, nothing agreed, protected", recordlimit.Offer{}, flight12(gcm12, true), prot12, 16384+2048, false)
	add("1.2, MFL offered, not answered, plaintext", mfl512, flight12(gcm12, false), hs, 16384, false)
	add("1.2, MFL 512, plaintext", mfl512, flight12(gcm12, false, mflExt(1)), hs, 512, false)
	add("1.2, MFL 512, GCM", mfl512, flight12(gcm12, true, mflExt(1)), app, 512+8+16, false)
	add("1.2, MFL 512, ChaCha20", mfl512, flight12(chacha12, true, mflExt(1)), app, 512+16, false)
	add("1.2, MFL 4096, plaintext", mfl4096, flight12(gcm12, false, mflExt(4)), hs, 4096, false)
	add("1.2, MFL 4096, GCM", mfl4096, flight12(gcm12, true, mflExt(4)), app, 4096+24, false)
	add("1.2, RSL 512, plaintext", rsl512, flight12(gcm12, false, rslExt(2000)), hs, 16384, false)
	add("1.2, RSL 512, GCM", rsl512, flight12(gcm12, true, rslExt(2000)), app, 512+24, false)
	add("1.2, RSL 512, GCM, the encrypted Finished", rsl512, flight12(gcm12, true, rslExt(2000)), prot12, 512+24, false)
	add("1.2, RSL 64, ChaCha20", rsl64, flight12(chacha12, true, rslExt(64)), app, 64+16, false)
	add("1.2, both offered, RSL answered, plaintext", both, flight12(gcm12, false, rslExt(2000)), hs, 16384, false)
	add("1.2, both offered, RSL answered, GCM", both, flight12(gcm12, true, rslExt(2000)), app, 1024+24, false)
	add("1.2, RSL 16385 offered", rslMax, flight12(gcm12, true, rslExt(2000)), app, 16384+24, false)

	// TLS 1.3, after the server's Finished.
	f13 := func(exts ...ext) []byte { b, _ := flight13(t, false, exts...); return b }
	add("1.3, nothing agreed", recordlimit.Offer{}, f13(), app, 16384+256, true)
	add("1.3, MFL offered, not answered", mfl512, f13(), app, 16384+256, true)
	add("1.3, MFL 512", mfl512, f13(mflExt(1)), app, 512+1+16, true)
	add("1.3, MFL 4096", mfl4096, f13(mflExt(4)), app, 4096+1+16, true)
	add("1.3, RSL 512", rsl512, f13(rslExt(2000)), app, 512+16, true)
	add("1.3, RSL 64", rsl64, f13(rslExt(64)), app, 64+16, true)
	add("1.3, both offered, RSL answered", both, f13(rslExt(2000)), app, 1024+16, true)
	add("1.3, RSL 16385", rslMax, f13(rslExt(2000)), app, 16385+16, true)

	// TLS 1.3, within the server's flight: the answer binds the records
	// after the one carrying EncryptedExtensions, which decrypt and are
	// followed, so the record under test is a real one: a Certificate
	// padded to the length, and Finished.
	inFlight := func(open []byte, e *guard.Epoch) func(int) []byte {
		return func(n int) []byte {
			content := append(sized(hsCertificate, n-16-1-4-36), finishedMsg()...)
			return sealPadded(e, ctHandshake, content, 0)
		}
	}
	for _, c := range []struct {
		name  string
		offer recordlimit.Offer
		exts  []ext
		bound int
	}{
		{"1.3 flight, MFL 512", mfl512, []ext{mflExt(1)}, 512 + 1 + 16},
		{"1.3 flight, RSL 512", rsl512, []ext{rslExt(2000)}, 512 + 16},
		{"1.3 flight, nothing agreed", recordlimit.Offer{}, nil, 16384 + 256},
	} {
		head, e := flight13(t, true, c.exts...)
		// The record past the bound needs its own epoch state: the
		// sequence number of the record at the bound was used.
		_, e2 := flight13(t, true, c.exts...)
		cases = append(cases,
			readCase{fmt.Sprintf("%s: %d", c.name, c.bound), c.offer, head, inFlight(head, e)(c.bound), true, true, c.exts != nil},
			readCase{fmt.Sprintf("%s: %d", c.name, c.bound+1), c.offer, head, inFlight(head, e2)(c.bound + 1), false, true, c.exts != nil})
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, rc := range []struct{ size, chunk int }{{64 << 10, 0}, {1000, 0}, {5, 0}, {64 << 10, 1}, {1000, 7}, {64 << 10, 4096}} {
				runRead(t, tc, rc.size, rc.chunk)
			}
		})
	}
}
