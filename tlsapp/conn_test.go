package tlsapp

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/guard"
	"github.com/tlsapp/tlsapp/internal/wire"
	"github.com/tlsapp/tlsapp/recordlimit"
)

func echo(c *tls.Conn) { io.Copy(c, c) }

func dialTest(t *testing.T, addr string, cfg Config) *Conn {
	t.Helper()
	cfg.ServerName = "localhost"
	cfg.RootCAs = newTestPKI(t).Pool
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, "tcp", addr, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestEpochDecryptsServerRecords checks guard.Epoch against a real
// server: the first protected record Go's crypto/tls server sends, decrypted
// with the logged server handshake secret, is EncryptedExtensions, for each
// TLS 1.3 suite.
func TestEpochDecryptsServerRecords(t *testing.T) {
	addr := startGoServer(t, &tls.Config{}, echo)
	for _, suite := range []uint16{tls.TLS_AES_128_GCM_SHA256, tls.TLS_AES_256_GCM_SHA384, tls.TLS_CHACHA20_POLY1305_SHA256} {
		t.Run(tls.CipherSuiteName(suite), func(t *testing.T) {
			raw, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			tap := &recordTap{Conn: raw}
			var keylog bytes.Buffer
			c := Client(tap, &Config{ServerName: "localhost", RootCAs: newTestPKI(t).Pool,
				CipherSuites: []uint16{suite}, KeyLogWriter: &keylog})
			defer c.Close()
			if err := c.Handshake(); err != nil {
				t.Fatal(err)
			}
			var secret []byte
			for _, line := range strings.Split(keylog.String(), "\n") {
				if f := strings.Fields(line); len(f) == 3 && f[0] == "SERVER_HANDSHAKE_TRAFFIC_SECRET" {
					fmt.Sscanf(f[2], "%x", &secret)
				}
			}
			e, err := guard.NewEpoch(suite, secret)
			if err != nil {
				t.Fatal(err)
			}
			first := tap.firstProtected()
			if first == nil {
				t.Fatal("no protected record seen")
			}
			content, typ, err := e.Open(nil, first)
			if err != nil || typ != recordlimit.TypeHandshake || len(content) == 0 || content[0] != 8 {
				t.Fatalf("Open = type %v, first byte %x, err %v; want EncryptedExtensions", typ, content[:1], err)
			}
			// Seal and Open are inverses under one secret.
			a, _ := guard.NewEpoch(suite, secret)
			b, _ := guard.NewEpoch(suite, secret)
			rec := a.Seal(nil, recordlimit.TypeAlert, []byte{2, 22})
			if got, typ, err := b.Open(nil, rec); err != nil || typ != recordlimit.TypeAlert || !bytes.Equal(got, []byte{2, 22}) {
				t.Errorf("Open(Seal) = %x %v %v", got, typ, err)
			}
		})
	}
}

// recordTap keeps the first protected record the server sends.
type recordTap struct {
	net.Conn
	buf []byte
}

func (r *recordTap) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.buf = append(r.buf, p[:n]...)
	return n, err
}

func (r *recordTap) firstProtected() []byte {
	for s := r.buf; len(s) >= wire.HeaderLen; {
		h, err := wire.ParseHeader(s)
		if err != nil || len(s) < wire.HeaderLen+h.Len {
			return nil
		}
		if h.Type == recordlimit.TypeApplicationData {
			return s[:wire.HeaderLen+h.Len]
		}
		s = s[wire.HeaderLen+h.Len:]
	}
	return nil
}

// TestWriteIsOneTransportWrite checks that the records of one Write reach
// the transport in a single write call.
func TestWriteIsOneTransportWrite(t *testing.T) {
	addr := startGoServer(t, &tls.Config{}, echo)
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	cc := &countingConn{Conn: raw}
	// Go's server ignores MFL, so the limit comes from the client's own
	// send limit: use RSL 512 with a server that cannot answer, and check
	// the batching on a write large enough for many 16 KiB records instead.
	c := Client(cc, &Config{ServerName: "localhost", RootCAs: newTestPKI(t).Pool})
	defer c.Close()
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	before := len(cc.Writes())
	msg := make([]byte, 60000) // four records of up to 16 KiB
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	if w := cc.Writes()[before:]; len(w) != 1 {
		t.Errorf("one Write of %d bytes made %d transport writes: %v", len(msg), len(w), w)
	}
	st := c.RecordState()
	if st.RecordsSent < 4+2 {
		t.Errorf("RecordsSent = %d", st.RecordsSent)
	}
}

// TestChunkedTransport runs a full handshake and a 1 MiB transfer both ways
// over a transport that moves at most 256 bytes per call.
func TestChunkedTransport(t *testing.T) {
	addr := startGoServer(t, &tls.Config{}, echo)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(fmt.Sprintf("%x", v), func(t *testing.T) {
			raw, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			limited := &maxCallConn{Conn: raw, max: 256}
			c := Client(recordlimit.Chunked(limited, 256), &Config{ServerName: "localhost",
				RootCAs: newTestPKI(t).Pool, MaxVersion: v, RecordSizeLimit: 2048, MaxFragmentLength: 2048})
			defer c.Close()
			data := make([]byte, 1<<20)
			rand.Read(data)
			errc := make(chan error, 1)
			go func() {
				_, err := c.Write(data)
				if err == nil {
					err = c.CloseWrite()
				}
				errc <- err
			}()
			h := sha256.New()
			n, err := io.Copy(h, c)
			if err != nil || n != int64(len(data)) {
				t.Fatalf("read %d bytes, err %v", n, err)
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			if want := sha256.Sum256(data); !bytes.Equal(h.Sum(nil), want[:]) {
				t.Error("SHA-256 mismatch")
			}
			if limited.tooBig > 0 {
				t.Errorf("%d transport calls moved more than 256 bytes", limited.tooBig)
			}
		})
	}
}

// maxCallConn counts calls that move more than max bytes.
type maxCallConn struct {
	net.Conn
	max    int
	tooBig int
}

func (c *maxCallConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > c.max {
		c.tooBig++
	}
	return n, err
}

func (c *maxCallConn) Write(p []byte) (int, error) {
	if len(p) > c.max {
		c.tooBig++
	}
	return c.Conn.Write(p)
}

func (c *maxCallConn) CloseWrite() error { return c.Conn.(*net.TCPConn).CloseWrite() }

// TestResumption checks that a second connection resumes through the
// session cache and spends fewer handshake bytes, in TLS 1.2 and 1.3.
func TestResumption(t *testing.T) {
	addr := startGoServer(t, &tls.Config{}, func(c *tls.Conn) {
		c.Write([]byte("x")) // lets the TLS 1.3 ticket reach the client
		io.Copy(io.Discard, c)
	})
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(fmt.Sprintf("%x", v), func(t *testing.T) {
			cache := NewSessionCache(0)
			var states []RecordState
			for i := 0; i < 2; i++ {
				c := dialTest(t, addr, Config{MaxVersion: v, ClientSessionCache: cache, MaxFragmentLength: 1024})
				if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
					t.Fatal(err)
				}
				states = append(states, c.RecordState())
				c.Close()
			}
			if states[0].Resumed || !states[1].Resumed {
				t.Fatalf("resumed = %v, %v", states[0].Resumed, states[1].Resumed)
			}
			full := states[0].HandshakeBytesSent + states[0].HandshakeBytesReceived
			resumed := states[1].HandshakeBytesSent + states[1].HandshakeBytesReceived
			if resumed >= full {
				t.Errorf("resumed handshake %d bytes, full %d", resumed, full)
			}
			t.Logf("handshake bytes: full %d, resumed %d", full, resumed)
		})
	}
}

// TestIgnoringServer checks that a server answering neither extension
// still works with full-size records, and RecordState says so.
func TestIgnoringServer(t *testing.T) {
	addr := startGoServer(t, &tls.Config{}, func(c *tls.Conn) {
		c.Write(make([]byte, 256<<10))
	})
	c := dialTest(t, addr, Config{MaxFragmentLength: 512, RecordSizeLimit: 512})
	n, err := io.Copy(io.Discard, c)
	if err != nil || n != 256<<10 {
		t.Fatalf("read %d, %v", n, err)
	}
	st := c.RecordState()
	if st.Agreed != recordlimit.KindNone || st.LargestReceived <= 4096 || st.ReceiveLimit != wire.MaxCiphertextTLS13 {
		t.Errorf("state %+v", st)
	}
	if len(st.Anchors) != 1 || st.Anchors[0].Subject != "CN=tlsapp test CA" {
		t.Errorf("anchors %+v", st.Anchors)
	}
}

// TestVerificationOnByDefault checks that a server whose chain is not
// trusted is refused.
func TestVerificationOnByDefault(t *testing.T) {
	addr := startGoServer(t, &tls.Config{}, echo)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := Dial(ctx, "tcp", addr, &Config{ServerName: "localhost"}) // system roots
	if err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Fatalf("untrusted server accepted or wrong error: %v", err)
	}
	_, err = Dial(ctx, "tcp", addr, &Config{ServerName: "wrong.example", RootCAs: newTestPKI(t).Pool})
	if err == nil {
		t.Fatal("hostname mismatch accepted")
	}
}

// TestDialContextCancelled checks that a server that never answers cannot
// hold Dial past its context.
func TestDialContextCancelled(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			defer c.Close()
			io.Copy(io.Discard, c) // read the hello, never answer
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = Dial(ctx, "tcp", ln.Addr().String(), &Config{ServerName: "localhost"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Dial took %v", d)
	}
}

// TestHTTPTransport uses Conn as http.Transport's TLS dialer, with ALPN.
func TestHTTPTransport(t *testing.T) {
	body := bytes.Repeat([]byte("firmware"), 40000)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(body)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{newTestPKI(t).Server}, NextProtos: []string{"http/1.1"}}
	srv.StartTLS()
	defer srv.Close()
	var conns []*Conn
	tr := &http.Transport{DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := Dial(ctx, network, addr, &Config{ServerName: "localhost", RootCAs: newTestPKI(t).Pool,
			NextProtos: []string{"http/1.1"}, RecordSizeLimit: 2048})
		if err == nil {
			conns = append(conns, c)
		}
		return c, err
	}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("body %d bytes, err %v", len(got), err)
	}
	if len(conns) != 1 || conns[0].ConnectionState().NegotiatedProtocol != "http/1.1" {
		t.Errorf("ALPN not negotiated: %d conns", len(conns))
	}
}

// TestSendRecordLimit checks that Config.SendRecordLimit caps the
// application data records the client sends to a server that agreed to no
// limit, as seen by the relay, with the records of one Write still in one
// transport write, and that bad values are refused.
func TestSendRecordLimit(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(versionName(v), func(t *testing.T) {
			got := make(chan []byte, 1)
			addr := startGoServer(t, &tls.Config{}, func(c *tls.Conn) {
				b, _ := io.ReadAll(c)
				got <- b
			})
			relay := newRelay(t, addr)
			raw, err := net.Dial("tcp", relay.Addr())
			if err != nil {
				t.Fatal(err)
			}
			cc := &countingConn{Conn: raw}
			c := Client(cc, &Config{ServerName: "localhost", RootCAs: newTestPKI(t).Pool,
				MinVersion: v, MaxVersion: v, SendRecordLimit: 1000})
			defer c.Close()
			if err := c.Handshake(); err != nil {
				t.Fatal(err)
			}
			msg := make([]byte, 10000)
			rand.Read(msg)
			before := len(cc.Writes())
			if _, err := c.Write(msg); err != nil {
				t.Fatal(err)
			}
			if w := cc.Writes()[before:]; len(w) != 1 {
				t.Errorf("one Write made %d transport writes: %v", len(w), w)
			}
			if err := c.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			if b := <-got; !bytes.Equal(b, msg) {
				t.Fatalf("server read %d bytes, not the %d written", len(b), len(msg))
			}
			overhead := 8 + 16 // TLS 1.2 explicit nonce + tag
			if v == tls.VersionTLS13 {
				overhead = 1 + 16 // inner content type + tag
			}
			data := 0
			for _, r := range relay.records(0) {
				if r.Type != 23 {
					continue
				}
				data++
				if r.Len > 1000+overhead {
					t.Errorf("client record of %d bytes, above 1000 + %d", r.Len, overhead)
				}
			}
			if data < 10 {
				t.Errorf("%d application data records for 10000 bytes at 1000 each", data)
			}
			if st := c.RecordState(); st.SendLimit != 1000 || st.Agreed != recordlimit.KindNone {
				t.Errorf("state: SendLimit %d, Agreed %v", st.SendLimit, st.Agreed)
			}
		})
	}
	for _, bad := range []int{-1, 63, 16385} {
		c := Client(nil, &Config{ServerName: "localhost", SendRecordLimit: bad})
		if err := c.Handshake(); !errors.Is(err, ErrConfig) {
			t.Errorf("SendRecordLimit %d: %v, want ErrConfig", bad, err)
		}
	}
}

// TestNilConfig checks that a nil Config is refused with ErrConfig, not a
// panic.
func TestNilConfig(t *testing.T) {
	if err := Client(nil, nil).Handshake(); !errors.Is(err, ErrConfig) {
		t.Errorf("Client(nil, nil).Handshake() = %v, want ErrConfig", err)
	}
}
