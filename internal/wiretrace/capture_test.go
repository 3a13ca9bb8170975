package wiretrace

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/peerproc"
	"github.com/tlsapp/tlsapp/internal/scripted"
	"github.com/tlsapp/tlsapp/internal/testpki"
	"github.com/tlsapp/tlsapp/internal/wire"
	"github.com/tlsapp/tlsapp/recordlimit"
	"github.com/tlsapp/tlsapp/tlsapp"
)

var capture = flag.Bool("capture", false, "record the handshakes under testdata/captures again (needs openssl)")

// A capture is what a tlsapp client connection exchanged, recorded below
// the library: every transport read and write and every key log line, in
// the order they happened, with the time since the dial. The files are
// text, one operation a line:
//
//	@12.345 > 160301...   bytes written (hex)
//	@12.901 < 160303...   bytes read (hex)
//	@12.950 k CLIENT_HANDSHAKE_TRAFFIC_SECRET ...   a key log line
type op struct {
	at   time.Duration
	kind byte // '>', '<', 'k'
	data []byte
}

// recorder records a capture.
type recorder struct {
	mu    sync.Mutex
	start time.Time
	ops   []op
}

func (r *recorder) add(kind byte, p []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, op{time.Since(r.start), kind, bytes.Clone(p)})
}

// Write records a key log line.
func (r *recorder) Write(p []byte) (int, error) {
	r.add('k', bytes.TrimRight(p, "\n"))
	return len(p), nil
}

type recConn struct {
	net.Conn
	r *recorder
}

func (c recConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.r.add('<', p[:n])
	}
	return n, err
}

func (c recConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if n > 0 {
		c.r.add('>', p[:n])
	}
	return n, err
}

func (r *recorder) text(comment string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n", comment)
	for _, o := range r.ops {
		d := hex.EncodeToString(o.data)
		if o.kind == 'k' {
			d = string(o.data)
		}
		fmt.Fprintf(&b, "@%.3f %c %s\n", float64(o.at.Microseconds())/1000, o.kind, d)
	}
	return b.Bytes()
}

func readCapture(t testing.TB, path string) []op {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ops []op
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		at, rest, _ := strings.Cut(line, " ")
		kind, data, _ := strings.Cut(rest, " ")
		ms, err := strconv.ParseFloat(strings.TrimPrefix(at, "@"), 64)
		if err != nil || len(kind) != 1 {
			t.Fatalf("%s: bad line %q", path, line)
		}
		o := op{at: time.Duration(ms * float64(time.Millisecond)), kind: kind[0]}
		if o.kind == 'k' {
			o.data = []byte(data)
		} else if o.data, err = hex.DecodeString(data); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		ops = append(ops, o)
	}
	return ops
}

// replay feeds a capture to a Tracer whose clock reads the capture's times.
func replay(ops []op, emit func(Event)) {
	var now time.Duration
	base := time.Unix(0, 0)
	keys := NewKeys()
	t := newTracer(keys, emit, func() time.Time { return base.Add(now) })
	for _, o := range ops {
		now = o.at
		switch o.kind {
		case '>':
			t.Feed(Sent, o.data)
		case '<':
			t.Feed(Received, o.data)
		case 'k':
			keys.Write(append(o.data, '\n'))
		}
	}
	t.Close()
}

// encodeOps turns a capture into a FuzzTracer input: per operation a kind
// byte (0 sent, 1 received, 2 key log), a 2-byte length and the bytes.
func encodeOps(ops []op) []byte {
	var b []byte
	for _, o := range ops {
		k := map[byte]byte{'>': 0, '<': 1, 'k': 2}[o.kind]
		for d := o.data; ; {
			n := min(len(d), 0xffff)
			b = append(b, k)
			b = binary.BigEndian.AppendUint16(b, uint16(n))
			b = append(b, d[:n]...)
			d = d[n:]
			if len(d) == 0 {
				break
			}
		}
	}
	return b
}

// scenario is one capture: a server and a client configuration.
type scenario struct {
	name, about string
	server      func(t *testing.T, p *capturePKI) string // returns the address
	cfg         tlsapp.Config
	request     string
}

type capturePKI struct {
	ca, leaf *testpki.Cert
	pool     *x509.CertPool
	dir      string
}

var scenarios = []scenario{
	{"tls12-mfl512-openssl", "tlsapp client, TLS 1.2, max_fragment_length 512, against openssl s_server -WWW (honours it)",
		openssl, tlsapp.Config{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12, MaxFragmentLength: 512}, "/page.txt"},
	{"tls13-mfl1024-openssl", "tlsapp client, TLS 1.3, max_fragment_length 1024, against openssl s_server -WWW (honours it)",
		openssl, tlsapp.Config{MinVersion: tls.VersionTLS13, MaxFragmentLength: 1024}, "/page.txt"},
	{"tls13-rsl2048-zstd-scripted", "tlsapp client, TLS 1.3, record_size_limit 2048, against a scripted server that answers RSL 4096 in EncryptedExtensions and compresses its chain with zstd",
		scripted13, tlsapp.Config{MinVersion: tls.VersionTLS13, RecordSizeLimit: 2048}, "/"},
	{"tls12-rsl1024-scripted", "tlsapp client, TLS 1.2, record_size_limit 1024, against a scripted TLS 1.2 server that answers RSL 16384 in its ServerHello",
		scripted12(&scripted.Server12{AnswerRSL: 16384, Body: bytes.Repeat([]byte("fw"), 1500)}),
		tlsapp.Config{MaxVersion: tls.VersionTLS12, RecordSizeLimit: 1024}, "/"},
	{"tls12-mfl512-alert-scripted", "tlsapp client, TLS 1.2, max_fragment_length 512, against a scripted mbedTLS-like server that echoes MFL 512 and sends its Certificate in one larger record: the client's fatal record_overflow",
		scripted12(&scripted.Server12{AnswerMFL: true, WholeCertificate: true, Body: []byte("never sent")}),
		tlsapp.Config{MaxVersion: tls.VersionTLS12, MaxFragmentLength: 512}, "/"},
}

// TestCapture records the scenarios again with -capture. The chains,
// keys and randoms change; the golden traces then need -update too.
func TestCapture(t *testing.T) {
	if !*capture {
		t.Skip("run with -capture to record the handshakes again")
	}
	now := time.Now()
	ca := testpki.Issue(t, "wiretrace capture CA", true, now.Add(-time.Hour), now.Add(10*365*24*time.Hour), nil)
	leaf := testpki.Issue(t, "127.0.0.1", false, now.Add(-time.Hour), now.Add(10*365*24*time.Hour), ca, "127.0.0.1")
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	p := &capturePKI{ca: ca, leaf: leaf, pool: pool, dir: t.TempDir()}
	os.WriteFile(filepath.Join(p.dir, "cert.pem"), leaf.PEM, 0o644)
	os.WriteFile(filepath.Join(p.dir, "ca.pem"), ca.PEM, 0o644)
	os.WriteFile(filepath.Join(p.dir, "key.pem"), leaf.KeyPEM, 0o600)
	os.WriteFile(filepath.Join(p.dir, "page.txt"), bytes.Repeat([]byte("0123456789abcdef"), 100), 0o644)
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			addr := sc.server(t, p)
			r := &recorder{start: time.Now()}
			raw, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			cfg := sc.cfg
			cfg.RootCAs, cfg.ServerName, cfg.KeyLogWriter = p.pool, "127.0.0.1", r
			c := tlsapp.Client(recConn{raw, r}, &cfg)
			c.SetDeadline(time.Now().Add(10 * time.Second))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := c.HandshakeContext(ctx); err != nil {
				t.Logf("handshake: %v", err)
			} else {
				io.WriteString(c, "GET "+sc.request+" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
				n, err := io.Copy(io.Discard, c)
				t.Logf("read %d B: %v", n, err)
			}
			c.Close()
			path := filepath.Join("testdata", "captures", sc.name+".txt")
			if err := os.WriteFile(path, r.text(sc.about), 0o644); err != nil {
				t.Fatal(err)
			}
			seed := filepath.Join("testdata", "fuzz", "FuzzTracer", sc.name)
			os.MkdirAll(filepath.Dir(seed), 0o755)
			os.WriteFile(seed, []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", encodeOps(r.ops))), 0o644)
		})
	}
}

func openssl(t *testing.T, p *capturePKI) string {
	bin := peerproc.Require(t, "openssl", "openssl")
	return peerproc.Start(t, p.dir, bin, "s_server", "-accept", "127.0.0.1:%PORT%", "-cert", "cert.pem", "-cert_chain", "ca.pem", "-key", "key.pem", "-WWW", "-quiet")
}

func scripted13(t *testing.T, p *capturePKI) string {
	chain := [][]byte{p.leaf.Cert.Raw, p.ca.Cert.Raw}
	return scripted.Serve(t, func(s *scripted.Session) error {
		if err := s.ReadClientHello(); err != nil {
			return err
		}
		if err := s.SendServerHello13(); err != nil {
			return err
		}
		ee := scripted.EncryptedExtensions(wire.Extension{Type: 28, Data: []byte{0x10, 0x00}})
		if err := s.Finish13(ee, chain, crypto.Signer(p.leaf.Key), scripted.Zstd); err != nil {
			return err
		}
		if _, _, err := s.ReadRecord(); err != nil { // the request
			return err
		}
		if err := s.SendApp([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")); err != nil {
			return err
		}
		return s.SendEncrypted(recordlimit.TypeAlert, []byte{1, 0}, 0)
	})
}

func scripted12(srv *scripted.Server12) func(t *testing.T, p *capturePKI) string {
	return func(t *testing.T, p *capturePKI) string {
		srv.Chain, srv.Key = [][]byte{p.leaf.Cert.Raw, p.ca.Cert.Raw}, p.leaf.Key
		return scripted.Serve(t, func(s *scripted.Session) error {
			err := srv.Serve(s)
			var ar *scripted.AlertReceived
			if errors.As(err, &ar) {
				return nil
			}
			return err
		})
	}
}
