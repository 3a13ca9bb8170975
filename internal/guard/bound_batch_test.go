package guard_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/tlsapp/tlsapp/internal/guard"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// countingPipe is a pipe that counts its transport writes and can fail
// them.
type countingPipe struct {
	pipe
	writes int
	fail   error
}

func (c *countingPipe) Write(b []byte) (int, error) {
	c.writes++
	if c.fail != nil {
		return 0, c.fail
	}
	return c.pipe.Write(b)
}

// TestClientBatch: between BeginBatch and Flush the records the stack
// writes reach the transport in one write, in order, whatever the batch's
// size against the guard's buffer sizes; Flush(false) sends and keeps
// gathering; after Flush(true) each write goes out at once; a failed
// transport write is the error of the Flush and of every write after it.
func TestClientBatch(t *testing.T) {
	for _, total := range []int{1, 18437, 18438, 2 * 18437, 2*18437 + 1, 64<<10 + 18437, 64<<10 + 18438, 100 << 10} {
		for _, hint := range []int{0, total} {
			t.Run(fmt.Sprintf("%d bytes, hint %d", total, hint), func(t *testing.T) {
				p := &countingPipe{}
				g := guard.NewConn(p, recordlimit.Offer{})
				g.EndHandshake()
				var want []byte
				g.BeginBatch(hint)
				for i := 0; len(want) < total; i++ {
					n := min(16384, total-len(want)-5)
					r := rec(ctAppData, bytes.Repeat([]byte{byte(i)}, max(n, 0)))
					if _, err := g.Write(r); err != nil {
						t.Fatal(err)
					}
					want = append(want, r...)
					if g.Buffered() != len(want) {
						t.Fatalf("Buffered %d after %d bytes", g.Buffered(), len(want))
					}
				}
				if p.writes != 0 {
					t.Fatalf("%d transport writes before Flush", p.writes)
				}
				if err := g.Flush(false); err != nil {
					t.Fatal(err)
				}
				if p.writes != 1 || !bytes.Equal(p.out, want) || g.Buffered() != 0 {
					t.Fatalf("Flush: %d transport writes carrying %d bytes, %d buffered; want one of %d", p.writes, len(p.out), g.Buffered(), len(want))
				}
				// Still batching.
				r := rec(ctAppData, []byte("more"))
				g.Write(r)
				if p.writes != 1 {
					t.Fatal("a write after Flush(false) went out before the next Flush")
				}
				if err := g.Flush(true); err != nil || p.writes != 2 || !bytes.HasSuffix(p.out, r) {
					t.Fatalf("Flush(true): %v, %d writes", err, p.writes)
				}
				if err := g.Flush(true); err != nil || p.writes != 2 {
					t.Fatalf("an empty Flush: %v, %d writes", err, p.writes)
				}
				g.Write(r)
				if p.writes != 3 {
					t.Fatal("a write after the batch ended did not go out at once")
				}
			})
		}
	}

	t.Run("transport error", func(t *testing.T) {
		boom := errors.New("boom")
		p := &countingPipe{fail: boom}
		g := guard.NewConn(p, recordlimit.Offer{})
		g.EndHandshake()
		g.BeginBatch(100)
		if _, err := g.Write(rec(ctAppData, make([]byte, 10))); err != nil {
			t.Fatal(err)
		}
		if err := g.Flush(true); !errors.Is(err, boom) {
			t.Fatalf("Flush: %v", err)
		}
		if _, err := g.Write(rec(ctAppData, make([]byte, 10))); !errors.Is(err, boom) || p.writes != 1 {
			t.Fatalf("Write after the failed Flush: %v, %d transport writes", err, p.writes)
		}
		if err := g.Flush(true); !errors.Is(err, boom) {
			t.Fatalf("the next Flush: %v", err)
		}
	})
	t.Run("transport error, unbatched", func(t *testing.T) {
		boom := errors.New("boom")
		p := &countingPipe{fail: boom}
		g := guard.NewConn(p, recordlimit.Offer{})
		if _, err := g.Write(rec(ctHandshake, make([]byte, 10))); !errors.Is(err, boom) {
			t.Fatalf("Write: %v", err)
		}
		if _, err := g.Write(rec(ctHandshake, make([]byte, 10))); !errors.Is(err, boom) || p.writes != 1 {
			t.Fatalf("the Write after: %v, %d transport writes", err, p.writes)
		}
	})
}

// TestClientWriteFraming: the stack writes whole records; a write that
// ends inside a header or a body is refused and nothing of it is sent.
func TestClientWriteFraming(t *testing.T) {
	whole := append(rec(ctHandshake, make([]byte, 100)), rec(ctHandshake, make([]byte, 3))...)
	for _, n := range []int{len(whole), len(whole) - 1, len(whole) - 3, 105 + 4, 106, 1} {
		p := &pipe{}
		g := guard.NewConn(p, recordlimit.Offer{MaxFragmentLength: recordlimit.MFL512})
		k, err := g.Write(whole[:n])
		if n == len(whole) {
			if err != nil || k != n || !bytes.Equal(p.out, whole) {
				t.Fatalf("whole records: %d, %v", k, err)
			}
			continue
		}
		if err == nil || k != 0 || len(p.out) != 0 {
			t.Fatalf("%d of %d bytes: %d, %v, %d sent; want a refusal", n, len(whole), k, err, len(p.out))
		}
	}
}

// TestClientOwnAlerts: an alert the stack writes in the clear is reported
// as the client's when fatal (TLS 1.2: level 2; TLS 1.3: any level), not
// when it is a TLS 1.2 warning or close_notify, and a fatal one ends the
// handshake secrets once the write is out.
func TestClientOwnAlerts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		server []byte
		alert  []byte
		fatal  bool
	}{
		{"1.2 fatal", rec(ctHandshake, serverHello(gcm12, nil)), []byte{2, 42}, true},
		{"1.2 warning", rec(ctHandshake, serverHello(gcm12, nil)), []byte{1, 42}, false},
		{"1.2 close_notify", rec(ctHandshake, serverHello(gcm12, nil)), []byte{1, 0}, false},
		{"before the ServerHello, fatal", nil, []byte{2, 40}, true},
		{"after a HelloRetryRequest, warning", rec(ctHandshake, helloRetryRequest()), []byte{1, 40}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &pipe{}
			g := guard.NewConn(p, recordlimit.Offer{MaxFragmentLength: recordlimit.MFL512})
			logSecrets(t, g.KeyLogWriter(nil))
			readRecords(t, g, p, tc.server)
			w := rec(ctAlert, tc.alert)
			if _, err := g.Write(w); err != nil || !bytes.Equal(p.out, w) {
				t.Fatalf("Write: %v, % x sent", err, p.out)
			}
			a, remote, ok := g.FatalAlert()
			if ok != tc.fatal || ok && (remote || byte(a) != tc.alert[1]) {
				t.Fatalf("FatalAlert %v %v %v; want fatal %v", a, remote, ok, tc.fatal)
			}
			if tc.fatal && g.HoldsSecrets() {
				t.Fatal("the secrets outlived the client's fatal alert")
			}
			if !tc.fatal && !g.HoldsSecrets() {
				t.Fatal("a warning ended the handshake secrets")
			}
		})
	}

	// TLS 1.3: the stack's alert under its handshake keys, after its
	// ChangeCipherSpec, in one write with a second alert (utls sends two
	// after some failures): both reach the server in sequence.
	g, p, stack := client13(t, recordlimit.Offer{RecordSizeLimit: 512}, rslExt(100))
	w := append(rec(ctCCS, []byte{1}), stack.Seal(nil, ctAlert, []byte{2, 42})...)
	w = append(w, stack.Seal(nil, ctAlert, []byte{2, 10})...)
	if _, err := g.Write(w); err != nil {
		t.Fatal(err)
	}
	server := epoch(t, clientHS)
	rs := split(t, p.out)
	for i, want := range []byte{42, 10} {
		if c, typ := open(t, server, rs[1+i]); typ != ctAlert || !bytes.Equal(c, []byte{2, want}) {
			t.Fatalf("alert %d: %d % x", i, typ, c)
		}
	}
	if a, remote, ok := g.FatalAlert(); !ok || remote || a != 42 {
		t.Fatalf("1.3: FatalAlert %v %v %v; want bad_certificate sent", a, remote, ok)
	}
	if g.HoldsSecrets() {
		t.Fatal("1.3: the secrets outlived the client's fatal alert")
	}
}

// TestServerSecondHello: a ClientHello sent after a HelloRetryRequest must
// repeat the first one's max_fragment_length and record_size_limit byte for
// byte (RFC 8446, Section 4.1.2): any change to either, adding or dropping
// one included, is refused with illegal_parameter before the stack reads
// it; the same extensions pass.
func TestServerSecondHello(t *testing.T) {
	first := []ext{mflExt(1), rslExt(512)}
	for _, tc := range []struct {
		name   string
		second []ext
		refuse bool
	}{
		{"the same", []ext{mflExt(1), rslExt(512)}, false},
		{"the same, another order", []ext{rslExt(512), mflExt(1)}, false},
		{"MFL changed", []ext{mflExt(2), rslExt(512)}, true},
		{"RSL changed", []ext{mflExt(1), rslExt(513)}, true},
		{"MFL dropped", []ext{rslExt(512)}, true},
		{"RSL dropped", []ext{mflExt(1)}, true},
		{"both dropped", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &pipe{in: rec(ctHandshake, clientHello(0, first...))}
			g := guard.NewServerConn(p, 0)
			drain(t, g, 4096)
			hrr := rec(ctHandshake, helloRetryRequest())
			if _, err := g.Write(hrr); err != nil {
				t.Fatal(err)
			}
			second := append(rec(ctCCS, []byte{1}), rec(ctHandshake, clientHello(0, tc.second...))...)
			p.in = second
			got, err := drain(t, g, 4096)
			if !tc.refuse {
				if !bytes.Equal(got, second) || !bytes.Equal(p.out, hrr) {
					t.Fatalf("%v after %d of %d bytes; % x sent", err, len(got), len(second), p.out)
				}
				return
			}
			alertOf(t, err, recordlimit.ErrNegotiation, alIllegalParameter)
			if want := append(hrr, alertRec(2, alIllegalParameter)...); !bytes.Equal(p.out, want) {
				t.Fatalf("the client got % x, want the HelloRetryRequest and the alert", p.out)
			}
		})
	}
}
