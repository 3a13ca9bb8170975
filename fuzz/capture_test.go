package fuzz

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/peerproc"
	"github.com/tlsapp/tlsapp/internal/scripted"
	"github.com/tlsapp/tlsapp/internal/testnet"
	"github.com/tlsapp/tlsapp/internal/wire"
	"github.com/tlsapp/tlsapp/recordlimit"
	"github.com/tlsapp/tlsapp/tlsapp"
)

var update = flag.Bool("update", false, "capture real handshakes and rewrite the seed corpora under testdata/fuzz")

// capture is what a client saw of one real connection: what it offered, the
// server handshake traffic secret it logged (TLS 1.3), and every byte the
// server sent, in order.
type capture struct {
	name   string
	mfl    int // offered max_fragment_length in bytes, 0 if none
	rsl    int // offered record_size_limit, 0 if none
	secret []byte
	stream []byte
}

// recordingConn keeps a copy of every byte read from the transport.
type recordingConn struct {
	net.Conn
	mu  sync.Mutex
	got []byte
}

func (r *recordingConn) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.mu.Lock()
	r.got = append(r.got, p[:n]...)
	r.mu.Unlock()
	return n, err
}

func (r *recordingConn) bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte(nil), r.got...)
}

// secretFrom returns the SERVER_HANDSHAKE_TRAFFIC_SECRET in a key log.
func secretFrom(keylog string) []byte {
	for _, line := range strings.Split(keylog, "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "SERVER_HANDSHAKE_TRAFFIC_SECRET" {
			s, _ := hex.DecodeString(f[2])
			return s
		}
	}
	return nil
}

// captureOne runs a tlsapp client against addr through a recording conn,
// sends request after the handshake (if any) and reads until the server
// stops, then returns what the server sent. A failed handshake is kept too:
// its bytes are a real hostile or truncated prefix.
func captureOne(t *testing.T, name, addr string, cfg tlsapp.Config, request string) capture {
	t.Helper()
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordingConn{Conn: raw}
	var keylog bytes.Buffer
	cfg.KeyLogWriter = &keylog
	cfg.InsecureSkipVerify = true
	if cfg.ServerName == "" {
		cfg.ServerName = "localhost"
	}
	c := tlsapp.Client(rec, &cfg)
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.HandshakeContext(ctx); err != nil {
		t.Logf("%s: handshake ended: %v", name, err)
	} else {
		if request != "" {
			if _, err := io.WriteString(c, request); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		raw.SetReadDeadline(time.Now().Add(2 * time.Second))
		io.Copy(io.Discard, c)
	}
	c.Close()
	return capture{name: name, mfl: cfg.MaxFragmentLength, rsl: cfg.RecordSizeLimit,
		secret: secretFrom(keylog.String()), stream: rec.bytes()}
}

// selfSigned returns a throw-away ECDSA certificate for localhost.
func selfSigned(t *testing.T) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// goServer runs a crypto/tls echo server and returns its address.
func goServer(t *testing.T, cfg *tls.Config) string {
	cfg.Certificates = []tls.Certificate{selfSigned(t)}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	testnet.Serve(t, ln, 5*time.Second, func(c net.Conn) {
		buf := make([]byte, 64)
		n, _ := c.Read(buf)
		c.Write(bytes.Repeat(buf[:n], 100))
	})
	return ln.Addr().String()
}

// captureAll captures the handshakes the seeds are made of.
func captureAll(t *testing.T) []capture {
	var caps []capture
	add := func(c capture) {
		if len(c.stream) == 0 {
			t.Fatalf("%s: nothing captured", c.name)
		}
		caps = append(caps, c)
	}
	tls13 := func(suite uint16) *tls.Config {
		return &tls.Config{MinVersion: tls.VersionTLS13, CipherSuites: []uint16{suite}}
	}
	add(captureOne(t, "go-tls13-aes128-rsl2048-mfl2048", goServer(t, tls13(tls.TLS_AES_128_GCM_SHA256)),
		tlsapp.Config{RecordSizeLimit: 2048, MaxFragmentLength: 2048}, "ping\n"))
	add(captureOne(t, "go-tls13-chacha-mfl512", goServer(t, tls13(tls.TLS_CHACHA20_POLY1305_SHA256)),
		tlsapp.Config{MaxFragmentLength: 512, CipherSuites: []uint16{tls.TLS_CHACHA20_POLY1305_SHA256}}, "ping\n"))
	add(captureOne(t, "go-tls13-aes256-rsl64", goServer(t, tls13(tls.TLS_AES_256_GCM_SHA384)),
		tlsapp.Config{RecordSizeLimit: 64, CipherSuites: []uint16{tls.TLS_AES_256_GCM_SHA384}}, "ping\n"))
	add(captureOne(t, "go-tls12-rsl1024", goServer(t, &tls.Config{MaxVersion: tls.VersionTLS12}),
		tlsapp.Config{RecordSizeLimit: 1024}, "ping\n"))

	// The scripted server answers record_size_limit in EncryptedExtensions,
	// as an RFC 8449 server does, then sends a record over the limit.
	addr := scripted.Serve(t, func(s *scripted.Session) error {
		if err := s.ReadClientHello(); err != nil {
			return err
		}
		if err := s.SendServerHello13(); err != nil {
			return err
		}
		rsl := wire.Extension{Type: recordlimit.ExtRecordSizeLimit, Data: []byte{2, 0}}
		if err := s.SendEncrypted(recordlimit.TypeHandshake, scripted.EncryptedExtensions(rsl), 0); err != nil {
			return err
		}
		s.SendRecord(recordlimit.TypeApplicationData, make([]byte, 512+16+1))
		s.ReadAlert()
		return nil
	})
	add(captureOne(t, "scripted-tls13-rsl512-overflow", addr, tlsapp.Config{RecordSizeLimit: 512}, ""))

	// OpenSSL's s_server honours max_fragment_length in both versions.
	if _, err := exec.LookPath("openssl"); err == nil {
		cert := selfSigned(t)
		dir := t.TempDir()
		keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600)
		os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
		os.WriteFile(filepath.Join(dir, "fw.bin"), bytes.Repeat([]byte("firmware"), 300), 0o600)
		for _, v := range []string{"-tls1_3", "-tls1_2"} {
			addr := peerproc.Start(t, dir, "openssl", "s_server", "-accept", "127.0.0.1:%PORT%",
				"-cert", "cert.pem", "-key", "key.pem", "-WWW", "-quiet", v)
			add(captureOne(t, "openssl"+strings.ReplaceAll(v, "-tls1_", "-tls1")+"-mfl512", addr,
				tlsapp.Config{MaxFragmentLength: 512}, "GET /fw.bin HTTP/1.0\r\n\r\n"))
		}
	} else {
		t.Log("openssl not installed: no OpenSSL captures")
	}
	return caps
}

// writeSeed writes one seed file in Go's corpus format.
func writeSeed(t *testing.T, dir, name string, vals ...any) {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, v := range vals {
		switch v := v.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", v)
		case byte:
			fmt.Fprintf(&b, "byte(%q)\n", v)
		case uint16:
			fmt.Fprintf(&b, "uint16(%d)\n", v)
		default:
			t.Fatalf("no corpus encoding for %T", v)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mflCode(n int) byte {
	m, _ := recordlimit.MaxFragmentCodeFor(n)
	return byte(m)
}

// TestGenerateSeeds captures real handshakes and rewrites the seed corpora
// of this package's targets, of internal/guard's FuzzConnRead and of
// internal/wire's FuzzParseServerHello. It runs only with -update.
func TestGenerateSeeds(t *testing.T) {
	if !*update {
		t.Skip("run with -update to capture handshakes and rewrite the seeds")
	}
	caps := captureAll(t)
	for _, c := range caps {
		t.Logf("%s: %d bytes from the server, secret %d bytes", c.name, len(c.stream), len(c.secret))
		writeSeed(t, "testdata/fuzz/FuzzReceivePath", c.name,
			mflCode(c.mfl), uint16(c.rsl), c.secret, byte(0), c.stream)
		writeSeed(t, "testdata/fuzz/FuzzChunkedReceive", c.name,
			mflCode(c.mfl), uint16(c.rsl), c.secret, byte(3), uint16(1), c.stream)
		if c.secret == nil {
			// internal/guard's own target has no secret to read TLS 1.3
			// EncryptedExtensions with: TLS 1.2 captures only.
			writeSeed(t, "../internal/guard/testdata/fuzz/FuzzConnRead", c.name,
				mflCode(c.mfl), uint16(c.rsl), byte(7), uint16(300), c.stream)
		}
		// The server's first handshake message, for the parser targets.
		if h, err := wire.ParseHeader(c.stream); err == nil && len(c.stream) >= wire.HeaderLen+h.Len && h.Len > 4 {
			msg := c.stream[wire.HeaderLen+4 : wire.HeaderLen+h.Len]
			writeSeed(t, "../internal/wire/testdata/fuzz/FuzzParseServerHello", c.name, msg)
		}
	}
}
