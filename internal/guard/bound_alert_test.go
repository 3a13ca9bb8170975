package guard_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/tlsapp/tlsapp/internal/guard"
	"github.com/tlsapp/tlsapp/recordlimit"
)

func alertRec(level, desc byte) []byte { return rec(ctAlert, []byte{level, desc}) }

// TestServerAlertLevels: in TLS 1.2 a warning alert (RFC 5246, Section
// 7.2) ends nothing: the guard hands it to the stack and reports no fatal
// alert; a fatal one is reported as the server's. In TLS 1.3 every alert
// but close_notify is fatal whatever its level (RFC 8446, Section 6), and
// after a HelloRetryRequest the version is TLS 1.3.
func TestServerAlertLevels(t *testing.T) {
	sh12 := rec(ctHandshake, serverHello(gcm12, nil))
	hrr := rec(ctHandshake, helloRetryRequest())
	for _, tc := range []struct {
		name   string
		stream []byte
		fatal  bool
		desc   byte
	}{
		{"1.2 warning before the ServerHello", alertRec(1, 100), false, 0},
		{"1.2 warning after the ServerHello", append(append([]byte(nil), sh12...), alertRec(1, 100)...), false, 0},
		{"1.2 close_notify after the ServerHello", append(append([]byte(nil), sh12...), alertRec(1, 0)...), false, 0},
		{"1.2 fatal after the ServerHello", append(append([]byte(nil), sh12...), alertRec(2, 40)...), true, 40},
		{"1.2 fatal before the ServerHello", alertRec(2, 70), true, 70},
		{"warning after a HelloRetryRequest", append(append([]byte(nil), hrr...), alertRec(1, 40)...), true, 40},
		{"malformed alert", append(append([]byte(nil), sh12...), rec(ctAlert, []byte{2, 40, 0})...), false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &pipe{in: tc.stream}
			g := guard.NewConn(p, recordlimit.Offer{MaxFragmentLength: recordlimit.MFL512})
			got, err := drain(t, g, 64<<10)
			if !bytes.Equal(got, tc.stream) {
				t.Fatalf("the stack got %d of %d bytes (%v)", len(got), len(tc.stream), err)
			}
			a, remote, ok := g.FatalAlert()
			if ok != tc.fatal || ok && (!remote || byte(a) != tc.desc) {
				t.Fatalf("FatalAlert %v, remote %v, %v; want fatal %v (%d) from the server", a, remote, ok, tc.fatal, tc.desc)
			}
			if len(p.out) != 0 {
				t.Fatalf("the guard sent % x", p.out)
			}
		})
	}

	// TLS 1.3: a warning-level alert under the handshake keys is fatal, and
	// the handshake secrets go at once.
	for _, level := range []byte{1, 2} {
		head, e := flight13(t, true)
		p := &pipe{in: append(head, e.Seal(nil, ctAlert, []byte{level, 40})...)}
		g := guard.NewConn(p, recordlimit.Offer{})
		logSecrets(t, g.KeyLogWriter(nil))
		drain(t, g, 64<<10)
		if a, remote, ok := g.FatalAlert(); !ok || !remote || a != 40 {
			t.Errorf("1.3, level %d: FatalAlert %v, remote %v, %v; want handshake_failure from the server", level, a, remote, ok)
		}
		if g.HoldsSecrets() {
			t.Errorf("1.3, level %d: the secrets outlived the server's alert", level)
		}
	}
}

// guardAlertCase is a server stream that the guard itself must refuse.
type guardAlertCase struct {
	name      string
	offer     recordlimit.Offer
	stream    []byte
	stackCCS  bool // the stack wrote its compatibility ChangeCipherSpec before
	sentinel  error
	desc      byte
	protected bool // the alert goes under the client's handshake keys
	noClient  bool // the stack never logged the client's handshake secret
	stackRec  bool // the stack wrote a protected record before the refusal
}

// TestGuardAlertReachesServer checks how the alert of a refusal by the
// guard itself reaches the server, the way crypto/tls would read it: in the
// clear before the client has keys (the first message, a TLS 1.3
// ServerHello it refuses, TLS 1.2), and during the server's TLS 1.3 flight,
// under the client's handshake keys with the sequence number the stack
// would use, after the compatibility ChangeCipherSpec unless the stack sent
// it already (RFC 8446, Appendix D.4): a crypto/tls server, which reads
// with those keys from its ServerHello on, refuses an alert in the clear.
// Afterwards Read and Write fail with the refusal and nothing more goes out.
func TestGuardAlertReachesServer(t *testing.T) {
	both := recordlimit.Offer{MaxFragmentLength: recordlimit.MFL512, RecordSizeLimit: 512}
	mfl := recordlimit.Offer{MaxFragmentLength: recordlimit.MFL512}
	f13 := func(exts ...ext) []byte { b, _ := flight13(t, true, exts...); return b }
	cases := []guardAlertCase{
		{"a message before the ServerHello", mfl, rec(ctHandshake, sized(hsCertificate, 10)), false, recordlimit.ErrProtocol, alUnexpectedMessage, false, false, false},
		{"application data before the ServerHello", mfl, rec(ctAppData, make([]byte, 10)), false, recordlimit.ErrProtocol, alUnexpectedMessage, false, false, false},
		{"1.3 ServerHello answering MFL", mfl, rec(ctHandshake, serverHello(suite13, exts13(mflExt(1)))), false, recordlimit.ErrNegotiation, alIllegalParameter, false, false, false},
		{"1.2 ServerHello, MFL echo differs", mfl, rec(ctHandshake, serverHello(gcm12, []ext{mflExt(2)})), false, recordlimit.ErrNegotiation, alIllegalParameter, false, false, false},
		{"1.2 ServerHello, RSL not offered", mfl, rec(ctHandshake, serverHello(gcm12, []ext{rslExt(512)})), false, recordlimit.ErrNegotiation, alUnsupportedExtension, false, false, false},
		{"1.3 EncryptedExtensions answering both", both, f13(mflExt(1), rslExt(512)), false, recordlimit.ErrNegotiation, alIllegalParameter, true, false, false},
		{"1.3 EncryptedExtensions answering both, after the stack's ChangeCipherSpec", both, f13(mflExt(1), rslExt(512)), true, recordlimit.ErrNegotiation, alIllegalParameter, true, false, false},
		{"1.3 EncryptedExtensions, RSL 63", both, f13(rslExt(63)), false, recordlimit.ErrNegotiation, alIllegalParameter, true, false, false},
		{"1.3 EncryptedExtensions, MFL not offered", recordlimit.Offer{RecordSizeLimit: 512}, f13(mflExt(1)), false, recordlimit.ErrNegotiation, alUnsupportedExtension, true, false, false},
	}
	// A message after EncryptedExtensions that is out of place, and a
	// plaintext record among protected ones.
	head, e := flight13(t, true)
	cases = append(cases,
		guardAlertCase{"1.3 a second EncryptedExtensions", mfl, append(append([]byte(nil), head...), e.Seal(nil, ctHandshake, encryptedExtensions())...), false, recordlimit.ErrProtocol, alUnexpectedMessage, true, false, false},
		guardAlertCase{"1.3 a handshake record in the clear", mfl, append(append([]byte(nil), head...), rec(ctHandshake, finishedMsg())...), false, recordlimit.ErrProtocol, 20, true, false, false}) // bad_record_mac
	// Without the client's secret the guard has no keys to seal with: the
	// alert goes in the clear. After a protected record of the stack's,
	// the alert takes the next sequence number.
	cases = append(cases,
		guardAlertCase{"1.3, the client's secret not logged", both, f13(mflExt(1), rslExt(512)), false, recordlimit.ErrNegotiation, alIllegalParameter, false, true, false},
		guardAlertCase{"1.3, after a protected record of the stack's", both, f13(mflExt(1), rslExt(512)), true, recordlimit.ErrNegotiation, alIllegalParameter, true, false, true})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := &pipe{in: tc.stream}
			g := guard.NewConn(p, tc.offer)
			if tc.noClient {
				g.KeyLogWriter(nil).Write(keyLogLine("SERVER_HANDSHAKE_TRAFFIC_SECRET", serverHS))
			} else {
				logSecrets(t, g.KeyLogWriter(nil))
			}
			server := epoch(t, clientHS) // the server's view of the client's records
			if tc.stackCCS {
				w := rec(ctCCS, []byte{1})
				if tc.stackRec {
					// Read the ServerHello first: the stack has keys once
					// it has.
					readRecords(t, g, p, tc.stream[:len(rec(ctHandshake, serverHello(suite13, exts13())))])
					p.in = p.in[:0]
					p.in = append(p.in, tc.stream[len(rec(ctHandshake, serverHello(suite13, exts13()))):]...)
					w = append(w, epoch(t, clientHS).Seal(nil, ctHandshake, sized(hsCertificate, 10))...)
				}
				if _, err := g.Write(w); err != nil {
					t.Fatal(err)
				}
			}
			_, err := drain(t, g, 64<<10)
			alertOf(t, err, tc.sentinel, tc.desc)
			got := split(t, p.out)
			if !tc.protected {
				if want := alertRec(2, tc.desc); !bytes.Equal(p.out, want) {
					t.Fatalf("the server got % x, want the alert in the clear % x", p.out, want)
				}
			} else {
				if tc.stackRec {
					// The stack's record, which the server opens first.
					if len(got) != 3 {
						t.Fatalf("the server got %d records, want the stack's two and the alert", len(got))
					}
					open(t, server, got[1])
					got = append(got[:1], got[2:]...)
				}
				if len(got) != 2 || got[0].typ != ctCCS || !bytes.Equal(got[0].body, []byte{1}) {
					t.Fatalf("the server got %d records (% x), want a ChangeCipherSpec and the protected alert", len(got), p.out)
				}
				c, typ := open(t, server, got[1])
				if typ != ctAlert || !bytes.Equal(c, []byte{2, tc.desc}) {
					t.Fatalf("the protected record carries %d: % x, want the fatal alert %d", typ, c, tc.desc)
				}
			}
			if a, remote, ok := g.FatalAlert(); !ok || remote || byte(a) != tc.desc {
				t.Errorf("FatalAlert %v, remote %v, %v; want %d sent", a, remote, ok, tc.desc)
			}
			if g.HoldsSecrets() {
				t.Error("the secrets outlived the refusal")
			}
			out := len(p.out)
			if _, err := g.Write(rec(ctHandshake, finishedMsg())); err == nil {
				t.Error("Write after the refusal succeeded")
			}
			if _, err := g.Read(make([]byte, 100)); !errors.Is(err, tc.sentinel) {
				t.Errorf("Read after the refusal: %v", err)
			}
			if len(p.out) != out {
				t.Errorf("%d more bytes went out after the alert", len(p.out)-out)
			}
		})
	}
}
