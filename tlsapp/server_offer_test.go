package tlsapp

import (
	"bufio"
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"

	"github.com/tlsapp/tlsapp/internal/testnet"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// rawExt is one extension of a hand-built ClientHello.
type rawExt struct {
	typ  uint16
	data []byte
}

// rawClientHello builds a ClientHello record that Go's crypto/tls server
// accepts for an ECDSA P-256 certificate, in TLS 1.2 (ECDHE-ECDSA
// AES-128-GCM) or TLS 1.3 (AES-128-GCM with an X25519 key share), with
// extra extensions appended as given, byte for byte.
func rawClientHello(t *testing.T, v uint16, extra ...rawExt) []byte {
	t.Helper()
	random := make([]byte, 32)
	rand.Read(random)
	var share []byte
	if v == tls.VersionTLS13 {
		key, err := ecdh.X25519().GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		share = key.PublicKey().Bytes()
	}
	return rawHello(v, random, share, extra...)
}

// rawHello builds the ClientHello record of rawClientHello with the given
// random and, in TLS 1.3, X25519 key share (none: an empty key_share list,
// which makes the server ask for one with a HelloRetryRequest).
func rawHello(v uint16, random, share []byte, extra ...rawExt) []byte {
	exts := []rawExt{
		{10, []byte{0, 4, 0, 29, 0, 23}}, // supported_groups: x25519, secp256r1
		{11, []byte{1, 0}},               // ec_point_formats: uncompressed
		{13, []byte{0, 2, 4, 3}},         // signature_algorithms: ecdsa_secp256r1_sha256
	}
	suite := uint16(tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)
	if v == tls.VersionTLS13 {
		suite = tls.TLS_AES_128_GCM_SHA256
		var ks cryptobyte.Builder
		ks.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			if share != nil {
				b.AddUint16(29)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(share) })
			}
		})
		exts = append(exts,
			rawExt{43, []byte{2, 3, 4}},   // supported_versions: TLS 1.3
			rawExt{45, []byte{1, 1}},      // psk_key_exchange_modes: psk_dhe_ke
			rawExt{51, ks.BytesOrPanic()}) // key_share
	}
	exts = append(exts, extra...)
	var b cryptobyte.Builder
	b.AddUint8(22)
	b.AddUint16(0x0301)
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint8(1) // client_hello
		b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint16(0x0303)
			b.AddBytes(random)
			b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(make([]byte, 32)) })
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint16(suite) })
			b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint8(0) })
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				for _, e := range exts {
					b.AddUint16(e.typ)
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(e.data) })
				}
			})
		})
	})
	return b.BytesOrPanic()
}

// startHandshakeServer runs NewListener over 127.0.0.1 with the test
// certificate; each connection only handshakes.
func startHandshakeServer(t *testing.T, opts ServerOptions) string {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{newTestPKI(t).Server}}
	testnet.Serve(t, NewListener(inner, cfg, opts), 10*time.Second, func(c net.Conn) {
		c.(*ServerConn).HandshakeContext(t.Context())
	})
	return inner.Addr().String()
}

// firstServerRecord sends hello and returns the first record the server
// answers with (header and body), read by this test's own framing.
func firstServerRecord(t *testing.T, addr string, hello []byte) (typ byte, body []byte, closed bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(hello); err != nil {
		t.Fatal(err)
	}
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(c, hdr); err != nil {
		t.Fatalf("no answer from the server: %v", err)
	}
	body = make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := io.ReadFull(c, body); err != nil {
		t.Fatalf("reading the server's first record: %v", err)
	}
	if hdr[0] == 21 {
		// After a fatal alert the server closes: nothing more arrives.
		n, err := c.Read(make([]byte, 1))
		closed = n == 0 && err == io.EOF
	}
	return hdr[0], body, closed
}

// TestServerRefusesMalformedOffers plays the record-size scenarios of
// tlsfuzzer's test-record-size-limit.py that are about malformed offers
// (and their max_fragment_length counterparts, RFC 6066 section 4) with raw
// ClientHellos over TCP against NewListener, and checks the first record the
// server sends: the fatal alert the RFCs name, then the end of the
// connection; an acceptable offer gets a ServerHello.
func TestServerRefusesMalformedOffers(t *testing.T) {
	leakCheck(t)
	addr := startHandshakeServer(t, ServerOptions{})
	rsl := func(b ...byte) rawExt { return rawExt{recordlimit.ExtRecordSizeLimit, b} }
	mfl := func(b ...byte) rawExt { return rawExt{recordlimit.ExtMaxFragmentLength, b} }
	const accepted = recordlimit.Alert(255)
	tests := []struct {
		name string
		exts []rawExt
		want recordlimit.Alert
	}{
		{"Invalid value in extension", []rawExt{rsl(0, 63)}, recordlimit.AlertIllegalParameter},
		{"invalid limit size 0", []rawExt{rsl(0, 0)}, recordlimit.AlertIllegalParameter},
		{"empty extension", []rawExt{rsl()}, recordlimit.AlertDecodeError},
		{"padded extension", []rawExt{rsl(0, 0x40, 0)}, recordlimit.AlertDecodeError},
		{"one-byte extension", []rawExt{rsl(0x40)}, recordlimit.AlertDecodeError},
		{"minimal size 64", []rawExt{rsl(0, 64)}, accepted},
		{"maximum size 65535", []rawExt{rsl(0xff, 0xff)}, accepted},
		{"max_fragment_length code 0", []rawExt{mfl(0)}, recordlimit.AlertIllegalParameter},
		{"max_fragment_length code 5", []rawExt{mfl(5)}, recordlimit.AlertIllegalParameter},
		{"max_fragment_length code 255", []rawExt{mfl(255)}, recordlimit.AlertIllegalParameter},
		{"max_fragment_length empty", []rawExt{mfl()}, recordlimit.AlertDecodeError},
		{"max_fragment_length two bytes", []rawExt{mfl(1, 1)}, recordlimit.AlertDecodeError},
		{"max_fragment_length 512", []rawExt{mfl(1)}, accepted},
		{"with max_fragment_length", []rawExt{rsl(0x40, 1), mfl(1)}, accepted},
		// RFC 8449 section 5: alongside record_size_limit, max_fragment_length is ignored, even a bad one.
		{"bad max_fragment_length with record_size_limit", []rawExt{mfl(9), rsl(0x40, 1)}, accepted},
		{"bad record_size_limit with max_fragment_length", []rawExt{mfl(1), rsl(0, 10)}, recordlimit.AlertIllegalParameter},
	}
	for _, tt := range tests {
		for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			t.Run(tt.name+" in "+versionName(v), func(t *testing.T) {
				typ, body, closed := firstServerRecord(t, addr, rawClientHello(t, v, tt.exts...))
				if tt.want == accepted {
					if typ != 22 || len(body) == 0 || body[0] != 2 {
						t.Fatalf("first server record: type %d, % x; want a ServerHello", typ, body[:min(len(body), 8)])
					}
					return
				}
				if typ != 21 || len(body) != 2 {
					t.Fatalf("first server record: type %d, %d bytes (% x); want the alert %v", typ, len(body), body[:min(len(body), 8)], tt.want)
				}
				if body[0] != 2 || recordlimit.Alert(body[1]) != tt.want {
					t.Fatalf("alert level %d, %v; want fatal %v", body[0], recordlimit.Alert(body[1]), tt.want)
				}
				if !closed {
					t.Error("the server did not close the connection after its fatal alert")
				}
			})
		}
	}
}

// TestServerRecordSizeLimitGoverns checks RFC 8449 section 5 on the wire: a
// client offering max_fragment_length 512 and record_size_limit 2048 gets
// records up to the record_size_limit (as tlsfuzzer's "check server sent
// size ... with max_fragment_length" expects), never above it.
func TestServerRecordSizeLimitGoverns(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(versionName(v), func(t *testing.T) {
			addr, _ := startCappedServer(t, v, ServerOptions{})
			relay := newRelay(t, addr)
			c := dialTest(t, relay.Addr(), Config{MinVersion: v, MaxVersion: v, MaxFragmentLength: 512, RecordSizeLimit: 2048})
			c.SetDeadline(time.Now().Add(30 * time.Second))
			if _, err := io.Copy(io.Discard, c); err != nil {
				t.Fatal(err)
			}
			limit := 2048 + expansion12
			if v == tls.VersionTLS13 {
				limit = 2047 + expansion13 + 1
			}
			m := maxLen(relay.records(1), nil)
			if m > limit || m <= 512+expansion13+1 {
				t.Errorf("largest server record %d bytes; want above the MFL's 512 and at most %d", m, limit)
			}
		})
	}
}

// readRecord reads one record by this test's own framing.
func readRecord(t *testing.T, c net.Conn) (typ byte, body []byte) {
	t.Helper()
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(c, hdr); err != nil {
		t.Fatalf("reading a server record: %v", err)
	}
	body = make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := io.ReadFull(c, body); err != nil {
		t.Fatalf("reading a server record: %v", err)
	}
	return hdr[0], body
}

// helloRetryRandom is the ServerHello.random of a HelloRetryRequest.
var helloRetryRandom = sha256.Sum256([]byte("HelloRetryRequest"))

// TestServerRefusesChangedRetryHello plays tlsfuzzer's HelloRetryRequest
// scenarios of test-record-size-limit.py with raw hellos over TCP against
// NewListener: a first TLS 1.3 ClientHello without a key share gets a
// HelloRetryRequest; the second ClientHello must repeat record_size_limit
// unchanged (RFC 8446 section 4.1.2), else the server sends a fatal
// illegal_parameter instead of its ServerHello. "sent early" sends the
// second hello before the HelloRetryRequest has arrived.
func TestServerRefusesChangedRetryHello(t *testing.T) {
	leakCheck(t)
	addr := startHandshakeServer(t, ServerOptions{})
	rsl := func(v uint16) rawExt { return rawExt{recordlimit.ExtRecordSizeLimit, []byte{byte(v >> 8), byte(v)}} }
	tests := []struct {
		name          string
		first, second []rawExt
		early         bool
		refused       bool
	}{
		{"HRR sanity", []rawExt{rsl(16385)}, []rawExt{rsl(16385)}, false, false},
		{"HRR without the extension", nil, nil, false, false},
		{"modified extension in 2nd CH in HRR handshake", []rawExt{rsl(16385)}, []rawExt{rsl(16384)}, false, true},
		{"removed extension in 2nd CH in HRR handshake", []rawExt{rsl(16385)}, nil, false, true},
		{"added extension in 2nd CH in HRR handshake", nil, []rawExt{rsl(16385)}, false, true},
		{"max_fragment_length modified in 2nd CH", []rawExt{{recordlimit.ExtMaxFragmentLength, []byte{1}}}, []rawExt{{recordlimit.ExtMaxFragmentLength, []byte{4}}}, false, true},
		{"modified extension in 2nd CH sent early", []rawExt{rsl(512)}, []rawExt{rsl(4096)}, true, true},
		{"unchanged 2nd CH sent early", []rawExt{rsl(512)}, []rawExt{rsl(512)}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			random := make([]byte, 32)
			rand.Read(random)
			key, err := ecdh.X25519().GenerateKey(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			first := rawHello(tls.VersionTLS13, random, nil, tt.first...)
			retry := rawHello(tls.VersionTLS13, random, key.PublicKey().Bytes(), tt.second...)
			retry[2] = 3 // records after the first hello say 0x0303 (RFC 8446 section 5.1)
			second := append([]byte{20, 3, 3, 0, 1, 1}, retry...)
			if tt.early {
				first = append(first, second...)
			}
			if _, err := c.Write(first); err != nil {
				t.Fatal(err)
			}
			typ, body := readRecord(t, c)
			if typ != 22 || len(body) < 38 || body[0] != 2 || !bytes.Equal(body[6:38], helloRetryRandom[:]) {
				t.Fatalf("first server record: type %d, % x; want a HelloRetryRequest", typ, body[:min(len(body), 8)])
			}
			if !tt.early {
				if _, err := c.Write(second); err != nil {
					t.Fatal(err)
				}
			}
			for {
				typ, body = readRecord(t, c)
				if typ != 20 { // the server's ChangeCipherSpec after its HelloRetryRequest
					break
				}
			}
			if !tt.refused {
				if typ != 22 || len(body) < 38 || body[0] != 2 || bytes.Equal(body[6:38], helloRetryRandom[:]) {
					t.Fatalf("answer to the second hello: type %d, % x; want a ServerHello", typ, body[:min(len(body), 8)])
				}
				return
			}
			if typ != 21 || len(body) != 2 || body[0] != 2 || recordlimit.Alert(body[1]) != recordlimit.AlertIllegalParameter {
				t.Fatalf("answer to the second hello: type %d, % x; want a fatal illegal_parameter", typ, body[:min(len(body), 8)])
			}
			if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
				t.Errorf("after its alert the server sent more or did not close: %d, %v", n, err)
			}
		})
	}
}

// TestServerSlowHugeHello sends NewListener a 64 KiB TLS 1.2 ClientHello
// (record_size_limit 256, then a padding extension) in 65,000 records of
// one byte, 64 records per TCP segment: the server must read the offer
// from it and keep every record of its flight, up to ServerHelloDone,
// within the 256 bytes asked for, as seen on the wire. (The cost of the
// scan is measured by internal/guard's BenchmarkServerHelloScan and bounded by
// TestServerHelloScanAllocations, one record per read: here the kernel
// coalesces the segments into large reads.)
func TestServerSlowHugeHello(t *testing.T) {
	leakCheck(t)
	addr := startHandshakeServer(t, ServerOptions{})
	small := rawClientHello(t, tls.VersionTLS12, rawExt{recordlimit.ExtRecordSizeLimit, []byte{1, 0}})
	pad := 64<<10 - len(small) - 4
	rec := rawClientHello(t, tls.VersionTLS12, rawExt{recordlimit.ExtRecordSizeLimit, []byte{1, 0}}, rawExt{21, make([]byte, pad)})
	msg := rec[5:]
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	c.(*net.TCPConn).SetNoDelay(true)
	w := bufio.NewWriterSize(c, 6*64) // 64 records of one byte per write
	for _, b := range msg {
		w.Write([]byte{22, 3, 1, 0, 1, b})
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for done := false; !done; {
		typ, body := readRecord(t, c)
		if typ != 22 {
			t.Fatalf("server record of type %d (% x) in its first flight", typ, body[:min(len(body), 8)])
		}
		sizes = append(sizes, len(body))
		if len(body) > 256 {
			t.Errorf("server record of %d bytes; the client asked for 256", len(body))
		}
		done = bytes.HasSuffix(body, []byte{14, 0, 0, 0}) // ServerHelloDone ends the flight
	}
	t.Logf("a %d-byte hello in %d one-byte records; server flight in records of %v bytes", len(msg), len(msg), sizes)
	if len(sizes) < 3 {
		t.Errorf("server flight in %d records", len(sizes))
	}
}
