package tlsapp

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/peerproc"
	"github.com/tlsapp/tlsapp/internal/testnet"
)

// sessionServer is NewListener over 127.0.0.1 answering each connection
// with one line that says whether the server resumed it and how many
// certificates of the client it knows, then echoing one line back.
type sessionServer struct {
	addr string
}

func startSessionServer(t *testing.T, cfg *tls.Config, opts ServerOptions) sessionServer {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Certificates == nil {
		cfg.Certificates = []tls.Certificate{newTestPKI(t).Server}
	}
	testnet.Serve(t, NewListener(inner, cfg, opts), 30*time.Second, func(c net.Conn) {
		sc := c.(*ServerConn)
		if err := sc.HandshakeContext(context.Background()); err != nil {
			return
		}
		st := sc.ConnectionState()
		fmt.Fprintf(sc, "resumed=%v client-certs=%d\n", st.DidResume, len(st.PeerCertificates))
		if line, err := bufio.NewReader(io.LimitReader(sc, 100)).ReadString('\n'); err == nil {
			io.WriteString(sc, line)
		}
	})
	return sessionServer{addr: inner.Addr().String()}
}

// serverRecordBound is the largest record (body) a cap of n content bytes
// allows in version v.
func serverRecordBound(v uint16, n int) int {
	if v == tls.VersionTLS13 {
		return n + 1 + expansion13
	}
	return n + expansion12
}

// TestServerResumes checks, from the client's side, that a second
// connection through NewListener resumes the first one's session, in TLS 1.2
// and 1.3, at caps down to the smallest record_size_limit (where tickets
// used to be turned off), and that every server record, the tickets
// included, stayed within the cap on an independent relay.
func TestServerResumes(t *testing.T) {
	leakCheck(t)
	tests := []struct {
		name     string
		opts     ServerOptions
		mfl, rsl int
		cap      func(v uint16) int
	}{
		{"no cap", ServerOptions{}, 0, 0, func(uint16) int { return 16384 }},
		{"client mfl 512", ServerOptions{}, 512, 0, func(uint16) int { return 512 }},
		{"client rsl 64", ServerOptions{}, 0, 64, func(v uint16) int {
			if v == tls.VersionTLS13 {
				return 63
			}
			return 64
		}},
		{"max-record 100", ServerOptions{MaxRecord: 100}, 0, 0, func(uint16) int { return 100 }},
	}
	for _, tt := range tests {
		for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			t.Run(tt.name+"/"+versionName(v), func(t *testing.T) {
				srv := startSessionServer(t, &tls.Config{MinVersion: v, MaxVersion: v}, tt.opts)
				relay := newRelay(t, srv.addr)
				cache := NewSessionCache(4)
				for i, wantResumed := range []bool{false, true, true} {
					c := dialTest(t, relay.Addr(), Config{MinVersion: v, MaxVersion: v, ClientSessionCache: cache,
						MaxFragmentLength: tt.mfl, RecordSizeLimit: tt.rsl})
					c.SetDeadline(time.Now().Add(10 * time.Second))
					line, err := bufio.NewReader(c).ReadString('\n')
					if err != nil {
						t.Fatal(err)
					}
					if got := c.ConnectionState().DidResume; got != wantResumed {
						t.Errorf("connection %d: client saw DidResume %v, want %v (server: %q)", i, got, wantResumed, line)
					}
					c.Close()
				}
				bound := serverRecordBound(v, tt.cap(v))
				if m := maxLen(relay.records(1), nil); m > bound {
					t.Errorf("server sent a %d-byte record, the cap allows %d", m, bound)
				}
			})
		}
	}
}

// TestServerTicketWithinCap is issue 12's 10,318-byte ticket: with client
// authentication, a crypto/tls TLS 1.3 ticket carries the client's chain.
// Under a client max_fragment_length of 512 every record the server sends,
// the tickets included, must stay within 512 bytes (checked by an
// independent relay), and the session must still resume with the client's
// identity.
func TestServerTicketWithinCap(t *testing.T) {
	leakCheck(t)
	clientChain := bigChain(t, x509.ExtKeyUsageClientAuth)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(versionName(v), func(t *testing.T) {
			srv := startSessionServer(t, &tls.Config{MinVersion: v, MaxVersion: v,
				ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: newTestPKI(t).Pool}, ServerOptions{})
			relay := newRelay(t, srv.addr)
			cache := NewSessionCache(4)
			for i, want := range []string{"resumed=false client-certs=4\n", "resumed=true client-certs=4\n"} {
				c := dialTest(t, relay.Addr(), Config{MinVersion: v, MaxVersion: v, ClientSessionCache: cache,
					MaxFragmentLength: 512, Certificates: []tls.Certificate{clientChain}})
				c.SetDeadline(time.Now().Add(10 * time.Second))
				line, err := bufio.NewReader(c).ReadString('\n')
				if err != nil {
					t.Fatal(err)
				}
				if line != want || c.ConnectionState().DidResume != (i == 1) {
					t.Errorf("connection %d: server said %q, client DidResume %v", i, line, c.ConnectionState().DidResume)
				}
				c.Close()
			}
			bound := serverRecordBound(v, 512)
			for i, r := range relay.records(1) {
				if r.Len > bound {
					t.Errorf("server record %d (type %d) is %d bytes, the cap allows %d", i, r.Type, r.Len, bound)
				}
			}
		})
	}
}

// TestServerResumesOpenSSL checks resumption from an independent client:
// openssl s_client saves the session of a first connection (-sess_out) and
// offers it on a second (-sess_in), with max_fragment_length 512, in TLS 1.2
// and 1.3; openssl must report the second one "Reused".
func TestServerResumesOpenSSL(t *testing.T) {
	bin := peerproc.Require(t, "openssl", "openssl")
	caFile, _, _ := pemFiles(t)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(versionName(v), func(t *testing.T) {
			srv := startSessionServer(t, &tls.Config{MinVersion: v, MaxVersion: v}, ServerOptions{})
			relay := newRelay(t, srv.addr)
			sess := filepath.Join(t.TempDir(), "sess.pem")
			flag := "-tls1_2"
			if v == tls.VersionTLS13 {
				flag = "-tls1_3"
			}
			run := func(sessArg string) string {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				cmd := exec.CommandContext(ctx, bin, "s_client", "-connect", relay.Addr(), flag, "-maxfraglen", "512",
					"-CAfile", caFile, "-verify_return_error", "-servername", "localhost", "-ign_eof", sessArg, sess)
				// A line for the server to echo; openssl ends when the server closes after EOF.
				cmd.Stdin = strings.NewReader("ping\n")
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("openssl s_client %s: %v\n%s", sessArg, err, out)
				}
				return string(out)
			}
			first := run("-sess_out")
			second := run("-sess_in")
			if !strings.Contains(first, "New, TLSv1.") || !strings.Contains(first, "resumed=false") {
				t.Fatalf("first connection is not a new session:\n%s", first)
			}
			if !strings.Contains(second, "Reused, TLSv1.") || !strings.Contains(second, "resumed=true") {
				t.Fatalf("openssl did not resume the session:\n%s", second)
			}
			bound := serverRecordBound(v, 512)
			if m := maxLen(relay.records(1), nil); m > bound {
				t.Errorf("server sent a %d-byte record, max_fragment_length 512 allows %d", m, bound)
			}
		})
	}
}

// TestServerSessionCacheBounds checks the cache's promises: at most
// maxEntries sessions and maxBytes bytes, least recently used dropped first,
// nothing resolved after the lifetime, and a name for state too large that
// resolves to nothing.
func TestServerSessionCacheBounds(t *testing.T) {
	now := time.Now()
	s := NewServerSessionCache(3, 4096)
	s.now = func() time.Time { return now }
	state := func(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }
	a := s.put(state(1000, 'a'))
	b := s.put(state(1000, 'b'))
	c := s.put(state(1000, 'c'))
	if _, ok := s.get(a[:]); !ok { // a is now the most recently used
		t.Fatal("a is missing")
	}
	d := s.put(state(1000, 'd')) // four entries: b, the least recently used, goes
	if _, ok := s.get(b[:]); ok || s.Len() != 3 {
		t.Fatalf("after the fourth put: b kept %v, %d sessions", ok, s.Len())
	}
	e := s.put(state(2500, 'e')) // 5500 bytes: c and then a go
	for name, want := range map[string]bool{"a": false, "c": false, "d": true, "e": true} {
		id := map[string][ticketNameLen]byte{"a": a, "c": c, "d": d, "e": e}[name]
		if got, ok := s.get(id[:]); ok != want || (ok && got[0] != name[0]) {
			t.Errorf("session %s: kept %v, want %v", name, ok, want)
		}
	}
	if s.bytes > 4096 {
		t.Errorf("%d bytes kept, bound 4096", s.bytes)
	}
	big := s.put(state(5000, 'x'))
	if _, ok := s.get(big[:]); ok {
		t.Error("state above the byte bound was kept")
	}
	now = now.Add(serverSessionLifetime + time.Second)
	if _, ok := s.get(d[:]); ok || s.Len() != 1 {
		t.Errorf("after the lifetime: d kept %v, %d sessions", ok, s.Len())
	}
	if _, ok := s.get([]byte("short")); ok {
		t.Error("a name of the wrong length resolved")
	}
}
