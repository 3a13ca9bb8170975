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

// TestServerHelloScanBound: the server guard reads a ClientHello of up to
// 2^16 bytes, crypto/tls's bound on a handshake message: one of 65536
// bytes that asks for a record_size_limit below 64 is refused with
// illegal_parameter, sent to the client; one of 65537 bytes is left to the
// stack (which refuses it), every byte passed on and nothing sent.
func TestServerHelloScanBound(t *testing.T) {
	for _, n := range []int{65536, 65537} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			hello := clientHello(n, rslExt(63))
			in := recs(ctHandshake, hello, 16384)
			p := &pipe{in: in}
			g := guard.NewServerConn(p, 0)
			got, err := drain(t, g, 16384)
			if n > 65536 {
				if err != io.EOF || !bytes.Equal(got, in) || len(p.out) != 0 {
					t.Fatalf("%v after %d of %d bytes, % x sent; want every byte passed on", err, len(got), len(in), p.out)
				}
				return
			}
			alertOf(t, err, recordlimit.ErrNegotiation, alIllegalParameter)
			if want := alertRec(2, alIllegalParameter); !bytes.Equal(p.out, want) {
				t.Fatalf("the client got % x, want % x", p.out, want)
			}
		})
	}
}

// TestServerHelloOffers checks each request the server guard reads at the
// edges of what the RFCs allow, by what it does: a record_size_limit of 64
// is honoured and one of 63 refused, an extension body of the wrong length
// is a decode_error, a max_fragment_length code of 4 is honoured and 5
// refused, and alongside a valid record_size_limit a bad max_fragment_length
// is ignored (RFC 8449, Section 5).
func TestServerHelloOffers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		exts  []ext
		alert byte
		cap   int // TLS 1.2 ServerHello records, when not refused
	}{
		{"RSL 64", []ext{rslExt(64)}, 0, 64},
		{"RSL 63", []ext{rslExt(63)}, alIllegalParameter, 0},
		{"RSL 3 bytes", []ext{{28, []byte{0, 64, 0}}}, alDecodeError, 0},
		{"RSL 1 byte", []ext{{28, []byte{64}}}, alDecodeError, 0},
		{"MFL 4", []ext{mflExt(4)}, 0, 4096},
		{"MFL 1", []ext{mflExt(1)}, 0, 512},
		{"MFL 5", []ext{mflExt(5)}, alIllegalParameter, 0},
		{"MFL 0", []ext{mflExt(0)}, alIllegalParameter, 0},
		{"MFL 2 bytes", []ext{{1, []byte{1, 1}}}, alDecodeError, 0},
		{"RSL 100 and MFL 5", []ext{mflExt(5), rslExt(100)}, 0, 100},
		{"RSL 100 and MFL 2 bytes", []ext{{1, []byte{1, 1}}, rslExt(100)}, 0, 100},
		{"RSL 20000", []ext{rslExt(20000)}, 0, 16384},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := rec(ctHandshake, clientHello(0, tc.exts...))
			p := &pipe{in: in}
			g := guard.NewServerConn(p, 0)
			got, err := drain(t, g, 4096)
			if tc.alert != 0 {
				alertOf(t, err, recordlimit.ErrNegotiation, tc.alert)
				if want := alertRec(2, tc.alert); !bytes.Equal(p.out, want) {
					t.Fatalf("the client got % x, want % x", p.out, want)
				}
				return
			}
			if err != io.EOF || !bytes.Equal(got, in) || len(p.out) != 0 {
				t.Fatalf("%v, % x sent", err, p.out)
			}
			checkServerSplit(t, g, p, serverHelloOf(gcm12, nil, tc.cap+1), tc.cap)
		})
	}
}

// serverHelloOf returns a ServerHello record of exactly n body bytes
// choosing suite, with exts, padded with an extension.
func serverHelloOf(suite uint16, exts []ext, n int) []byte {
	base := len(serverHello(suite, append(exts, padExt(0))))
	if n < base {
		panic(fmt.Sprintf("a ServerHello needs %d bytes", base))
	}
	return rec(ctHandshake, serverHello(suite, append(exts, padExt(n-base))))
}

// checkServerSplit writes w, one plaintext record, through g and checks
// that the client received it whole when it is within limit, else in
// records of limit bytes carrying the same bytes.
func checkServerSplit(t *testing.T, g *guard.ServerConn, p *pipe, w []byte, limit int) {
	t.Helper()
	p.out = nil
	if k, err := g.Write(w); err != nil || k != len(w) {
		t.Fatalf("Write: %d, %v", k, err)
	}
	checkPlainSplit(t, p.out, w, len(w)-5, limit)
}

// TestServerCapsPlaintext checks the server guard's cap on its plaintext
// handshake records at the cap and one byte past it: the fragment length
// asked for, record_size_limit (less the content type in TLS 1.3, and in a
// HelloRetryRequest, where the version is not known yet), the smaller of
// the option and the request, and record_size_limit over
// max_fragment_length when both are asked for (RFC 8449, Section 5). In
// TLS 1.2 the cap binds the plaintext flight after the ServerHello and
// nothing after the server's ChangeCipherSpec is rewritten.
func TestServerCapsPlaintext(t *testing.T) {
	v13 := []ext{versions13(), keyShareX25519()}
	for _, tc := range []struct {
		name      string
		maxRecord int
		exts      []ext // the client's
		tls13     bool
		cap       int
	}{
		{"nothing asked", 0, nil, false, 16384},
		{"nothing asked, 1.3", 0, nil, true, 16384},
		{"option 300", 300, nil, false, 300},
		{"option 300, RSL 1000", 300, []ext{rslExt(1000)}, true, 300},
		{"option 2000, RSL 1000, 1.3", 2000, []ext{rslExt(1000)}, true, 999},
		{"option 2000, RSL 1000, 1.2", 2000, []ext{rslExt(1000)}, false, 1000},
		{"option 600, MFL 512", 600, []ext{mflExt(1)}, false, 512},
		{"option 500, MFL 512", 500, []ext{mflExt(1)}, false, 500},
		{"MFL 512, 1.2", 0, []ext{mflExt(1)}, false, 512},
		{"MFL 512, 1.3", 0, []ext{mflExt(1)}, true, 512},
		{"MFL 1024", 0, []ext{mflExt(2)}, false, 1024},
		{"MFL 2048", 0, []ext{mflExt(3)}, true, 2048},
		{"MFL 4096", 0, []ext{mflExt(4)}, false, 4096},
		{"RSL 100, 1.2", 0, []ext{rslExt(100)}, false, 100},
		{"RSL 100, 1.3", 0, []ext{rslExt(100)}, true, 99},
		{"RSL 64, 1.2", 0, []ext{rslExt(64)}, false, 64},
		{"RSL 64, 1.3", 0, []ext{rslExt(64)}, true, 63},
		{"RSL 16385, 1.3", 0, []ext{rslExt(16385)}, true, 16384},
		{"RSL 16385, 1.2", 0, []ext{rslExt(16385)}, false, 16384},
		{"both: MFL 512, RSL 1024, 1.2", 0, []ext{mflExt(1), rslExt(1024)}, false, 1024},
		{"both: MFL 512, RSL 1024, 1.3", 0, []ext{mflExt(1), rslExt(1024)}, true, 1023},
		{"both: MFL 4096, RSL 600, 1.3", 0, []ext{mflExt(4), rslExt(600)}, true, 599},
	} {
		for _, n := range []int{tc.cap, tc.cap + 1} {
			t.Run(fmt.Sprintf("%s: %d", tc.name, n), func(t *testing.T) {
				p := &pipe{in: rec(ctHandshake, clientHello(0, tc.exts...))}
				g := guard.NewServerConn(p, tc.maxRecord)
				if _, err := drain(t, g, 4096); err != io.EOF {
					t.Fatal(err)
				}
				var exts []ext
				suite := uint16(gcm12)
				if tc.tls13 {
					exts, suite = v13, suite13
				}
				checkServerSplit(t, g, p, serverHelloOf(suite, exts, max(n, 100)), tc.cap)
				if tc.tls13 {
					return
				}
				// The rest of the TLS 1.2 flight.
				checkServerSplit(t, g, p, rec(ctHandshake, sized(hsCertificate, n-4)), tc.cap)
				// The ChangeCipherSpec, then the protected Finished and
				// application data, which the stack keeps within the cap
				// in plaintext: their length includes the protection.
				// crypto/tls writes the ChangeCipherSpec and the protected
				// Finished in one write.
				ccsFin := append(rec(ctCCS, []byte{1}), rec(ctHandshake, make([]byte, tc.cap+24))...)
				for _, w := range [][]byte{ccsFin, rec(ctHandshake, make([]byte, tc.cap+24)), rec(ctAppData, make([]byte, tc.cap+24))} {
					p.out = nil
					if _, err := g.Write(w); err != nil || !bytes.Equal(p.out, w) {
						t.Fatalf("a %d-byte record of type %d after the ChangeCipherSpec was rewritten (%v)", len(w)-5, w[0], err)
					}
				}
			})
		}
	}

	t.Run("HelloRetryRequest", func(t *testing.T) {
		// A HelloRetryRequest of 63 and 64 bytes, against a limit of 64:
		// the version is not known until the real ServerHello, so the cap
		// counts the content type.
		base := len(helloRetryRequest(padExt(0)))
		for _, n := range []int{63, 64} {
			p := &pipe{in: rec(ctHandshake, clientHello(0, rslExt(64)))}
			g := guard.NewServerConn(p, 0)
			drain(t, g, 4096)
			checkServerSplit(t, g, p, rec(ctHandshake, helloRetryRequest(padExt(n-base))), 63)
		}
	})
}

// server13 reads a ClientHello with exts through a new server guard and
// writes the stack's TLS 1.3 ServerHello, with the server's handshake
// secret logged; it returns the guard, its transport, and the epoch the
// stack seals its flight with.
func server13(t *testing.T, maxRecord int, exts ...ext) (*guard.ServerConn, *pipe, *guard.Epoch) {
	t.Helper()
	p := &pipe{in: rec(ctHandshake, clientHello(0, exts...))}
	g := guard.NewServerConn(p, maxRecord)
	readHello(t, g, len(p.in))
	if _, err := g.KeyLogWriter(nil).Write(keyLogLine("SERVER_HANDSHAKE_TRAFFIC_SECRET", serverHS)); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Write(append(rec(ctHandshake, serverHello(suite13, exts13())), rec(ctCCS, []byte{1})...)); err != nil {
		t.Fatal(err)
	}
	p.out = nil
	return g, p, epoch(t, serverHS)
}

// TestServerResealsFlight13 checks the server guard's re-sealing of the
// TLS 1.3 flight at the cap and one byte past it: every record the client
// receives opens, in sequence, with the server's handshake keys, carries at
// most the cap, and together they carry what the stack sealed; the record
// carrying Finished ends the epoch, after which records pass as written.
func TestServerResealsFlight13(t *testing.T) {
	for _, tc := range []struct {
		name      string
		maxRecord int
		exts      []ext
		cap       int
	}{
		{"RSL 100", 0, []ext{rslExt(100)}, 99},
		{"RSL 64", 0, []ext{rslExt(64)}, 63},
		{"MFL 512", 0, []ext{mflExt(1)}, 512},
		{"option 700", 700, nil, 700},
		{"nothing asked", 0, nil, 16384},
	} {
		for _, n := range []int{tc.cap, tc.cap + 1} {
			t.Run(fmt.Sprintf("%s: %d", tc.name, n), func(t *testing.T) {
				g, p, stack := server13(t, tc.maxRecord, tc.exts...)
				client := epoch(t, serverHS)
				flight := [][]byte{encryptedExtensions(), sized(hsCertificate, n-4), finishedMsg()}
				for i, m := range flight {
					p.out = nil
					if _, err := g.Write(stack.Seal(nil, ctHandshake, m)); err != nil {
						t.Fatal(err)
					}
					var got []byte
					rs := split(t, p.out)
					for _, r := range rs {
						c, typ := open(t, client, r)
						if typ != ctHandshake || len(c) > tc.cap {
							t.Fatalf("message %d: a record of type %d carrying %d bytes, cap %d", i, typ, len(c), tc.cap)
						}
						got = append(got, c...)
					}
					if want := (len(m) + tc.cap - 1) / tc.cap; len(rs) != want || !bytes.Equal(got, m) {
						t.Fatalf("message %d of %d bytes: %d records carrying %d bytes, want %d", i, len(m), len(rs), len(got), want)
					}
				}
				// The application epoch: a record the guard cannot open.
				p.out = nil
				app := rec(ctAppData, make([]byte, tc.cap+17))
				if _, err := g.Write(app); err != nil || !bytes.Equal(p.out, app) {
					t.Fatalf("an application record after Finished was rewritten (%v)", err)
				}
			})
		}
	}

	t.Run("no secret", func(t *testing.T) {
		p := &pipe{in: rec(ctHandshake, clientHello(0, rslExt(100)))}
		g := guard.NewServerConn(p, 0)
		drain(t, g, 4096)
		g.Write(rec(ctHandshake, serverHello(suite13, exts13())))
		p.out = nil
		_, err := g.Write(epoch(t, serverHS).Seal(nil, ctHandshake, encryptedExtensions()))
		if !errors.Is(err, recordlimit.ErrMissingSecret) || len(p.out) != 0 {
			t.Fatalf("%v, % x sent; want ErrMissingSecret and nothing sent", err, p.out)
		}
	})
}
