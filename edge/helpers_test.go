package edge

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/testnet"
	"github.com/tlsapp/tlsapp/tlsapp"
)

// originObject is one object the test origin serves.
type originObject struct {
	body     []byte
	etag     string // with quotes; "" for none
	modified time.Time
	cc       string // Cache-Control
}

// originHit is one request the test origin received.
type originHit struct {
	uri    string // request-target as received
	header http.Header
	status int
	bytes  int64 // body bytes sent
}

// testOrigin is a Go crypto/tls HTTPS server sending 16 KiB records with
// the test chain. It serves its objects with http.ServeContent (so it
// answers If-None-Match with 304) and records every request.
type testOrigin struct {
	addr string
	url  string

	mu      sync.Mutex
	objects map[string]*originObject
	hits    []originHit
	// deny answers a request with a status before anything else, when
	// it returns one.
	deny func(r *http.Request) int
	// hold, when set for a path, is waited on after half the body.
	hold map[string]chan struct{}
	// cut, when set for a path, ends the body after that many bytes.
	cut map[string]int
	// delay is waited before each answer: a round trip to a distant origin.
	delay time.Duration
}

func startOrigin(t testing.TB) *testOrigin {
	t.Helper()
	cert, _ := testChain(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &testOrigin{addr: ln.Addr().String(), objects: map[string]*originObject{}, hold: map[string]chan struct{}{}, cut: map[string]int{}}
	o.url = "https://" + o.addr
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, DynamicRecordSizingDisabled: true, NextProtos: []string{"http/1.1"}}
	srv := &http.Server{Handler: o, ErrorLog: quietLog()}
	go srv.Serve(tls.NewListener(ln, cfg))
	t.Cleanup(func() { srv.Close() })
	return o
}

func (o *testOrigin) put(path string, obj *originObject) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.objects[path] = obj
}

// requests returns the requests received so far.
func (o *testOrigin) requests() []originHit {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]originHit(nil), o.hits...)
}

func (o *testOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	obj := o.objects[r.URL.Path]
	deny := o.deny
	hold := o.hold[r.URL.Path]
	cut, hasCut := o.cut[r.URL.Path]
	delay := o.delay
	o.mu.Unlock()
	time.Sleep(delay)
	cw := &countingWriter{ResponseWriter: w}
	defer func() {
		o.mu.Lock()
		o.hits = append(o.hits, originHit{uri: r.RequestURI, header: r.Header.Clone(), status: cw.status, bytes: cw.n})
		o.mu.Unlock()
	}()
	if deny != nil {
		if s := deny(r); s != 0 {
			http.Error(cw, "denied", s)
			return
		}
	}
	if obj == nil {
		http.NotFound(cw, r)
		return
	}
	if obj.etag != "" {
		cw.Header().Set("ETag", obj.etag)
	}
	if obj.cc != "" {
		cw.Header().Set("Cache-Control", obj.cc)
	}
	cw.Header().Set("Content-Type", "application/octet-stream")
	var body io.ReadSeeker = bytes.NewReader(obj.body)
	if hold != nil {
		body = &holdingReader{r: bytes.NewReader(obj.body), at: int64(len(obj.body) / 2), hold: hold, flush: cw}
	}
	if hasCut {
		// Announce the whole length, send part of it, and end.
		cw.Header().Set("Content-Length", fmt.Sprint(len(obj.body)))
		cw.WriteHeader(http.StatusOK)
		cw.Write(obj.body[:cut])
		if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
			c.Close()
		}
		return
	}
	http.ServeContent(cw, r, "", obj.modified, body)
}

// holdingReader stops at byte at until hold is closed.
type holdingReader struct {
	r     *bytes.Reader
	at    int64
	hold  chan struct{}
	flush http.ResponseWriter
}

func (h *holdingReader) Read(p []byte) (int, error) {
	pos, _ := h.r.Seek(0, io.SeekCurrent)
	if pos == h.at {
		http.NewResponseController(h.flush).Flush()
		<-h.hold
	}
	if pos < h.at {
		p = p[:min(int64(len(p)), h.at-pos)]
	}
	return h.r.Read(p)
}

func (h *holdingReader) Seek(off int64, whence int) (int64, error) { return h.r.Seek(off, whence) }

type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (w *countingWriter) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
	w.ResponseWriter.WriteHeader(s)
}

func (w *countingWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = 200
	}
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// testEdge is an edge serving on 127.0.0.1.
type testEdge struct {
	*Edge
	addr   string
	logs   *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

type edgeOption func(*Config, *ServeOptions)

// startEdge starts an edge in front of origin with its cache in dir.
func startEdge(t testing.TB, origin *testOrigin, dir string, opts ...edgeOption) *testEdge {
	t.Helper()
	cert, pool := testChain(t)
	logs := &syncBuffer{}
	cfg := Config{Origin: origin.url, OriginRoots: pool, Hosts: []string{"127.0.0.1", "localhost"}, CacheDir: dir,
		Logger: slog.New(slog.NewJSONHandler(logs, nil))}
	so := ServeOptions{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, ShutdownTimeout: 5 * time.Second}
	for _, o := range opts {
		o(&cfg, &so)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	te := &testEdge{Edge: e, addr: ln.Addr().String(), logs: logs, cancel: cancel, done: make(chan error, 1)}
	go func() { te.done <- e.Serve(ctx, ln, so) }()
	t.Cleanup(te.stop)
	return te
}

// stop shuts the edge down and closes it; it may be called twice.
func (te *testEdge) stop() {
	if te.cancel == nil {
		return
	}
	te.cancel()
	te.cancel = nil
	<-te.done
	te.Close()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// recordRelay is a TCP relay that parses the records the server sends on
// each connection: the test's own view of the wire.
type recordRelay struct {
	addr string

	mu    sync.Mutex
	conns []*relayConn
}

// relayConn is what the relay saw of one connection's server side.
type relayConn struct {
	largest          int // largest record length field
	largestHandshake int // of the records of type handshake (22)
	records          int
}

func startRelay(t testing.TB, target string) *recordRelay {
	t.Helper()
	r := &recordRelay{}
	r.addr = testnet.Relay(t, target, 2*time.Minute, func(client, server net.Conn) {
		rc := &relayConn{}
		r.mu.Lock()
		r.conns = append(r.conns, rc)
		r.mu.Unlock()
		go func() {
			io.Copy(server, client)
			server.(*net.TCPConn).CloseWrite()
		}()
		hdr := make([]byte, 5)
		body := make([]byte, 1<<16)
		for {
			if _, err := io.ReadFull(server, hdr); err != nil {
				return
			}
			n := int(binary.BigEndian.Uint16(hdr[3:]))
			if _, err := io.ReadFull(server, body[:n]); err != nil {
				return
			}
			r.mu.Lock()
			rc.records++
			rc.largest = max(rc.largest, n)
			if hdr[0] == 22 {
				rc.largestHandshake = max(rc.largestHandshake, n)
			}
			r.mu.Unlock()
			if _, err := client.Write(append(hdr[:5:5], body[:n]...)); err != nil {
				return
			}
		}
	})
	return r
}

// seen returns a copy of what the relay saw, one entry per connection.
func (r *recordRelay) seen() []relayConn {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]relayConn, len(r.conns))
	for i, c := range r.conns {
		out[i] = *c
	}
	return out
}

// recordBound is the largest record length field a server keeping its
// records' content within limit can send with a version and suite: the
// content plus the suite's expansion (TLS 1.2 CBC: explicit IV, MAC and
// padding to the block; GCM: explicit nonce and tag; TLS 1.3: the inner
// content type and tag).
func recordBound(version, suite uint16, limit int) int {
	if version == tls.VersionTLS13 {
		return limit + 1 + 16
	}
	switch suite {
	case tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA:
		return 16 + (limit+20+1+15)/16*16
	case tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256:
		return 16 + (limit+32+1+15)/16*16
	case tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256:
		return limit + 16
	}
	return limit + 8 + 16 // AES-GCM
}

// modemClient is an HTTP client on the modem stand-in
// (tlsapp.ModemConfig: TLS 1.2 only, the modem's CBC suites, no
// record-size extension, a record longer than 2303 bytes on the wire fails
// the connection with EMSGSIZE), one connection per request, with suites
// in place of the modem's when given. It dials addr whatever the URL says,
// and hands each connection to onConn when given.
func modemClient(pool *x509.CertPool, addr string, suites []uint16, onConn ...func(*tlsapp.Conn)) *http.Client {
	cfg := tlsapp.ModemConfig("127.0.0.1")
	cfg.RootCAs = pool
	if suites != nil {
		cfg.CipherSuites = suites
	}
	var hook func(*tlsapp.Conn)
	if len(onConn) > 0 {
		hook = onConn[0]
	}
	tr := tlsapp.NewTransport(&tlsapp.Dialer{Config: cfg}, hook)
	dial := tr.DialTLSContext
	tr.DialTLSContext = func(ctx context.Context, network, _ string) (net.Conn, error) { return dial(ctx, network, addr) }
	tr.DisableKeepAlives = true
	return &http.Client{Transport: tr, Timeout: time.Minute}
}

// plainClient is a TLS 1.2/1.3 client with crypto/tls's defaults dialing
// addr, keeping connections alive.
func plainClient(pool *x509.CertPool, addr string, cfg *tls.Config) *http.Client {
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg.RootCAs = pool
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		},
		TLSClientConfig: cfg,
	}, Timeout: time.Minute}
}

// get fetches url and returns the response with its body read.
func get(t *testing.T, c *http.Client, url string, header ...string) (*http.Response, []byte) {
	t.Helper()
	resp, body, err := tryGet(c, "GET", url, header...)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func tryGet(c *http.Client, method, url string, header ...string) (*http.Response, []byte, error) {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return nil, nil, err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func sum(b []byte) [32]byte { return sha256.Sum256(b) }

func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }

// countStatus counts the origin's answers for path by status, and the
// conditional requests among them.
func countStatus(hits []originHit, path string) (byStatus map[int]int, conditional int) {
	byStatus = map[int]int{}
	for _, h := range hits {
		p, _, _ := strings.Cut(h.uri, "?")
		if p != path {
			continue
		}
		byStatus[h.status]++
		if h.header.Get("If-None-Match") != "" || h.header.Get("If-Modified-Since") != "" {
			conditional++
		}
	}
	return byStatus, conditional
}
