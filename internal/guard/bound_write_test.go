package guard_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/tlsapp/tlsapp/internal/guard"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// readRecords makes the guard read the server's records in in, one Read
// per record, as the stack does during the handshake.
func readRecords(t *testing.T, g *guard.Conn, p *pipe, in []byte) {
	t.Helper()
	p.in = append(p.in, in...)
	for n := len(split(t, in)); n > 0; n-- {
		if _, err := g.Read(make([]byte, 64<<10)); err != nil {
			t.Fatalf("reading the server's records: %v", err)
		}
	}
}

// checkPlainSplit checks what the server received for a plaintext
// handshake record of n bytes the stack wrote: the record as it was when
// n <= limit, else records of limit bytes and the rest, carrying the same
// bytes in order.
func checkPlainSplit(t *testing.T, wire, written []byte, n, limit int) {
	t.Helper()
	got := split(t, wire)
	if n <= limit {
		if !bytes.Equal(wire, written) {
			t.Fatalf("a %d-byte record within %d was rewritten into %d records", n, limit, len(got))
		}
		return
	}
	var body []byte
	for i, r := range got {
		want := min(limit, n-i*limit)
		if r.typ != ctHandshake || len(r.body) != want {
			t.Fatalf("record %d: type %d, %d bytes; want a %d-byte handshake record (limit %d, %d written)", i, r.typ, len(r.body), want, limit, n)
		}
		body = append(body, r.body...)
	}
	if len(got) != (n+limit-1)/limit || !bytes.Equal(body, written[5:]) {
		t.Fatalf("%d records carrying %d bytes; want %d carrying the %d written", len(got), len(body), (n+limit-1)/limit, n)
	}
}

// TestClientSplitsPlaintextHandshake checks the client's plaintext handshake
// records at the send limit and one byte past it: before any answer the
// fragment length offered binds the ClientHello, record_size_limit does
// not (it binds only protected records); after a TLS 1.2 answer the limit
// agreed binds the rest of the client's flight up to its ChangeCipherSpec,
// and nothing after it is rewritten.
func TestClientSplitsPlaintextHandshake(t *testing.T) {
	hsRec := func(n int) []byte { return rec(ctHandshake, sized(hsClientHello, n-4)) }
	for _, tc := range []struct {
		name   string
		offer  recordlimit.Offer
		server []byte // read before the write
		limit  int
	}{
		{"ClientHello, nothing offered", recordlimit.Offer{}, nil, 16384},
		{"ClientHello, MFL 512", recordlimit.Offer{MaxFragmentLength: recordlimit.MFL512}, nil, 512},
		{"ClientHello, MFL 1024", recordlimit.Offer{MaxFragmentLength: recordlimit.MFL1024}, nil, 1024},
		{"ClientHello, MFL 2048", recordlimit.Offer{MaxFragmentLength: recordlimit.MFL2048}, nil, 2048},
		{"ClientHello, MFL 4096", recordlimit.Offer{MaxFragmentLength: recordlimit.MFL4096}, nil, 4096},
		{"ClientHello, RSL 64", recordlimit.Offer{RecordSizeLimit: 64}, nil, 16384},
		{"ClientHello, MFL 512 and RSL 64", recordlimit.Offer{MaxFragmentLength: recordlimit.MFL512, RecordSizeLimit: 64}, nil, 512},
		{"1.2, MFL 512 agreed", recordlimit.Offer{MaxFragmentLength: recordlimit.MFL512}, rec(ctHandshake, serverHello(gcm12, []ext{mflExt(1)})), 512},
		{"1.2, MFL 2048 offered, not answered", recordlimit.Offer{MaxFragmentLength: recordlimit.MFL2048}, rec(ctHandshake, serverHello(gcm12, nil)), 16384},
		{"1.2, RSL answered 100", recordlimit.Offer{RecordSizeLimit: 512}, rec(ctHandshake, serverHello(gcm12, []ext{rslExt(100)})), 100},
		{"1.2, RSL answered 16384", recordlimit.Offer{RecordSizeLimit: 512}, rec(ctHandshake, serverHello(gcm12, []ext{rslExt(16384)})), 16384},
		{"1.2, both offered, RSL answered 64", recordlimit.Offer{MaxFragmentLength: recordlimit.MFL512, RecordSizeLimit: 512}, rec(ctHandshake, serverHello(gcm12, []ext{rslExt(64)})), 64},
	} {
		for _, n := range []int{tc.limit, tc.limit + 1, 2*tc.limit + 1} {
			if n > 16384+2048 {
				continue
			}
			t.Run(fmt.Sprintf("%s: %d", tc.name, n), func(t *testing.T) {
				p := &pipe{}
				g := guard.NewConn(p, tc.offer)
				readRecords(t, g, p, tc.server)
				w := hsRec(n)
				if k, err := g.Write(w); err != nil || k != len(w) {
					t.Fatalf("Write: %d, %v", k, err)
				}
				checkPlainSplit(t, p.out, w, n, tc.limit)
			})
		}
	}

	t.Run("1.2, after the client's ChangeCipherSpec", func(t *testing.T) {
		p := &pipe{}
		g := guard.NewConn(p, recordlimit.Offer{MaxFragmentLength: recordlimit.MFL512})
		readRecords(t, g, p, rec(ctHandshake, serverHello(gcm12, []ext{mflExt(1)})))
		// The protected Finished is the stack's: its length includes the
		// suite's expansion, the stack kept its plaintext within 512.
		w := append(rec(ctCCS, []byte{1}), rec(ctHandshake, make([]byte, 512+24))...)
		if _, err := g.Write(w); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p.out, w) {
			t.Fatalf("the protected Finished was rewritten: % x", p.out[:min(len(p.out), 20)])
		}
		// And in a later write.
		p.out = nil
		w = rec(ctHandshake, make([]byte, 600))
		if _, err := g.Write(w); err != nil || !bytes.Equal(p.out, w) {
			t.Fatalf("a protected handshake record after the ChangeCipherSpec was rewritten (%v)", err)
		}
	})
}

// client13 reads a TLS 1.3 server's ServerHello, ChangeCipherSpec and
// EncryptedExtensions with exts through a new client guard for offer, with
// both handshake secrets logged, and returns the guard, its transport, and
// the epoch the stack seals its records with.
func client13(t *testing.T, offer recordlimit.Offer, exts ...ext) (*guard.Conn, *pipe, *guard.Epoch) {
	t.Helper()
	p := &pipe{}
	g := guard.NewConn(p, offer)
	logSecrets(t, g.KeyLogWriter(nil))
	head, _ := flight13(t, true, exts...)
	readRecords(t, g, p, head)
	return g, p, epoch(t, clientHS)
}

// TestClientResealsHandshake13 checks the client's TLS 1.3 handshake
// records, which the guard opens and re-seals with the client's handshake
// keys when one carries more than the server is owed: at the limit the
// record passes as the stack wrote it, one byte past it goes out as two
// records of the limit and the rest, which the server opens in sequence
// with the same keys; after the client's Finished nothing is rewritten.
// With record_size_limit the limit counts the content type (RFC 8449), with
// max_fragment_length it does not (RFC 6066).
func TestClientResealsHandshake13(t *testing.T) {
	for _, tc := range []struct {
		name  string
		offer recordlimit.Offer
		exts  []ext
		limit int // content bytes per record
	}{
		{"RSL 200", recordlimit.Offer{RecordSizeLimit: 512}, []ext{rslExt(200)}, 199},
		{"RSL 64", recordlimit.Offer{RecordSizeLimit: 512}, []ext{rslExt(64)}, 63},
		{"RSL 16385", recordlimit.Offer{RecordSizeLimit: 512}, []ext{rslExt(16385)}, 16384},
		{"MFL 512", recordlimit.Offer{MaxFragmentLength: recordlimit.MFL512}, []ext{mflExt(1)}, 512},
		{"MFL 1024, both offered", recordlimit.Offer{MaxFragmentLength: recordlimit.MFL1024, RecordSizeLimit: 512}, []ext{mflExt(2)}, 1024},
		{"nothing answered", recordlimit.Offer{RecordSizeLimit: 512}, nil, 16384},
	} {
		for _, n := range []int{tc.limit, tc.limit + 1} {
			if n > 16384+1 {
				continue
			}
			t.Run(fmt.Sprintf("%s: %d", tc.name, n), func(t *testing.T) {
				g, p, stack := client13(t, tc.offer, tc.exts...)
				server := epoch(t, clientHS)
				// The stack's compatibility ChangeCipherSpec, a Certificate
				// of n bytes, then Finished in a later write.
				cert := sized(hsCertificate, n-4)
				w := append(rec(ctCCS, []byte{1}), stack.Seal(nil, ctHandshake, cert)...)
				if _, err := g.Write(w); err != nil {
					t.Fatal(err)
				}
				got := split(t, p.out)
				if n <= tc.limit && !bytes.Equal(p.out, w) {
					t.Fatalf("a record of %d content bytes within %d was rewritten", n, tc.limit)
				}
				if got[0].typ != ctCCS {
					t.Fatalf("first record of type %d, want the ChangeCipherSpec", got[0].typ)
				}
				var content []byte
				for i, r := range got[1:] {
					c, typ := open(t, server, r)
					if typ != ctHandshake || len(c) > tc.limit || len(c) == 0 {
						t.Fatalf("record %d: type %d with %d content bytes; limit %d", i, typ, len(c), tc.limit)
					}
					content = append(content, c...)
				}
				if wantRecs := 1 + (n+tc.limit-1)/tc.limit; len(got) != wantRecs || !bytes.Equal(content, cert) {
					t.Fatalf("%d records carrying %d bytes; want %d carrying the %d-byte Certificate", len(got), len(content), wantRecs, n)
				}

				// Finished, re-sealed in sequence when the Certificate was
				// split (or passed when it was not), then the application
				// epoch, which the guard never rewrites.
				p.out = nil
				fin := stack.Seal(nil, ctHandshake, finishedMsg())
				if _, err := g.Write(fin); err != nil {
					t.Fatal(err)
				}
				if c, typ := open(t, server, split(t, p.out)[0]); typ != ctHandshake || !bytes.Equal(c, finishedMsg()) {
					t.Fatalf("Finished arrived as type %d, %d bytes", typ, len(c))
				}
				if n <= tc.limit && !bytes.Equal(p.out, fin) {
					t.Fatal("Finished was re-sealed although nothing before it was")
				}
				p.out = nil
				app := rec(ctAppData, make([]byte, 16384+256))
				if _, err := g.Write(app); err != nil || !bytes.Equal(p.out, app) {
					t.Fatalf("an application record after the client's Finished was rewritten (%v)", err)
				}
			})
		}
	}
}
