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

// TestClientFollowsFlight13Cuts reads a TLS 1.3 server flight cut into
// protected records of every size from one byte (messages spanning records,
// several in one, Finished at the end of one that starts mid-message): the
// guard reads the answer in EncryptedExtensions and ends the handshake
// epoch at Finished however the flight is cut, so that the application
// records after it pass to the stack unopened and are bound by the answer.
func TestClientFollowsFlight13Cuts(t *testing.T) {
	offer := recordlimit.Offer{RecordSizeLimit: 512}
	flight := append(append(append(encryptedExtensions(rslExt(2000)), sized(hsCertificate, 300)...), sized(15, 50)...), finishedMsg()...)
	for size := 1; size <= len(flight); size += max(1, size/4) {
		for _, last := range []int{512 + 16, 512 + 17} {
			t.Run(fmt.Sprintf("records of %d, then %d", size, last), func(t *testing.T) {
				e := epoch(t, serverHS)
				head := append(rec(ctHandshake, serverHello(suite13, exts13())), rec(ctCCS, []byte{1})...)
				for m := flight; len(m) > 0; {
					k := min(size, len(m))
					head = append(head, e.Seal(nil, ctHandshake, m[:k])...)
					m = m[k:]
				}
				head = append(head, rec(ctAppData, make([]byte, 100))...)
				runRead(t, readCase{name: "flight", offer: offer, head: head, last: rec(ctAppData, make([]byte, last)),
					pass: last == 512+16, tls13: true, agreed: true}, 64<<10, 0)
			})
		}
	}
}

// TestClientFollowsFlight12Cuts reads a TLS 1.2 server flight (ServerHello,
// Certificate, ServerKeyExchange, ServerHelloDone) cut into records of every
// size from one byte: the answer and the key exchange group are read however
// it is cut, and every byte reaches the stack.
func TestClientFollowsFlight12Cuts(t *testing.T) {
	ske := msg(12, []byte{3, 0, 0x1d, 1, 9}) // named_curve x25519, a 1-byte key
	flight := append(append(append(serverHello(gcm12, []ext{mflExt(2)}), sized(hsCertificate, 300)...), ske...), msg(14, nil)...)
	for size := 1; size <= len(flight); size += max(1, size/4) {
		stream := append(recs(ctHandshake, flight, size), rec(ctCCS, []byte{1})...)
		stream = append(stream, rec(ctAppData, make([]byte, 1024+24))...)
		p := &pipe{in: stream}
		g := guard.NewConn(p, recordlimit.Offer{MaxFragmentLength: recordlimit.MFL1024})
		got, err := drain(t, g, 64<<10)
		if err != io.EOF || !bytes.Equal(got, stream) {
			t.Fatalf("records of %d: %v after %d of %d bytes", size, err, len(got), len(stream))
		}
		if g.KeyExchangeGroup() != 0x1d {
			t.Fatalf("records of %d: group %#x, want x25519", size, g.KeyExchangeGroup())
		}
		if a, ok := g.Agreement(); !ok || a.Kind != recordlimit.KindMFL || a.MaxFragmentLength != recordlimit.MFL1024 {
			t.Fatalf("records of %d: agreement %+v (%v)", size, a, ok)
		}
	}
}

// TestClientHandshakeMessageBounds checks the bounds on the server's
// handshake messages at the bound and one byte past it, as crypto/tls
// sets them: 2^16 bytes for a ServerHello and every message of the TLS 1.3
// flight but Certificate, 256 KiB for Certificate; an RFC 8879
// CompressedCertificate may declare up to 2^16 bytes uncompressed. Past a
// bound the guard refuses with decode_error (bad_certificate for the
// declared length), under the client's handshake keys during the flight.
func TestClientHandshakeMessageBounds(t *testing.T) {
	sh := func(n int) []byte {
		base := len(serverHello(gcm12, []ext{padExt(0)})) - 4
		return serverHello(gcm12, []ext{padExt(n - base)})
	}
	for _, tc := range []struct {
		name    string
		flight  bool // in the TLS 1.3 flight, after EncryptedExtensions
		msg     func(n int) []byte
		bound   int
		alert   byte
		refusal error
	}{
		{"ServerHello", false, sh, 1 << 16, alDecodeError, recordlimit.ErrProtocol},
		{"Certificate", true, func(n int) []byte { return sized(hsCertificate, n) }, 256 << 10, alDecodeError, recordlimit.ErrProtocol},
		{"CertificateVerify", true, func(n int) []byte { return sized(15, n) }, 1 << 16, alDecodeError, recordlimit.ErrProtocol},
		{"CompressedCertificate's declared length", true, func(n int) []byte {
			return msg(hsCompCert, []byte{0, 3, byte(n >> 16), byte(n >> 8), byte(n), 0, 0, 1, 0})
		}, 1 << 16, alBadCertificate, recordlimit.ErrProtocol},
	} {
		for _, n := range []int{tc.bound, tc.bound + 1} {
			t.Run(fmt.Sprintf("%s: %d", tc.name, n), func(t *testing.T) {
				var stream []byte
				m := tc.msg(n)
				if !tc.flight {
					stream = recs(ctHandshake, m, 16384)
				} else {
					var e *guard.Epoch
					stream, e = flight13(t, true)
					for len(m) > 0 {
						k := min(16384, len(m))
						stream = append(stream, e.Seal(nil, ctHandshake, m[:k])...)
						m = m[k:]
					}
					stream = append(stream, e.Seal(nil, ctHandshake, finishedMsg())...)
				}
				p := &pipe{in: stream}
				g := guard.NewConn(p, recordlimit.Offer{})
				logSecrets(t, g.KeyLogWriter(nil))
				got, err := drain(t, g, 64<<10)
				if n == tc.bound {
					if err != io.EOF || !bytes.Equal(got, stream) || len(p.out) != 0 {
						t.Fatalf("%v after %d of %d bytes, % x sent", err, len(got), len(stream), p.out)
					}
					return
				}
				alertOf(t, err, tc.refusal, tc.alert)
				if !tc.flight {
					if want := alertRec(2, tc.alert); !bytes.Equal(p.out, want) {
						t.Fatalf("the server got % x, want % x", p.out, want)
					}
					return
				}
				rs := split(t, p.out)
				if len(rs) != 2 {
					t.Fatalf("the server got %d records", len(rs))
				}
				if c, typ := open(t, epoch(t, clientHS), rs[1]); typ != ctAlert || !bytes.Equal(c, []byte{2, tc.alert}) {
					t.Fatalf("the server got %d: % x", typ, c)
				}
			})
		}
	}
}

// TestClientFlightOrder13: the guard follows RFC 8446's order in the
// server's flight: EncryptedExtensions first and once, no ServerHello in it,
// an alert not inside a message, no application data before Finished, and
// nothing after Finished in its record; each is refused with
// unexpected_message.
func TestClientFlightOrder13(t *testing.T) {
	ee := encryptedExtensions()
	for _, tc := range []struct {
		name    string
		records func(e *guard.Epoch) []byte
	}{
		{"Certificate first", func(e *guard.Epoch) []byte { return e.Seal(nil, ctHandshake, sized(hsCertificate, 10)) }},
		{"EncryptedExtensions twice", func(e *guard.Epoch) []byte {
			return e.Seal(nil, ctHandshake, append(append([]byte(nil), ee...), ee...))
		}},
		{"a ServerHello after EncryptedExtensions", func(e *guard.Epoch) []byte {
			return e.Seal(nil, ctHandshake, append(append([]byte(nil), ee...), serverHello(suite13, exts13())...))
		}},
		{"an alert inside a message", func(e *guard.Epoch) []byte {
			return append(e.Seal(nil, ctHandshake, append(append([]byte(nil), ee...), sized(hsCertificate, 10)[:6]...)), e.Seal(nil, ctAlert, []byte{2, 40})...)
		}},
		{"application data in the flight", func(e *guard.Epoch) []byte { return e.Seal(nil, ctAppData, []byte("early")) }},
		{"a message after Finished in its record", func(e *guard.Epoch) []byte {
			return e.Seal(nil, ctHandshake, append(append(append([]byte(nil), ee...), finishedMsg()...), msg(4, nil)...))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := epoch(t, serverHS)
			stream := append(rec(ctHandshake, serverHello(suite13, exts13())), rec(ctCCS, []byte{1})...)
			stream = append(stream, tc.records(e)...)
			p := &pipe{in: stream}
			g := guard.NewConn(p, recordlimit.Offer{})
			logSecrets(t, g.KeyLogWriter(nil))
			_, err := drain(t, g, 64<<10)
			alertOf(t, err, recordlimit.ErrProtocol, alUnexpectedMessage)
			if a, remote, ok := g.FatalAlert(); !ok || remote || a != alUnexpectedMessage {
				t.Fatalf("FatalAlert %v %v %v", a, remote, ok)
			}
		})
	}

	t.Run("the server's keys never logged", func(t *testing.T) {
		head, _ := flight13(t, false)
		p := &pipe{in: head}
		g := guard.NewConn(p, recordlimit.Offer{})
		_, err := drain(t, g, 64<<10)
		if !errors.Is(err, recordlimit.ErrMissingSecret) {
			t.Fatalf("error %v, want one about the missing secret", err)
		}
		if a, ok := recordlimit.AlertOf(err); !ok || a != 80 {
			t.Fatalf("alert %v (%v), want internal_error", a, ok)
		}
	})
}

// TestClientHelloRetry: a HelloRetryRequest answers neither record-size
// extension, stands alone in its record and comes once, and the real
// ServerHello after it is TLS 1.3; a ChangeCipherSpec may follow it
// (middlebox compatibility) but none may come before the first server
// message or inside one. Each breach is refused in the clear (the client
// has no keys yet) with its alert. The second ClientHello is bound by the
// fragment length offered, as the first.
func TestClientHelloRetry(t *testing.T) {
	hrr := rec(ctHandshake, helloRetryRequest())
	ccs := rec(ctCCS, []byte{1})
	sh13 := rec(ctHandshake, serverHello(suite13, exts13()))
	offer := recordlimit.Offer{MaxFragmentLength: recordlimit.MFL512}
	for _, tc := range []struct {
		name     string
		stream   []byte
		alert    byte
		sentinel error
	}{
		{"HelloRetryRequest answering MFL", rec(ctHandshake, helloRetryRequest(mflExt(1))), alIllegalParameter, recordlimit.ErrNegotiation},
		{"HelloRetryRequest and ServerHello in one record", rec(ctHandshake, append(helloRetryRequest(), serverHello(suite13, exts13())...)), alUnexpectedMessage, recordlimit.ErrProtocol},
		{"two HelloRetryRequests", append(append([]byte(nil), hrr...), hrr...), alUnexpectedMessage, recordlimit.ErrProtocol},
		{"a TLS 1.2 ServerHello after it", append(append([]byte(nil), hrr...), rec(ctHandshake, serverHello(gcm12, nil))...), alIllegalParameter, recordlimit.ErrProtocol},
		{"a ChangeCipherSpec first", ccs, alUnexpectedMessage, recordlimit.ErrProtocol},
		{"a ChangeCipherSpec inside the ServerHello", append(append(append(append([]byte(nil), hrr...), rec(ctHandshake, sh13[5:20])...), ccs...), rec(ctHandshake, sh13[20:])...), alUnexpectedMessage, recordlimit.ErrProtocol},
		{"ok", append(append(append(append([]byte(nil), hrr...), ccs...), sh13...), ccs...), 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &pipe{in: tc.stream}
			g := guard.NewConn(p, offer)
			got, err := drain(t, g, 64<<10)
			if tc.alert == 0 {
				if err != io.EOF || !bytes.Equal(got, tc.stream) || len(p.out) != 0 || !g.HelloRetried() {
					t.Fatalf("%v after %d of %d bytes, % x sent, retried %v", err, len(got), len(tc.stream), p.out, g.HelloRetried())
				}
				// The group of the real ServerHello's key_share.
				if g.KeyExchangeGroup() != 0x1d {
					t.Fatalf("group %#x, want x25519", g.KeyExchangeGroup())
				}
				return
			}
			alertOf(t, err, tc.sentinel, tc.alert)
			if want := alertRec(2, tc.alert); !bytes.Equal(p.out, want) {
				t.Fatalf("the server got % x, want % x", p.out, want)
			}
		})
	}

	t.Run("the second ClientHello", func(t *testing.T) {
		for _, n := range []int{512, 513} {
			p := &pipe{}
			g := guard.NewConn(p, offer)
			readRecords(t, g, p, hrr)
			w := append(append([]byte(nil), ccs...), rec(ctHandshake, sized(hsClientHello, n-4))...)
			if _, err := g.Write(w); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(p.out[:len(ccs)], ccs) {
				t.Fatalf("the ChangeCipherSpec was rewritten: % x", p.out[:len(ccs)])
			}
			checkPlainSplit(t, p.out[len(ccs):], w[len(ccs):], n, 512)
		}
	})
}
