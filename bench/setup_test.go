package bench

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	utls "github.com/refraction-networking/utls"

	"github.com/tlsapp/tlsapp/tlsapp"
	"github.com/tlsapp/tlsapp/trust"
)

// limits are the record limits measured, in plaintext bytes per record; 0
// is no limit (16 KiB records).
var limits = []int{0, 512, 1024, 2048, 4096}

func limitName(l int) string {
	if l == 0 {
		return "limit=none"
	}
	return "limit=" + strconv.Itoa(l)
}

// TestMain runs the process as the out-of-process server when
// serverEnv is set, so that the heap and allocation benchmarks count the
// client alone, or as the HTTPS server of the server-cost benchmarks when
// httpServerEnv is set.
func TestMain(m *testing.M) {
	if os.Getenv(serverEnv) != "" {
		serverMain()
		return
	}
	if kind := os.Getenv(httpServerEnv); kind != "" {
		httpServerMain(kind)
		return
	}
	code := m.Run()
	removeServerFiles()
	os.Exit(code)
}

// pki is a throw-away CA and an ECDSA P-256 server certificate for
// localhost and 127.0.0.1.
type pki struct {
	Pool   *x509.CertPool
	CAPEM  []byte
	Server tls.Certificate
	// ChainPEM and KeyPEM are the server's chain (leaf, CA) and key, for
	// servers in other processes.
	ChainPEM, KeyPEM []byte
}

func newPKI() (*pki, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tlsapp bench CA", Organization: []string{"tlsapp"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost", Organization: []string{"tlsapp"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	p := &pki{Pool: x509.NewCertPool(), Server: tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key}}
	p.Pool.AddCert(ca)
	p.CAPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	p.ChainPEM = append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), p.CAPEM...)
	p.KeyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return p, nil
}

var (
	pkiOnce sync.Once
	thePKI  *pki
	pkiErr  error
)

func testPKI(tb testing.TB) *pki {
	pkiOnce.Do(func() { thePKI, pkiErr = newPKI() })
	if pkiErr != nil {
		tb.Fatal(pkiErr)
	}
	return thePKI
}

// The server protocol: a request is one op byte and an 8-byte big-endian n.
const (
	opDownload = 'D' // the server sends n bytes
	opUpload   = 'U' // the client sends n bytes; the server answers one byte
	opStream   = 'S' // the server sends n-byte writes until the connection ends
	opSink     = 'W' // the server reads until the connection ends
)

func request(w io.Writer, op byte, n int64) error {
	var req [9]byte
	req[0] = op
	binary.BigEndian.PutUint64(req[1:], uint64(n))
	_, err := w.Write(req[:])
	return err
}

// serve answers requests on c until it ends.
func serve(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 64<<10)
	var req [9]byte
	for {
		if _, err := io.ReadFull(c, req[:]); err != nil {
			return
		}
		n := int64(binary.BigEndian.Uint64(req[1:]))
		switch req[0] {
		case opDownload:
			for n > 0 {
				k := min(n, int64(len(buf)))
				if _, err := c.Write(buf[:k]); err != nil {
					return
				}
				n -= k
			}
		case opUpload:
			for n > 0 {
				k, err := c.Read(buf[:min(n, int64(len(buf)))])
				n -= int64(k)
				if err != nil {
					return
				}
			}
			if _, err := c.Write([]byte{1}); err != nil {
				return
			}
		case opStream:
			n = min(max(n, 1), int64(len(buf)))
			for {
				if _, err := c.Write(buf[:n]); err != nil {
					return
				}
			}
		case opSink:
			for {
				if _, err := c.Read(buf); err != nil {
					return
				}
			}
		default:
			return
		}
	}
}

// listen starts a tlsapp.NewListener server on 127.0.0.1 capping records at
// limit (0: 16 KiB records) and serving the bench protocol.
func listen(p *pki, limit int) (net.Listener, error) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{p.Server}}
	// NewListener clones cfg for each connection, and each clone would make
	// its own automatic ticket keys: no session would ever resume. Fixed
	// keys are shared by the clones.
	var key [32]byte
	rand.Read(key[:])
	cfg.SetSessionTicketKeys([][32]byte{key})
	ln := tlsapp.NewListener(inner, cfg, tlsapp.ServerOptions{MaxRecord: limit})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	return inner, nil
}

var (
	inprocMu    sync.Mutex
	inprocAddrs = map[int]string{}
)

// inprocServer returns the address of the in-process server for limit.
func inprocServer(tb testing.TB, limit int) string {
	inprocMu.Lock()
	defer inprocMu.Unlock()
	if a, ok := inprocAddrs[limit]; ok {
		return a
	}
	ln, err := listen(testPKI(tb), limit)
	if err != nil {
		tb.Fatal(err)
	}
	inprocAddrs[limit] = ln.Addr().String()
	return inprocAddrs[limit]
}

const serverEnv = "TLSAPP_BENCH_SERVER"

// serverMain is the out-of-process server: it prints the CA certificate,
// then "limit address" for each limit, and serves until stdin closes.
func serverMain() {
	p, err := newPKI()
	if err != nil {
		log.Fatal(err)
	}
	w := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(w, "%s", p.CAPEM)
	for _, l := range limits {
		ln, err := listen(p, l)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Fprintf(w, "limit %d %s\n", l, ln.Addr())
	}
	fmt.Fprintln(w, "ready")
	w.Flush()
	io.Copy(io.Discard, os.Stdin)
}

// remote is the out-of-process server.
type remote struct {
	pool  *x509.CertPool
	addrs map[int]string
	stdin io.WriteCloser // the server exits when this closes
}

var (
	remoteOnce sync.Once
	theRemote  *remote
	remoteErr  error
)

// remoteServer starts the out-of-process server once per test binary; it
// exits with the parent, when its stdin closes.
func remoteServer(tb testing.TB) *remote {
	remoteOnce.Do(func() { theRemote, remoteErr = startRemote() })
	if remoteErr != nil {
		tb.Fatal(remoteErr)
	}
	return theRemote
}

func startRemote() (*remote, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), serverEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &remote{pool: x509.NewCertPool(), addrs: map[int]string{}, stdin: stdin}
	var caPEM strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "ready":
			if !r.pool.AppendCertsFromPEM([]byte(caPEM.String())) {
				return nil, fmt.Errorf("bench server: no CA certificate")
			}
			return r, nil
		case strings.HasPrefix(line, "limit "):
			var l int
			var addr string
			if _, err := fmt.Sscanf(line, "limit %d %s", &l, &addr); err != nil {
				return nil, err
			}
			r.addrs[l] = addr
		default:
			caPEM.WriteString(line + "\n")
		}
	}
	return nil, fmt.Errorf("bench server exited before it was ready: %v", sc.Err())
}

// Cipher suites by name, for TLS 1.2 (ECDSA certificates) and TLS 1.3.
type suite struct {
	name         string
	tls12, tls13 uint16
}

var suites = []suite{
	{"aes128", tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_AES_128_GCM_SHA256},
	{"chacha20", tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_CHACHA20_POLY1305_SHA256},
}

var versions = []struct {
	name string
	v    uint16
}{{"tls12", tls.VersionTLS12}, {"tls13", tls.VersionTLS13}}

// opts says how a client connects.
type opts struct {
	version uint16 // 0: 1.2 and 1.3
	suite   uint16 // 0: the client's defaults
	limit   int    // the record limit a tlsapp client offers (record_size_limit); 0: none
	pool    *x509.CertPool
	cache   any // a session cache made by the client's newCache
	// tlsapp only
	noCertCompression bool
}

// counter counts the bytes that cross a transport.
type counter struct {
	net.Conn
	read, written atomic.Int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func (c *counter) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written.Add(int64(n))
	return n, err
}

// hsBytes are the bytes on the wire up to the end of the handshake: for
// tlsapp, the records of the handshake as RecordState counts them; for the
// baselines, what crossed the transport (which includes records the client
// read ahead, like the TLS 1.3 tickets Go's server sends with its first
// flight). wireSent and wireReceived are the transport's counts for every
// client.
type hsBytes struct {
	sent, received         int64
	wireSent, wireReceived int64
	resumed                bool
}

// client is one TLS client implementation under test.
type client struct {
	name string
	// handshake runs a client handshake over raw.
	handshake func(raw net.Conn, o opts) (io.ReadWriteCloser, hsBytes, error)
	newCache  func() any
	// supports reports why the client cannot run o, or "".
	supports func(o opts) string
}

var (
	tlsappClient = client{
		name: "tlsapp",
		handshake: func(raw net.Conn, o opts) (io.ReadWriteCloser, hsBytes, error) {
			cfg := &tlsapp.Config{ServerName: "localhost", RootCAs: o.pool, MinVersion: o.version, MaxVersion: o.version,
				RecordSizeLimit: o.limit, SendRecordLimit: o.limit, DisableCertCompression: o.noCertCompression}
			if o.suite != 0 {
				cfg.CipherSuites = []uint16{o.suite}
			}
			if o.cache != nil {
				cfg.ClientSessionCache = o.cache.(trust.SessionCache)
			}
			cnt := &counter{Conn: raw}
			c := tlsapp.Client(cnt, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := c.HandshakeContext(ctx); err != nil {
				return nil, hsBytes{}, err
			}
			st := c.RecordState()
			return c, hsBytes{st.HandshakeBytesSent, st.HandshakeBytesReceived, cnt.written.Load(), cnt.read.Load(), st.Resumed}, nil
		},
		newCache: func() any { return tlsapp.NewSessionCache(0) },
		supports: func(opts) string { return "" },
	}
	stdClient = client{
		name: "crypto/tls",
		handshake: func(raw net.Conn, o opts) (io.ReadWriteCloser, hsBytes, error) {
			cnt := &counter{Conn: raw}
			cfg := &tls.Config{ServerName: "localhost", RootCAs: o.pool, MinVersion: o.version, MaxVersion: o.version}
			if cfg.MinVersion == 0 {
				cfg.MinVersion = tls.VersionTLS12
			}
			if o.suite != 0 {
				cfg.CipherSuites = []uint16{o.suite}
			}
			if o.cache != nil {
				cfg.ClientSessionCache = o.cache.(tls.ClientSessionCache)
			}
			c := tls.Client(cnt, cfg)
			if err := c.Handshake(); err != nil {
				return nil, hsBytes{}, err
			}
			w, r := cnt.written.Load(), cnt.read.Load()
			return c, hsBytes{w, r, w, r, c.ConnectionState().DidResume}, nil
		},
		newCache: func() any { return tls.NewLRUClientSessionCache(0) },
		supports: func(o opts) string {
			if o.version == tls.VersionTLS13 && o.suite == tls.TLS_CHACHA20_POLY1305_SHA256 {
				return "crypto/tls cannot be told to prefer ChaCha20-Poly1305 in TLS 1.3 on a machine with AES hardware"
			}
			return ""
		},
	}
	utlsClient = client{
		name: "utls",
		handshake: func(raw net.Conn, o opts) (io.ReadWriteCloser, hsBytes, error) {
			return utlsHandshake(raw, o, false)
		},
		newCache: func() any { return utls.NewLRUClientSessionCache(0) },
		supports: func(opts) string { return "" },
	}
	// utlsGolangClient is utls with its HelloGolang preset: crypto/tls's
	// hello, with an X25519MLKEM768 key share.
	utlsGolangClient = client{
		name: "utls-golang",
		handshake: func(raw net.Conn, o opts) (io.ReadWriteCloser, hsBytes, error) {
			return utlsHandshake(raw, o, true)
		},
		newCache: func() any { return utls.NewLRUClientSessionCache(0) },
		supports: func(o opts) string {
			if o.version == tls.VersionTLS13 && o.suite == tls.TLS_CHACHA20_POLY1305_SHA256 {
				return "HelloGolang cannot be told to prefer ChaCha20-Poly1305 in TLS 1.3"
			}
			return ""
		},
	}
	// clients are the library and its two baselines.
	clients = []client{stdClient, utlsClient, tlsappClient}
)

func utlsHandshake(raw net.Conn, o opts, golang bool) (io.ReadWriteCloser, hsBytes, error) {
	cnt := &counter{Conn: raw}
	cfg := &utls.Config{ServerName: "localhost", RootCAs: o.pool, MinVersion: o.version, MaxVersion: o.version}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	if o.suite != 0 {
		cfg.CipherSuites = []uint16{o.suite}
	}
	if o.cache != nil {
		cfg.ClientSessionCache = o.cache.(utls.ClientSessionCache)
		cfg.OmitEmptyPsk = true
	}
	var c *utls.UConn
	if golang {
		c = utls.UClient(cnt, cfg, utls.HelloGolang)
	} else {
		c = utls.UClient(cnt, cfg, utls.HelloCustom)
		if err := c.ApplyPreset(simpleSpec(o)); err != nil {
			return nil, hsBytes{}, err
		}
	}
	if err := c.Handshake(); err != nil {
		return nil, hsBytes{}, err
	}
	w, r := cnt.written.Load(), cnt.read.Load()
	return c, hsBytes{w, r, w, r, c.ConnectionState().DidResume}, nil
}

// simpleSpec is a plain ClientHello for the utls baseline: X25519, the
// suites asked for, no record-size extensions.
func simpleSpec(o opts) *utls.ClientHelloSpec {
	vmin, vmax := o.version, o.version
	if vmin == 0 {
		vmin, vmax = tls.VersionTLS12, tls.VersionTLS13
	}
	ciphers := []uint16{o.suite}
	if o.suite == 0 {
		ciphers = []uint16{tls.TLS_AES_128_GCM_SHA256, tls.TLS_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}
	}
	var vers []uint16
	for v := vmax; v >= vmin; v-- {
		vers = append(vers, v)
	}
	exts := []utls.TLSExtension{
		&utls.SNIExtension{ServerName: "localhost"},
		&utls.ExtendedMasterSecretExtension{},
		&utls.RenegotiationInfoExtension{Renegotiation: utls.RenegotiateNever},
		&utls.SupportedCurvesExtension{Curves: []utls.CurveID{utls.X25519, utls.CurveP256}},
		&utls.SupportedPointsExtension{SupportedPoints: []byte{0}},
		&utls.SessionTicketExtension{},
		&utls.SignatureAlgorithmsExtension{SupportedSignatureAlgorithms: []utls.SignatureScheme{
			utls.ECDSAWithP256AndSHA256, utls.PSSWithSHA256, utls.PKCS1WithSHA256}},
		&utls.SupportedVersionsExtension{Versions: vers},
	}
	if vmax == tls.VersionTLS13 {
		exts = append(exts, &utls.KeyShareExtension{KeyShares: []utls.KeyShare{{Group: utls.X25519}}},
			&utls.PSKKeyExchangeModesExtension{Modes: []uint8{utls.PskModeDHE}})
		if o.cache != nil {
			exts = append(exts, &utls.UtlsPreSharedKeyExtension{})
		}
	}
	return &utls.ClientHelloSpec{CipherSuites: ciphers, CompressionMethods: []uint8{0}, Extensions: exts,
		TLSVersMin: vmin, TLSVersMax: vmax}
}

// connect dials addr and runs cl's handshake.
func connect(tb testing.TB, cl client, addr string, o opts) (io.ReadWriteCloser, hsBytes) {
	tb.Helper()
	c, hs, err := dial(cl, addr, o)
	if err != nil {
		tb.Fatal(err)
	}
	return c, hs
}

// dial is connect for goroutines other than the benchmark's.
func dial(cl client, addr string, o opts) (io.ReadWriteCloser, hsBytes, error) {
	raw, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, hsBytes{}, err
	}
	raw.SetDeadline(time.Now().Add(5 * time.Minute))
	c, hs, err := cl.handshake(raw, o)
	if err != nil {
		raw.Close()
		return nil, hsBytes{}, fmt.Errorf("%s: handshake with %s: %w", cl.name, addr, err)
	}
	return c, hs, nil
}

// readN reads n bytes from r into buf-sized pieces.
func readN(r io.Reader, buf []byte, n int64) error {
	for n > 0 {
		k, err := r.Read(buf[:min(n, int64(len(buf)))])
		n -= int64(k)
		if err != nil {
			if n > 0 {
				return err
			}
		}
	}
	return nil
}

// writeN writes n zero bytes in chunk-sized writes.
func writeN(w io.Writer, buf []byte, n int64, chunk int) error {
	for n > 0 {
		k := min(n, int64(chunk))
		if _, err := w.Write(buf[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}
