package tlsapp

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/testnet"
)

// startCappedServer serves size random bytes to every client through
// NewListener with the big server chain, and returns its address and the
// data's SHA-256.
func startCappedServer(t *testing.T, v uint16, opts ServerOptions) (string, [32]byte) {
	t.Helper()
	data := make([]byte, 256<<10)
	rand.Read(data)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{bigChain(t, x509.ExtKeyUsageServerAuth)}, MinVersion: v, MaxVersion: v}
	ln := NewListener(inner, cfg, opts)
	testnet.Serve(t, ln, 30*time.Second, func(c net.Conn) {
		c.Write(data)
		c.(*ServerConn).CloseWrite()
		io.Copy(io.Discard, c)
	})
	return inner.Addr().String(), sha256.Sum256(data)
}

// TestServerCapsRecords checks that every record the server sends,
// handshake records included (its chain is over 4 KiB), stays within the
// cap: a fixed cap for clients that cannot ask, and the client's own
// max_fragment_length or record_size_limit.
func TestServerCapsRecords(t *testing.T) {
	tests := []struct {
		name     string
		opts     ServerOptions
		client   string // "go" (asks nothing) or "tlsapp"
		mfl, rsl int
		cap12    int // content bytes per record in TLS 1.2
		cap13    int // and in TLS 1.3
	}{
		{"max-record 2048, crypto/tls client", ServerOptions{MaxRecord: 2048}, "go", 0, 0, 2048, 2048},
		{"client mfl 512", ServerOptions{}, "tlsapp", 512, 0, 512, 512},
		{"client rsl 1000, max-record 2048", ServerOptions{MaxRecord: 2048}, "tlsapp", 0, 1000, 1000, 999},
		{"client rsl 64", ServerOptions{}, "tlsapp", 0, 64, 64, 63},
	}
	for _, tt := range tests {
		for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			t.Run(fmt.Sprintf("%s/%s", tt.name, versionName(v)), func(t *testing.T) {
				addr, sum := startCappedServer(t, v, tt.opts)
				relay := newRelay(t, addr)
				pool := newTestPKI(t).Pool
				var c net.Conn
				if tt.client == "go" {
					tc, err := tls.Dial("tcp", relay.Addr(), &tls.Config{ServerName: "localhost", RootCAs: pool})
					if err != nil {
						t.Fatal(err)
					}
					c = tc
				} else {
					c = dialTest(t, relay.Addr(), Config{MinVersion: v, MaxVersion: v,
						MaxFragmentLength: tt.mfl, RecordSizeLimit: tt.rsl})
				}
				c.SetDeadline(time.Now().Add(30 * time.Second))
				h := sha256.New()
				if _, err := io.Copy(h, c); err != nil {
					t.Fatal(err)
				}
				c.Close()
				if !bytes.Equal(h.Sum(nil), sum[:]) {
					t.Fatal("SHA-256 mismatch")
				}
				limit := tt.cap12 + expansion12
				if v == tls.VersionTLS13 {
					limit = tt.cap13 + expansion13 + 1
				}
				recs := relay.records(1)
				if m := maxLen(recs, nil); m > limit {
					t.Errorf("server sent a %d-byte record, cap allows %d", m, limit)
				}
				if len(recs) < (256<<10)/max(tt.cap12, tt.cap13) {
					t.Errorf("only %d server records", len(recs))
				}
				t.Logf("largest server record %d (bound %d), %d records", maxLen(recs, nil), limit, len(recs))
			})
		}
	}
}

// TestServerCapBeforeHandshake checks Cap and Offer through the accessors.
func TestServerCapBeforeHandshake(t *testing.T) {
	srvRaw, cliRaw := net.Pipe()
	defer srvRaw.Close()
	sc := Server(srvRaw, &tls.Config{Certificates: []tls.Certificate{newTestPKI(t).Server}}, ServerOptions{MaxRecord: 4000})
	if sc.Cap() != 4000 {
		t.Errorf("Cap before the hello = %d", sc.Cap())
	}
	go func() {
		c := Client(cliRaw, &Config{ServerName: "localhost", RootCAs: newTestPKI(t).Pool, MaxFragmentLength: 1024})
		c.Handshake()
		c.Close()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := sc.HandshakeContext(ctx); err != nil {
		t.Fatal(err)
	}
	if o, ok := sc.Offer(); !ok || o.MaxFragmentLength.Bytes() != 1024 || sc.Cap() != 1024 {
		t.Errorf("offer %+v (%v), cap %d", o, ok, sc.Cap())
	}
}

// TestServerWriteBatches checks, at the wire, how a server Write reaches the
// transport: a Write of one record (up to the cap, 2048) is one transport
// write of that record; a larger one is cut into records of the cap,
// gathered into one transport write per batchSize bytes: the write closes
// with the record that takes it to batchSize or more. An independent relay
// sees every server record within the cap and the client gets the bytes.
func TestServerWriteBatches(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(versionName(v), func(t *testing.T) {
			inner, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer inner.Close()
			cfg := &tls.Config{Certificates: []tls.Certificate{newTestPKI(t).Server}, MinVersion: v, MaxVersion: v,
				CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}
			accepted := make(chan *ServerConn, 1)
			var cc *countingConn
			go func() {
				raw, err := inner.Accept()
				if err != nil {
					close(accepted)
					return
				}
				cc = &countingConn{Conn: raw}
				s := Server(cc, cfg, ServerOptions{MaxRecord: 2048})
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if err := s.HandshakeContext(ctx); err != nil {
					s.Close()
					close(accepted)
					return
				}
				accepted <- s
			}()
			relay := newRelay(t, inner.Addr().String())
			c, err := tls.Dial("tcp", relay.Addr(), &tls.Config{ServerName: "localhost", RootCAs: newTestPKI(t).Pool})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			s := <-accepted
			if s == nil {
				t.Fatal("no connection accepted")
			}
			defer s.Close()
			overhead := expansion12
			if v == tls.VersionTLS13 {
				overhead = expansion13 + 1
			}
			for _, size := range []int{1, 2048, 2049, 16 << 10, 100 << 10, 300 << 10} {
				msg := make([]byte, size)
				rand.Read(msg)
				before := len(cc.Writes())
				errc := make(chan error, 1)
				go func() { _, err := s.Write(msg); errc <- err }()
				got := make([]byte, size)
				if _, err := io.ReadFull(c, got); err != nil {
					t.Fatal(err)
				}
				if err := <-errc; err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, msg) {
					t.Fatalf("Write of %d bytes: the client got other bytes", size)
				}
				// The transport writes the batching rule gives.
				var want []int
				acc := 0
				for left := size; left > 0; left -= min(left, 2048) {
					acc += 5 + min(left, 2048) + overhead
					if acc >= batchSize || left <= 2048 {
						want = append(want, acc)
						acc = 0
					}
				}
				if w := cc.Writes()[before:]; fmt.Sprint(w) != fmt.Sprint(want) {
					t.Errorf("Write of %d bytes made transport writes %v, want %v", size, w, want)
				}
			}
			s.Close()
			io.Copy(io.Discard, c)
			if m, limit := maxLen(relay.records(1), nil), 2048+overhead; m > limit {
				t.Errorf("the server sent a %d-byte record, the cap allows %d", m, limit)
			}
		})
	}
}
